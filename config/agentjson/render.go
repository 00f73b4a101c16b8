package agentjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kinetail/kinetail/config"
)

// entry is one node of the kinetail YAML made from an agent.json: the
// intermediate that both `kinetail convert` prints and run and check parse,
// so the two cannot disagree.
type entry struct {
	key     string   // mapping key; "" for a list item
	value   string   // a YAML scalar or flow collection, ready to print; "" for a parent
	items   []*entry // a parent's mapping entries, or its list items when list is set
	list    bool
	comment string   // printed after the value on the same line
	notes   []string // comment lines printed before the entry
	from    Pos      // where in agent.json it came from; zero: its parent's place
	src     string   // the agent.json key it came from, for messages
}

// add appends a child entry and returns it.
func (e *entry) add(key, value string) *entry {
	c := &entry{key: key, value: value}
	e.items = append(e.items, c)
	return c
}

// at sets where the entry came from, and returns it.
func (e *entry) at(p Pos, src string) *entry {
	e.from, e.src = p, src
	return e
}

// note sets the entry's trailing comment, and returns it.
func (e *entry) note(format string, args ...any) *entry {
	e.comment = fmt.Sprintf(format, args...)
	return e
}

// origin is where one line of the rendered YAML came from.
type origin struct {
	pos Pos
	src string
}

// render prints root's children as YAML. origins[i] is where line i+1
// came from.
func render(header []string, root *entry) ([]byte, []origin) {
	r := &renderer{}
	for _, h := range header {
		r.line(commentLine("", h), origin{})
	}
	for _, e := range root.items {
		r.entry(e, 0, origin{})
	}
	return r.buf.Bytes(), r.origins
}

type renderer struct {
	buf     bytes.Buffer
	origins []origin
}

func (r *renderer) line(s string, o origin) {
	r.buf.WriteString(s)
	r.buf.WriteByte('\n')
	r.origins = append(r.origins, o)
}

func commentLine(indent, text string) string {
	if text == "" {
		return indent + "#"
	}
	return indent + "# " + text
}

// entry prints e at the given indent. A list item's first mapping entry
// goes on the dash's line.
func (r *renderer) entry(e *entry, indent int, parent origin) {
	o := parent
	if e.from.Line > 0 {
		o = origin{e.from, e.src}
	}
	pad := strings.Repeat(" ", indent)
	for _, n := range e.notes {
		for _, l := range strings.Split(n, "\n") {
			r.line(commentLine(pad, l), o)
		}
	}
	if e.key == "" {
		return // a comment only
	}
	head := pad + e.key + ":"
	if e.value != "" {
		head += " " + e.value
	}
	r.line(escapeDollars(withComment(head, e.comment)), o)
	r.children(e, indent+2, o)
}

func (r *renderer) children(e *entry, indent int, o origin) {
	pad := strings.Repeat(" ", indent)
	if !e.list {
		for _, c := range e.items {
			r.entry(c, indent, o)
		}
		return
	}
	for _, it := range e.items {
		io := o
		if it.from.Line > 0 {
			io = origin{it.from, it.src}
		}
		for _, n := range it.notes {
			for _, l := range strings.Split(n, "\n") {
				r.line(commentLine(pad, l), io)
			}
		}
		if it.value != "" || len(it.items) == 0 {
			r.line(escapeDollars(withComment(pad+"- "+it.value, it.comment)), io)
			continue
		}
		// A mapping: its first entry on the dash's line, the rest
		// aligned under it.
		first := *it.items[0]
		first.notes = nil
		var sub renderer
		sub.entry(&first, indent+2, io)
		text := strings.TrimSuffix(sub.buf.String(), "\n")
		lines := strings.Split(text, "\n")
		lines[0] = pad + "- " + strings.TrimPrefix(lines[0], pad+"  ")
		if it.comment != "" && first.comment == "" && first.value != "" {
			lines[0] = withComment(lines[0], it.comment)
		}
		for i, l := range lines {
			r.line(l, sub.origins[i])
		}
		for _, c := range it.items[1:] {
			r.entry(c, indent+2, io)
		}
	}
}

func withComment(s, comment string) string {
	if comment == "" {
		return s
	}
	return s + "  # " + comment
}

// escapeDollars doubles each $ that kinetail's environment expansion would
// otherwise read as the start of ${VAR} or $$: the Kinesis Agent expands
// nothing, so its values must reach the configuration as they are.
func escapeDollars(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '$' && i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '$') {
			b.WriteByte('$')
		}
	}
	return b.String()
}

// quote returns s as a YAML scalar that reads back as the string s: plain
// when that is unambiguous, single-quoted when it has no control
// characters, double-quoted (JSON's escapes, which YAML shares) otherwise.
func quote(s string) string {
	if plainSafe(s) {
		return s
	}
	if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || r == 0xfeff }) {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// plainSafe reports whether s can be written unquoted: letters first (or
// a slash), then only characters that mean nothing to YAML, and not a word
// YAML reads as a boolean or null.
func plainSafe(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z' || s[0] == '/') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_./-", c) >= 0) {
			return false
		}
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null":
		return false
	}
	return true
}

// quoteList returns ss as a YAML flow sequence.
func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// millis formats a number of milliseconds as a kinetail duration.
func millis(ms int64) string {
	return config.Duration(time.Duration(ms) * time.Millisecond).String()
}

// size formats a byte count as a kinetail size, with a unit when exact.
func size(n int64) string {
	switch {
	case n != 0 && n%int64(config.MiB) == 0:
		return strconv.FormatInt(n/int64(config.MiB), 10) + "MiB"
	case n != 0 && n%int64(config.KiB) == 0:
		return strconv.FormatInt(n/int64(config.KiB), 10) + "KiB"
	}
	return strconv.FormatInt(n, 10)
}
