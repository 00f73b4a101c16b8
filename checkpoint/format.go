package checkpoint

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/kinetail/kinetail/tailer"
	"github.com/kinetail/kinetail/transform"
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
func (e Entry) MarshalJSON() ([]byte, error) { return e.appendJSON(nil), nil }

// appendJSON appends e in the form of entryJSON, without reflection: a
// save of 10,000 entries is mostly this.
func (e *Entry) appendJSON(b []byte) []byte {
	b = append(b, `{"flow":`...)
	b = appendJSONString(b, e.Flow)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, e.Path)
	if !utf8.ValidString(e.Path) {
		b = append(b, `,"path_bytes":"`...)
		b = base64.StdEncoding.AppendEncode(b, []byte(e.Path))
		b = append(b, '"')
	}
	if e.Origin != "" {
		b = append(b, `,"origin":`...)
		b = appendJSONString(b, e.Origin)
		if !utf8.ValidString(e.Origin) {
			b = append(b, `,"origin_bytes":"`...)
			b = base64.StdEncoding.AppendEncode(b, []byte(e.Origin))
			b = append(b, '"')
		}
	}
	b = append(b, `,"id":{"dev":`...)
	b = strconv.AppendUint(b, e.ID.Dev, 10)
	b = append(b, `,"inode":`...)
	b = strconv.AppendUint(b, e.ID.Inode, 10)
	b = append(b, `,"fingerprint":`...)
	b = strconv.AppendUint(b, e.ID.Fingerprint, 10)
	b = append(b, `,"fingerprint_len":`...)
	b = strconv.AppendInt(b, int64(e.ID.FingerprintLen), 10)
	b = append(b, `},"offset":`...)
	b = strconv.AppendInt(b, e.Offset, 10)
	if e.Marker != 0 {
		b = append(b, `,"marker":`...)
		b = strconv.AppendUint(b, e.Marker, 10)
	}
	if e.Read != 0 {
		b = append(b, `,"read":`...)
		b = strconv.AppendInt(b, e.Read, 10)
	}
	if !e.MTime.IsZero() {
		b = append(b, `,"mtime":"`...)
		b = e.MTime.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	if e.Closed {
		b = append(b, `,"closed":true`...)
	}
	b = append(b, `,"updated":"`...)
	b = e.Updated.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
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
	// Saved is when the followed paths were last looked at before the
	// Save (at the latest the Save's time), as written (RFC 3339);
	// version 2. A file that appeared after it has no entry yet: after a
	// restart, its rotated generations written since Saved are read.
	Saved   string          `json:"saved,omitempty"`
	Entries json.RawMessage `json:"entries"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Decode parses and verifies the bytes of a checkpoint file. saved is the
// time of the Save that wrote it; version 1 files do not record it (zero).
func Decode(data []byte) (entries []Entry, saved time.Time, err error) {
	f, entries, fast := scanFile(data)
	if !fast {
		f, entries = fileFormat{}, nil
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, time.Time{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
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
	if !fast {
		if err := json.Unmarshal(f.Entries, &entries); err != nil {
			return nil, time.Time{}, fmt.Errorf("%w: entries: %v", ErrCorrupt, err)
		}
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
	var b bytes.Buffer
	b.Grow(320*len(entries) + 128)
	sumAt, sum, err := writeEncoded(&b, make([]byte, 0, saveChunk), entries, saved)
	if err != nil {
		return nil, err
	}
	out := b.Bytes()
	copy(out[sumAt:], sum)
	return out, nil
}

// writeEncoded writes entries in the file format to w, a chunk of buf's
// capacity at a time, so that a save of 10,000 entries needs no buffer of
// their size (4 MB, at every save of a restart). The checksum comes before
// the entries it covers: it is written as eight zeros at offset sumAt, for
// the caller to replace with sum.
func writeEncoded(w io.Writer, buf []byte, entries []Entry, saved time.Time) (sumAt int, sum string, err error) {
	ts, err := saved.MarshalText()
	if err != nil {
		return 0, "", fmt.Errorf("saved time: %w", err)
	}
	out := append(buf[:0], `{"version":`...)
	out = strconv.AppendInt(out, version, 10)
	out = append(out, `,"checksum":"`...)
	sumAt = len(out)
	out = append(out, "00000000"...)
	out = append(out, `","saved":"`...)
	out = append(out, ts...)
	out = append(out, `","entries":`...)
	// The checksum covers the entries array from its '[' to its ']'.
	covered := len(out)
	crc := crc32.Checksum(ts, castagnoli)
	flush := func() error {
		crc = crc32.Update(crc, castagnoli, out[covered:])
		_, err := w.Write(out)
		out, covered = out[:0], 0
		return err
	}
	out = append(out, '[')
	for i := range entries {
		if i > 0 {
			out = append(out, ',')
		}
		out = entries[i].appendJSON(out)
		if len(out) > cap(buf)-cap(buf)/8 {
			if err := flush(); err != nil {
				return 0, "", err
			}
		}
	}
	out = append(out, ']')
	if err := flush(); err != nil {
		return 0, "", err
	}
	if _, err := w.Write([]byte("}\n")); err != nil {
		return 0, "", err
	}
	return sumAt, hexSum(crc), nil
}

// checksum is the CRC-32C (Castagnoli) of saved followed by entries, in
// hex: the bytes of the saved time (without quotes) and of the entries
// array exactly as they appear in the file. Version 1 files have no saved
// time.
func checksum(saved, entries []byte) string {
	return hexSum(crc32.Update(crc32.Checksum(saved, castagnoli), castagnoli, entries))
}

// hexSum is a checksum as the file holds it: eight hex digits.
func hexSum(v uint32) string {
	return hex.EncodeToString([]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// appendJSONString appends s as a JSON string; bytes that are not UTF-8
// become U+FFFD (paths keep them in *_bytes).
func appendJSONString(b []byte, s string) []byte { return transform.AppendJSONString(b, []byte(s)) }
