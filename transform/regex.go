package transform

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/kinetail/kinetail/config"
)

// regexToJSON turns a line into a JSON object of a regular expression's
// named groups, in the order they appear in the pattern. Unnamed groups
// only structure the pattern. A named group that took no part in the match
// is null. Several groups may share a name (as in (?P<n>a)|(?P<n>b)): the
// field appears once, where its name first appears, with the value of the
// first of them that took part.
//
// A trailing '\r' (from CRLF line ends) is removed first. The pattern is
// searched for, not anchored: it matches anywhere in the
// line unless it says ^ or $. A line it does not match is invalid and
// handled by on_error. Values are JSON strings.
//
// Go's regexp package returns the match positions in a new slice, so a line
// costs one allocation here; the built-in log_to_json scanners cost none.
type regexToJSON struct {
	re     *regexp.Regexp
	keys   [][]byte // JSON text before each field, like csvToJSON's
	groups [][]int  // groups[i]: the group numbers named like field i
}

func newRegexToJSON(c *config.Regex) (*regexToJSON, error) {
	if c.Pattern == "" {
		return nil, errors.New("pattern is required")
	}
	re, err := regexp.Compile(c.Pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern: %w", err)
	}
	p := &regexToJSON{re: re}
	field := make(map[string]int)
	for g, name := range re.SubexpNames() {
		if name == "" {
			continue // the whole match, or an unnamed group
		}
		i, ok := field[name]
		if !ok {
			i = len(p.keys)
			field[name] = i
			p.keys = append(p.keys, appendCSVKey(nil, i, []byte(name)))
			p.groups = append(p.groups, nil)
		}
		p.groups[i] = append(p.groups[i], g)
	}
	if len(p.keys) == 0 {
		return nil, errors.New("pattern has no named group like (?P<name>...)")
	}
	return p, nil
}

func (p *regexToJSON) Append(dst, in []byte) ([]byte, error) {
	in = trimCR(in)
	loc := p.re.FindSubmatchIndex(in)
	if loc == nil {
		return dst, &SyntaxError{Transform: "regex", Msg: "line does not match pattern", Offset: -1}
	}
	for i, key := range p.keys {
		dst = append(dst, key...)
		val := false
		for _, g := range p.groups[i] {
			if start := loc[2*g]; start >= 0 {
				dst = AppendJSONString(dst, in[start:loc[2*g+1]])
				val = true
				break
			}
		}
		if !val {
			dst = append(dst, "null"...)
		}
	}
	return append(dst, '}'), nil
}
