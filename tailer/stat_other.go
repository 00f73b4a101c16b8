//go:build !linux

package tailer

import (
	"fmt"
	"os"
	"time"
)

func dirStat(dir string) (devIno, time.Time, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return devIno{}, time.Time{}, err
	}
	k, ok := keyOf(fi)
	if !ok {
		return devIno{}, time.Time{}, fmt.Errorf("%s: no device and inode", dir)
	}
	return k, fi.ModTime(), nil
}

func lstat(_, path string, _ os.FileInfo) (os.FileInfo, error) { return os.Lstat(path) }

func sizeOf(f file) (int64, time.Time, error) { return statSize(f) }
