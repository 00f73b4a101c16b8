// Package testfs is a small file-system harness for tests: a directory under
// t.TempDir() with helpers that act like applications and logrotate do
// (append, rename, copytruncate, remove, truncate, symlink), failing the test
// on any error, and a polling Wait for asserting on asynchronous effects.
package testfs

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Dir is a temporary directory. Names given to its methods are relative to
// Root; parent directories are created as needed.
type Dir struct {
	t    testing.TB
	Root string
}

// New returns a Dir over a fresh t.TempDir().
func New(t testing.TB) *Dir {
	t.Helper()
	// Resolve links (the temp dir may be reached through one) so paths equal
	// what a walk of the directory reports.
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatalf("testfs: %v", err)
	}
	return &Dir{t: t, Root: root}
}

// Path returns the absolute path of name.
func (d *Dir) Path(name string) string { return filepath.Join(d.Root, name) }

func (d *Dir) check(op, name string, err error) {
	d.t.Helper()
	if err != nil {
		d.t.Fatalf("testfs: %s %s: %v", op, name, err)
	}
}

func (d *Dir) mkParent(name string) {
	d.t.Helper()
	d.check("mkdir", name, os.MkdirAll(filepath.Dir(d.Path(name)), 0o755))
}

// Write creates or replaces name with content s.
func (d *Dir) Write(name, s string) {
	d.t.Helper()
	d.mkParent(name)
	d.check("write", name, os.WriteFile(d.Path(name), []byte(s), 0o644))
}

// Append appends s to name with one write, creating the file if needed.
func (d *Dir) Append(name, s string) {
	d.t.Helper()
	d.mkParent(name)
	d.check("append", name, AppendFile(d.Path(name), []byte(s), true))
}

// AppendFile appends b to the file at path with one write, as a logging
// application does. With create, a missing file is created (mode 0644);
// without, appending to a missing file fails with fs.ErrNotExist, as it
// would for a writer whose file was just rotated away. It does not fail
// the test, so writers on other goroutines can use it.
func AppendFile(path string, b []byte, create bool) error {
	flags := os.O_WRONLY | os.O_APPEND
	if create {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("append to %s: %w", path, err)
	}
	return nil
}

// Lines returns the lines "<prefix>-<i>\n" for i in [from, to): numbered
// lines whose loss or duplication a test can tell.
func Lines(prefix string, from, to int) []byte {
	var b []byte
	for i := from; i < to; i++ {
		b = fmt.Appendf(b, "%s-%d\n", prefix, i)
	}
	return b
}

// OpenAppend opens name for appending, like a logging application holding
// its descriptor across a rotation. The file is closed at test cleanup if
// the test has not closed it.
func (d *Dir) OpenAppend(name string) *os.File {
	d.t.Helper()
	d.mkParent(name)
	f, err := os.OpenFile(d.Path(name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	d.check("open", name, err)
	d.t.Cleanup(func() { f.Close() })
	return f
}

// Rename renames oldName to newName.
func (d *Dir) Rename(oldName, newName string) {
	d.t.Helper()
	d.mkParent(newName)
	d.check("rename", oldName, os.Rename(d.Path(oldName), d.Path(newName)))
}

// CopyTruncate copies name to to and truncates name to zero length, as
// logrotate's copytruncate does.
func (d *Dir) CopyTruncate(name, to string) {
	d.t.Helper()
	b, err := os.ReadFile(d.Path(name))
	d.check("read", name, err)
	d.Write(to, string(b))
	d.Truncate(name, 0)
}

// Remove removes name (a file, link or empty directory).
func (d *Dir) Remove(name string) {
	d.t.Helper()
	d.check("remove", name, os.Remove(d.Path(name)))
}

// Truncate changes the size of name.
func (d *Dir) Truncate(name string, size int64) {
	d.t.Helper()
	d.check("truncate", name, os.Truncate(d.Path(name), size))
}

// Mkdir creates the directory name and its parents.
func (d *Dir) Mkdir(name string) {
	d.t.Helper()
	d.check("mkdir", name, os.MkdirAll(d.Path(name), 0o755))
}

// Symlink creates name as a symbolic link to target. A relative target is
// taken as is (relative to the link's directory), as the kernel does.
func (d *Dir) Symlink(target, name string) {
	d.t.Helper()
	d.mkParent(name)
	d.check("symlink", name, os.Symlink(target, d.Path(name)))
}

// Read returns the content of name.
func (d *Dir) Read(name string) string {
	d.t.Helper()
	b, err := os.ReadFile(d.Path(name))
	d.check("read", name, err)
	return string(b)
}

// Wait polls cond every few milliseconds until it returns true, and fails
// the test if that does not happen within timeout.
func Wait(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	WaitEvery(t, timeout, 5*time.Millisecond, what, cond)
}

// WaitEvery is Wait polling every interval: for a condition that is costly
// to evaluate (reading back every record stored).
func WaitEvery(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}
