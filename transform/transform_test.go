package transform

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/kinetail/kinetail/config"
)

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfgs []*config.Transform
		want string
	}{
		{"nil transform", []*config.Transform{nil}, "transform 1: empty transform"},
		{"no kind set", []*config.Transform{{Line: 7}}, "transform 1 (line 7): want exactly one transform kind, have 0"},
		{"two kinds set", []*config.Transform{{Singleline: &config.Singleline{}, JSON: &config.JSON{}}}, "have 2"},
		{"bad json policy", []*config.Transform{{Singleline: &config.Singleline{}}, {JSON: &config.JSON{OnError: "skip"}}}, `transform 2: json: on_error "skip"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfgs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New() error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRaw(t *testing.T) {
	for _, cfgs := range [][]*config.Transform{nil, {}} {
		c := mustChain(t, cfgs...)
		for _, line := range []string{"", "plain", "\x00\xff binary \r", `{"not":"parsed"}`} {
			got, keep := c.Append([]byte("dst:"), []byte(line))
			if !keep || string(got) != "dst:"+line {
				t.Fatalf("Append(%q) = %q, %v; want the line unchanged", line, got, keep)
			}
		}
		want := Stats{Lines: 4, Records: 4}
		if s := c.Stats(); s != want {
			t.Fatalf("Stats() = %+v, want %+v", s, want)
		}
		if err := c.LastError(); err != nil {
			t.Fatalf("LastError() = %v, want nil", err)
		}
	}
}

func TestOnError(t *testing.T) {
	const bad = "1,\"unterminated\xff"
	tests := []struct {
		policy    string
		wantKeep  bool
		wantOut   string
		wantStats Stats
	}{
		{config.OnErrorDrop, false, "", Stats{Lines: 2, Records: 1, Invalid: 1, Dropped: 1}},
		{config.OnErrorPass, true, bad, Stats{Lines: 2, Records: 2, Invalid: 1, Passed: 1}},
		{config.OnErrorWrap, true, "{\"raw\":\"1,\\\"unterminated\uFFFD\",\"error\":\"csv_to_json: unterminated quoted field at offset 2\"}",
			Stats{Lines: 2, Records: 2, Invalid: 1, Wrapped: 1}},
		{"", true, "{\"raw\":\"1,\\\"unterminated\uFFFD\",\"error\":\"csv_to_json: unterminated quoted field at offset 2\"}",
			Stats{Lines: 2, Records: 2, Invalid: 1, Wrapped: 1}},
	}
	for _, tt := range tests {
		t.Run("policy "+tt.policy, func(t *testing.T) {
			c := mustChain(t, &config.Transform{CSVToJSON: &config.CSVToJSON{Fields: []string{"a", "b"}, OnError: tt.policy}})
			good, keep := c.Append(nil, []byte("1,2"))
			if !keep || string(good) != `{"a":"1","b":"2"}` {
				t.Fatalf("good line: %q, %v", good, keep)
			}
			got, keep := c.Append([]byte("prev|"), []byte(bad))
			if keep != tt.wantKeep || string(got) != "prev|"+tt.wantOut {
				t.Fatalf("Append(%q) = %q, %v; want %q, %v", bad, got, keep, "prev|"+tt.wantOut, tt.wantKeep)
			}
			if tt.policy == "" || tt.policy == config.OnErrorWrap {
				var rec struct{ Raw, Error string }
				if err := json.Unmarshal(got[len("prev|"):], &rec); err != nil {
					t.Fatalf("wrapped record %q: %v", got, err)
				}
				if rec.Raw != "1,\"unterminated\uFFFD" || rec.Error != c.LastError().Error() {
					t.Fatalf("wrapped record = %+v", rec)
				}
			}
			if s := c.Stats(); s != tt.wantStats {
				t.Fatalf("Stats() = %+v, want %+v", s, tt.wantStats)
			}
			if err := c.LastError(); err == nil || err.Error() != "csv_to_json: unterminated quoted field at offset 2" {
				t.Fatalf("LastError() = %v", err)
			}
		})
	}
}

func TestChain(t *testing.T) {
	single := &config.Transform{Singleline: &config.Singleline{}}
	csv := &config.Transform{CSVToJSON: &config.CSVToJSON{Fields: []string{"ts", "level", "msg"}}}
	csvDrop := &config.Transform{CSVToJSON: &config.CSVToJSON{Fields: []string{"ts", "level", "msg"}, OnError: config.OnErrorDrop}}
	csvPass := &config.Transform{CSVToJSON: &config.CSVToJSON{Fields: []string{"ts", "level", "msg"}, OnError: config.OnErrorPass}}
	js := &config.Transform{JSON: &config.JSON{}}
	tests := []struct {
		name  string
		cfgs  []*config.Transform
		lines []string
		want  []string // one per kept line
		stats Stats
	}{
		{
			name:  "singleline then csv_to_json",
			cfgs:  []*config.Transform{single, csv},
			lines: []string{"  2024-01-01 ,INFO,\"started\n   ok\"  ", "2024-01-02,WARN,\n  disk low  "},
			want:  []string{`{"ts":"2024-01-01 ","level":"INFO","msg":"startedok"}`, `{"ts":"2024-01-02","level":"WARN","msg":"disk low"}`},
			stats: Stats{Lines: 2, Records: 2},
		},
		{
			name:  "a failing step skips the later parsers and wraps the original line",
			cfgs:  []*config.Transform{single, csv, js},
			lines: []string{" a,\"b ", "x,y,z"},
			want:  []string{`{"raw":" a,\"b ","error":"csv_to_json: unterminated quoted field at offset 2"}`, `{"ts":"x","level":"y","msg":"z"}`},
			stats: Stats{Lines: 2, Records: 2, Invalid: 1, Wrapped: 1},
		},
		{
			name:  "pass sends the original line, not the step's input",
			cfgs:  []*config.Transform{single, csvPass},
			lines: []string{" \"a\n"},
			want:  []string{" \"a\n"},
			stats: Stats{Lines: 1, Records: 1, Invalid: 1, Passed: 1},
		},
		{
			name:  "drop in a later step",
			cfgs:  []*config.Transform{single, csvDrop},
			lines: []string{"1,2,3", "\"", "4,5,6"},
			want:  []string{`{"ts":"1","level":"2","msg":"3"}`, `{"ts":"4","level":"5","msg":"6"}`},
			stats: Stats{Lines: 3, Records: 2, Invalid: 1, Dropped: 1},
		},
		{
			name:  "three steps use both scratch buffers",
			cfgs:  []*config.Transform{single, csv, js},
			lines: []string{"1,2,3", "long line " + strings.Repeat("x", 5000) + ",b", "\n4\n,5,6"},
			want:  []string{`{"ts":"1","level":"2","msg":"3"}`, `{"ts":"long line ` + strings.Repeat("x", 5000) + `","level":"b","msg":null}`, `{"ts":"4","level":"5","msg":"6"}`},
			stats: Stats{Lines: 3, Records: 3},
		},
		{
			name:  "json then singleline",
			cfgs:  []*config.Transform{js, single},
			lines: []string{"{ \"a\" : \"x y\" }", "nope"},
			want:  []string{`{"a":"x y"}`, `{"raw":"nope","error":"json: invalid literal at offset 0"}`},
			stats: Stats{Lines: 2, Records: 2, Invalid: 1, Wrapped: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, tt.cfgs...)
			// All records go into one buffer, as the agent batches them.
			var buf []byte
			var ends []int
			for _, line := range tt.lines {
				var keep bool
				if buf, keep = c.Append(buf, []byte(line)); keep {
					ends = append(ends, len(buf))
				}
			}
			var got []string
			start := 0
			for _, end := range ends {
				got = append(got, string(buf[start:end]))
				start = end
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if s := c.Stats(); s != tt.stats {
				t.Fatalf("Stats() = %+v, want %+v", s, tt.stats)
			}
		})
	}
}

// TestStatsConcurrent reads Stats while another goroutine appends; run with
// -race it proves the counters are safe to read, and the invariants hold at
// every read.
func TestStatsConcurrent(t *testing.T) {
	c := mustChain(t, &config.Transform{JSON: &config.JSON{OnError: config.OnErrorDrop}})
	const n = 2000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var buf []byte
		for i := range n {
			line := `{"ok":true}`
			if i%2 == 1 {
				line = "bad"
			}
			buf, _ = c.Append(buf[:0], []byte(line))
		}
	}()
	// Every second line is bad, and a line is counted before its outcome,
	// so no read may show more drops than half the lines.
	var prev Stats
	for prev.Lines < n {
		s := c.Stats()
		if s.Dropped > s.Lines/2 || s.Invalid != s.Dropped || s.Lines < prev.Lines || s.Dropped < prev.Dropped {
			t.Fatalf("Stats() = %+v after %+v", s, prev)
		}
		prev = s
	}
	wg.Wait()
	if s := c.Stats(); s.Dropped != n/2 {
		t.Fatalf("Stats() = %+v, want %d dropped", s, n/2)
	}
}

// TestNoAllocs checks that steady-state Append allocates nothing once the
// destination and scratch buffers have grown.
func TestNoAllocs(t *testing.T) {
	tests := []struct {
		name string
		cfgs []*config.Transform
		line string
	}{
		{"raw", nil, benchCSVLine},
		{"singleline", []*config.Transform{{Singleline: &config.Singleline{}}}, benchCSVLine},
		{"csv", []*config.Transform{{CSVToJSON: &config.CSVToJSON{Fields: benchFields}}}, benchCSVLine},
		{"json", []*config.Transform{{JSON: &config.JSON{}}}, benchJSONLine},
		{"chain", []*config.Transform{{Singleline: &config.Singleline{}}, {CSVToJSON: &config.CSVToJSON{Fields: benchFields}}, {JSON: &config.JSON{}}}, benchCSVLine},
		{"drop", []*config.Transform{{JSON: &config.JSON{OnError: config.OnErrorDrop}}}, "not json"},
		{"pass", []*config.Transform{{JSON: &config.JSON{OnError: config.OnErrorPass}}}, "not json"},
		{"wrap", []*config.Transform{{JSON: &config.JSON{}}}, "not json"},
		{"wrap annotated", []*config.Transform{{JSON: &config.JSON{}}, {Filter: &config.Filter{Condition: config.Condition{LineMatches: "x"}}},
			{Redact: &config.Redact{Patterns: config.RedactPatterns}},
			{Fields: &config.Fields{RecordID: "id", Path: "path", Offset: "offset", Host: "host", Add: map[string]string{"env": "prod"}}},
			{AddMetadata: &config.AddMetadata{Timestamp: true, Metadata: map[string]any{"app": "web"}}}}, "not json 192.168.1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, tt.cfgs...)
			c.SetSource(testSource)
			line := []byte(tt.line)
			buf := make([]byte, 0, 4096)
			allocs := testing.AllocsPerRun(100, func() {
				buf, _ = c.AppendLine(buf[:0], line, 4096, 4200)
			})
			// Invalid lines allocate their *SyntaxError; valid ones nothing.
			want := 0.0
			if strings.HasPrefix(tt.line, "not json") {
				want = 1
			}
			if allocs != want {
				t.Fatalf("Append allocates %v times per line, want %v", allocs, want)
			}
		})
	}
}
