package transform

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/kinetail/kinetail/config"
)

// Record reads the top-level fields of one JSON object record. It is the
// one place where filters, routes and templates look at a record's fields,
// so they agree on what a value is: a string decoded (escapes resolved),
// any other value as its compact JSON text, so "200" and 200 both read as
// 200. When a key appears more than once the last one counts, as in
// encoding/json. A Record is reused from one record to the next and is not
// safe for concurrent use.
type Record struct {
	obj     object
	in      []byte
	scanned bool
	err     error
	compact []byte // a non-string value, compacted
}

// Reset makes r read rec. The record is scanned only when a field is
// first asked for.
func (r *Record) Reset(rec []byte) {
	r.in, r.err, r.scanned = rec, nil, false
}

// scan parses the record once.
func (r *Record) scan() error {
	if !r.scanned {
		r.err = r.obj.scan("", r.in)
		r.scanned = true
	}
	return r.err
}

// Field returns the value of the field called name (valid until the next
// call) and whether the record has it. An error says the record is not a
// JSON object.
func (r *Record) Field(name string) (v []byte, ok bool, err error) {
	if err := r.scan(); err != nil {
		return nil, false, err
	}
	i := r.obj.find(r.in, name)
	if i < 0 {
		return nil, false, nil
	}
	m := &r.obj.members[i]
	if m.kind == kindString {
		return r.obj.text(r.in, m.val, m.valEsc), true, nil
	}
	r.compact = appendValue(r.compact[:0], r.in, m)
	return r.compact, true, nil
}

// Match is a compiled config.Condition: the test of a filter step and of a
// routing rule.
type Match struct {
	lineMatches *regexp.Regexp
	field       string // "" when there is no field condition
	equals      *string
	matches     *regexp.Regexp
	exists      *bool
}

// NewMatch compiles c.
func NewMatch(c *config.Condition) (*Match, error) {
	m := &Match{field: c.Field, exists: c.Exists}
	var err error
	if c.LineMatches != "" {
		if m.lineMatches, err = regexp.Compile(c.LineMatches); err != nil {
			return nil, fmt.Errorf("line_matches: %w", err)
		}
	}
	if c.Matches != "" {
		if m.matches, err = regexp.Compile(c.Matches); err != nil {
			return nil, fmt.Errorf("matches: %w", err)
		}
	}
	if c.Equals != "" {
		m.equals = &c.Equals
	}
	if m.field != "" && m.equals == nil && m.matches == nil && m.exists == nil {
		return nil, fmt.Errorf("field %q needs equals, matches or exists", m.field)
	}
	return m, nil
}

// Empty reports whether the condition tests nothing (it always holds).
func (m *Match) Empty() bool { return m.lineMatches == nil && m.field == "" }

// Match reports whether line and the record read by rec meet every
// condition. Field conditions need a JSON object: for any other record
// Match returns an error (a route then treats it as not matching).
func (m *Match) Match(line []byte, rec *Record) (bool, error) {
	if m.field == "" {
		return m.lineMatches == nil || m.lineMatches.Match(line), nil
	}
	// Check the record is an object before anything else, so an invalid
	// record is reported whatever the other conditions say.
	v, ok, err := rec.Field(m.field)
	if err != nil {
		return false, err
	}
	if m.lineMatches != nil && !m.lineMatches.Match(line) {
		return false, nil
	}
	if m.exists != nil && *m.exists != ok {
		return false, nil
	}
	if !ok {
		// Only exists: false can match a missing field.
		return m.equals == nil && m.matches == nil, nil
	}
	if m.equals != nil && string(v) != *m.equals {
		return false, nil
	}
	return m.matches == nil || m.matches.Match(v), nil
}

// Template fills a config.Template with a record's fields.
type Template struct {
	t config.Template
}

// NewTemplate parses s (see config.ParseTemplate).
func NewTemplate(s string) (*Template, error) {
	t, err := config.ParseTemplate(s)
	if err != nil {
		return nil, err
	}
	return &Template{t: t}, nil
}

// ErrMissingField is returned by Template.Append when the record lacks a
// field the template names.
var ErrMissingField = errors.New("field missing")

// Append appends the template filled with rec's fields to dst. An error
// says the record is not a JSON object or lacks a field.
func (t *Template) Append(dst []byte, rec *Record) ([]byte, error) {
	dst = append(dst, t.t.Literals[0]...)
	for i, name := range t.t.Fields {
		v, ok, err := rec.Field(name)
		if err != nil {
			return dst, err
		}
		if !ok {
			return dst, fmt.Errorf("%w: %s", ErrMissingField, name)
		}
		dst = append(dst, v...)
		dst = append(dst, t.t.Literals[i+1]...)
	}
	return dst, nil
}

// Fields reports whether the template names any field.
func (t *Template) Fields() bool { return len(t.t.Fields) > 0 }
