package checkpoint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CheckDir reports whether the checkpoint file at path can be written: it
// creates the file's directory (mode 0700) if missing, then creates and
// removes a temporary file in it. It takes no lock and leaves the
// checkpoint alone, so it may run beside an agent using it.
func CheckDir(path string) error {
	if path == "" {
		return errors.New("empty path")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("directory %s cannot be created: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".check*")
	if err != nil {
		return fmt.Errorf("directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("directory %s: remove test file: %w", dir, err)
	}
	return nil
}
