// Package fsutil holds file-system helpers shared by the packages that keep
// durable files (the checkpoint store, the file sink).
package fsutil

import (
	"fmt"
	"os"
)

// SyncDir fsyncs the directory dir. Creating, renaming or removing a file
// changes its directory, not the file: syncing the file makes its bytes
// durable, but until the directory is synced too a crash or power loss can
// undo the change to its name (a new file vanishes, a renamed file is found
// under its old name). Call it after the change whose name must survive.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
