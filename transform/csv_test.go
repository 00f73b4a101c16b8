package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kinetail/kinetail/config"
)

func TestCSVToJSON(t *testing.T) {
	abc := []string{"a", "b", "c"}
	tests := []struct {
		name   string
		fields []string
		delim  string
		in     string
		want   string
	}{
		// The Kinesis Agent documentation's cases.
		{"missing column is null", abc, "", "1,2", `{"a":"1","b":"2","c":null}`},
		{"extra column dropped", abc, "", "1,2,3,4", `{"a":"1","b":"2","c":"3"}`},
		{"exact columns", abc, "", "1,2,3", `{"a":"1","b":"2","c":"3"}`},

		{"empty line has one empty column", abc, "", "", `{"a":"","b":null,"c":null}`},
		{"empty columns", abc, "", ",,", `{"a":"","b":"","c":""}`},
		{"trailing delimiter gives an empty column", abc, "", "1,2,", `{"a":"1","b":"2","c":""}`},
		{"trailing CR stripped", abc, "", "1,2,3\r", `{"a":"1","b":"2","c":"3"}`},
		{"only one trailing CR stripped", abc, "", "1,2,3\r\r", `{"a":"1","b":"2","c":"3\r"}`},
		{"no type inference", abc, "", "007,true,null", `{"a":"007","b":"true","c":"null"}`},
		{"spaces kept", abc, "", " 1 , 2 ,3 ", `{"a":" 1 ","b":" 2 ","c":"3 "}`},

		{"quoted field holds delimiter", abc, "", `1,"x,y",3`, `{"a":"1","b":"x,y","c":"3"}`},
		{"doubled quotes", abc, "", `"say ""hi""",2,3`, `{"a":"say \"hi\"","b":"2","c":"3"}`},
		{"only a doubled quote", abc, "", `"""",2`, `{"a":"\"","b":"2","c":null}`},
		{"empty quoted field", abc, "", `"",2,""`, `{"a":"","b":"2","c":""}`},
		{"quoted field holds line break", abc, "", "\"x\ny\",2", `{"a":"x\ny","b":"2","c":null}`},
		{"quoted last field", abc, "", `1,2,"3"`, `{"a":"1","b":"2","c":"3"}`},
		{"quoted last field then CR", abc, "", "1,2,\"3\"\r", `{"a":"1","b":"2","c":"3"}`},
		{"bare quote inside unquoted field is literal", abc, "", `5" screen,2,3`, `{"a":"5\" screen","b":"2","c":"3"}`},
		{"space before quote makes it unquoted", abc, "", `1, "x",3`, `{"a":"1","b":" \"x\"","c":"3"}`},
		{"quoted extra column", abc, "", `1,2,3,"4,5"`, `{"a":"1","b":"2","c":"3"}`},

		{"tab delimiter", abc, "\t", "1\t2,x\t3", `{"a":"1","b":"2,x","c":"3"}`},
		{"pipe delimiter", abc, "|", `1|"a|b"|3`, `{"a":"1","b":"a|b","c":"3"}`},
		{"multi-byte delimiter", abc, "¦", "1¦2¦3", `{"a":"1","b":"2","c":"3"}`},

		{"control characters escaped", abc, "", "a\x01,b\tc", `{"a":"a\u0001","b":"b\tc","c":null}`},
		{"invalid UTF-8 replaced", abc, "", "\xff,caf\xc3,ok", "{\"a\":\"\uFFFD\",\"b\":\"caf\uFFFD\",\"c\":\"ok\"}"},
		{"valid UTF-8 kept", abc, "", "héllo,世界,🙂", `{"a":"héllo","b":"世界","c":"🙂"}`},
		{"field names escaped", []string{`we"ird`, "new\nline"}, "", "1,2", `{"we\"ird":"1","new\nline":"2"}`},
		{"single field", []string{"msg"}, "", "a,b", `{"msg":"a"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, &config.Transform{CSVToJSON: &config.CSVToJSON{Fields: tt.fields, Delimiter: tt.delim}})
			got, keep := c.Append(nil, []byte(tt.in))
			if !keep || string(got) != tt.want {
				t.Fatalf("Append(%q) = %s, %v; want %s, true", tt.in, got, keep, tt.want)
			}
			if !json.Valid(got) {
				t.Fatalf("output %q is not valid JSON", got)
			}
			if s := c.Stats(); s.Invalid != 0 {
				t.Fatalf("Stats().Invalid = %d, want 0", s.Invalid)
			}
		})
	}
}

func TestCSVToJSONInvalid(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		msg    string
		offset int
	}{
		{"unterminated quote", `1,"abc`, "unterminated quoted field", 2},
		{"unterminated after doubled quote", `"a""`, "unterminated quoted field", 0},
		{"lone quote", `"`, "unterminated quoted field", 0},
		{"unterminated quote in an extra column", `1,2,3,"4`, "unterminated quoted field", 6},
		{"text after closing quote", `"ab"c,2`, "text after closing quote", 4},
		{"CR inside does not close quote", "\"ab\r", "unterminated quoted field", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, &config.Transform{CSVToJSON: &config.CSVToJSON{Fields: []string{"a", "b", "c"}, OnError: config.OnErrorDrop}})
			got, keep := c.Append([]byte("kept"), []byte(tt.in))
			if keep || string(got) != "kept" {
				t.Fatalf("Append(%q) = %q, %v; want dst unchanged, false", tt.in, got, keep)
			}
			var se *SyntaxError
			if err := c.LastError(); !errors.As(err, &se) {
				t.Fatalf("LastError() = %v, want *SyntaxError", err)
			}
			if se.Transform != "csv_to_json" || se.Msg != tt.msg || se.Offset != tt.offset {
				t.Fatalf("LastError() = %+v, want csv_to_json %q at %d", se, tt.msg, tt.offset)
			}
		})
	}
}

func TestCSVToJSONConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  config.CSVToJSON
		want string
	}{
		{"no fields", config.CSVToJSON{}, "at least one field"},
		{"duplicate field", config.CSVToJSON{Fields: []string{"a", "b", "a"}}, `duplicate field name "a"`},
		{"long delimiter", config.CSVToJSON{Fields: []string{"a"}, Delimiter: ",,"}, "want one character"},
		{"invalid UTF-8 delimiter", config.CSVToJSON{Fields: []string{"a"}, Delimiter: "\xff"}, "want one character"},
		{"quote delimiter", config.CSVToJSON{Fields: []string{"a"}, Delimiter: `"`}, "cannot be a delimiter"},
		{"newline delimiter", config.CSVToJSON{Fields: []string{"a"}, Delimiter: "\n"}, "cannot be a delimiter"},
		{"bad policy", config.CSVToJSON{Fields: []string{"a"}, OnError: "ignore"}, `on_error "ignore"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New([]*config.Transform{{CSVToJSON: &tt.cfg}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New() error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func FuzzCSV(f *testing.F) {
	for _, s := range []string{"1,2", "1,2,3,4", `"a,b",""""`, `"unterminated`, "\xff,\x00", "a\tb\r", `"x"y`, ""} {
		f.Add([]byte(s), []byte("a,b,c"), false, false)
		f.Add([]byte(s), []byte("a\tb\tc"), true, false)
		f.Add([]byte(s), []byte(s), false, true)
		f.Add([]byte(s), []byte(s), true, true)
	}
	f.Add([]byte("1,2,3"), []byte("\xEF\xBB\xBF_2,,_2,\xff,\xfe\r"), false, true)
	comma := mustChainF(f, &config.Transform{CSVToJSON: &config.CSVToJSON{Fields: []string{"a", "b", "c"}}})
	tab := mustChainF(f, &config.Transform{CSVToJSON: &config.CSVToJSON{Fields: []string{"a", "b", "c"}, Delimiter: "\t"}})
	hcomma := mustChainF(f, &config.Transform{CSVToJSON: &config.CSVToJSON{Header: true}})
	htab := mustChainF(f, &config.Transform{CSVToJSON: &config.CSVToJSON{Header: true, Delimiter: "\t"}})
	f.Fuzz(func(t *testing.T, line, header []byte, useTab, headerMode bool) {
		c, delim := comma, ","
		switch {
		case headerMode && useTab:
			c, delim = htab, "\t"
		case headerMode:
			c = hcomma
		case useTab:
			c, delim = tab, "\t"
		}
		if headerMode {
			// The chain keeps the header, and the fuzzer reuses its
			// arguments' memory.
			h := bytes.Clone(header)
			c.SetHeader(h)
			before := c.Stats()
			if out, keep := c.AppendLine([]byte("x"), h, 0, int64(len(h)+1)); keep || string(out) != "x" {
				t.Fatalf("header line %q gave a record %q", h, out)
			}
			if s := c.Stats(); s.Header != before.Header+1 || s.Records != before.Records {
				t.Fatalf("header line counted as %+v after %+v", s, before)
			}
		}
		before := c.Stats()
		out, keep := c.Append(nil, line)
		if !keep {
			t.Fatalf("wrap policy dropped %q", line)
		}
		if !json.Valid(out) {
			t.Fatalf("Append(%q) = %q: not valid JSON", line, out)
		}
		var obj map[string]any
		if err := json.Unmarshal(out, &obj); err != nil {
			t.Fatalf("unmarshal %q: %v", out, err)
		}
		if c.Stats().Wrapped > before.Wrapped {
			if _, ok := obj["raw"]; !ok {
				t.Fatalf("wrapped record %q has no raw", out)
			}
			return
		}
		for k, v := range obj {
			if _, ok := v.(string); !ok && v != nil {
				t.Fatalf("record %q: value of %q is %v, want a string or null", out, k, v)
			}
		}
		if !headerMode {
			if len(obj) != 3 || obj["a"] == nil {
				t.Fatalf("record %q: want keys a, b, c with a set", out)
			}
			return
		}
		keys := objectKeys(t, out) // fails on a key given twice
		if obj[keys[0]] == nil {
			t.Fatalf("record %q: first column is null", out)
		}
		if bytes.IndexByte(header, '"') >= 0 {
			return // quoted names: the split is checked by the cases above
		}
		h := strings.TrimSuffix(strings.TrimPrefix(string(header), "\xEF\xBB\xBF"), "\r")
		cols := strings.Split(h, delim)
		if len(keys) != len(cols) {
			t.Fatalf("header %q has %d columns, record %q has %d keys", header, len(cols), out, len(keys))
		}
		for i, k := range keys {
			positional := strings.HasPrefix(k, "_") && strings.HasSuffix(k, "_"+strconv.Itoa(i+1)) && strings.Trim(k[:len(k)-len(strconv.Itoa(i+1))], "_") == ""
			if k != cols[i] && !positional && utf8.ValidString(cols[i]) {
				t.Fatalf("header %q: key %d is %q, want %q or a positional name", header, i, k, cols[i])
			}
		}
	})
}

func mustChain(t testing.TB, cfgs ...*config.Transform) *Chain {
	t.Helper()
	c, err := New(cfgs)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustChainF(f *testing.F, cfgs ...*config.Transform) *Chain {
	return mustChain(f, cfgs...)
}
