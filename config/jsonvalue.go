package config

// This file owns decoding YAML values that are written into records as
// JSON (add_metadata's metadata).

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Bounds of a JSON value in the configuration. Aliases can repeat a large
// value many times over (YAML's "billion laughs"), and each copy would be
// written into every record.
const (
	maxJSONDepth  = 32
	maxJSONValues = 10_000
)

// jsonNumber is JSON's number syntax.
var jsonNumber = regexp.MustCompile(`^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$`)

// jsonObject decodes a mapping of names to any YAML values, as JSON values
// (see AddMetadata.Metadata).
func (d *decoder) jsonObject(p *map[string]any) field {
	return d.value(p, func(s scope, n *yaml.Node) {
		if n.Kind != yaml.MappingNode {
			d.fail(p, n, s, "expected a mapping of names to values, got %s", kindName(n))
			return
		}
		budget := maxJSONValues
		v, ok := d.jsonValue(s, n, 0, &budget)
		if !ok {
			d.failed[p] = true
			return
		}
		*p = v.(map[string]any)
	})
}

// jsonValue returns n as a JSON value: nil, bool, string, json.Number,
// []any or map[string]any. A YAML number becomes a JSON number, written as
// it is when that is JSON's syntax (1.50 stays 1.50) and converted when not
// (0x10 is 16); a timestamp or any other scalar is a string. It reports
// false after recording why n cannot be one.
func (d *decoder) jsonValue(s scope, n *yaml.Node, depth int, budget *int) (any, bool) {
	n = resolve(n)
	if *budget--; *budget < 0 {
		d.errorf(n, s, "more than %d values: too large to add to every record", maxJSONValues)
		return nil, false
	}
	if depth > maxJSONDepth {
		d.errorf(n, s, "nested more than %d levels deep", maxJSONDepth)
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		ok := true
		for _, pr := range d.pairs(s, n, 0) {
			v, good := d.jsonValue(s.child(pr.name), pr.value, depth+1, budget)
			m[pr.name] = v
			ok = ok && good
		}
		return m, ok
	case yaml.SequenceNode:
		list := make([]any, len(n.Content))
		ok := true
		for i, e := range n.Content {
			v, good := d.jsonValue(s.index(i), e, depth+1, budget)
			list[i] = v
			ok = ok && good
		}
		return list, ok
	case yaml.ScalarNode:
	default:
		d.errorf(n, s, "expected a value, got %s", kindName(n))
		return nil, false
	}
	switch n.ShortTag() {
	case "!!null":
		return nil, true
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			d.errorf(n, s, "expected true or false, got %s", describe(n))
			return nil, false
		}
		return b, true
	case "!!int", "!!float":
		if jsonNumber.MatchString(n.Value) {
			return json.Number(n.Value), true
		}
		if n.ShortTag() == "!!int" {
			var i int64
			if n.Decode(&i) == nil {
				return json.Number(strconv.FormatInt(i, 10)), true
			}
			var u uint64
			if n.Decode(&u) == nil {
				return json.Number(strconv.FormatUint(u, 10)), true
			}
		}
		var f float64
		if n.Decode(&f) != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			d.errorf(n, s, "%s is not a number JSON can hold (quote it for a string)", strconv.Quote(n.Value))
			return nil, false
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), true
	}
	return n.Value, true
}
