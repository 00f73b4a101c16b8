package transform

import (
	"encoding/binary"
	"unicode/utf8"
)

// valueKind is the type of a JSON value, told by its first byte.
type valueKind uint8

const (
	kindString valueKind = iota + 1
	kindNumber
	kindBool
	kindNull
	kindObject
	kindArray
)

// member is one top-level member of a JSON object, as spans of the scanned
// input.
type member struct {
	key  span // the key's string token, quotes included
	val  span // the value's text, from its first to its last byte
	kind valueKind
	// keyEsc is set when the key holds a backslash escape, so it must be
	// decoded before it is compared with a name.
	keyEsc bool
	// valEsc is set for a string value holding an escape.
	valEsc bool
	// valWS is set when a nested object or array holds whitespace outside
	// its strings; the value is then compacted when it is written again.
	valWS bool
}

// object scans a JSON object into its top-level members without copying or
// allocating once its slices have grown. It is used by the record-editing
// steps (fields, filter), which look at and rewrite the members of a record
// a previous step made.
//
// The whole object is validated as encoding/json would (plus valid UTF-8 in
// strings), so the members can be written out again as they are and the
// result is valid JSON. Whitespace between members is dropped when the
// object is written again; a compact object is re-emitted byte for byte.
type object struct {
	members []member
	stack   []byte // open containers while skipping a nested value
	scratch []byte // a decoded key or string value
}

func objectError(transform, msg string, off int) *SyntaxError {
	return &SyntaxError{Transform: transform, Msg: msg, Offset: off}
}

// scan parses in as exactly one JSON object (surrounding whitespace
// allowed) and records its members in o.members, in input order. On error
// it returns a *SyntaxError naming transform.
func (o *object) scan(transform string, in []byte) error {
	o.members = o.members[:0]
	i := skipWS(in, 0)
	if i >= len(in) || in[i] != '{' {
		return objectError(transform, "not a JSON object", i)
	}
	i = skipWS(in, i+1)
	if i < len(in) && in[i] == '}' {
		return o.end(transform, in, i+1)
	}
	for {
		if i >= len(in) || in[i] != '"' {
			return objectError(transform, "want string for object key", i)
		}
		var m member
		end, esc, err := stringEnd(in, i)
		if err != nil {
			err.Transform = transform
			return err
		}
		m.key, m.keyEsc = span{i, end}, esc
		i = skipWS(in, end)
		if i >= len(in) || in[i] != ':' {
			return objectError(transform, "want ':' after object key", i)
		}
		i = skipWS(in, i+1)
		if err := o.value(&m, in, i); err != nil {
			err.Transform = transform
			return err
		}
		o.members = append(o.members, m)
		i = skipWS(in, m.val.end)
		if i >= len(in) {
			return objectError(transform, "unexpected end of input", i)
		}
		switch in[i] {
		case ',':
			i = skipWS(in, i+1)
		case '}':
			return o.end(transform, in, i+1)
		default:
			return objectError(transform, "want ',' or '}' after object value", i)
		}
	}
}

// end checks that only whitespace follows the object's closing brace.
func (o *object) end(transform string, in []byte, i int) error {
	if i = skipWS(in, i); i != len(in) {
		return objectError(transform, "text after the JSON object", i)
	}
	return nil
}

// value sets m's value span and kind for the value starting at in[i].
func (o *object) value(m *member, in []byte, i int) *SyntaxError {
	if i >= len(in) {
		return objectError("", "unexpected end of input", i)
	}
	m.val.start = i
	switch c := in[i]; c {
	case '"':
		end, esc, err := stringEnd(in, i)
		if err != nil {
			return err
		}
		m.kind, m.val.end, m.valEsc = kindString, end, esc
	case '{', '[':
		end, ws, err := o.containerEnd(in, i)
		if err != nil {
			return err
		}
		m.kind, m.val.end, m.valWS = kindObject, end, ws
		if c == '[' {
			m.kind = kindArray
		}
	case 't', 'f', 'n':
		lit, kind := "null", kindNull
		switch c {
		case 't':
			lit, kind = "true", kindBool
		case 'f':
			lit, kind = "false", kindBool
		}
		if !hasLiteral(in, i, lit) {
			return objectError("", "invalid literal", i)
		}
		m.kind, m.val.end = kind, i+len(lit)
	default:
		end := scanNumber(in, i)
		if end < 0 {
			return objectError("", "invalid character looking for a value", i)
		}
		m.kind, m.val.end = kindNumber, end
	}
	return nil
}

// containerEnd validates the object or array starting at in[i] and returns
// the position after it, and whether it holds whitespace outside strings.
func (o *object) containerEnd(in []byte, i int) (end int, ws bool, err *SyntaxError) {
	o.stack = o.stack[:0]
	skip := func(j int) int {
		k := skipWS(in, j)
		if k != j {
			ws = true
		}
		return k
	}
	for {
		// A value starts at in[i].
		if i >= len(in) {
			return 0, ws, objectError("", "unexpected end of input", i)
		}
		switch c := in[i]; c {
		case '{', '[':
			if len(o.stack) >= maxDepth {
				return 0, ws, objectError("", "nesting too deep", i)
			}
			i = skip(i + 1)
			closer := byte(']')
			if c == '{' {
				closer = '}'
			}
			if i < len(in) && in[i] == closer {
				i++
				break
			}
			o.stack = append(o.stack, c)
			if c == '{' {
				if i, err = keyEnd(in, i, skip); err != nil {
					return 0, ws, err
				}
			}
			continue
		case '"':
			if i, _, err = stringEnd(in, i); err != nil {
				return 0, ws, err
			}
		case 't', 'f', 'n':
			lit := "null"
			if c == 't' {
				lit = "true"
			} else if c == 'f' {
				lit = "false"
			}
			if !hasLiteral(in, i, lit) {
				return 0, ws, objectError("", "invalid literal", i)
			}
			i += len(lit)
		default:
			end := scanNumber(in, i)
			if end < 0 {
				return 0, ws, objectError("", "invalid character looking for a value", i)
			}
			i = end
		}
		// A value ended at in[i]: close containers until one wants another
		// element, or the outermost one is closed.
		for {
			if len(o.stack) == 0 {
				return i, ws, nil
			}
			i = skip(i)
			if i >= len(in) {
				return 0, ws, objectError("", "unexpected end of input", i)
			}
			top := o.stack[len(o.stack)-1]
			c := in[i]
			if c == ',' {
				i = skip(i + 1)
				if top == '{' {
					if i, err = keyEnd(in, i, skip); err != nil {
						return 0, ws, err
					}
				}
				break
			}
			if top == '{' && c == '}' || top == '[' && c == ']' {
				o.stack = o.stack[:len(o.stack)-1]
				i++
				continue
			}
			if top == '{' {
				return 0, ws, objectError("", "want ',' or '}' after object value", i)
			}
			return 0, ws, objectError("", "want ',' or ']' after array element", i)
		}
	}
}

// keyEnd validates a nested object's key and colon at in[i] and returns
// where its value starts.
func keyEnd(in []byte, i int, skip func(int) int) (int, *SyntaxError) {
	if i >= len(in) || in[i] != '"' {
		return 0, objectError("", "want string for object key", i)
	}
	i, _, err := stringEnd(in, i)
	if err != nil {
		return 0, err
	}
	i = skip(i)
	if i >= len(in) || in[i] != ':' {
		return 0, objectError("", "want ':' after object key", i)
	}
	return skip(i + 1), nil
}

// stringEnd validates the string token starting at in[i] (a '"') and
// returns the position after it, and whether it holds an escape. The
// returned error has no Transform set.
func stringEnd(in []byte, i int) (end int, esc bool, err *SyntaxError) {
	start := i
	i++
	for {
		for i+8 <= len(in) && safeWord(binary.LittleEndian.Uint64(in[i:])) {
			i += 8
		}
		if i >= len(in) {
			return 0, esc, objectError("", "unterminated string", start)
		}
		c := in[i]
		switch {
		case c == '"':
			return i + 1, esc, nil
		case c == '\\':
			esc = true
			if i+1 >= len(in) {
				return 0, esc, objectError("", "unterminated string", start)
			}
			switch in[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(in) || !isHex(in[i+2]) || !isHex(in[i+3]) || !isHex(in[i+4]) || !isHex(in[i+5]) {
					return 0, esc, objectError("", "invalid \\u escape", i)
				}
				i += 6
			default:
				return 0, esc, objectError("", "invalid escape", i)
			}
		case c < 0x20:
			return 0, esc, objectError("", "control character in string", i)
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, esc, objectError("", "invalid UTF-8 in string", i)
			}
			i += size
		}
	}
}

// text returns the content of the string token tok of in, decoded when esc
// is set (into o.scratch, valid until the next call), else a subslice of in.
func (o *object) text(in []byte, tok span, esc bool) []byte {
	body := in[tok.start+1 : tok.end-1]
	if !esc {
		return body
	}
	o.scratch, _ = AppendUnescaped(o.scratch[:0], body) // body was validated by scan
	return o.scratch
}

// keyIs reports whether m's key, decoded, is name.
func (o *object) keyIs(in []byte, m *member, name string) bool {
	if !m.keyEsc {
		return m.key.end-m.key.start-2 == len(name) && string(in[m.key.start+1:m.key.end-1]) == name
	}
	return string(o.text(in, m.key, true)) == name
}

// find returns the index of the last member named name (the one
// encoding/json and JavaScript would see), or -1.
func (o *object) find(in []byte, name string) int {
	for i := len(o.members) - 1; i >= 0; i-- {
		if o.keyIs(in, &o.members[i], name) {
			return i
		}
	}
	return -1
}

// appendValue appends m's value, compacted if it holds whitespace.
func appendValue(dst, in []byte, m *member) []byte {
	v := in[m.val.start:m.val.end]
	if !m.valWS {
		return append(dst, v...)
	}
	return appendCompacted(dst, v)
}

// appendMember appends m as it was in the input, preceded by a comma unless
// it is the first member written (n == 0).
func appendMember(dst, in []byte, m *member, n int) []byte {
	if n > 0 {
		dst = append(dst, ',')
	}
	dst = append(dst, in[m.key.start:m.key.end]...)
	dst = append(dst, ':')
	return appendValue(dst, in, m)
}

// appendCompacted appends the valid JSON value v without the whitespace
// outside its strings.
func appendCompacted(dst, v []byte) []byte {
	inString := false
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inString:
			if c == '\\' {
				i++ // the escaped byte cannot end the string
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			dst = append(dst, v[start:i]...)
			start = i + 1
		}
	}
	return append(dst, v[start:]...)
}
