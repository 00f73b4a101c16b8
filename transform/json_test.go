package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kinetail/kinetail/config"
)

func TestJSONValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"compact object unchanged", `{"a":1,"b":[true,false,null]}`, `{"a":1,"b":[true,false,null]}`},
		{"whitespace removed", " {\t\"a\" : 1 ,\r\n \"b\" : [ 1 , 2 ] } ", `{"a":1,"b":[1,2]}`},
		{"spaces in strings kept", `{"a b" : " c  d "}`, `{"a b":" c  d "}`},
		{"escapes kept as written", `["\u00e9\n\"\\\/\b\f\r\t\uD83D\uDE00"]`, `["\u00e9\n\"\\\/\b\f\r\t\uD83D\uDE00"]`},
		{"UTF-8 kept", `{"k":"héllo 世界 🙂"}`, `{"k":"héllo 世界 🙂"}`},
		{"empty containers", `{ "a" : { } , "b" : [ ] }`, `{"a":{},"b":[]}`},
		{"nested", `[[[{"a":[{}]}]]]`, `[[[{"a":[{}]}]]]`},
		{"top-level string", ` "x" `, `"x"`},
		{"top-level number", `-12.5e+3`, `-12.5e+3`},
		{"top-level literal", "null", "null"},
		{"zero", "0", "0"},
		{"numbers", `[0,-0,1.0,1e5,1E-5,123456789012345678901234567890]`, `[0,-0,1.0,1e5,1E-5,123456789012345678901234567890]`},
		{"duplicate keys kept", `{"a":1,"a":2}`, `{"a":1,"a":2}`},
		{"DEL in string", "\"\x7f\"", "\"\x7f\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, &config.Transform{JSON: &config.JSON{}})
			got, keep := c.Append([]byte("p"), []byte(tt.in))
			if !keep || string(got) != "p"+tt.want {
				t.Fatalf("Append(%q) = %q, %v; want %q, true", tt.in, got, keep, "p"+tt.want)
			}
			if !json.Valid(got[1:]) {
				t.Fatalf("output %q is not valid JSON", got[1:])
			}
			if s := c.Stats(); s.Invalid != 0 || s.Records != 1 {
				t.Fatalf("Stats() = %+v, want 1 record, 0 invalid", s)
			}
		})
	}
}

func TestJSONInvalid(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		msg    string
		offset int
	}{
		{"empty", "", "unexpected end of input", 0},
		{"only spaces", "  ", "unexpected end of input", 2},
		{"plain text", "hello", "invalid character looking for a value", 0},
		{"trailing garbage", `{"a":1} x`, "text after the JSON value", 8},
		{"two values", `1 2`, "text after the JSON value", 2},
		{"unclosed object", `{"a":1`, "unexpected end of input", 6},
		{"unclosed array", `[1,2`, "unexpected end of input", 4},
		{"trailing comma in array", `[1,]`, "invalid character looking for a value", 3},
		{"trailing comma in object", `{"a":1,}`, "want string for object key", 7},
		{"unquoted key", `{a:1}`, "want string for object key", 1},
		{"missing colon", `{"a" 1}`, "want ':' after object key", 5},
		{"mismatched close", `[1}`, "want ',' or ']' after array element", 2},
		{"object missing comma", `{"a":1 "b":2}`, "want ',' or '}' after object value", 7},
		{"unterminated string", `"abc`, "unterminated string", 0},
		{"unterminated after escape", `"abc\`, "unterminated string", 0},
		{"bad escape", `"\x"`, "invalid escape", 1},
		{"short unicode escape", `"\u12"`, "invalid \\u escape", 1},
		{"raw newline in string", "\"a\nb\"", "control character in string", 2},
		{"invalid UTF-8 in string", "\"a\xffb\"", "invalid UTF-8 in string", 2},
		{"invalid UTF-8 in key", "{\"\xc3\":1}", "invalid UTF-8 in string", 2},
		{"leading zero", "01", "text after the JSON value", 1},
		{"bare minus", "-", "invalid character looking for a value", 0},
		{"dot without digits", "1.", "invalid character looking for a value", 0},
		{"exponent without digits", "1e+", "invalid character looking for a value", 0},
		{"plus sign", "+1", "invalid character looking for a value", 0},
		{"bad literal", "tru", "invalid literal", 0},
		{"capital literal", "True", "invalid character looking for a value", 0},
		{"single quotes", `{'a':1}`, "want string for object key", 1},
		{"BOM", "\xef\xbb\xbf{}", "invalid character looking for a value", 0},
		{"too deep", strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), "nesting too deep", maxDepth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, &config.Transform{JSON: &config.JSON{OnError: config.OnErrorDrop}})
			got, keep := c.Append([]byte("kept"), []byte(tt.in))
			if keep || string(got) != "kept" {
				t.Fatalf("Append(%q) = %q, %v; want dst unchanged, false", tt.in, got, keep)
			}
			var se *SyntaxError
			if err := c.LastError(); !errors.As(err, &se) {
				t.Fatalf("LastError() = %v, want *SyntaxError", err)
			}
			if se.Transform != "json" || se.Msg != tt.msg || se.Offset != tt.offset {
				t.Fatalf("LastError() = %+v, want json %q at %d", se, tt.msg, tt.offset)
			}
			if utf8.ValidString(tt.in) && json.Valid([]byte(tt.in)) {
				t.Fatalf("encoding/json accepts %q, which this test calls invalid", tt.in)
			}
		})
	}
}

// TestJSONMaxDepth checks the deepest nesting allowed is accepted, as
// encoding/json accepts it.
func TestJSONMaxDepth(t *testing.T) {
	in := []byte(strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth))
	c := mustChain(t, &config.Transform{JSON: &config.JSON{OnError: config.OnErrorDrop}})
	got, keep := c.Append(nil, in)
	if !keep || !bytes.Equal(got, in) {
		t.Fatalf("depth %d rejected: %v", maxDepth, c.LastError())
	}
	if !json.Valid(in) {
		t.Fatal("encoding/json rejects the same input")
	}
}

func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, ` [1, 2 , {"b" : null}] `, `"\u00e9"`, "-0.5E+10", `{"a":}`, "\"\xff\"", "[[[", `{"a":1} x`, "tru", ""} {
		f.Add([]byte(s))
	}
	c := mustChainF(f, &config.Transform{JSON: &config.JSON{}})
	p := newJSON()
	f.Fuzz(func(t *testing.T, in []byte) {
		out, keep := c.Append(nil, in)
		if !keep || !json.Valid(out) {
			t.Fatalf("Append(%q) = %q, %v: want valid JSON", in, out, keep)
		}

		// The compactor agrees with encoding/json on valid UTF-8, and
		// rejects everything else.
		got, err := p.Append(nil, in)
		if !utf8.Valid(in) {
			if err == nil {
				t.Fatalf("accepted invalid UTF-8 %q", in)
			}
			return
		}
		if valid := json.Valid(in); valid != (err == nil) {
			t.Fatalf("Append(%q) error %v, but json.Valid = %v", in, err, valid)
		}
		if err != nil {
			return
		}
		var want bytes.Buffer
		if err := json.Compact(&want, in); err != nil {
			t.Fatalf("json.Compact(%q): %v", in, err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("Append(%q) = %q, json.Compact gives %q", in, got, want.Bytes())
		}
	})
}
