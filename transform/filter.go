package transform

import (
	"errors"
	"fmt"

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
	keep  bool // action keep: drop what does not match
	match *Match
	rec   Record
}

func newFilter(c *config.Filter) (*filter, error) {
	p := &filter{}
	switch c.Action {
	case "", "drop":
	case "keep":
		p.keep = true
	default:
		return nil, fmt.Errorf("action %q: want drop or keep", c.Action)
	}
	var err error
	if p.match, err = NewMatch(&c.Condition); err != nil {
		return nil, err
	}
	if p.match.Empty() {
		return nil, fmt.Errorf("needs line_matches or field")
	}
	return p, nil
}

func (p *filter) Append(dst, in []byte) ([]byte, error) {
	p.rec.Reset(in)
	match, err := p.match.Match(in, &p.rec)
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			se.Transform = "filter"
		}
		return dst, err
	}
	if match != p.keep {
		return dst, errFiltered
	}
	return append(dst, in...), nil
}
