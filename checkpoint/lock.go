package checkpoint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrLocked is returned (wrapped) when another process, or another Store in
// this one, holds the lock of a checkpoint.
var ErrLocked = errors.New("checkpoint: in use by another process")

// lockedError names the checkpoint and, when its lock file tells, the
// process holding it.
type lockedError struct {
	path string
	pid  int // 0 when unknown
}

func (e *lockedError) Error() string {
	if e.pid > 0 {
		return fmt.Sprintf("checkpoint %s is in use by another kinetail (pid %d)", e.path, e.pid)
	}
	return fmt.Sprintf("checkpoint %s is in use by another kinetail", e.path)
}

func (e *lockedError) Unwrap() error { return ErrLocked }

// acquire takes an exclusive flock on path+".lock" without waiting, and
// writes this process's pid into the file for the error another agent
// reports. flock belongs to the open file description, so a second open of
// the file conflicts even within this process; the lock goes when the file
// is closed, including when the process dies. The lock file is never
// removed: removing it would let two agents lock two different files.
func acquire(path string) (*os.File, error) {
	name := path + ".lock"
	// O_NOFOLLOW: a symlink planted at the lock's name must not make the
	// agent (often root) write its pid elsewhere.
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: open lock: %w", err)
	}
	if err := flock(f); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &lockedError{path: path, pid: readPid(f)}
		}
		return nil, fmt.Errorf("checkpoint: lock %s: %w", name, err)
	}
	if err := writePid(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("checkpoint: write pid to %s: %w", name, err)
	}
	return f, nil
}

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

func writePid(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// readPid returns the pid written in a lock file, or 0.
func readPid(f *os.File) int {
	var buf [32]byte
	n, _ := f.ReadAt(buf[:], 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// checkLock makes sure the lock held is still the one at the lock file's
// name. If the directory or the lock file was removed (or replaced), the
// lock held is on a file nobody else can find: another agent could start
// and write the same checkpoint. So the lock is taken again at the name.
func (s *Store) checkLock() error {
	held, err := s.lock.Stat()
	if err != nil {
		return fmt.Errorf("checkpoint: stat lock: %w", err)
	}
	cur, err := os.Lstat(s.path + ".lock")
	switch {
	case err == nil && os.SameFile(held, cur):
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("checkpoint: stat lock: %w", err)
	}
	dir := filepath.Dir(s.path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return s.recreateDir()
	}
	if err := s.relock(); err != nil {
		return err
	}
	s.log.Warn("checkpoint lock file was removed or replaced; locked it again", "file", s.path+".lock")
	return nil
}

// recreateDir creates the checkpoint directory again after it was removed,
// and takes the lock in it.
func (s *Store) recreateDir() error {
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("checkpoint: recreate directory: %w", err)
	}
	s.log.Warn("checkpoint directory was removed; recreated it", "dir", dir)
	// Whatever the main file was, it is gone with the directory.
	s.good = false
	return s.relock()
}

// relock takes the lock on the file now at the lock's name, then lets go of
// the old one.
func (s *Store) relock() error {
	f, err := acquire(s.path)
	if err != nil {
		return err
	}
	s.lock.Close()
	s.lock = f
	return nil
}
