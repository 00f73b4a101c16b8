package tailer

import (
	"io/fs"
	"os"
	"runtime"
	"syscall"
	"time"
)

// dirStat returns a directory's identity and modification time, without
// the FileInfo os.Stat makes.
func dirStat(dir string) (devIno, time.Time, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return devIno{}, time.Time{}, &fs.PathError{Op: "stat", Path: dir, Err: err}
	}
	return devIno{uint64(st.Dev), st.Ino}, time.Unix(st.Mtim.Unix()), nil
}

// lstat returns the FileInfo of path (whose base name is name): last when
// nothing the Tailer looks at changed since lstat made it, else a new one.
// The Scanner keeps one per file from scan to scan, rather than making one
// per file and scan.
func lstat(name, path string, last os.FileInfo) (os.FileInfo, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	if l, ok := last.(*statInfo); ok && sameStat(&l.st, &st) {
		return l, nil
	}
	return &statInfo{name: name, st: st}, nil
}

// sameStat reports whether two lstats of a file agree on all the Tailer
// uses: identity, type, size and times of change (not the access time).
func sameStat(a, b *syscall.Stat_t) bool {
	return a.Dev == b.Dev && a.Ino == b.Ino && a.Mode == b.Mode && a.Nlink == b.Nlink &&
		a.Size == b.Size && a.Mtim == b.Mtim && a.Ctim == b.Ctim
}

// statInfo is the os.FileInfo of an lstat, as os.Lstat makes it.
type statInfo struct {
	name string
	st   syscall.Stat_t
}

func (fi *statInfo) Name() string       { return fi.name }
func (fi *statInfo) Size() int64        { return fi.st.Size }
func (fi *statInfo) ModTime() time.Time { return time.Unix(fi.st.Mtim.Unix()) }
func (fi *statInfo) IsDir() bool        { return fi.Mode().IsDir() }
func (fi *statInfo) Sys() any           { return &fi.st }

// Mode is the mode os.Lstat gives: permissions, type and special bits.
func (fi *statInfo) Mode() fs.FileMode {
	m := fs.FileMode(fi.st.Mode & 0o777)
	switch fi.st.Mode & syscall.S_IFMT {
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if fi.st.Mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if fi.st.Mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if fi.st.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// sizeOf returns f's size and modification time. For an open file it asks
// fstat directly, without the FileInfo (*os.File).Stat makes: readers ask at
// every read and every idle check, ten thousand of them at a restart. The
// caller owns f: no other goroutine closes it meanwhile.
func sizeOf(f file) (int64, time.Time, error) {
	of, ok := f.(*os.File)
	if !ok {
		return statSize(f)
	}
	var st syscall.Stat_t
	err := syscall.Fstat(int(of.Fd()), &st)
	runtime.KeepAlive(of)
	if err != nil {
		return 0, time.Time{}, &fs.PathError{Op: "fstat", Path: of.Name(), Err: err}
	}
	return st.Size, time.Unix(st.Mtim.Unix()), nil
}
