package config

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// metadataDoc is a configuration whose one transform is add_metadata with
// the given metadata mapping (flow style).
func metadataDoc(meta string) string {
	return `destinations: {d: {type: stdout}}
flows:
  - name: f
    paths: [/var/log/a.log]
    destination: d
    transforms:
      - add_metadata:
          metadata: ` + meta + "\n"
}

func TestMetadataValues(t *testing.T) {
	tests := []struct {
		name string
		meta string
		want map[string]any
	}{
		{"strings stay strings, quoted or not", `{env: prod, port: "8080", date: 2024-01-02, word: yes}`,
			map[string]any{"env": "prod", "port": "8080", "date": "2024-01-02", "word": "yes"}},
		{"numbers as written when JSON's syntax", `{a: 8080, b: 1.50, c: -1e-3, d: 123456789012345678901234567890, e: -0}`,
			map[string]any{"a": json.Number("8080"), "b": json.Number("1.50"), "c": json.Number("-1e-3"),
				"d": json.Number("123456789012345678901234567890"), "e": json.Number("-0")}},
		{"other YAML numbers converted", `{hex: 0x10, oct: 0o17, lead: 007, plus: +5, dot: .5, under: 1_000, big: 0xffffffffffffffff, exp: 1E+3}`,
			map[string]any{"hex": json.Number("16"), "oct": json.Number("15"), "lead": json.Number("7"), "plus": json.Number("5"),
				"dot": json.Number("0.5"), "under": json.Number("1000"), "big": json.Number("18446744073709551615"),
				"exp": json.Number("1E+3")}},
		{"booleans and null", `{on: true, off: false, none: null, tilde: ~}`,
			map[string]any{"on": true, "off": false, "none": nil, "tilde": nil}},
		{"nested lists and objects", `{owner: {team: payments, oncall: [a, {n: 1}]}, empty: {}, list: []}`,
			map[string]any{"owner": map[string]any{"team": "payments", "oncall": []any{"a", map[string]any{"n": json.Number("1")}}},
				"empty": map[string]any{}, "list": []any{}}},
		{"an alias copies its value", `{a: &v {x: [1]}, b: *v}`,
			map[string]any{"a": map[string]any{"x": []any{json.Number("1")}}, "b": map[string]any{"x": []any{json.Number("1")}}}},
		{"an empty mapping", `{}`, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("m.yaml", []byte(metadataDoc(tt.meta)))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Flows[0].Transforms[0].AddMetadata.Metadata; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("metadata = %#v\nwant       %#v", got, tt.want)
			}
		})
	}
}

func TestMetadataValuesRejected(t *testing.T) {
	// Four aliases of ten copies each: 10^4 values from a short text.
	laughs := `{a: &a [x, x, x, x, x, x, x, x, x, x], b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a], ` +
		`c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b], d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]}`
	tests := []struct {
		name string
		meta string
		want string
	}{
		{"not a mapping", `[a, b]`, `m.yaml:8:21: flow "f": transforms[0].add_metadata.metadata: expected a mapping of names to values, got a list`},
		{"infinity", `{a: {b: [.inf]}}`, `m.yaml:8:30: flow "f": transforms[0].add_metadata.metadata.a.b[0]: ".inf" is not a number JSON can hold (quote it for a string)`},
		{"not a number", `{n: .nan}`, `m.yaml:8:25: flow "f": transforms[0].add_metadata.metadata.n: ".nan" is not a number JSON can hold (quote it for a string)`},
		{"a duplicate key inside", `{a: {k: 1, k: 2}}`, `m.yaml:8:32: flow "f": transforms[0].add_metadata.metadata.a: duplicate key "k" (first at line 8)`},
		{"too many values", laughs, `too large to add to every record`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(metadataDoc(tt.meta)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse error:\n%v\nwant:\n%s", err, tt.want)
			}
		})
	}
}
