package checkpoint

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/kinetail/kinetail/tailer"
)

const version = 1

// ErrCorrupt is returned (wrapped) when a checkpoint file fails its checks.
var ErrCorrupt = errors.New("checkpoint: corrupt file")

// Entry is the acknowledged position of one file in one flow.
type Entry struct {
	Flow   string        `json:"flow"`
	Path   string        `json:"path"`
	ID     tailer.FileID `json:"id"`
	Offset int64         `json:"offset"`
	// Marker hashes the bytes just before Offset (see tailer.Batch.Marker);
	// 0 when unknown. A resume checks it to catch a file rewritten in place.
	Marker  uint64    `json:"marker,omitempty"`
	Updated time.Time `json:"updated"`
}

type fileFormat struct {
	Version  int             `json:"version"`
	Checksum string          `json:"checksum"`
	Entries  json.RawMessage `json:"entries"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Store persists entries in one file. It is not safe for concurrent Save calls.
type Store struct {
	path string
}

// Open prepares a store at path, creating its directory (mode 0700) if needed.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("checkpoint: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("checkpoint: create directory: %w", err)
	}
	return &Store{path: path}, nil
}

// Path returns the checkpoint file's path.
func (s *Store) Path() string { return s.path }

// LoadResult describes what Load found.
type LoadResult struct {
	Entries []Entry
	// Existed is false on a first start: neither the file nor its previous
	// copy exists.
	Existed bool
	// Recovered names the problem with the main file when the previous copy
	// was used instead; empty otherwise.
	Recovered string
}

// Load reads the checkpoint, falling back to the previous copy.
func (s *Store) Load() (LoadResult, error) {
	entries, err := readFile(s.path)
	if err == nil {
		return LoadResult{Entries: entries, Existed: true}, nil
	}
	mainErr := err
	prev, perr := readFile(s.path + ".prev")
	switch {
	case perr == nil:
		reason := mainErr.Error()
		if errors.Is(mainErr, fs.ErrNotExist) {
			reason = "missing (interrupted save)"
		}
		return LoadResult{Entries: prev, Existed: true, Recovered: reason}, nil
	case errors.Is(mainErr, fs.ErrNotExist) && errors.Is(perr, fs.ErrNotExist):
		return LoadResult{}, nil
	case errors.Is(mainErr, fs.ErrNotExist):
		return LoadResult{}, fmt.Errorf("load %s.prev: %w", s.path, perr)
	default:
		return LoadResult{}, fmt.Errorf("load %s: %w (previous copy: %v)", s.path, mainErr, perr)
	}
}

func readFile(path string) ([]Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(data)
}

// Decode parses and verifies the bytes of a checkpoint file.
func Decode(data []byte) ([]Entry, error) {
	var f fileFormat
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if f.Version != version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrCorrupt, f.Version, version)
	}
	if got := checksum(f.Entries); got != f.Checksum {
		return nil, fmt.Errorf("%w: checksum %q, computed %q", ErrCorrupt, f.Checksum, got)
	}
	var entries []Entry
	if err := json.Unmarshal(f.Entries, &entries); err != nil {
		return nil, fmt.Errorf("%w: entries: %v", ErrCorrupt, err)
	}
	for i, e := range entries {
		if e.Offset < 0 || e.Path == "" {
			return nil, fmt.Errorf("%w: entry %d is invalid", ErrCorrupt, i)
		}
	}
	return entries, nil
}

// Encode renders entries in the file format.
func Encode(entries []Entry) ([]byte, error) {
	if entries == nil {
		entries = []Entry{}
	}
	raw, err := json.Marshal(entries)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(raw) + 64)
	out, err := json.Marshal(fileFormat{Version: version, Checksum: checksum(raw), Entries: raw})
	if err != nil {
		return nil, err
	}
	buf.Write(out)
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func checksum(b []byte) string {
	var sum [4]byte
	v := crc32.Checksum(b, castagnoli)
	sum[0], sum[1], sum[2], sum[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	return hex.EncodeToString(sum[:])
}

// Save replaces the checkpoint atomically. On any error the previous file is
// left intact, so a failed save (a full disk) loses nothing but is retried by
// the caller.
func (s *Store) Save(entries []Entry) error {
	data, err := Encode(entries)
	if err != nil {
		return fmt.Errorf("checkpoint: encode: %w", err)
	}
	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, filepath.Base(s.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
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
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(s.path, s.path+".prev"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		os.Remove(tmpName)
		return fmt.Errorf("checkpoint: keep previous copy: %w", err)
	}
	if err := os.Rename(tmpName, s.path); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("checkpoint: rename: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("checkpoint: open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("checkpoint: sync directory: %w", err)
	}
	return nil
}
