package transform

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kinetail/kinetail/config"
)

// fixedClock returns a clock that always reads t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func metadataChain(t testing.TB, c *config.AddMetadata, now time.Time, before ...*config.Transform) *Chain {
	t.Helper()
	ch := mustChain(t, append(before, &config.Transform{AddMetadata: c})...)
	ch.steps[len(ch.steps)-1].p.(*addMetadata).now = fixedClock(now)
	return ch
}

func TestAddMetadata(t *testing.T) {
	// A time with nanoseconds in a zone other than UTC: the stamp must be
	// converted to UTC and cut (not rounded) to milliseconds.
	now := time.Date(2024, 5, 6, 9, 8, 9, 123987654, time.FixedZone("CEST", 2*3600))
	tests := []struct {
		name string
		cfg  config.AddMetadata
		in   string
		want string
	}{
		{
			// The Kinesis Agent's own test of ADDMETADATA.
			name: "the agent's golden record",
			cfg:  config.AddMetadata{Metadata: map[string]any{"key": "value", "foo": map[string]any{"bar": "baz"}}},
			in:   "This is the data",
			want: `{"metadata":{"foo":{"bar":"baz"},"key":"value"},"data":"This is the data"}`,
		},
		{
			name: "numbers as written, booleans, null",
			cfg: config.AddMetadata{Metadata: map[string]any{"port": json.Number("8080"), "ratio": json.Number("1.50"),
				"big": json.Number("123456789012345678901234567890"), "exp": json.Number("-1e-3"), "on": true, "off": false, "none": nil}},
			in:   "x",
			want: `{"metadata":{"big":123456789012345678901234567890,"exp":-1e-3,"none":null,"off":false,"on":true,"port":8080,"ratio":1.50},"data":"x"}`,
		},
		{
			name: "nested lists and objects, keys sorted at every level",
			cfg: config.AddMetadata{Metadata: map[string]any{
				"tags":  []any{"b", json.Number("2"), []any{}, map[string]any{"z": nil, "a": []any{true}}},
				"owner": map[string]any{"team": "payments", "oncall": map[string]any{"b": "2", "a": "1"}, "empty": map[string]any{}},
			}},
			in: "x",
			want: `{"metadata":{"owner":{"empty":{},"oncall":{"a":"1","b":"2"},"team":"payments"},` +
				`"tags":["b",2,[],{"a":[true],"z":null}]},"data":"x"}`,
		},
		{
			name: "escapes in nested keys and strings",
			cfg:  config.AddMetadata{Metadata: map[string]any{"o": map[string]any{"k\"\n": []any{"<tab\t>"}}}},
			in:   "x",
			want: `{"metadata":{"o":{"k\"\n":["<tab\t>"]}},"data":"x"}`,
		},
		{
			name: "timestamp first, in UTC with milliseconds",
			cfg:  config.AddMetadata{Timestamp: true, Metadata: map[string]any{"env": "prod"}},
			in:   "hello",
			want: `{"ts":"2024-05-06T07:08:09.123Z","metadata":{"env":"prod"},"data":"hello"}`,
		},
		{
			name: "keys in sorted order",
			cfg:  config.AddMetadata{Metadata: map[string]any{"zone": "z", "app": "a", "Build": "b", "m": "m"}},
			in:   "x",
			want: `{"metadata":{"Build":"b","app":"a","m":"m","zone":"z"},"data":"x"}`,
		},
		{
			name: "no metadata is null, as in the agent",
			cfg:  config.AddMetadata{Timestamp: true},
			in:   "x",
			want: `{"ts":"2024-05-06T07:08:09.123Z","metadata":null,"data":"x"}`,
		},
		{
			name: "empty metadata is an empty object",
			cfg:  config.AddMetadata{Metadata: map[string]any{}},
			in:   "x",
			want: `{"metadata":{},"data":"x"}`,
		},
		{
			name: "a JSON record is still a string",
			cfg:  config.AddMetadata{Metadata: map[string]any{"k": "v"}},
			in:   `{"a":1}`,
			want: `{"metadata":{"k":"v"},"data":"{\"a\":1}"}`,
		},
		{
			name: "escapes in values and data",
			cfg:  config.AddMetadata{Metadata: map[string]any{`q"k`: "tab\there"}},
			in:   "back\\slash\r\x01 \xff",
			want: `{"metadata":{"q\"k":"tab\there"},"data":"back\\slash\r\u0001 ` + "\uFFFD" + `"}`,
		},
		{
			name: "empty line",
			cfg:  config.AddMetadata{},
			in:   "",
			want: `{"metadata":null,"data":""}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := metadataChain(t, &tt.cfg, now)
			got, keep := c.Append([]byte("prefix:"), []byte(tt.in))
			if !keep {
				t.Fatalf("line dropped: %v", c.LastError())
			}
			if string(got) != "prefix:"+tt.want {
				t.Fatalf("got  %s\nwant prefix:%s", got, tt.want)
			}
			if !json.Valid(got[len("prefix:"):]) {
				t.Fatalf("invalid JSON: %s", got)
			}
		})
	}
}

func TestAddMetadataAfterLogToJSON(t *testing.T) {
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	c := metadataChain(t, &config.AddMetadata{Timestamp: true, Metadata: map[string]any{"env": "prod"}}, now,
		&config.Transform{JSON: &config.JSON{}})
	got, keep := c.Append(nil, []byte(`{ "a" : [1, 2] }`))
	want := `{"ts":"2024-01-02T03:04:05.000Z","metadata":{"env":"prod"},"data":"{\"a\":[1,2]}"}`
	if !keep || string(got) != want {
		t.Fatalf("got %s (keep %t), want %s", got, keep, want)
	}
}

func TestAddMetadataRealClock(t *testing.T) {
	c := mustChain(t, &config.Transform{AddMetadata: &config.AddMetadata{Timestamp: true}})
	before := time.Now().UTC().Truncate(time.Millisecond)
	got, _ := c.Append(nil, []byte("x"))
	after := time.Now().UTC()
	var rec struct{ TS string }
	if err := json.Unmarshal(got, &rec); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	ts, err := time.Parse(tsLayout, rec.TS)
	if err != nil {
		t.Fatalf("ts %q: %v", rec.TS, err)
	}
	if ts.Before(before) || ts.After(after) {
		t.Fatalf("ts %v not between %v and %v", ts, before, after)
	}
}

func TestAddMetadataAllocs(t *testing.T) {
	c := mustChain(t, &config.Transform{AddMetadata: &config.AddMetadata{
		Timestamp: true, Metadata: map[string]any{"env": "prod", "app": "web", "n": map[string]any{"port": json.Number("1")}}}})
	buf := make([]byte, 0, 4096)
	in := []byte(`127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326`)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = c.Append(buf[:0], in)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per line, want 0", allocs)
	}
}

func TestAddMetadataRejectsValuesThatAreNotJSON(t *testing.T) {
	tests := []struct {
		name string
		meta map[string]any
		want string
	}{
		{"a Go number", map[string]any{"n": 1}, "add_metadata: metadata: n: a int is not a JSON value"},
		{"a number that is not JSON's", map[string]any{"n": json.Number("0x10")}, `add_metadata: metadata: n: "0x10" is not a JSON number`},
		{"a number with spaces", map[string]any{"n": json.Number(" 1")}, `add_metadata: metadata: n: " 1" is not a JSON number`},
		{"a string as a number", map[string]any{"n": json.Number(`"1"`)}, `add_metadata: metadata: n: "\"1\"" is not a JSON number`},
		{"deep inside", map[string]any{"a": map[string]any{"b": []any{json.Number("NaN")}}}, `add_metadata: metadata: a: b: "NaN" is not a JSON number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New([]*config.Transform{{AddMetadata: &config.AddMetadata{Metadata: tt.meta}}})
			if err == nil || err.Error() != "transform 1: "+tt.want {
				t.Fatalf("New error %v, want %q", err, "transform 1: "+tt.want)
			}
		})
	}
}
