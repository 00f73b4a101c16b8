package transform

import (
	"fmt"
	"regexp"

	"github.com/kinetail/kinetail/config"
)

// filter keeps or drops records. A record matches when every condition
// given holds: line_matches (a regular expression searched for in the
// step's input, the record as the previous step left it), and for field:
// equals (the value is exactly this), matches (a regular expression
// searched for in the value) and exists (the field is there, or not).
//
// A string value is compared decoded (escapes resolved); any other value as
// its compact JSON text, so equals: "200" matches both "200" and 200, and
// equals: "null" matches null. When a key appears more than once, the last
// one counts, as in encoding/json. A missing field matches only exists:
// false.
//
// With action drop (the default) a matching record is dropped, with keep
// every other record is. Dropped records are acknowledged and counted as
// filtered. Field conditions need a JSON object: any other record is
// invalid (wrapped, as there is no on_error setting). Records pass through
// unchanged.
type filter struct {
	keep        bool // action keep: drop what does not match
	lineMatches *regexp.Regexp
	field       string // "" when there is no field condition
	equals      *string
	matches     *regexp.Regexp
	exists      *bool
	obj         object
	compact     []byte // a non-string value, compacted
}

func newFilter(c *config.Filter) (*filter, error) {
	p := &filter{field: c.Field, exists: c.Exists}
	switch c.Action {
	case "", "drop":
	case "keep":
		p.keep = true
	default:
		return nil, fmt.Errorf("action %q: want drop or keep", c.Action)
	}
	var err error
	if c.LineMatches != "" {
		if p.lineMatches, err = regexp.Compile(c.LineMatches); err != nil {
			return nil, fmt.Errorf("line_matches: %w", err)
		}
	}
	if c.Matches != "" {
		if p.matches, err = regexp.Compile(c.Matches); err != nil {
			return nil, fmt.Errorf("matches: %w", err)
		}
	}
	if c.Equals != "" {
		p.equals = &c.Equals
	}
	if p.lineMatches == nil && p.field == "" {
		return nil, fmt.Errorf("needs line_matches or field")
	}
	if p.field != "" && p.equals == nil && p.matches == nil && p.exists == nil {
		return nil, fmt.Errorf("field %q needs equals, matches or exists", p.field)
	}
	return p, nil
}

func (p *filter) Append(dst, in []byte) ([]byte, error) {
	match, err := p.match(in)
	if err != nil {
		return dst, err
	}
	if match != p.keep {
		return dst, errFiltered
	}
	return append(dst, in...), nil
}

// match reports whether in meets every condition.
func (p *filter) match(in []byte) (bool, error) {
	if p.field == "" {
		return p.lineMatches.Match(in), nil
	}
	// Check the record is an object before anything else, so an invalid
	// record is reported whatever the other conditions say.
	if err := p.obj.scan("filter", in); err != nil {
		return false, err
	}
	if p.lineMatches != nil && !p.lineMatches.Match(in) {
		return false, nil
	}
	i := p.obj.find(in, p.field)
	if p.exists != nil && *p.exists != (i >= 0) {
		return false, nil
	}
	if i < 0 {
		// Only exists: false can match a missing field.
		return p.equals == nil && p.matches == nil, nil
	}
	m := &p.obj.members[i]
	var v []byte
	if m.kind == kindString {
		v = p.obj.text(in, m.val, m.valEsc)
	} else {
		p.compact = appendValue(p.compact[:0], in, m)
		v = p.compact
	}
	if p.equals != nil && string(v) != *p.equals {
		return false, nil
	}
	return p.matches == nil || p.matches.Match(v), nil
}
