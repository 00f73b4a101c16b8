package transform

import (
	"bytes"
	"slices"
	"strconv"
)

// utf8BOM starts files written by some spreadsheet programs; it is not part
// of the first field name.
const utf8BOM = "\xEF\xBB\xBF"

// quadraticNames is the number of field names up to which duplicates are
// found by comparing each name with the earlier ones; longer headers use a
// map, so a pathological header of a million empty columns stays linear.
const quadraticNames = 64

// headerState is what a header-mode csvToJSON keeps between headers. Its
// buffers are reused, so going back and forth between files with different
// headers allocates only while they grow.
type headerState struct {
	// cur is the slice most recently given to setHeader; comparing
	// pointer and length makes a repeated call cheap.
	cur []byte
	// parsed is the header the keys were built from (nil before the
	// first), and parseErr why it is not valid CSV, if it is not.
	parsed   []byte
	parseErr *SyntaxError
	// noHeader is the error of lines while the header is not known.
	noHeader *SyntaxError

	keyBuf  []byte // the bytes keys point into
	keyEnds []int
	names   []byte // the encoded field names, quotes included, one after another
	nameEnd []int
	index   map[string]struct{} // the names, once there are more than quadraticNames
	scratch []byte
}

// setHeader makes h, a file's first line without its line terminator, the
// source of the field names; nil means the header is not known. The field
// names are parsed only when h differs from the last header parsed. All
// headers given are kept, not copied: the tailer never modifies them.
func (p *csvToJSON) setHeader(h []byte) {
	s := &p.hs
	if len(h) == len(s.cur) && (h == nil) == (s.cur == nil) && (len(h) == 0 || &h[0] == &s.cur[0]) {
		return
	}
	s.cur = h
	switch {
	case h == nil:
		p.hdrErr = s.noHeader
	case s.parsed != nil && bytes.Equal(h, s.parsed):
		s.parsed = h
		p.hdrErr = s.parseErr
	default:
		p.parseHeader(h)
		s.parsed = h
		p.hdrErr = s.parseErr
	}
}

// parseHeader builds the keys from a header line, split by the rules that
// split every other line. A name that is empty, or the same as an earlier
// one, is replaced by the column's position: "_1" for the first column,
// "_2" for the second, and so on ("__2", "___2", ... if a real field is
// already named "_2"). Names are compared as they are written in JSON, where
// each byte of invalid UTF-8 became U+FFFD, so the object never has a key
// twice.
func (p *csvToJSON) parseHeader(h []byte) {
	s := &p.hs
	s.parseErr = nil
	line, skipped := h, 0
	if len(line) >= len(utf8BOM) && string(line[:len(utf8BOM)]) == utf8BOM {
		line, skipped = line[len(utf8BOM):], len(utf8BOM)
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	s.names, s.nameEnd = s.names[:0], s.nameEnd[:0]
	clear(s.index)
	for pos := 0; pos <= len(line); {
		start, end, next, quoted, err := p.field(line, pos)
		if err != nil {
			p.keys = p.keys[:0]
			s.parseErr = &SyntaxError{
				Transform: "csv_to_json",
				Msg:       "invalid header line: " + err.Msg + " at offset " + strconv.Itoa(skipped+err.Offset),
				Offset:    -1,
			}
			return
		}
		// Encode before comparing, so names that differ only in invalid
		// UTF-8 count as the same.
		enc := s.scratch[:0]
		if quoted {
			enc = append(enc, '"')
			enc = appendUnquoted(enc, line[start:end])
			enc = append(enc, '"')
		} else {
			enc = AppendJSONString(enc, line[start:end])
		}
		col := len(s.nameEnd)
		if len(enc) == 2 || s.hasName(enc) {
			enc = append(enc[:0], `"_`...)
			enc = strconv.AppendInt(enc, int64(col+1), 10)
			enc = append(enc, '"')
			for s.hasName(enc) {
				enc = slices.Insert(enc, 1, '_')
			}
		}
		s.scratch = enc
		s.addName(enc)
		pos = next
	}

	s.keyBuf, s.keyEnds = s.keyBuf[:0], s.keyEnds[:0]
	for i := range s.nameEnd {
		if i == 0 {
			s.keyBuf = append(s.keyBuf, '{')
		} else {
			s.keyBuf = append(s.keyBuf, ',')
		}
		s.keyBuf = append(s.keyBuf, s.name(i)...)
		s.keyBuf = append(s.keyBuf, ':')
		s.keyEnds = append(s.keyEnds, len(s.keyBuf))
	}
	// Slice keys only now: appending may have moved keyBuf.
	p.keys = p.keys[:0]
	start := 0
	for _, end := range s.keyEnds {
		p.keys = append(p.keys, s.keyBuf[start:end:end])
		start = end
	}
}

// name returns encoded field name i.
func (s *headerState) name(i int) []byte {
	start := 0
	if i > 0 {
		start = s.nameEnd[i-1]
	}
	return s.names[start:s.nameEnd[i]]
}

// hasName reports whether an encoded name is among the names so far.
func (s *headerState) hasName(enc []byte) bool {
	if len(s.nameEnd) > quadraticNames {
		_, ok := s.index[string(enc)]
		return ok
	}
	for i := range s.nameEnd {
		if bytes.Equal(s.name(i), enc) {
			return true
		}
	}
	return false
}

// addName appends an encoded name. Past quadraticNames names they are
// indexed in a map too.
func (s *headerState) addName(enc []byte) {
	s.names = append(s.names, enc...)
	s.nameEnd = append(s.nameEnd, len(s.names))
	switch n := len(s.nameEnd); {
	case n == quadraticNames+1:
		if s.index == nil {
			s.index = make(map[string]struct{}, 2*n)
		}
		for i := range n {
			s.index[string(s.name(i))] = struct{}{}
		}
	case n > quadraticNames+1:
		s.index[string(enc)] = struct{}{}
	}
}
