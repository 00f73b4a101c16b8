package metrics

import (
	"syscall"

	"github.com/kinetail/kinetail/tailer"
)

// SizeOf returns the size of the file at path if it is still the
// generation id (same device and inode); false when it is gone, replaced,
// or compressed (another inode, whose size says nothing of offsets).
func SizeOf(path string, id tailer.FileID) (int64, bool) {
	// Not os.Stat: its FileInfo, for each of ten thousand files every
	// stats interval, was most of an idle agent's garbage.
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil || uint64(st.Dev) != id.Dev || st.Ino != id.Inode {
		return 0, false
	}
	return st.Size, true
}
