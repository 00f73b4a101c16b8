package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kinetail/kinetail/config"
)

func headerChain(t testing.TB, delim, onError string) *Chain {
	t.Helper()
	return mustChain(t, &config.Transform{CSVToJSON: &config.CSVToJSON{Header: true, Delimiter: delim, OnError: onError}})
}

func TestCSVHeader(t *testing.T) {
	tests := []struct {
		name   string
		delim  string
		header string
		in     string
		want   string
	}{
		{"names from the header", "", "time,host,status", "t1,web1,200", `{"time":"t1","host":"web1","status":"200"}`},
		{"missing column is null", "", "a,b,c", "1,2", `{"a":"1","b":"2","c":null}`},
		{"extra column dropped", "", "a,b", "1,2,3", `{"a":"1","b":"2"}`},
		{"empty name is positional", "", "a,,c", "1,2,3", `{"a":"1","_2":"2","c":"3"}`},
		{"duplicate name is positional", "", "a,b,a,a", "1,2,3,4", `{"a":"1","b":"2","_3":"3","_4":"4"}`},
		{"all names empty", "", ",,", "1,2,3", `{"_1":"1","_2":"2","_3":"3"}`},
		{"empty header line gives one column", "", "", "1,2", `{"_1":"1"}`},
		{"real name taken by a positional one", "", ",_1", "1,2", `{"_1":"1","_2":"2"}`},
		{"positional name taken by a real one", "", "_2,,_2", "1,2,3", `{"_2":"1","__2":"2","_3":"3"}`},
		{"quoted names", "", `"x,y","say ""hi""",""`, "1,2,3", `{"x,y":"1","say \"hi\"":"2","_3":"3"}`},
		{"names escaped", "", "we\"ird,tab\there", "1,2", `{"we\"ird":"1","tab\there":"2"}`},
		{"spaces in names kept", "", " a ,b", "1,2", `{" a ":"1","b":"2"}`},
		{"byte order mark and CR stripped", "", "\xEF\xBB\xBFa,b\r", "1,2\r", `{"a":"1","b":"2"}`},
		{"names equal once encoded are duplicates", "", "\xff,\xfe", "1,2", "{\"\uFFFD\":\"1\",\"_2\":\"2\"}"},
		{"tab delimiter", "\t", "a,b\tc", "1,2\t3", `{"a,b":"1,2","c":"3"}`},
		{"multi-byte delimiter", "¦", "a¦b", "1¦2", `{"a":"1","b":"2"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := headerChain(t, tt.delim, config.OnErrorDrop)
			c.SetHeader([]byte(tt.header))
			got, keep := c.Append(nil, []byte(tt.in))
			if !keep || string(got) != tt.want {
				t.Fatalf("Append(%q) with header %q = %s, %v (error %v); want %s, true", tt.in, tt.header, got, keep, c.LastError(), tt.want)
			}
			if !json.Valid(got) {
				t.Fatalf("output %q is not valid JSON", got)
			}
		})
	}
}

// TestCSVHeaderLong checks the names of headers longer than the ones
// checked for duplicates by comparison.
func TestCSVHeaderLong(t *testing.T) {
	tests := []struct {
		name   string
		header func(i int) string // the name of column i
		want   func(i int) string
	}{
		{"unique", func(i int) string { return fmt.Sprintf("c%d", i) }, func(i int) string { return fmt.Sprintf("c%d", i) }},
		{"all the same", func(int) string { return "x" }, func(i int) string {
			if i == 0 {
				return "x"
			}
			return fmt.Sprintf("_%d", i+1)
		}},
		{"late duplicates of early names", func(i int) string { return fmt.Sprintf("c%d", i%150) }, func(i int) string {
			if i < 150 {
				return fmt.Sprintf("c%d", i)
			}
			return fmt.Sprintf("_%d", i+1)
		}},
		{"late real name equals a positional one", func(i int) string {
			switch {
			case i == 100:
				return ""
			case i == 120:
				return "_101"
			}
			return fmt.Sprintf("c%d", i)
		}, func(i int) string {
			switch {
			case i == 100:
				return "_101"
			case i == 120:
				return "_121"
			}
			return fmt.Sprintf("c%d", i)
		}},
	}
	const n = 200
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header, line []string
			for i := range n {
				header = append(header, tt.header(i))
				line = append(line, fmt.Sprint(i))
			}
			c := headerChain(t, "", config.OnErrorDrop)
			c.SetHeader([]byte(strings.Join(header, ",")))
			got, keep := c.Append(nil, []byte(strings.Join(line, ",")))
			if !keep {
				t.Fatalf("line dropped: %v", c.LastError())
			}
			keys := objectKeys(t, got)
			if len(keys) != n {
				t.Fatalf("got %d keys, want %d", len(keys), n)
			}
			for i, k := range keys {
				if k != tt.want(i) {
					t.Fatalf("key %d = %q, want %q", i, k, tt.want(i))
				}
			}
		})
	}
}

// objectKeys returns the keys of a JSON object in order, and fails if one
// is there twice.
func objectKeys(t testing.TB, obj []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%q: not an object: %v %v", obj, tok, err)
	}
	var keys []string
	seen := map[string]bool{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("%q: %v", obj, err)
		}
		k := tok.(string)
		if seen[k] {
			t.Fatalf("%q: key %q twice", obj, k)
		}
		seen[k] = true
		keys = append(keys, k)
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%q: %v", obj, err)
		}
	}
	return keys
}

// TestCSVHeaderFiles follows one chain through batches of several files, as
// a flow sees them.
func TestCSVHeaderFiles(t *testing.T) {
	h1 := []byte("a,b")
	h2 := []byte("x,y,z")
	steps := []struct {
		name   string
		header []byte
		line   string
		first  bool
		want   string // "" when the line gives no record
	}{
		{"no header yet", nil, "1,2", false, `{"raw":"1,2","error":"csv_to_json: no header line yet"}`},
		{"header line is not sent", h1, "a,b", true, ""},
		{"line of the first file", h1, "1,2", false, `{"a":"1","b":"2"}`},
		{"line of a file with another header", h2, "1,2", false, `{"x":"1","y":"2","z":null}`},
		{"back to the first file", h1, "3,4", false, `{"a":"3","b":"4"}`},
		{"a file whose header is not known", nil, "5,6", false, `{"raw":"5,6","error":"csv_to_json: no header line yet"}`},
		{"an equal header in another slice", []byte("a,b"), "7,8", false, `{"a":"7","b":"8"}`},
		{"first line is the header whatever it holds", []byte("p,q"), "not,the,header", true, ""},
		{"header that is not valid CSV", []byte(`a,"b`), "1,2", false,
			`{"raw":"1,2","error":"csv_to_json: invalid header line: unterminated quoted field at offset 2"}`},
		{"offset counts the byte order mark", []byte("\xEF\xBB\xBF\"a\"b,c"), "1,2", false,
			`{"raw":"1,2","error":"csv_to_json: invalid header line: text after closing quote at offset 6"}`},
		{"offset is in the line as read", []byte("a,\"b\r"), "1,2", false,
			`{"raw":"1,2","error":"csv_to_json: invalid header line: unterminated quoted field at offset 2"}`},
		{"invalid header seen again", []byte(`a,"b`), "1,2", false,
			`{"raw":"1,2","error":"csv_to_json: invalid header line: unterminated quoted field at offset 2"}`},
		{"good header after an invalid one", h2, "1", false, `{"x":"1","y":null,"z":null}`},
	}
	c := headerChain(t, "", "")
	for _, s := range steps {
		c.SetHeader(s.header)
		got, keep := c.AppendLine([]byte("kept"), []byte(s.line), firstAt(s.first), 1)
		want := "kept" + s.want
		if keep != (s.want != "") || string(got) != want {
			t.Fatalf("%s: AppendLine(%q, %v) = %s, %v; want %s, %v", s.name, s.line, s.first, got, keep, want, s.want != "")
		}
	}
	want := Stats{Lines: 13, Records: 11, Header: 2, Invalid: 6, Wrapped: 6}
	if s := c.Stats(); s != want {
		t.Fatalf("Stats() = %+v, want %+v", s, want)
	}
	var se *SyntaxError
	if err := c.LastError(); !errors.As(err, &se) || se.Offset != -1 {
		t.Fatalf("LastError() = %#v, want a *SyntaxError with offset -1", err)
	}
}

func TestCSVHeaderPolicies(t *testing.T) {
	tests := []struct {
		onError string
		keep    bool
		want    string
		stats   Stats
	}{
		{config.OnErrorDrop, false, "", Stats{Lines: 1, Invalid: 1, Dropped: 1}},
		{config.OnErrorPass, true, "1,2", Stats{Lines: 1, Records: 1, Invalid: 1, Passed: 1}},
		{config.OnErrorWrap, true, `{"raw":"1,2","error":"csv_to_json: no header line yet"}`, Stats{Lines: 1, Records: 1, Invalid: 1, Wrapped: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.onError, func(t *testing.T) {
			c := headerChain(t, "", tt.onError)
			c.SetHeader(nil)
			got, keep := c.Append(nil, []byte("1,2"))
			if keep != tt.keep || string(got) != tt.want {
				t.Fatalf("Append = %q, %v; want %q, %v", got, keep, tt.want, tt.keep)
			}
			if err := c.LastError(); err == nil || err.Error() != "csv_to_json: no header line yet" {
				t.Fatalf("LastError() = %v, want csv_to_json: no header line yet", err)
			}
			if s := c.Stats(); s != tt.stats {
				t.Fatalf("Stats() = %+v, want %+v", s, tt.stats)
			}
		})
	}
}

// TestAppendLineFirst checks that only chains with a header-mode CSV step
// treat a file's first line specially.
func TestAppendLineFirst(t *testing.T) {
	tests := []struct {
		name  string
		cfgs  []*config.Transform
		line  string
		want  string
		stats Stats
	}{
		{"raw", nil, "a,b", "a,b", Stats{Lines: 1, Records: 1}},
		{"csv with fields", []*config.Transform{{CSVToJSON: &config.CSVToJSON{Fields: []string{"x", "y"}}}}, "a,b",
			`{"x":"a","y":"b"}`, Stats{Lines: 1, Records: 1}},
		{"json", []*config.Transform{{JSON: &config.JSON{}}}, `{"a": 1}`, `{"a":1}`, Stats{Lines: 1, Records: 1}},
		{"csv with header after singleline", []*config.Transform{{Singleline: &config.Singleline{}}, {CSVToJSON: &config.CSVToJSON{Header: true}}},
			"a,b", "", Stats{Lines: 1, Header: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, tt.cfgs...)
			c.SetHeader([]byte("h1,h2")) // ignored unless a step has header: true
			got, keep := c.AppendLine(nil, []byte(tt.line), 0, 1)
			if keep != (tt.want != "") || string(got) != tt.want {
				t.Fatalf("AppendLine(%q, true) = %q, %v; want %q", tt.line, got, keep, tt.want)
			}
			if s := c.Stats(); s != tt.stats {
				t.Fatalf("Stats() = %+v, want %+v", s, tt.stats)
			}
		})
	}
}

func TestCSVHeaderConfig(t *testing.T) {
	_, err := New([]*config.Transform{{CSVToJSON: &config.CSVToJSON{Header: true, Fields: []string{"a"}}}})
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("New(header and fields) error = %v, want one saying not both", err)
	}
	if _, err := New([]*config.Transform{{CSVToJSON: &config.CSVToJSON{Header: true, Delimiter: "\t"}}}); err != nil {
		t.Fatalf("New(header) error = %v", err)
	}
}

// TestCSVHeaderNoAllocs checks that switching between files' headers and
// converting their lines allocates nothing once the buffers have grown.
func TestCSVHeaderNoAllocs(t *testing.T) {
	h1 := []byte("time,host,method,path,status,bytes,agent")
	h1copy := bytes.Clone(h1)
	h2 := []byte(`ts,"ip",,verb,ts`)
	line := []byte(benchCSVLine)
	tests := []struct {
		name    string
		onError string
		headers [][]byte
		want    float64
	}{
		{"same header", "", [][]byte{h1}, 0},
		{"equal headers in two slices", "", [][]byte{h1, h1copy}, 0},
		{"two headers", "", [][]byte{h1, h2}, 0},
		{"no header, dropped", config.OnErrorDrop, [][]byte{nil}, 0},
		{"no header, wrapped", config.OnErrorWrap, [][]byte{nil, h1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := headerChain(t, "", tt.onError)
			buf := make([]byte, 0, 4096)
			run := func() {
				for _, h := range tt.headers {
					c.SetHeader(h)
					buf, _ = c.AppendLine(buf[:0], h, 0, 1)
					buf, _ = c.Append(buf[:0], line)
				}
			}
			run()
			if allocs := testing.AllocsPerRun(100, run); allocs != tt.want {
				t.Fatalf("%d header switches and lines allocate %v times, want %v", len(tt.headers), allocs, tt.want)
			}
			if s := c.Stats(); s.Header == 0 || s.Lines != 2*s.Header {
				t.Fatalf("Stats() = %+v, want one header line per line", s)
			}
		})
	}
}

// firstAt is the start offset of a line that is (or is not) a file's first.
func firstAt(first bool) int64 {
	if first {
		return 0
	}
	return 100
}
