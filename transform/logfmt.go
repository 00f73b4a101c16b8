package transform

import (
	"bytes"
	"slices"
)

// logfmtToJSON turns a logfmt line into a JSON object:
//
//	level=info msg="user logged in" user=42 admin  →  {"level":"info","msg":"user logged in","user":"42","admin":true}
//
// Pairs are separated by spaces or tabs. A key is any run of bytes other
// than blanks, '=' and '"'; a key without '=' is true, "key=" is the empty
// string. A quoted value may hold blanks and the escapes \" \\ \n \r \t;
// another backslash is kept as it is. An unquoted value runs to the next
// blank and is taken literally. Values are JSON strings: no number or
// boolean is guessed, so "007" stays "007".
//
// When a key appears more than once the last value wins, as when a decoder
// fills a map; the field keeps the place of that last pair.
//
// Invalid lines (handled by on_error): an empty key ("=x"), a '"' in a key,
// an unterminated quoted value, and text right after a closing quote.
// A trailing '\r' is removed first; an empty line gives {}.
type logfmtToJSON struct {
	// Reused per line, so a line allocates only while they grow.
	pairs []logfmtPair
	order []int32 // pair indexes sorted by key, for finding repeated keys
}

type logfmtPair struct {
	key, val span // val.start < 0: a bare key
	quoted   bool // val is the inside of a quoted value, escapes still in it
	skip     bool // a later pair has the same key
}

// logfmtSortMin is the number of pairs from which repeated keys are found
// by sorting rather than by comparing every pair with every other: a
// long line of many pairs must not cost quadratic time.
const logfmtSortMin = 16

func (p *logfmtToJSON) Append(dst, in []byte) ([]byte, error) {
	line := trimCR(in)
	pairs := p.pairs[:0]
	for pos := spaceEnd(line, 0); pos < len(line); pos = spaceEnd(line, pos) {
		start := pos
		for pos < len(line) && line[pos] != '=' && line[pos] != ' ' && line[pos] != '\t' && line[pos] != '"' {
			pos++
		}
		switch {
		case pos == start && line[pos] == '=':
			p.pairs = pairs
			return dst, &SyntaxError{Transform: "logfmt", Msg: "empty key", Offset: pos}
		case at(line, pos, '"'):
			p.pairs = pairs
			return dst, &SyntaxError{Transform: "logfmt", Msg: "quote in key", Offset: pos}
		}
		pr := logfmtPair{key: span{start, pos}, val: null()}
		if at(line, pos, '=') {
			pos++
			if at(line, pos, '"') {
				end := logfmtQuoteEnd(line, pos+1)
				if end < 0 {
					p.pairs = pairs
					return dst, &SyntaxError{Transform: "logfmt", Msg: "unterminated quoted value", Offset: pos}
				}
				pr.val, pr.quoted = span{pos + 1, end}, true
				pos = end + 1
				if pos < len(line) && line[pos] != ' ' && line[pos] != '\t' {
					p.pairs = pairs
					return dst, &SyntaxError{Transform: "logfmt", Msg: "text after closing quote", Offset: pos}
				}
			} else {
				end := tokenEnd(line, pos)
				pr.val = span{pos, end}
				pos = end
			}
		}
		pairs = append(pairs, pr)
	}
	p.pairs = pairs
	p.markRepeats(line)

	dst = append(dst, '{')
	first := true
	for _, pr := range pairs {
		if pr.skip {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendJSONString(dst, line[pr.key.start:pr.key.end])
		dst = append(dst, ':')
		switch {
		case pr.val.start < 0:
			dst = append(dst, "true"...)
		case pr.quoted:
			dst = append(dst, '"')
			dst = appendLogfmtUnquoted(dst, line[pr.val.start:pr.val.end])
			dst = append(dst, '"')
		default:
			dst = AppendJSONString(dst, line[pr.val.start:pr.val.end])
		}
	}
	return append(dst, '}'), nil
}

// markRepeats sets skip on every pair whose key a later pair has.
func (p *logfmtToJSON) markRepeats(line []byte) {
	pairs := p.pairs
	key := func(i int) []byte { return line[pairs[i].key.start:pairs[i].key.end] }
	if len(pairs) < logfmtSortMin {
		for i := range pairs {
			for j := i + 1; j < len(pairs); j++ {
				if bytes.Equal(key(i), key(j)) {
					pairs[i].skip = true
					break
				}
			}
		}
		return
	}
	order := p.order[:0]
	for i := range pairs {
		order = append(order, int32(i))
	}
	p.order = order
	// Stable: among equal keys the last pair sorts last.
	slices.SortStableFunc(order, func(a, b int32) int { return bytes.Compare(key(int(a)), key(int(b))) })
	for k := 0; k+1 < len(order); k++ {
		if bytes.Equal(key(int(order[k])), key(int(order[k+1]))) {
			pairs[order[k]].skip = true
		}
	}
}

// logfmtQuoteEnd returns the position of the '"' closing a quoted value
// whose text starts at pos, or -1.
func logfmtQuoteEnd(line []byte, pos int) int {
	for i := pos; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++ // the escaped byte
		case '"':
			return i
		}
	}
	return -1
}

// appendLogfmtUnquoted appends the JSON string body for the inside of a
// quoted logfmt value, resolving its escapes.
func appendLogfmtUnquoted(dst, s []byte) []byte {
	for {
		k := bytes.IndexByte(s, '\\')
		if k < 0 || k+1 == len(s) {
			return appendEscaped(dst, s)
		}
		dst = appendEscaped(dst, s[:k])
		switch c := s[k+1]; c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case 'n':
			dst = append(dst, '\\', 'n')
		case 'r':
			dst = append(dst, '\\', 'r')
		case 't':
			dst = append(dst, '\\', 't')
		default:
			// Not an escape logfmt writers use: keep the backslash and
			// go on with the byte after it, which may start a rune.
			dst = append(dst, '\\', '\\')
			s = s[k+1:]
			continue
		}
		s = s[k+2:]
	}
}
