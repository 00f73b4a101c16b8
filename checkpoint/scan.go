package checkpoint

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/kinetail/kinetail/tailer"
)

// scanFile reads a checkpoint file the way encode writes it, without
// reflection: encoding/json took 137 ms for 10,000 entries, which a
// restart waits for before it looks at any file. It reports false for
// anything it does not handle the way encoding/json would (an unknown or
// differently cased key, a null, a number with a fraction or an exponent,
// a string with escapes or with bytes that are not UTF-8, trailing bytes):
// Decode then reads the file with encoding/json, which decides. So a file
// edited by hand still reads as before, and the two agree on every file
// scanFile accepts (FuzzScanFileMatchesJSON).
func scanFile(data []byte) (f fileFormat, entries []Entry, ok bool) {
	s := scanner{data: data}
	sawEntries := false
	ok = s.object(func(key []byte) bool {
		switch string(key) {
		case "version":
			n, ok := s.int()
			f.Version = int(n)
			return ok
		case "checksum":
			var ok bool
			f.Checksum, ok = s.str()
			return ok
		case "saved":
			var ok bool
			f.Saved, ok = s.str()
			return ok
		case "entries":
			start := s.pos
			// One entry per "flow" key, mostly: grown once, not ten
			// times (an Entry is 200 bytes). Never nil: encoding/json
			// makes [] an empty slice.
			entries = make([]Entry, 0, bytes.Count(data[start:], []byte(`"flow"`)))
			ok := s.array(func() bool {
				var e Entry
				if !s.entry(&e) {
					return false
				}
				entries = append(entries, e)
				return true
			})
			f.Entries, sawEntries = json.RawMessage(data[start:s.pos]), true
			return ok
		}
		return false
	})
	s.space()
	return f, entries, ok && sawEntries && s.pos == len(data)
}

// scanner is a position in a checkpoint file's bytes.
type scanner struct {
	data []byte
	pos  int
	flow string // the last flow name read: most entries share it
}

func (s *scanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// next skips blanks and takes c.
func (s *scanner) next(c byte) bool {
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// object reads an object, calling field for each key with the position at
// its value.
func (s *scanner) object(field func(key []byte) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		s.space()
		key, ok := s.raw()
		if !ok || !s.next(':') {
			return false
		}
		s.space()
		if !field(key) {
			return false
		}
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// array reads an array, calling elem at each element.
func (s *scanner) array(elem func() bool) bool {
	if !s.next('[') {
		return false
	}
	if s.next(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if s.next(']') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// raw reads a string with neither escapes nor control characters, and
// valid UTF-8, and returns its bytes.
func (s *scanner) raw() ([]byte, bool) {
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		return nil, false
	}
	start := s.pos + 1
	end := bytes.IndexByte(s.data[start:], '"')
	if end < 0 {
		return nil, false
	}
	b := s.data[start : start+end]
	for _, c := range b {
		if c < 0x20 || c == '\\' {
			return nil, false
		}
	}
	if !utf8.Valid(b) {
		return nil, false
	}
	s.pos = start + end + 1
	return b, true
}

func (s *scanner) str() (string, bool) {
	b, ok := s.raw()
	return string(b), ok
}

// number returns the bytes of an integer: digits after an optional minus.
func (s *scanner) number() []byte {
	start := s.pos
	if s.pos < len(s.data) && s.data[s.pos] == '-' {
		s.pos++
	}
	for s.pos < len(s.data) && '0' <= s.data[s.pos] && s.data[s.pos] <= '9' {
		s.pos++
	}
	if s.pos < len(s.data) {
		switch s.data[s.pos] {
		case '.', 'e', 'E':
			return nil
		}
	}
	return s.data[start:s.pos]
}

func (s *scanner) int() (int64, bool) {
	b := s.number()
	// JSON has no leading zeros, nor "-": ParseInt takes both.
	if len(b) == 0 || len(b) > 1 && b[0] == '0' || len(b) > 2 && b[0] == '-' && b[1] == '0' {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}

func (s *scanner) uint() (uint64, bool) {
	b := s.number()
	if len(b) == 0 || b[0] == '-' || len(b) > 1 && b[0] == '0' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	return n, err == nil
}

func (s *scanner) time(t *time.Time) bool {
	b, ok := s.raw()
	return ok && t.UnmarshalText(b) == nil
}

// bytes reads base64 as encoding/json does for a []byte.
func (s *scanner) bytes() (string, bool) {
	b, ok := s.raw()
	if !ok {
		return "", false
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	n, err := base64.StdEncoding.Decode(out, b)
	return string(out[:n]), err == nil
}

// entry reads one element of the entries array into e, as
// Entry.UnmarshalJSON does.
func (s *scanner) entry(e *Entry) bool {
	var path, origin string
	var pathOK, originOK bool
	ok := s.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "flow":
			var b []byte
			if b, ok = s.raw(); ok {
				if string(b) != s.flow {
					s.flow = string(b)
				}
				e.Flow = s.flow
			}
		case "path":
			e.Path, ok = s.str()
		case "path_bytes":
			path, ok = s.bytes()
			pathOK = true
		case "origin":
			var b []byte
			if b, ok = s.raw(); ok {
				e.Origin = e.Path // the same string, mostly: not another copy
				if string(b) != e.Path {
					e.Origin = string(b)
				}
			}
		case "origin_bytes":
			origin, ok = s.bytes()
			originOK = true
		case "id":
			ok = s.id(&e.ID)
		case "offset":
			e.Offset, ok = s.int()
		case "marker":
			e.Marker, ok = s.uint()
		case "read":
			e.Read, ok = s.int()
		case "mtime":
			ok = s.time(&e.MTime)
		case "closed":
			e.Closed, ok = s.bool()
		case "updated":
			ok = s.time(&e.Updated)
		}
		return ok
	})
	if pathOK {
		e.Path = path
	}
	if originOK {
		e.Origin = origin
	}
	return ok
}

func (s *scanner) id(id *tailer.FileID) bool {
	return s.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "dev":
			id.Dev, ok = s.uint()
		case "inode":
			id.Inode, ok = s.uint()
		case "fingerprint":
			id.Fingerprint, ok = s.uint()
		case "fingerprint_len":
			var n int64
			n, ok = s.int()
			id.FingerprintLen = int(n)
		}
		return ok
	})
}

func (s *scanner) bool() (bool, bool) {
	for _, v := range []string{"true", "false"} {
		if bytes.HasPrefix(s.data[s.pos:], []byte(v)) {
			s.pos += len(v)
			return v == "true", true
		}
	}
	return false, false
}
