package transform

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/kinetail/kinetail/config"
)

// csvToJSON turns a delimited line into a JSON object with the configured
// field names, like the Kinesis Agent's CSVTOJSON processor, with RFC 4180
// quoting added: a field that starts with '"' runs to the matching '"' and may
// hold delimiters, line breaks and doubled quotes (""). A '"' inside an
// unquoted field is an ordinary character, as log lines often hold one.
//
// Columns beyond the field names are dropped and missing ones are null, as
// the Kinesis Agent does. Values are always JSON strings: guessing types
// would turn "007" into 7.
//
// With header: true the field names come from the first line of each file,
// given to setHeader before the file's lines (see Chain.SetHeader); until a
// header is known every line is invalid.
type csvToJSON struct {
	// keys[i] is the JSON text before value i: `{"a":` for the first field,
	// `,"b":` for the others, encoded once here, or in header mode once
	// per header.
	keys  [][]byte
	delim []byte // one character, UTF-8 encoded

	// Header mode only: hdrErr is why lines cannot be converted (no
	// header yet, a header that is not valid CSV), nil when keys are set.
	// It is made once per header, so rejecting a line allocates nothing.
	header bool
	hdrErr *SyntaxError
	hs     headerState
}

// errNoHeader is the error of every line of a header-mode transform while
// the file's header line is not known.
const errNoHeader = "no header line yet"

func newCSVToJSON(c *config.CSVToJSON) (*csvToJSON, error) {
	switch {
	case c.Header && len(c.Fields) > 0:
		return nil, errors.New("set fields or header: true, not both")
	case !c.Header && len(c.Fields) == 0:
		return nil, errors.New("fields: at least one field name is required (or header: true)")
	}
	delim := c.Delimiter
	if delim == "" {
		delim = ","
	}
	r, size := utf8.DecodeRuneInString(delim)
	if size != len(delim) || (r == utf8.RuneError && size == 1) {
		return nil, fmt.Errorf("delimiter %q: want one character", c.Delimiter)
	}
	if r == '"' || r == '\n' || r == '\r' {
		return nil, fmt.Errorf("delimiter %q: a quote or line break cannot be a delimiter", c.Delimiter)
	}
	p := &csvToJSON{delim: []byte(delim)}
	if c.Header {
		p.header = true
		p.hs.noHeader = &SyntaxError{Transform: "csv_to_json", Msg: errNoHeader, Offset: -1}
		p.hdrErr = p.hs.noHeader
		return p, nil
	}
	p.keys = make([][]byte, len(c.Fields))
	seen := make(map[string]bool, len(c.Fields))
	for i, name := range c.Fields {
		if seen[name] {
			return nil, fmt.Errorf("fields: duplicate field name %q", name)
		}
		seen[name] = true
		p.keys[i] = appendCSVKey(nil, i, []byte(name))
	}
	return p, nil
}

// appendCSVKey appends the JSON text that comes before the value of field i.
func appendCSVKey(dst []byte, i int, name []byte) []byte {
	if i == 0 {
		dst = append(dst, '{')
	} else {
		dst = append(dst, ',')
	}
	dst = AppendJSONString(dst, name)
	return append(dst, ':')
}

func (p *csvToJSON) Append(dst, in []byte) ([]byte, error) {
	if p.hdrErr != nil {
		return dst, p.hdrErr
	}
	line := in
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	// pos is where the next column starts; pos > len(line) means there is
	// none left. A line always has at least one column, maybe empty.
	pos := 0
	for _, key := range p.keys {
		dst = append(dst, key...)
		if pos > len(line) {
			dst = append(dst, "null"...)
			continue
		}
		start, end, next, quoted, err := p.field(line, pos)
		if err != nil {
			return dst, err
		}
		if quoted {
			dst = append(dst, '"')
			dst = appendUnquoted(dst, line[start:end])
			dst = append(dst, '"')
		} else {
			dst = AppendJSONString(dst, line[start:end])
		}
		pos = next
	}
	// Extra columns are dropped, but a broken quote in them still makes the
	// line invalid: the line is not what the fields say it is.
	for pos <= len(line) {
		_, _, next, _, err := p.field(line, pos)
		if err != nil {
			return dst, err
		}
		pos = next
	}
	return append(dst, '}'), nil
}

// field scans the column starting at pos. Its value is line[start:end]; for
// a quoted column that is the text between the quotes, with quotes still
// doubled. next is where the following column starts, or len(line)+1 if
// this was the last.
func (p *csvToJSON) field(line []byte, pos int) (start, end, next int, quoted bool, err *SyntaxError) {
	if pos == len(line) || line[pos] != '"' {
		k := p.index(line[pos:])
		if k < 0 {
			return pos, len(line), len(line) + 1, false, nil
		}
		return pos, pos + k, pos + k + len(p.delim), false, nil
	}
	i := pos + 1
	for {
		k := bytes.IndexByte(line[i:], '"')
		if k < 0 {
			return 0, 0, 0, true, &SyntaxError{Transform: "csv_to_json", Msg: "unterminated quoted field", Offset: pos}
		}
		i += k + 1
		if i < len(line) && line[i] == '"' {
			i++ // a doubled quote is part of the value
			continue
		}
		break
	}
	end = i - 1
	switch {
	case i == len(line):
		return pos + 1, end, len(line) + 1, true, nil
	case bytes.HasPrefix(line[i:], p.delim):
		return pos + 1, end, i + len(p.delim), true, nil
	}
	return 0, 0, 0, true, &SyntaxError{Transform: "csv_to_json", Msg: "text after closing quote", Offset: i}
}

// index finds the delimiter in b.
func (p *csvToJSON) index(b []byte) int {
	if len(p.delim) == 1 {
		return bytes.IndexByte(b, p.delim[0])
	}
	return bytes.Index(b, p.delim)
}

// appendUnquoted appends the JSON string body for the inside of a quoted
// field, turning each doubled quote into one.
func appendUnquoted(dst, s []byte) []byte {
	for {
		k := bytes.IndexByte(s, '"')
		if k < 0 {
			return appendEscaped(dst, s)
		}
		dst = appendEscaped(dst, s[:k])
		dst = append(dst, '\\', '"')
		s = s[k+2:] // the field scanner checked that quotes come in pairs
	}
}
