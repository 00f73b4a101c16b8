//go:build !unix

package preflight

import "io/fs"

// ownerNames is not known here.
func ownerNames(fs.FileInfo) (owner, group string) { return "", "" }
