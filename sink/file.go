// The File sink: records written as lines to a local, rotated file,
// acknowledged once fsynced.

package sink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kinetail/kinetail/internal/fsutil"
)

// Defaults of FileOptions.
const (
	DefaultFileMaxBytes = 100 << 20
	DefaultFileMaxFiles = 5
)

// Backoff between attempts to write a batch the disk refused.
const (
	fileRetryMin = 100 * time.Millisecond
	fileRetryMax = 5 * time.Second
)

// FileOptions configure a File sink.
type FileOptions struct {
	Path string // required; its directory must exist
	// MaxBytes is the size a file may reach before it is rotated; 0 means
	// DefaultFileMaxBytes. A single record larger than this gets a file
	// of its own.
	MaxBytes int64
	// MaxFiles is how many rotated files (Path.1 … Path.N) are kept; 0
	// means DefaultFileMaxFiles.
	MaxFiles int
}

// File writes each record's data and a newline to a local file (JSON lines
// when the records are JSON), and rotates the file by size: Path becomes
// Path.1, Path.1 becomes Path.2, and so on, the oldest beyond MaxFiles
// being overwritten.
//
// Records are acknowledged only once written and fsynced. When the disk
// refuses a write (full, read-only, directory gone) the same records are
// tried again with a backoff until they are stored or Run's context is
// cancelled; a failed write is cut off again first, so the file never
// keeps half a batch. After a crash, a write cut short is cut off at the
// last newline when the file is reopened (its records were not
// acknowledged, so they come again); a record with newlines of its own (a
// raw multi-line record) may then leave a fragment. Only a file whose first
// line is a JSON record is cut: in any other file kinetail did not create
// the unterminated line is ended with a newline instead. A symbolic link at
// Path is refused (ErrSymlink), never written through.
type File struct {
	o     FileOptions
	f     *os.File // the open file; nil until opened, and after an error
	size  int64    // of f
	buf   []byte
	stats fileCounters
}

// FileStats is a snapshot of a File sink's counters.
type FileStats struct {
	Records     int64 // records written and acknowledged
	Bytes       int64 // bytes written for them, newlines included
	Rotations   int64
	WriteErrors int64 // failed attempts (open, write, fsync, rotate), each retried
}

type fileCounters struct {
	records, bytes, rotations, writeErrors atomic.Int64
}

// NewFile checks the options and returns a sink; the file is opened by
// Run.
func NewFile(o FileOptions) (*File, error) {
	if o.Path == "" {
		return nil, errors.New("file sink: no path")
	}
	if o.MaxBytes < 0 || o.MaxFiles < 0 {
		return nil, fmt.Errorf("file sink %s: negative max_file_bytes or max_files", o.Path)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultFileMaxBytes
	}
	if o.MaxFiles == 0 {
		o.MaxFiles = DefaultFileMaxFiles
	}
	dir := filepath.Dir(o.Path)
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("file sink: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("file sink: %s is not a directory", dir)
	}
	return &File{o: o}, nil
}

// Stats returns the current counters; it is safe to call at any time.
func (f *File) Stats() FileStats {
	c := &f.stats
	return FileStats{
		Records:     c.records.Load(),
		Bytes:       c.bytes.Load(),
		Rotations:   c.rotations.Load(),
		WriteErrors: c.writeErrors.Load(),
	}
}

// Run writes batches until in is closed and returns nil (or the error of
// closing the file), or returns ctx.Err() once ctx is cancelled, leaving
// the records not yet written unacknowledged.
func (f *File) Run(ctx context.Context, in <-chan Batch) error {
	defer f.closeFile()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case b, ok := <-in:
			if !ok {
				return f.closeFile()
			}
			if err := f.writeBatch(ctx, b.Records); err != nil {
				return err
			}
			b.done()
		}
	}
}

// writeBatch writes recs, as few writes as rotation allows, retrying until
// they are stored or ctx is cancelled.
func (f *File) writeBatch(ctx context.Context, recs []Record) error {
	var delay time.Duration
	for len(recs) > 0 {
		n, err := f.writeSome(recs)
		if err != nil {
			f.stats.writeErrors.Add(1)
			delay = min(max(2*delay, fileRetryMin), fileRetryMax)
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			continue
		}
		delay = 0
		for i := range recs[:n] {
			if a := recs[i].Ack; a != nil {
				a.Done(1)
			}
		}
		recs = recs[n:]
	}
	return nil
}

// writeSome writes and fsyncs the leading records of recs that fit in the
// current file, rotating it first when not even one fits, and reports how
// many it wrote.
func (f *File) writeSome(recs []Record) (int, error) {
	if f.f == nil {
		file, size, err := openAppend(f.o.Path, ownLine)
		if err != nil {
			return 0, err
		}
		f.f, f.size = file, size
	}
	n, size := fit(recs, f.o.MaxBytes-f.size)
	if n == 0 && f.size > 0 {
		if err := f.rotate(); err != nil {
			return 0, err
		}
		n, size = fit(recs, f.o.MaxBytes)
	}
	if n == 0 {
		// Larger than a whole file: it gets one of its own.
		n, size = 1, int64(len(recs[0].Data))+1
	}
	buf := f.buf[:0]
	for i := range recs[:n] {
		buf = append(buf, recs[i].Data...)
		buf = append(buf, '\n')
	}
	f.buf = buf
	if _, err := f.f.Write(buf); err != nil {
		f.cutBack()
		return 0, fmt.Errorf("write %s: %w", f.o.Path, err)
	}
	if err := f.f.Sync(); err != nil {
		f.cutBack()
		return 0, fmt.Errorf("fsync %s: %w", f.o.Path, err)
	}
	f.size += size
	f.stats.records.Add(int64(n))
	f.stats.bytes.Add(size)
	return n, nil
}

// fit reports how many leading records of recs, each with its newline, fit
// in room bytes, and their size.
func fit(recs []Record, room int64) (n int, size int64) {
	for n < len(recs) {
		s := int64(len(recs[n].Data)) + 1
		if size+s > room {
			break
		}
		size += s
		n++
	}
	return n, size
}

// cutBack takes back a failed write so that the retry does not follow half
// a batch. If the file cannot be truncated it is closed, and reopening it
// cuts the torn line.
func (f *File) cutBack() {
	if f.f.Truncate(f.size) != nil {
		f.f.Close()
		f.f = nil
	}
}

// rotate closes the full file, shifts Path.i to Path.i+1 (the last one is
// overwritten) and Path to Path.1, and opens a new empty Path.
func (f *File) rotate() error {
	err := f.f.Close()
	f.f = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", f.o.Path, err)
	}
	name := func(i int) string {
		if i == 0 {
			return f.o.Path
		}
		return f.o.Path + "." + strconv.Itoa(i)
	}
	for i := f.o.MaxFiles; i >= 1; i-- {
		if err := os.Rename(name(i-1), name(i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	file, size, err := openAppend(f.o.Path, ownLine)
	if err != nil {
		return err
	}
	f.f, f.size = file, size
	f.stats.rotations.Add(1)
	return nil
}

// ownLine reports whether a file's first line may be one of the File
// sink's records: a JSON value, which is what its records are unless a flow
// sends raw lines. A file whose first line is not (a log, a configuration
// file the path was pointed at by mistake) is never cut.
func ownLine(first []byte) bool { return json.Valid(first) }

func (f *File) closeFile() error {
	if f.f == nil {
		return nil
	}
	err := f.f.Close()
	f.f = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", f.o.Path, err)
	}
	return nil
}

// ErrSymlink is wrapped by the errors of opening a file kinetail writes
// whose path ends in a symbolic link: following it would let whoever can
// write the directory make kinetail append to (and cut) any file.
var ErrSymlink = errors.New("is a symbolic link; kinetail does not write through links (point the path at the file itself)")

// openAppend opens path for appending, creating it with mode 0600 (and
// then syncing its directory, so the new name survives a crash), and
// returns the file and its size. A symbolic link at path is refused
// (ErrSymlink), never followed. A torn last line, left by a crash, is cut
// off only when own accepts the file's first line: kinetail cuts only
// files that hold its own records. In another file, the unterminated line
// is ended with a newline instead, so the records start on a line of their
// own and nothing of the file is lost.
func openAppend(path string, own func(first []byte) bool) (*os.File, int64, error) {
	created := true
	// O_EXCL: a new file is kinetail's own; if the name exists (even as
	// a link) the create fails and the name is opened as it is below.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, os.ErrExist) {
		created = false
		f, err = os.OpenFile(path, os.O_RDWR|os.O_APPEND|syscall.O_NOFOLLOW, 0)
	}
	if errors.Is(err, syscall.ELOOP) {
		return nil, 0, fmt.Errorf("%s %w", path, ErrSymlink)
	}
	if err != nil {
		return nil, 0, err
	}
	if created {
		if err := fsutil.SyncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, 0, err
		}
		return f, 0, nil
	}
	size, err := cutTornLine(f, own)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return f, size, nil
}

// maxFirstLine is how much of a file's start is read to find its first
// line for openAppend's own: more than any record kinetail writes.
const maxFirstLine = 32 << 20

// firstLine returns f's first line without its newline, and false when
// the file holds no complete line within maxFirstLine bytes.
func firstLine(f *os.File) ([]byte, bool, error) {
	line, err := bufio.NewReader(io.NewSectionReader(f, 0, maxFirstLine)).ReadBytes('\n')
	if errors.Is(err, io.EOF) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read first line: %w", err)
	}
	return line[:len(line)-1], true, nil
}

// cutTornLine ends f at a newline and returns its new size. In a file of
// kinetail's own (own accepts its first line) it truncates f after its
// last newline, removing what a write cut short by a crash left behind:
// such records were never acknowledged, so they are written again. In any
// other file it appends a newline instead.
func cutTornLine(f *os.File, own func(first []byte) bool) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if size == 0 {
		return 0, nil
	}
	var chunk [64 << 10]byte
	end := size
	keep := int64(0)
	for end > 0 && keep == 0 {
		start := max(end-int64(len(chunk)), 0)
		b := chunk[:end-start]
		if _, err := f.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("read: %w", err)
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			keep = start + int64(i) + 1
		}
		end = start
	}
	if keep == size {
		return size, nil
	}
	first, ok, err := firstLine(f)
	if err != nil {
		return 0, err
	}
	if ok && own(first) {
		return keep, truncate(f, keep)
	}
	if _, err := f.Write([]byte{'\n'}); err != nil {
		return 0, fmt.Errorf("end the unterminated last line: %w", err)
	}
	return size + 1, f.Sync()
}

func truncate(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("cut torn last line: %w", err)
	}
	return f.Sync()
}
