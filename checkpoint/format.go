package checkpoint

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
	"unicode/utf8"

	"github.com/kinetail/kinetail/tailer"
)

// version is the format Encode writes; Decode also reads version 1.
const version = 2

// ErrCorrupt is returned (wrapped) when a checkpoint file fails its checks.
var ErrCorrupt = errors.New("checkpoint: corrupt file")

// Entry is the acknowledged position of one file generation in one flow.
// Its JSON form (MarshalJSON) is an element of the file's entries array;
// see the package documentation.
type Entry struct {
	Flow string
	// Path is where the generation's bytes were last seen: the followed
	// file, its rotated name, or the copy its rest is read from.
	Path string
	// Origin is the followed path (matched by the flow's globs) where the
	// generation was written; records carry it. Decode sets it to Path when
	// the file does not record it (always in version 1 files).
	Origin string
	ID     tailer.FileID
	Offset int64
	// Marker hashes the bytes just before Offset (see tailer.Batch.Marker);
	// 0 when unknown. A resume checks it to catch a file rewritten in place.
	Marker uint64
	// Read is the end of the bytes handed on (>= Offset); 0 when unknown.
	Read int64
	// MTime is the file's modification time when the generation was first
	// seen at Origin; zero when unknown.
	MTime time.Time
	// Closed is set once the generation was read to its end and let go:
	// not finding it later is no loss.
	Closed  bool
	Updated time.Time
}

// entryJSON is the JSON form of an Entry. A JSON string cannot hold bytes
// that are not UTF-8 (encoding/json replaces them with U+FFFD), but a path
// can, so such a path is also written as base64 in *_bytes, which wins when
// read; path and origin then only serve people reading the file.
type entryJSON struct {
	Flow        string        `json:"flow"`
	Path        string        `json:"path"`
	PathBytes   []byte        `json:"path_bytes,omitempty"`
	Origin      string        `json:"origin,omitempty"`
	OriginBytes []byte        `json:"origin_bytes,omitempty"`
	ID          tailer.FileID `json:"id"`
	Offset      int64         `json:"offset"`
	Marker      uint64        `json:"marker,omitempty"`
	Read        int64         `json:"read,omitempty"`
	MTime       time.Time     `json:"mtime,omitzero"`
	Closed      bool          `json:"closed,omitempty"`
	Updated     time.Time     `json:"updated"`
}

// MarshalJSON writes e as an element of a checkpoint file's entries.
func (e Entry) MarshalJSON() ([]byte, error) {
	w := entryJSON{
		Flow: e.Flow, Path: e.Path, Origin: e.Origin, ID: e.ID, Offset: e.Offset,
		Marker: e.Marker, Read: e.Read, MTime: e.MTime, Closed: e.Closed, Updated: e.Updated,
	}
	if !utf8.ValidString(e.Path) {
		w.PathBytes = []byte(e.Path)
	}
	if !utf8.ValidString(e.Origin) {
		w.OriginBytes = []byte(e.Origin)
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON wrote, preferring the exact bytes of
// a path to its display form.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var w entryJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = Entry{
		Flow: w.Flow, Path: w.Path, Origin: w.Origin, ID: w.ID, Offset: w.Offset,
		Marker: w.Marker, Read: w.Read, MTime: w.MTime, Closed: w.Closed, Updated: w.Updated,
	}
	if w.PathBytes != nil {
		e.Path = string(w.PathBytes)
	}
	if w.OriginBytes != nil {
		e.Origin = string(w.OriginBytes)
	}
	return nil
}

type fileFormat struct {
	Version  int    `json:"version"`
	Checksum string `json:"checksum"`
	// Saved is the time of the Save, as written (RFC 3339); version 2.
	Saved   string          `json:"saved,omitempty"`
	Entries json.RawMessage `json:"entries"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Decode parses and verifies the bytes of a checkpoint file. saved is the
// time of the Save that wrote it; version 1 files do not record it (zero).
func Decode(data []byte) (entries []Entry, saved time.Time, err error) {
	var f fileFormat
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	switch f.Version {
	case 1:
		if got := checksum(nil, f.Entries); got != f.Checksum {
			return nil, time.Time{}, fmt.Errorf("%w: checksum %q, computed %q", ErrCorrupt, f.Checksum, got)
		}
	case 2:
		if got := checksum([]byte(f.Saved), f.Entries); got != f.Checksum {
			return nil, time.Time{}, fmt.Errorf("%w: checksum %q, computed %q", ErrCorrupt, f.Checksum, got)
		}
		if err := saved.UnmarshalText([]byte(f.Saved)); err != nil {
			return nil, time.Time{}, fmt.Errorf("%w: saved: %v", ErrCorrupt, err)
		}
	default:
		return nil, time.Time{}, fmt.Errorf("%w: version %d, want 1 or %d", ErrCorrupt, f.Version, version)
	}
	if err := json.Unmarshal(f.Entries, &entries); err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: entries: %v", ErrCorrupt, err)
	}
	for i := range entries {
		e := &entries[i]
		if e.Offset < 0 || e.Read < 0 || e.Path == "" {
			return nil, time.Time{}, fmt.Errorf("%w: entry %d is invalid", ErrCorrupt, i)
		}
		if e.Origin == "" {
			e.Origin = e.Path
		}
	}
	return entries, saved, nil
}

// Encode renders entries in the file format (version 2); saved is the time
// of the save.
func Encode(entries []Entry, saved time.Time) ([]byte, error) {
	if entries == nil {
		entries = []Entry{}
	}
	raw, err := json.Marshal(entries)
	if err != nil {
		return nil, err
	}
	ts, err := saved.MarshalText()
	if err != nil {
		return nil, fmt.Errorf("saved time: %w", err)
	}
	out, err := json.Marshal(fileFormat{Version: version, Checksum: checksum(ts, raw), Saved: string(ts), Entries: raw})
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// checksum is the CRC-32C (Castagnoli) of saved followed by entries, in
// hex: the bytes of the saved time (without quotes) and of the entries
// array exactly as they appear in the file. Version 1 files have no saved
// time.
func checksum(saved, entries []byte) string {
	v := crc32.Update(crc32.Checksum(saved, castagnoli), castagnoli, entries)
	return hex.EncodeToString([]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
