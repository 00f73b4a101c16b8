package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kinetail/kinetail/internal/fsutil"
)

// Store persists entries in one file, and holds the lock that keeps other
// agents off it until Close. It is safe for concurrent use.
type Store struct {
	path string
	log  *slog.Logger

	mu   sync.Mutex
	lock *os.File // holds the flock on path+".lock"; nil once closed
	// good is set while the main file is known to hold a good checkpoint:
	// Load decoded it or this Store wrote it. Only then does Save move it to
	// .prev; a corrupt main file must not replace the good previous copy.
	good bool
	// step, when set (by tests), runs after each step of Save; an error
	// fails the save there as a real error at that point would.
	step func(name string) error
	// buf is where a save encodes its entries, a chunk at a time.
	buf []byte
}

// saveChunk is how much of a checkpoint a save encodes before writing it.
const saveChunk = 32 << 10

// Open prepares a store at path: it creates the directory (mode 0700) if
// needed, takes the lock (failing with ErrLocked if another process or
// Store holds it) and removes temporary files left by an interrupted save.
// A nil log discards the store's messages.
func Open(path string, log *slog.Logger) (*Store, error) {
	if path == "" {
		return nil, errors.New("checkpoint: empty path")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("checkpoint: create directory: %w", err)
	}
	lock, err := acquire(path)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{path, path + ".prev"} {
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			lock.Close()
			return nil, fmt.Errorf("checkpoint: %s: %w", p, ErrSymlink)
		}
	}
	s := &Store{path: path, log: log, lock: lock}
	s.removeTemps()
	return s, nil
}

// ErrSymlink is wrapped by Open when the checkpoint file or its previous
// copy is a symbolic link. Whoever can write the state directory could
// otherwise make kinetail read its positions from another file; Save
// itself never writes through a link (the temporary file is created new,
// and renames replace a link instead of following it).
var ErrSymlink = errors.New("is a symbolic link; kinetail does not use links as its checkpoint (move it away, or point checkpoint_file at the file itself)")

// Path returns the checkpoint file's path.
func (s *Store) Path() string { return s.path }

// Close releases the lock. The store cannot save after Close.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close()
	s.lock = nil
	if err != nil {
		return fmt.Errorf("checkpoint: release lock: %w", err)
	}
	return nil
}

// removeTemps removes the temporary files of saves that never finished.
// Holding the lock, no other writer can be using them.
func (s *Store) removeTemps() {
	dir, prefix := filepath.Dir(s.path), filepath.Base(s.path)+".tmp"
	des, err := os.ReadDir(dir)
	if err != nil {
		s.log.Warn("cannot list the checkpoint directory for stale temporary files", "dir", dir, "err", err)
		return
	}
	for _, de := range des {
		if !de.Type().IsRegular() || !strings.HasPrefix(de.Name(), prefix) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, de.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("cannot remove a stale temporary checkpoint file", "err", err)
		}
	}
}

// LoadResult describes what Load found.
type LoadResult struct {
	Entries []Entry
	// Existed is false on a first start: neither the file nor its previous
	// copy exists.
	Existed bool
	// Recovered names the problem with the main file when the previous copy
	// was used instead; empty otherwise.
	Recovered string
	// Saved is when the loaded copy was written: recorded in the file since
	// version 2, the file's modification time for version 1.
	Saved time.Time
}

// Load reads the checkpoint, falling back to the previous copy.
func (s *Store) Load() (LoadResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, saved, err := readFile(s.path)
	s.good = err == nil
	if err == nil {
		return LoadResult{Entries: entries, Existed: true, Saved: saved}, nil
	}
	mainErr := err
	prev, saved, perr := readFile(s.path + ".prev")
	switch {
	case perr == nil:
		reason := mainErr.Error()
		if errors.Is(mainErr, fs.ErrNotExist) {
			reason = "missing (interrupted save)"
		}
		return LoadResult{Entries: prev, Existed: true, Recovered: reason, Saved: saved}, nil
	case errors.Is(mainErr, fs.ErrNotExist) && errors.Is(perr, fs.ErrNotExist):
		return LoadResult{}, nil
	case errors.Is(mainErr, fs.ErrNotExist):
		return LoadResult{}, fmt.Errorf("load %s.prev: %w", s.path, perr)
	default:
		return LoadResult{}, fmt.Errorf("load %s: %w (previous copy: %v)", s.path, mainErr, perr)
	}
}

// readFile decodes the checkpoint file at path. A version 1 file does not
// record when it was saved; its modification time tells.
func readFile(path string) ([]Entry, time.Time, error) {
	// O_NOFOLLOW: a link planted after Open is not read either.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, time.Time{}, ErrSymlink
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	// Read into a buffer of the file's size (and room to see its end),
	// not one grown by doubling to it: 10 MB instead of 4 for 10,000
	// entries, at every start.
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()) + bytes.MinRead)
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, time.Time{}, err
	}
	entries, saved, err := Decode(buf.Bytes())
	if err != nil {
		return nil, time.Time{}, err
	}
	if saved.IsZero() {
		saved = fi.ModTime()
	}
	return entries, saved, nil
}

// Save replaces the checkpoint atomically: it writes a temporary file,
// fsyncs it, moves a known-good main file to .prev, renames the temporary
// file into place and fsyncs the directory. On any error the last good
// checkpoint is left in place (as the main file or .prev), so a failed save
// (a full disk) loses nothing and is retried by the caller.
//
// If the directory was removed (rm -rf of the state directory), Save
// creates it again and takes the lock on a new lock file; if another
// process holds the lock there by then, Save fails with ErrLocked.
//
// seen is when the followed paths were last looked at (see Saver.Seen),
// recorded as the checkpoint's Saved time; a zero seen is the time of the
// save.
func (s *Store) Save(entries []Entry, seen time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return fmt.Errorf("checkpoint: save %s: store is closed", s.path)
	}
	if seen.IsZero() {
		seen = time.Now()
	}
	if err := s.checkLock(); err != nil {
		return err
	}
	if err := s.after("lock"); err != nil {
		return fmt.Errorf("checkpoint: save %s: %w", s.path, err)
	}
	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, filepath.Base(s.path)+".tmp*")
	if errors.Is(err, fs.ErrNotExist) {
		// Removed since checkLock looked.
		if err := s.recreateDir(); err != nil {
			return err
		}
		tmp, err = os.CreateTemp(dir, filepath.Base(s.path)+".tmp*")
	}
	if err != nil {
		return fmt.Errorf("checkpoint: save %s: %w", s.path, err)
	}
	tmpName := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmpName)
		return fmt.Errorf("checkpoint: save %s: %w", s.path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		return fail(err)
	}
	if s.buf == nil {
		s.buf = make([]byte, 0, saveChunk)
	}
	sumAt, sum, err := writeEncoded(tmp, s.buf, entries, seen.UTC())
	if err == nil {
		_, err = tmp.WriteAt([]byte(sum), int64(sumAt))
	}
	if err != nil {
		return fail(err)
	}
	if err := s.after("write"); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := s.after("sync"); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := s.after("close"); err != nil {
		return fail(err)
	}
	if s.good {
		if err := os.Rename(s.path, s.path+".prev"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fail(fmt.Errorf("keep previous copy: %w", err))
		}
		// Until the rename below, .prev is the last good copy.
		s.good = false
	}
	if err := s.after("prev"); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmpName, s.path); err != nil {
		return fail(err)
	}
	s.good = true
	if err := s.after("rename"); err != nil {
		return fmt.Errorf("checkpoint: save %s: %w", s.path, err)
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return fmt.Errorf("checkpoint: save %s: %w", s.path, err)
	}
	if err := s.after("syncdir"); err != nil {
		return fmt.Errorf("checkpoint: save %s: %w", s.path, err)
	}
	return nil
}

// after runs the test hook for the step of Save just done.
func (s *Store) after(step string) error {
	if s.step == nil {
		return nil
	}
	return s.step(step)
}
