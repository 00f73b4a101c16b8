// The decoder's primitives: walking YAML mappings (merge keys and
// aliases included) and decoding scalars into typed fields, each problem
// recorded with its position and scope.

package config

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// scope says where a value is, for messages: ctx names the object
// (`destination "events"`, `flow "web"`), path the field inside it
// (`batch.max_records`).
type scope struct{ ctx, path string }

func (s scope) child(key string) scope {
	if s.path == "" {
		return scope{s.ctx, key}
	}
	return scope{s.ctx, s.path + "." + key}
}

func (s scope) index(i int) scope {
	return scope{s.ctx, s.path + "[" + strconv.Itoa(i) + "]"}
}

// prefix returns "ctx: path: ", leaving out empty parts.
func (s scope) prefix() string {
	switch {
	case s.ctx == "" && s.path == "":
		return ""
	case s.ctx == "":
		return s.path + ": "
	case s.path == "":
		return s.ctx + ": "
	}
	return s.ctx + ": " + s.path + ": "
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is absent or an explicit null ("key:" with no
// value, "~", "null"), which leaves a field at its default.
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// field decodes one value into a destination it has captured.
type field func(s scope, n *yaml.Node)

// fields maps the keys a mapping may hold to their decoders.
type fields map[string]field

type pair struct {
	name       string
	key, value *yaml.Node
}

// mapping decodes mapping node n with fs, reporting unknown keys. A null n
// is an empty mapping. It reports false if n is not a mapping at all.
func (d *decoder) mapping(s scope, n *yaml.Node, fs fields) bool {
	n = resolve(n)
	if isNull(n) {
		return true
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, s, "expected a mapping, got %s", kindName(n))
		return false
	}
	for _, p := range d.pairs(s, n, 0) {
		f, ok := fs[p.name]
		if !ok && s == (scope{}) && strings.HasPrefix(p.name, "x-") {
			// Top-level x- keys hold anchors to share; they mean nothing else.
			continue
		}
		if !ok {
			d.unknownKey(s, p.key, slices.Sorted(maps.Keys(fs)))
			continue
		}
		f(s.child(p.name), p.value)
	}
	return true
}

func (d *decoder) unknownKey(s scope, key *yaml.Node, known []string) {
	if hint := suggest(key.Value, known); hint != "" {
		d.typos[s.child(hint)] = true
		d.errorf(key, s, "unknown key %q (did you mean %q?)", key.Value, hint)
		return
	}
	d.errorf(key, s, "unknown key %q", key.Value)
}

// maxMergeDepth bounds nested merge keys (<<), which can form cycles.
const maxMergeDepth = 8

// pairs returns the entries of mapping n in order, reporting non-string and
// duplicate keys. Entries merged with "<<: *anchor" come after the explicit
// ones and never override them, as YAML specifies.
func (d *decoder) pairs(s scope, n *yaml.Node, depth int) []pair {
	var out, merged []pair
	seen := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode || isNull(k) {
			d.errorf(k, s, "keys must be strings, got %s", kindName(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merged = append(merged, d.merge(s, k, v, depth)...)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, s, "duplicate key %q (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		out = append(out, pair{k.Value, k, v})
	}
	for _, p := range merged {
		if _, dup := seen[p.name]; !dup {
			seen[p.name] = p.key
			out = append(out, p)
		}
	}
	return out
}

// merge returns the entries a merge key brings in: one mapping or a list of
// mappings, earlier ones winning.
func (d *decoder) merge(s scope, k, v *yaml.Node, depth int) []pair {
	if depth >= maxMergeDepth {
		d.errorf(k, s, "merge keys nested too deeply (more than %d levels)", maxMergeDepth)
		return nil
	}
	v = resolve(v)
	switch v.Kind {
	case yaml.MappingNode:
		return d.mergeOne(s, k, v, depth)
	case yaml.SequenceNode:
		var out []pair
		for _, m := range v.Content {
			m = resolve(m)
			if m.Kind != yaml.MappingNode {
				d.errorf(m, s, "<< expects a mapping or a list of mappings, got a list containing %s", kindName(m))
				continue
			}
			out = append(out, d.mergeOne(s, k, m, depth)...)
		}
		return out
	}
	d.errorf(v, s, "<< expects a mapping or a list of mappings, got %s", kindName(v))
	return nil
}

func (d *decoder) mergeOne(s scope, k, m *yaml.Node, depth int) []pair {
	ps, done := d.merged[m]
	switch {
	case done && ps == nil:
		d.errorf(k, s, "<< refers to a mapping that contains it")
		return nil
	case done:
		return ps
	}
	d.merged[m] = nil
	ps = d.pairs(s, m, depth+1)
	if ps == nil {
		ps = []pair{} // done, not in progress
	}
	d.merged[m] = ps
	return ps
}

// value makes the decoder of the field at p: a null leaves the field at
// its default; any other node is remembered as the field's (for
// validation's messages) and given to decode.
func (d *decoder) value(p any, decode func(s scope, n *yaml.Node)) field {
	return func(s scope, n *yaml.Node) {
		n = resolve(n)
		if isNull(n) {
			return
		}
		d.pos[p] = n
		decode(s, n)
	}
}

func (d *decoder) str(p *string) field {
	return d.value(p, func(s scope, n *yaml.Node) {
		if n.Kind != yaml.ScalarNode {
			d.fail(p, n, s, "expected a string, got %s", kindName(n))
			return
		}
		*p = n.Value
	})
}

func (d *decoder) int(p *int) field {
	return d.value(p, func(s scope, n *yaml.Node) {
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(p) != nil {
			d.fail(p, n, s, "expected an integer, got %s", describe(n))
		}
	})
}

func (d *decoder) bool(p *bool) field {
	return d.value(p, func(s scope, n *yaml.Node) {
		if !decodeBool(n, p) {
			d.fail(p, n, s, "expected true or false, got %s", describe(n))
		}
	})
}

// boolPtr decodes an optional boolean.
func (d *decoder) boolPtr(p **bool) field {
	return d.value(p, func(s scope, n *yaml.Node) {
		var b bool
		if !decodeBool(n, &b) {
			d.fail(p, n, s, "expected true or false, got %s", describe(n))
			return
		}
		*p = &b
	})
}

func decodeBool(n *yaml.Node, p *bool) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" && n.Decode(p) == nil
}

func (d *decoder) duration(p *Duration) field { return d.unmarshal(p) }

func (d *decoder) size(p *Size) field { return d.unmarshal(p) }

// unmarshal decodes a field whose type reads itself from YAML.
func (d *decoder) unmarshal(p interface{ UnmarshalYAML(*yaml.Node) error }) field {
	return d.value(p, func(s scope, n *yaml.Node) {
		if err := p.UnmarshalYAML(n); err != nil {
			d.fail(p, n, s, "%v", err)
		}
	})
}

func (d *decoder) strings(p *[]string) field {
	return d.value(p, func(s scope, n *yaml.Node) {
		if n.Kind != yaml.SequenceNode {
			d.fail(p, n, s, "expected a list of strings, got %s", kindName(n))
			return
		}
		list := make([]string, 0, len(n.Content))
		nodes := make([]*yaml.Node, 0, len(n.Content))
		for i, e := range n.Content {
			e = resolve(e)
			if e.Kind != yaml.ScalarNode || isNull(e) {
				d.fail(p, e, s.index(i), "expected a string, got %s", kindName(e))
				continue
			}
			list = append(list, e.Value)
			nodes = append(nodes, e)
		}
		*p, d.elems[p] = list, nodes
	})
}

// stringMap decodes a mapping of strings to strings.
func (d *decoder) stringMap(p *map[string]string) field {
	return d.value(p, func(s scope, n *yaml.Node) {
		if n.Kind != yaml.MappingNode {
			d.fail(p, n, s, "expected a mapping of names to strings, got %s", kindName(n))
			return
		}
		m := make(map[string]string, len(n.Content)/2)
		for _, pr := range d.pairs(s, n, 0) {
			v := resolve(pr.value)
			if v.Kind != yaml.ScalarNode || isNull(v) {
				d.fail(p, v, s.child(pr.name), "expected a string, got %s", kindName(v))
				continue
			}
			m[pr.name] = v.Value
		}
		*p = m
	})
}

// describe names a scalar's value and kind ("the string \"abc\""), or the
// kind of anything else.
func describe(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return kindName(n)
	}
	return kindName(n) + " " + strconv.Quote(n.Value)
}
