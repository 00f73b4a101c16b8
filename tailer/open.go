package tailer

import (
	"errors"
	"fmt"
	"os"
)

// errReplaced is returned by openAt when the path holds another file than
// the one decided on: it was renamed or replaced since the scan.
var errReplaced = errors.New("replaced by another file")

// openAt opens path for reading and checks what it is: a regular file,
// the file want identifies (when want is not zero), decompressed when its
// name says it is a compressed copy. It is the one way the Tailer opens a
// file, to look at it or to read it.
func (t *Tailer) openAt(path string, want devIno) (file, os.FileInfo, devIno, error) {
	f, err := t.cfg.openFile(path)
	if err != nil {
		return nil, nil, devIno{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, devIno{}, fmt.Errorf("stat %s: %w", path, err)
	}
	k, ok := keyOf(fi)
	switch {
	case !fi.Mode().IsRegular():
		err = fmt.Errorf("%s: not a regular file", path)
	case !ok:
		err = fmt.Errorf("%s: no device and inode", path)
	case want != (devIno{}) && k != want:
		err = errReplaced
	}
	if err != nil {
		f.Close()
		return nil, nil, devIno{}, err
	}
	if !compressedName(path) {
		return f, fi, k, nil
	}
	u, err := openUnpacked(f)
	if err != nil {
		f.Close()
		return nil, nil, devIno{}, err
	}
	return u, fi, k, nil
}
