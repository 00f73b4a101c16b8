package metrics

import (
	"os"
	"syscall"

	"github.com/kinetail/kinetail/tailer"
)

// SizeOf returns the size of the file at path if it is still the
// generation id (same device and inode); false when it is gone, replaced,
// or compressed (another inode, whose size says nothing of offsets).
func SizeOf(path string, id tailer.FileID) (int64, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || uint64(st.Dev) != id.Dev || st.Ino != id.Inode {
		return 0, false
	}
	return fi.Size(), true
}
