package transform

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kinetail/kinetail/config"
)

func TestFilter(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		cfg  config.Filter
		in   string
		keep bool // the record goes on
	}{
		{"line matches: dropped", config.Filter{Action: "drop", Condition: config.Condition{LineMatches: `health`}}, `GET /health 200`, false},
		{"line does not match: kept", config.Filter{Action: "drop", Condition: config.Condition{LineMatches: `health`}}, `GET /orders 200`, true},
		{"keep what matches", config.Filter{Action: "keep", Condition: config.Condition{LineMatches: `ERROR`}}, `ERROR boom`, true},
		{"keep drops the rest", config.Filter{Action: "keep", Condition: config.Condition{LineMatches: `ERROR`}}, `INFO fine`, false},
		{"default action is drop", config.Filter{Condition: config.Condition{LineMatches: `x`}}, `x`, false},
		{"equals a string", config.Filter{Action: "drop", Condition: config.Condition{Field: "level", Equals: "debug"}}, `{"level":"debug"}`, false},
		{"equals another string", config.Filter{Action: "drop", Condition: config.Condition{Field: "level", Equals: "debug"}}, `{"level":"info"}`, true},
		{"equals an escaped string", config.Filter{Action: "drop", Condition: config.Condition{Field: "msg", Equals: `a"é`}}, `{"msg":"a\"\u00e9"}`, false},
		{"equals a number's text", config.Filter{Action: "drop", Condition: config.Condition{Field: "status", Equals: "200"}}, `{"status":200}`, false},
		{"equals a compacted object", config.Filter{Action: "drop", Condition: config.Condition{Field: "o", Equals: `{"a":[1,2]}`}}, `{"o": { "a" : [1, 2] }}`, false},
		{"equals null", config.Filter{Action: "drop", Condition: config.Condition{Field: "u", Equals: "null"}}, `{"u":null}`, false},
		{"escaped key", config.Filter{Action: "drop", Condition: config.Condition{Field: "clé", Equals: "v"}}, `{"cl\u00e9":"v"}`, false},
		{"the last of duplicate keys counts", config.Filter{Action: "drop", Condition: config.Condition{Field: "a", Equals: "1"}}, `{"a":1,"a":2}`, true},
		{"matches", config.Filter{Action: "drop", Condition: config.Condition{Field: "status", Matches: `^5\d\d$`}}, `{"status":"503"}`, false},
		{"matches a number", config.Filter{Action: "keep", Condition: config.Condition{Field: "status", Matches: `^5`}}, `{"status":404}`, false},
		{"exists", config.Filter{Action: "drop", Condition: config.Condition{Field: "debug", Exists: &yes}}, `{"debug":false}`, false},
		{"exists: missing", config.Filter{Action: "drop", Condition: config.Condition{Field: "debug", Exists: &yes}}, `{"a":1}`, true},
		{"not exists", config.Filter{Action: "drop", Condition: config.Condition{Field: "user", Exists: &no}}, `{"a":1}`, false},
		{"not exists: present", config.Filter{Action: "drop", Condition: config.Condition{Field: "user", Exists: &no}}, `{"user":"x"}`, true},
		{"missing field does not equal", config.Filter{Action: "drop", Condition: config.Condition{Field: "a", Equals: "x"}}, `{}`, true},
		{"all conditions: met", config.Filter{Action: "drop", Condition: config.Condition{LineMatches: `GET`, Field: "s", Equals: "1", Matches: `1`, Exists: &yes}},
			`{"m":"GET","s":1}`, false},
		{"all conditions: one fails", config.Filter{Action: "drop", Condition: config.Condition{LineMatches: `POST`, Field: "s", Equals: "1"}},
			`{"m":"GET","s":1}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, &config.Transform{Filter: &tt.cfg})
			got, keep := c.Append([]byte("prev|"), []byte(tt.in))
			want := "prev|"
			if tt.keep {
				want += tt.in
			}
			if keep != tt.keep || string(got) != want {
				t.Fatalf("filter(%s) = %q, %v; want %q, %v", tt.in, got, keep, want, tt.keep)
			}
			wantStats := Stats{Lines: 1, Records: 1}
			if !tt.keep {
				wantStats = Stats{Lines: 1, Filtered: 1}
			}
			if s := c.Stats(); s != wantStats {
				t.Fatalf("Stats() = %+v, want %+v", s, wantStats)
			}
		})
	}
}

func TestFilterInvalid(t *testing.T) {
	c := mustChain(t, &config.Transform{Filter: &config.Filter{Action: "drop", Condition: config.Condition{Field: "a", Equals: "1"}}})
	for _, in := range []string{"plain", `[1]`, `{"a":1`} {
		got, keep := c.Append(nil, []byte(in))
		var rec struct{ Raw, Error string }
		if !keep || json.Unmarshal(got, &rec) != nil || rec.Raw != in || !strings.HasPrefix(rec.Error, "filter: ") {
			t.Fatalf("filter(%q) = %s, %v; want it wrapped", in, got, keep)
		}
	}
}

func TestNewFilterErrors(t *testing.T) {
	tests := []struct {
		cfg  config.Filter
		want string
	}{
		{config.Filter{Action: "pass", Condition: config.Condition{LineMatches: "x"}}, `filter: action "pass"`},
		{config.Filter{Action: "drop", Condition: config.Condition{LineMatches: "("}}, "filter: line_matches: error parsing regexp"},
		{config.Filter{Action: "drop", Condition: config.Condition{Field: "a", Matches: "["}}, "filter: matches: error parsing regexp"},
		{config.Filter{Action: "drop"}, "filter: needs line_matches or field"},
		{config.Filter{Action: "drop", Condition: config.Condition{Field: "a"}}, `filter: field "a" needs equals, matches or exists`},
	}
	for _, tt := range tests {
		_, err := New([]*config.Transform{{Filter: &tt.cfg}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) error = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestFilterAllocs(t *testing.T) {
	c := mustChain(t, &config.Transform{Filter: &config.Filter{Action: "drop", Condition: config.Condition{Field: "status", Equals: "500"}}})
	in := []byte(benchJSONLine)
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() { buf, _ = c.Append(buf[:0], in) })
	if allocs != 0 {
		t.Fatalf("filter allocates %v times per record, want 0", allocs)
	}
}
