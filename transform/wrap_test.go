package transform

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinetail/kinetail/config"
)

// TestWrapAnnotated runs lines through chains where a step wraps some of
// them, and checks which later steps run on the wrapped records. Line i
// starts at offset 100*i of testSource.
func TestWrapAnnotated(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	hostJSON := string(AppendJSONString(nil, []byte(host)))
	const pathJSON = `"/var/log/app \"1\".log"`
	id := func(start string) string { return `"` + testRecordHash + `-` + start + `"` }
	// meta is add_metadata's record for rec.
	meta := func(rec string) string {
		return `{"metadata":{"app":"web"},"data":` + string(AppendJSONString(nil, []byte(rec))) + `}`
	}

	jsonWrap := &config.Transform{JSON: &config.JSON{}}
	csvWrap := &config.Transform{CSVToJSON: &config.CSVToJSON{Fields: []string{"a", "b"}}}
	annotate := &config.Transform{Fields: &config.Fields{RecordID: "id", Path: "path", Offset: "offset", Host: "host",
		Add: map[string]string{"env": "prod"}}}
	addMeta := &config.Transform{AddMetadata: &config.AddMetadata{Metadata: map[string]any{"app": "web"}}}
	dropAll := &config.Transform{Filter: &config.Filter{Condition: config.Condition{LineMatches: "."}}}
	keepErrors := &config.Transform{Filter: &config.Filter{Action: "keep", Condition: config.Condition{Field: "level", Equals: "error"}}}
	redactEmail := &config.Transform{Redact: &config.Redact{Patterns: []string{"email"}}}
	const jsonErr = `"error":"json: invalid literal at offset 0"`

	tests := []struct {
		name  string
		cfgs  []*config.Transform
		lines []string
		want  []string // one per kept line
		stats Stats
	}{
		{
			name:  "json wraps, fields adds id, path, offset, host and constants as to valid lines",
			cfgs:  []*config.Transform{jsonWrap, annotate},
			lines: []string{`{"a":1}`, "nope", `{"a":2}`},
			want: []string{
				`{"a":1,"env":"prod","host":` + hostJSON + `,"path":` + pathJSON + `,"offset":0,"id":` + id("0") + `}`,
				`{"raw":"nope",` + jsonErr + `,"env":"prod","host":` + hostJSON + `,"path":` + pathJSON + `,"offset":100,"id":` + id("100") + `}`,
				`{"a":2,"env":"prod","host":` + hostJSON + `,"path":` + pathJSON + `,"offset":200,"id":` + id("200") + `}`,
			},
			stats: Stats{Lines: 3, Records: 3, Invalid: 1, Wrapped: 1},
		},
		{
			name:  "csv_to_json wraps, fields and add_metadata annotate",
			cfgs:  []*config.Transform{csvWrap, annotate, addMeta},
			lines: []string{`"x,1`},
			want: []string{meta(`{"raw":"\"x,1","error":"csv_to_json: unterminated quoted field at offset 0","env":"prod","host":` + hostJSON +
				`,"path":` + pathJSON + `,"offset":0,"id":` + id("0") + `}`)},
			stats: Stats{Lines: 1, Records: 1, Invalid: 1, Wrapped: 1},
		},
		{
			name:  "fields after add_metadata annotates its object",
			cfgs:  []*config.Transform{jsonWrap, addMeta, &config.Transform{Fields: &config.Fields{Offset: "offset"}}},
			lines: []string{"nope"},
			want:  []string{strings.TrimSuffix(meta(`{"raw":"nope",`+jsonErr+`}`), "}") + `,"offset":0}`},
			stats: Stats{Lines: 1, Records: 1, Invalid: 1, Wrapped: 1},
		},
		{
			name:  "a filter after a wrap does not drop the wrapped record",
			cfgs:  []*config.Transform{jsonWrap, dropAll, keepErrors, &config.Transform{Fields: &config.Fields{Offset: "offset"}}},
			lines: []string{`{"level":"error"}`, "nope", `{"level":"info"}`},
			want:  []string{`{"raw":"nope",` + jsonErr + `,"offset":100}`},
			stats: Stats{Lines: 3, Records: 1, Invalid: 1, Wrapped: 1, Filtered: 2},
		},
		{
			name: "parsers after a wrap are skipped",
			cfgs: []*config.Transform{jsonWrap, {Singleline: &config.Singleline{}}, csvWrap, {Logfmt: &config.Logfmt{}},
				{Regex: &config.Regex{Pattern: `^(?P<x>z)$`}}, {LogToJSON: &config.LogToJSON{Format: "syslog"}}, jsonWrap},
			lines: []string{"nope"},
			want:  []string{`{"raw":"nope",` + jsonErr + `}`},
			stats: Stats{Lines: 1, Records: 1, Invalid: 1, Wrapped: 1},
		},
		{
			name:  "a later parser's on_error: drop does not drop a wrapped record",
			cfgs:  []*config.Transform{jsonWrap, {JSON: &config.JSON{OnError: config.OnErrorDrop}}},
			lines: []string{"nope"},
			want:  []string{`{"raw":"nope",` + jsonErr + `}`},
			stats: Stats{Lines: 1, Records: 1, Invalid: 1, Wrapped: 1},
		},
		{
			name:  "redact after a wrap masks the raw line",
			cfgs:  []*config.Transform{jsonWrap, redactEmail},
			lines: []string{"mail a@example.com"},
			want:  []string{`{"raw":"mail ****","error":"json: invalid character looking for a value at offset 0"}`},
			stats: Stats{Lines: 1, Records: 1, Invalid: 1, Wrapped: 1},
		},
		{
			name:  "redact before the failing step is applied to the raw line",
			cfgs:  []*config.Transform{redactEmail, {Singleline: &config.Singleline{}}, redactEmail, jsonWrap},
			lines: []string{`  {"to":"a@example.com", `, `{"to":"b@example.com"}`},
			want:  []string{`{"raw":"  {\"to\":\"****\", ","error":"json: want string for object key at offset 13"}`, `{"to":"****"}`},
			stats: Stats{Lines: 2, Records: 2, Invalid: 1, Wrapped: 1},
		},
		{
			name: "fields does not rename, remove, keep or convert in a wrapped record",
			cfgs: []*config.Transform{jsonWrap, {Fields: &config.Fields{Keep: []string{"a"}, Rename: map[string]string{"error": "e"},
				Remove: []string{"raw"}, Types: map[string]string{"offset": "int"}, Offset: "offset"}}},
			lines: []string{"nope", `{"a":1,"b":2}`},
			want:  []string{`{"raw":"nope",` + jsonErr + `,"offset":0}`, `{"a":1,"offset":100}`},
			stats: Stats{Lines: 2, Records: 2, Invalid: 1, Wrapped: 1},
		},
		{
			name: "added fields named raw or error are left out of a wrapped record",
			cfgs: []*config.Transform{jsonWrap, {Fields: &config.Fields{Add: map[string]string{"raw": "x", "env": "prod"},
				Offset: "error", Path: "path"}}},
			lines: []string{"nope", `{"raw":1,"error":2}`},
			want: []string{`{"raw":"nope",` + jsonErr + `,"env":"prod","path":` + pathJSON + `}`,
				`{"env":"prod","raw":"x","path":` + pathJSON + `,"error":100}`},
			stats: Stats{Lines: 2, Records: 2, Invalid: 1, Wrapped: 1},
		},
		{
			name:  "an added field replaces a member of a wrapped record of its name",
			cfgs:  []*config.Transform{jsonWrap, addMeta, &config.Transform{Fields: &config.Fields{Add: map[string]string{"metadata": "m"}}}},
			lines: []string{"nope"},
			want:  []string{`{"data":` + string(AppendJSONString(nil, []byte(`{"raw":"nope",`+jsonErr+`}`))) + `,"metadata":"m"}`},
			stats: Stats{Lines: 1, Records: 1, Invalid: 1, Wrapped: 1},
		},
		{
			name:  "fields rejecting a line that is not an object annotates its wrapped record",
			cfgs:  []*config.Transform{annotate, addMeta},
			lines: []string{"plain"},
			want: []string{meta(`{"raw":"plain","error":"fields: not a JSON object at offset 0","env":"prod","host":` + hostJSON +
				`,"path":` + pathJSON + `,"offset":0,"id":` + id("0") + `}`)},
			stats: Stats{Lines: 1, Records: 1, Invalid: 1, Wrapped: 1},
		},
		{
			name:  "a filter that wraps a line does not run again",
			cfgs:  []*config.Transform{keepErrors, annotate},
			lines: []string{"plain"},
			want: []string{`{"raw":"plain","error":"filter: not a JSON object at offset 0","env":"prod","host":` + hostJSON +
				`,"path":` + pathJSON + `,"offset":0,"id":` + id("0") + `}`},
			stats: Stats{Lines: 1, Records: 1, Invalid: 1, Wrapped: 1},
		},
		{
			name:  "on_error: pass sends the line and ends the chain",
			cfgs:  []*config.Transform{{JSON: &config.JSON{OnError: config.OnErrorPass}}, annotate, addMeta},
			lines: []string{"nope"},
			want:  []string{"nope"},
			stats: Stats{Lines: 1, Records: 1, Invalid: 1, Passed: 1},
		},
		{
			name:  "on_error: drop sends nothing",
			cfgs:  []*config.Transform{{JSON: &config.JSON{OnError: config.OnErrorDrop}}, annotate, addMeta},
			lines: []string{"nope"},
			stats: Stats{Lines: 1, Invalid: 1, Dropped: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, tt.cfgs...)
			c.SetSource(testSource)
			// All records go into one buffer, as the agent batches them.
			var buf []byte
			var ends []int
			for i, line := range tt.lines {
				start := int64(100 * i)
				var keep bool
				if buf, keep = c.AppendLine(buf, []byte(line), start, start+int64(len(line))+1); keep {
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
			for _, rec := range got {
				if rec != "nope" && !json.Valid([]byte(rec)) {
					t.Fatalf("invalid JSON: %s", rec)
				}
			}
			if s := c.Stats(); s != tt.stats {
				t.Fatalf("Stats() = %+v, want %+v", s, tt.stats)
			}
		})
	}
}

// A wrapped record's record_id is the one a valid line at the same place
// in a real file gets.
func TestWrapRecordIDAsValid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	content := []byte(`{"n":1}` + "\n" + `{"n":` + "\n" + strings.Repeat("x", 2000) + "\n")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	src := openSource(t, path)
	ids := &config.Fields{RecordID: "id", Offset: "offset"}
	// The same lines through a chain that takes each as valid and one
	// that wraps all but the first.
	valid := mustChain(t, &config.Transform{Fields: ids})
	wrapping := mustChain(t, &config.Transform{JSON: &config.JSON{}}, &config.Transform{Fields: ids})
	var start int64
	for n, line := range strings.SplitAfter(string(content), "\n")[:3] {
		end := start + int64(len(line))
		want := wantRecordID(t, path, content, start, end)
		var recs [2]struct {
			ID     string
			Offset int64
			Raw    *string
		}
		for i, c := range []*Chain{valid, wrapping} {
			c.SetSource(src)
			c.SetPrefix(content[:min(len(content), 1024)])
			// The valid chain gets an object for every line, as if the
			// line had parsed.
			in := strings.TrimSuffix(line, "\n")
			if c == valid {
				in = `{}`
			}
			out, keep := c.AppendLine(nil, []byte(in), start, end)
			if err := json.Unmarshal(out, &recs[i]); !keep || err != nil {
				t.Fatalf("line %d: record %s, %v: %v", n, out, keep, err)
			}
		}
		if recs[0].ID != want || recs[1].ID != want || recs[1].Offset != start {
			t.Errorf("line %d: valid id %s, wrapped id %s at offset %d; want %s at %d", n, recs[0].ID, recs[1].ID, recs[1].Offset, want, start)
		}
		if (n > 0) != (recs[1].Raw != nil) || n > 0 && *recs[1].Raw+"\n" != line {
			t.Errorf("line %d: raw %v", n, recs[1].Raw)
		}
		start = end
	}
	if s := wrapping.Stats(); s.Wrapped != 2 {
		t.Fatalf("Stats() = %+v, want 2 wrapped", s)
	}
}

// reject is a step that rejects every input, also a wrapped record.
type reject struct{}

var errReject = errors.New("rejected")

func (reject) Append(dst, _ []byte) ([]byte, error) { return dst, errReject }

// A step that rejects a wrapped record is skipped: the record is not
// wrapped again, and keeps its first error.
func TestWrapOnce(t *testing.T) {
	for _, at := range []string{"middle", "last"} {
		t.Run(at, func(t *testing.T) {
			c := mustChain(t, &config.Transform{JSON: &config.JSON{}}, &config.Transform{Fields: &config.Fields{Offset: "offset"}})
			r := step{p: reject{}, onWrapped: reject{}}
			if at == "middle" {
				c.steps = []step{c.steps[0], r, c.steps[1]}
			} else {
				c.steps = append(c.steps, r)
			}
			got, keep := c.AppendLine([]byte("prev|"), []byte("nope"), 7, 12)
			want := `prev|{"raw":"nope","error":"json: invalid literal at offset 0","offset":7}`
			if !keep || string(got) != want {
				t.Fatalf("got %s, %v; want %s", got, keep, want)
			}
			if err := c.LastError(); err == nil || err.Error() != "json: invalid literal at offset 0" {
				t.Fatalf("LastError() = %v", err)
			}
			if s := c.Stats(); s != (Stats{Lines: 1, Records: 1, Invalid: 1, Wrapped: 1}) {
				t.Fatalf("Stats() = %+v", s)
			}
		})
	}
}
