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
			// The Kinesis Agent's own test of ADDMETADATA (nested values
			// aside: kinetail's metadata holds strings).
			name: "the agent's golden record",
			cfg:  config.AddMetadata{Metadata: map[string]string{"key": "value", "foo": "bas"}},
			in:   "This is the data",
			want: `{"metadata":{"foo":"bas","key":"value"},"data":"This is the data"}`,
		},
		{
			name: "timestamp first, in UTC with milliseconds",
			cfg:  config.AddMetadata{Timestamp: true, Metadata: map[string]string{"env": "prod"}},
			in:   "hello",
			want: `{"ts":"2024-05-06T07:08:09.123Z","metadata":{"env":"prod"},"data":"hello"}`,
		},
		{
			name: "keys in sorted order",
			cfg:  config.AddMetadata{Metadata: map[string]string{"zone": "z", "app": "a", "Build": "b", "m": "m"}},
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
			cfg:  config.AddMetadata{Metadata: map[string]string{}},
			in:   "x",
			want: `{"metadata":{},"data":"x"}`,
		},
		{
			name: "a JSON record is still a string",
			cfg:  config.AddMetadata{Metadata: map[string]string{"k": "v"}},
			in:   `{"a":1}`,
			want: `{"metadata":{"k":"v"},"data":"{\"a\":1}"}`,
		},
		{
			name: "escapes in values and data",
			cfg:  config.AddMetadata{Metadata: map[string]string{`q"k`: "tab\there"}},
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
	c := metadataChain(t, &config.AddMetadata{Timestamp: true, Metadata: map[string]string{"env": "prod"}}, now,
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
		Timestamp: true, Metadata: map[string]string{"env": "prod", "app": "web"}}})
	buf := make([]byte, 0, 4096)
	in := []byte(`127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326`)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = c.Append(buf[:0], in)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per line, want 0", allocs)
	}
}
