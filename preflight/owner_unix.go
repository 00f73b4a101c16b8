//go:build unix

package preflight

import (
	"io/fs"
	"os/user"
	"strconv"
	"syscall"
)

// ownerNames returns the names of fi's owner and group, or their ids when
// they have no name.
func ownerNames(fi fs.FileInfo) (owner, group string) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", ""
	}
	owner = strconv.FormatUint(uint64(st.Uid), 10)
	if u, err := user.LookupId(owner); err == nil {
		owner = u.Username
	}
	group = strconv.FormatUint(uint64(st.Gid), 10)
	if g, err := user.LookupGroupId(group); err == nil {
		group = g.Name
	}
	return owner, group
}
