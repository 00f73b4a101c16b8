package transform

import (
	"encoding/binary"
	"unicode/utf8"
)

// maxDepth bounds the nesting of arrays and objects, as encoding/json does,
// so a hostile line cannot make the stack of open containers grow without
// limit.
const maxDepth = 10000

// jsonCompact checks that a line is exactly one JSON value (RFC 8259, in
// UTF-8) and writes it compact: whitespace outside strings is removed,
// everything else is copied byte for byte, escapes included.
//
// It is hand-written rather than json.Compact because it must also reject
// invalid UTF-8, which json.Compact lets through, and because it writes
// straight into the caller's slice; see BenchmarkJSONCompact.
type jsonCompact struct {
	// stack holds the open containers, '{' or '[', innermost last. It is
	// kept between lines so deep documents allocate only once.
	stack []byte
}

func newJSON() *jsonCompact { return &jsonCompact{} }

func jsonError(msg string, off int) error {
	return &SyntaxError{Transform: "json", Msg: msg, Offset: off}
}

func (p *jsonCompact) Append(dst, in []byte) ([]byte, error) {
	p.stack = p.stack[:0]
	i := skipWS(in, 0)
	for {
		// A value starts at in[i].
		if i >= len(in) {
			return dst, jsonError("unexpected end of input", i)
		}
		switch c := in[i]; c {
		case '{', '[':
			if len(p.stack) >= maxDepth {
				return dst, jsonError("nesting too deep", i)
			}
			dst = append(dst, c)
			i = skipWS(in, i+1)
			closer := byte(']')
			if c == '{' {
				closer = '}'
			}
			if i < len(in) && in[i] == closer {
				dst = append(dst, closer)
				i++
				break // an empty container is a complete value
			}
			p.stack = append(p.stack, c)
			if c == '{' {
				var err error
				if dst, i, err = appendKey(dst, in, i); err != nil {
					return dst, err
				}
			}
			continue
		case '"':
			var err error
			if dst, i, err = appendJSONStringToken(dst, in, i); err != nil {
				return dst, err
			}
		case 't':
			if !hasLiteral(in, i, "true") {
				return dst, jsonError("invalid literal", i)
			}
			dst = append(dst, "true"...)
			i += 4
		case 'f':
			if !hasLiteral(in, i, "false") {
				return dst, jsonError("invalid literal", i)
			}
			dst = append(dst, "false"...)
			i += 5
		case 'n':
			if !hasLiteral(in, i, "null") {
				return dst, jsonError("invalid literal", i)
			}
			dst = append(dst, "null"...)
			i += 4
		default:
			end := scanNumber(in, i)
			if end < 0 {
				return dst, jsonError("invalid character looking for a value", i)
			}
			dst = append(dst, in[i:end]...)
			i = end
		}

		// A value ended at in[i]: close containers until one wants another
		// element, or the top-level value is done.
		for {
			i = skipWS(in, i)
			if len(p.stack) == 0 {
				if i != len(in) {
					return dst, jsonError("text after the JSON value", i)
				}
				return dst, nil
			}
			if i >= len(in) {
				return dst, jsonError("unexpected end of input", i)
			}
			top := p.stack[len(p.stack)-1]
			c := in[i]
			if c == ',' {
				dst = append(dst, ',')
				i = skipWS(in, i+1)
				if top == '{' {
					var err error
					if dst, i, err = appendKey(dst, in, i); err != nil {
						return dst, err
					}
				}
				break
			}
			if (top == '{' && c == '}') || (top == '[' && c == ']') {
				dst = append(dst, c)
				p.stack = p.stack[:len(p.stack)-1]
				i++
				continue
			}
			if top == '{' {
				return dst, jsonError("want ',' or '}' after object value", i)
			}
			return dst, jsonError("want ',' or ']' after array element", i)
		}
	}
}

// appendKey copies an object key and its colon starting at in[i], and
// returns the position of the value after it.
func appendKey(dst, in []byte, i int) ([]byte, int, error) {
	if i >= len(in) || in[i] != '"' {
		return dst, i, jsonError("want string for object key", i)
	}
	dst, i, err := appendJSONStringToken(dst, in, i)
	if err != nil {
		return dst, i, err
	}
	i = skipWS(in, i)
	if i >= len(in) || in[i] != ':' {
		return dst, i, jsonError("want ':' after object key", i)
	}
	dst = append(dst, ':')
	return dst, skipWS(in, i+1), nil
}

// appendJSONStringToken checks the string token starting at in[i] (a '"'),
// appends it unchanged and returns the position after it.
func appendJSONStringToken(dst, in []byte, i int) ([]byte, int, error) {
	start := i
	i++
	for {
		// Runs of plain ASCII are the common case: skip them a word at a
		// time.
		for i+8 <= len(in) && safeWord(binary.LittleEndian.Uint64(in[i:])) {
			i += 8
		}
		if i >= len(in) {
			return dst, i, jsonError("unterminated string", start)
		}
		c := in[i]
		switch {
		case c == '"':
			i++
			return append(dst, in[start:i]...), i, nil
		case c == '\\':
			if i+1 >= len(in) {
				return dst, i, jsonError("unterminated string", start)
			}
			switch in[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(in) || !isHex(in[i+2]) || !isHex(in[i+3]) || !isHex(in[i+4]) || !isHex(in[i+5]) {
					return dst, i, jsonError("invalid \\u escape", i)
				}
				i += 6
			default:
				return dst, i, jsonError("invalid escape", i)
			}
		case c < 0x20:
			return dst, i, jsonError("control character in string", i)
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && size == 1 {
				return dst, i, jsonError("invalid UTF-8 in string", i)
			}
			i += size
		}
	}
}

// scanNumber returns the end of the number starting at in[i], or -1 if
// there is none: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(in []byte, i int) int {
	if i < len(in) && in[i] == '-' {
		i++
	}
	switch {
	case i < len(in) && in[i] == '0':
		i++
	case i < len(in) && in[i] >= '1' && in[i] <= '9':
		i = skipDigits(in, i+1)
	default:
		return -1
	}
	if i < len(in) && in[i] == '.' {
		j := skipDigits(in, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		j := skipDigits(in, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func skipDigits(in []byte, i int) int {
	for i < len(in) && in[i] >= '0' && in[i] <= '9' {
		i++
	}
	return i
}

func skipWS(in []byte, i int) int {
	for i < len(in) && (in[i] == ' ' || in[i] == '\t' || in[i] == '\n' || in[i] == '\r') {
		i++
	}
	return i
}

func hasLiteral(in []byte, i int, lit string) bool {
	return len(in)-i >= len(lit) && string(in[i:i+len(lit)]) == lit
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
