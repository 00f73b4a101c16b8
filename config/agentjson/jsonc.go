package agentjson

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/kinetail/kinetail/config"
)

// Pos is where a value is in an agent.json file: 1-based line and column
// (in bytes).
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// errorAt returns a config.Error at p, so agent.json problems print like
// the YAML loader's.
func errorAt(p Pos, format string, args ...any) *config.Error {
	return &config.Error{File: p.File, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)}
}

// Kind is the JSON type of a node.
type Kind int

// The kinds of node.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

var kindNames = [...]string{"null", "a boolean", "a number", "a string", "a list", "an object"}

func (k Kind) String() string { return kindNames[k] }

// Node is one JSON value with its position. Objects keep their members in
// file order; a key given twice keeps both, and Get returns the last, as the
// agent's JSON reader does.
type Node struct {
	Kind    Kind
	Pos     Pos
	Text    string // a string's value, a number's literal, "true" or "false"
	Members []Member
	Elems   []*Node
}

// Member is one key of an object.
type Member struct {
	Key    string
	KeyPos Pos
	Value  *Node
}

// Get returns the value of key in an object, or nil.
func (n *Node) Get(key string) *Node {
	if n == nil || n.Kind != Object {
		return nil
	}
	for i := len(n.Members) - 1; i >= 0; i-- {
		if n.Members[i].Key == key {
			return n.Members[i].Value
		}
	}
	return nil
}

// parseJSON parses data as the Kinesis Agent reads its configuration:
// JSON with // and /* */ comments. The error is a *config.Error at the
// first problem.
func parseJSON(file string, data []byte) (*Node, error) {
	p := &parser{file: file, data: data, line: 1, lineStart: 0}
	if len(data) >= 3 && string(data[:3]) == "\xef\xbb\xbf" {
		p.off = 3
		p.lineStart = 3
	}
	p.space()
	if p.err != nil {
		return nil, p.err
	}
	if p.off == len(data) {
		return nil, errorAt(p.pos(), "invalid JSON: the file is empty")
	}
	n := p.value(0)
	if p.err != nil {
		return nil, p.err
	}
	p.space()
	if p.err == nil && p.off < len(data) {
		p.fail("invalid JSON: unexpected %s after the top-level value", p.describe())
	}
	if p.err != nil {
		return nil, p.err
	}
	return n, nil
}

// maxDepth bounds nesting, so no input can exhaust the stack.
const maxDepth = 100

type parser struct {
	file      string
	data      []byte
	off       int
	line      int
	lineStart int // offset of the current line's first byte
	err       *config.Error
}

func (p *parser) pos() Pos {
	return Pos{File: p.file, Line: p.line, Col: p.off - p.lineStart + 1}
}

func (p *parser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = errorAt(p.pos(), format, args...)
	}
}

// describe names the byte at the current offset, for messages.
func (p *parser) describe() string {
	if p.off >= len(p.data) {
		return "end of file"
	}
	r, _ := utf8.DecodeRune(p.data[p.off:])
	return strconv.QuoteRune(r)
}

func (p *parser) newline() {
	p.line++
	p.lineStart = p.off + 1
}

// space skips white space and comments.
func (p *parser) space() {
	for p.off < len(p.data) && p.err == nil {
		switch c := p.data[p.off]; {
		case c == '\n':
			p.newline()
			p.off++
		case c == ' ' || c == '\t' || c == '\r':
			p.off++
		case c == '/' && p.off+1 < len(p.data) && p.data[p.off+1] == '/':
			for p.off < len(p.data) && p.data[p.off] != '\n' {
				p.off++
			}
		case c == '/' && p.off+1 < len(p.data) && p.data[p.off+1] == '*':
			start := p.pos()
			p.off += 2
			for {
				if p.off+1 >= len(p.data) {
					p.err = errorAt(start, "invalid JSON: comment not closed with */")
					return
				}
				if p.data[p.off] == '*' && p.data[p.off+1] == '/' {
					p.off += 2
					break
				}
				if p.data[p.off] == '\n' {
					p.newline()
				}
				p.off++
			}
		default:
			return
		}
	}
}

func (p *parser) value(depth int) *Node {
	if depth > maxDepth {
		p.fail("invalid JSON: nested more than %d deep", maxDepth)
		return nil
	}
	if p.off >= len(p.data) {
		p.fail("invalid JSON: unexpected end of file, expected a value")
		return nil
	}
	at := p.pos()
	switch c := p.data[p.off]; {
	case c == '{':
		return p.object(at, depth)
	case c == '[':
		return p.array(at, depth)
	case c == '"':
		s := p.str()
		return &Node{Kind: String, Pos: at, Text: s}
	case c == '-' || c >= '0' && c <= '9':
		return &Node{Kind: Number, Pos: at, Text: p.number()}
	case c >= 'a' && c <= 'z':
		start := p.off
		for p.off < len(p.data) && p.data[p.off] >= 'a' && p.data[p.off] <= 'z' {
			p.off++
		}
		switch w := string(p.data[start:p.off]); w {
		case "true", "false":
			return &Node{Kind: Bool, Pos: at, Text: w}
		case "null":
			return &Node{Kind: Null, Pos: at}
		default:
			p.off = start
			p.fail("invalid JSON: unexpected word %q (strings are written in double quotes)", w)
			return nil
		}
	default:
		p.fail("invalid JSON: unexpected %s, expected a value", p.describe())
		return nil
	}
}

func (p *parser) object(at Pos, depth int) *Node {
	n := &Node{Kind: Object, Pos: at}
	p.off++ // {
	p.space()
	if p.err == nil && p.off < len(p.data) && p.data[p.off] == '}' {
		p.off++
		return n
	}
	for p.err == nil {
		if p.off >= len(p.data) || p.data[p.off] != '"' {
			p.fail("invalid JSON: unexpected %s, expected a key in double quotes", p.describe())
			return nil
		}
		keyAt := p.pos()
		key := p.str()
		p.space()
		if p.err != nil {
			return nil
		}
		if p.off >= len(p.data) || p.data[p.off] != ':' {
			p.fail("invalid JSON: unexpected %s, expected ':' after key %q", p.describe(), key)
			return nil
		}
		p.off++
		p.space()
		v := p.value(depth + 1)
		if p.err != nil {
			return nil
		}
		n.Members = append(n.Members, Member{Key: key, KeyPos: keyAt, Value: v})
		if p.next('}', "object", at) {
			return n
		}
	}
	return nil
}

func (p *parser) array(at Pos, depth int) *Node {
	n := &Node{Kind: Array, Pos: at}
	p.off++ // [
	p.space()
	if p.err == nil && p.off < len(p.data) && p.data[p.off] == ']' {
		p.off++
		return n
	}
	for p.err == nil {
		v := p.value(depth + 1)
		if p.err != nil {
			return nil
		}
		n.Elems = append(n.Elems, v)
		if p.next(']', "list", at) {
			return n
		}
	}
	return nil
}

// next reads what follows a member of an object or list that started at
// at: a comma (false: another member follows) or the closing byte (true).
// Anything else is an error (p.err is set, and false returned).
func (p *parser) next(closing byte, what string, at Pos) bool {
	p.space()
	if p.err != nil {
		return false
	}
	switch {
	case p.off < len(p.data) && p.data[p.off] == ',':
		p.off++
		p.space()
	case p.off < len(p.data) && p.data[p.off] == closing:
		p.off++
		return true
	default:
		p.fail("invalid JSON: unexpected %s, expected ',' or '%c' (the %s starts at line %d)", p.describe(), closing, what, at.Line)
	}
	return false
}

// str reads a double-quoted string at the current offset.
func (p *parser) str() string {
	p.off++ // "
	var b strings.Builder
	for {
		if p.off >= len(p.data) {
			p.fail("invalid JSON: string not closed with \"")
			return ""
		}
		c := p.data[p.off]
		switch {
		case c == '"':
			p.off++
			return b.String()
		case c == '\n':
			p.fail("invalid JSON: line break inside a string (write \\n)")
			return ""
		case c < 0x20:
			p.fail("invalid JSON: control character %#02x inside a string", c)
			return ""
		case c == '\\':
			if p.off+1 >= len(p.data) {
				p.fail("invalid JSON: string not closed with \"")
				return ""
			}
			e := p.data[p.off+1]
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := p.hex4(p.off + 2)
				if !ok {
					p.fail("invalid JSON: \\u needs four hex digits")
					return ""
				}
				p.off += 4
				if utf16.IsSurrogate(r) {
					if r2, ok := p.hex4(p.off + 4); ok && p.data[p.off+2] == '\\' && p.data[p.off+3] == 'u' {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
							p.off += 6
						}
					}
				}
				b.WriteRune(r)
			default:
				p.fail("invalid JSON: unknown escape \\%c in a string (a regular expression's backslash is written \\\\)", e)
				return ""
			}
			p.off += 2
		default:
			b.WriteByte(c)
			p.off++
		}
	}
}

func (p *parser) hex4(at int) (rune, bool) {
	if at+4 > len(p.data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.data[at:at+4]), 16, 16)
	return rune(v), err == nil
}

// number reads a JSON number literal.
func (p *parser) number() string {
	start := p.off
	if p.data[p.off] == '-' {
		p.off++
	}
	digits := func() int {
		n := 0
		for p.off < len(p.data) && p.data[p.off] >= '0' && p.data[p.off] <= '9' {
			p.off++
			n++
		}
		return n
	}
	if digits() == 0 {
		p.fail("invalid JSON: a number needs digits")
		return ""
	}
	if p.off < len(p.data) && p.data[p.off] == '.' {
		p.off++
		if digits() == 0 {
			p.fail("invalid JSON: a number needs digits after '.'")
			return ""
		}
	}
	if p.off < len(p.data) && (p.data[p.off] == 'e' || p.data[p.off] == 'E') {
		p.off++
		if p.off < len(p.data) && (p.data[p.off] == '+' || p.data[p.off] == '-') {
			p.off++
		}
		if digits() == 0 {
			p.fail("invalid JSON: a number needs digits in its exponent")
			return ""
		}
	}
	return string(p.data[start:p.off])
}
