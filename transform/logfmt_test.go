package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kinetail/kinetail/config"
)

func TestLogfmt(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"the example", `key=value key2="quoted value" flag`, `{"key":"value","key2":"quoted value","flag":true}`},
		{"typical line", `ts=2026-11-22T05:00:00Z level=info msg="user logged in" user=42 took=1.5ms`,
			`{"ts":"2026-11-22T05:00:00Z","level":"info","msg":"user logged in","user":"42","took":"1.5ms"}`},
		{"no type guessing", `a=007 b=true c=null`, `{"a":"007","b":"true","c":"null"}`},
		{"empty value", `a= b=""`, `{"a":"","b":""}`},
		{"escapes in quoted value", `m="say \"hi\" \\ back\nslash\t!"`, `{"m":"say \"hi\" \\ back\nslash\t!"}`},
		{"unknown escape kept", `p="C:\dir\x"`, `{"p":"C:\\dir\\x"}`},
		{"unknown escape before UTF-8", `p="\é"`, `{"p":"\\é"}`},
		{"blanks around and between", " \ta=1  \t b=2 ", `{"a":"1","b":"2"}`},
		{"last repeat wins", `a=1 b=2 a=3`, `{"b":"2","a":"3"}`},
		{"bare then valued repeat", `a b=2 a=x`, `{"b":"2","a":"x"}`},
		{"quote inside unquoted value is literal", `a=b"c`, `{"a":"b\"c"}`},
		{"equals inside value", `q=a=b`, `{"q":"a=b"}`},
		{"key escaped", "k\x01=v", `{"k\u0001":"v"}`},
		{"invalid UTF-8 replaced", "k=\xff x", "{\"k\":\"\uFFFD\",\"x\":true}"},
		{"empty line", "", `{}`},
		{"CR removed", "a=1\r", `{"a":"1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, &config.Transform{Logfmt: &config.Logfmt{}})
			got, keep := c.Append(nil, []byte(tt.in))
			if !keep || string(got) != tt.want {
				t.Fatalf("Append(%q) = %s, %v; want %s (last error %v)", tt.in, got, keep, tt.want, c.LastError())
			}
			if !json.Valid(got) {
				t.Fatalf("output %q is not valid JSON", got)
			}
		})
	}
}

func TestLogfmtManyRepeats(t *testing.T) {
	// Enough pairs for the sorting path.
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "k%d=%d ", i%10, i)
	}
	c := mustChain(t, &config.Transform{Logfmt: &config.Logfmt{}})
	got, keep := c.Append(nil, []byte(b.String()))
	want := `{"k0":"90","k1":"91","k2":"92","k3":"93","k4":"94","k5":"95","k6":"96","k7":"97","k8":"98","k9":"99"}`
	if !keep || string(got) != want {
		t.Fatalf("Append = %s, %v; want %s", got, keep, want)
	}
}

func TestLogfmtInvalid(t *testing.T) {
	tests := []struct {
		in     string
		msg    string
		offset int
	}{
		{`a=1 =2`, "empty key", 4},
		{`a="unterminated`, "unterminated quoted value", 2},
		{`a="x\"`, "unterminated quoted value", 2},
		{`a="x"y`, "text after closing quote", 5},
		{`"a"=1`, "quote in key", 0},
		{`ab"c=1`, "quote in key", 2},
	}
	for _, tt := range tests {
		t.Run(tt.msg+" "+tt.in, func(t *testing.T) {
			c := mustChain(t, &config.Transform{Logfmt: &config.Logfmt{OnError: config.OnErrorDrop}})
			got, keep := c.Append(nil, []byte(tt.in))
			if keep {
				t.Fatalf("Append(%q) = %s; want the line dropped", tt.in, got)
			}
			var se *SyntaxError
			if !errors.As(c.LastError(), &se) || se.Transform != "logfmt" || se.Msg != tt.msg || se.Offset != tt.offset {
				t.Fatalf("LastError() = %v; want logfmt: %s at offset %d", c.LastError(), tt.msg, tt.offset)
			}
		})
	}
}

func TestLogfmtAllocs(t *testing.T) {
	for _, line := range []string{
		`ts=2026-11-22T05:00:00Z level=info msg="user \"x\" logged in" user=42 admin`,
		strings.Repeat("k=v ", 40), // the sorting path
	} {
		c := mustChain(t, &config.Transform{Logfmt: &config.Logfmt{}})
		in := []byte(line)
		buf := make([]byte, 0, 4096)
		buf, _ = c.Append(buf, in) // grow the reused pair slices
		allocs := testing.AllocsPerRun(100, func() { buf, _ = c.Append(buf[:0], in) })
		if allocs != 0 {
			t.Fatalf("%v allocations per line for %q, want 0", allocs, line)
		}
	}
}

func FuzzLogfmt(f *testing.F) {
	f.Add(`key=value key2="quoted value" flag`)
	f.Add(`a="x\"y\\" b= c`)
	f.Add(`=x`)
	f.Add("a=\"\\\xff\"")
	c := mustChainF(f, &config.Transform{Logfmt: &config.Logfmt{OnError: config.OnErrorDrop}})
	f.Fuzz(func(t *testing.T, line string) {
		got, keep := c.Append(nil, []byte(line))
		if keep && !json.Valid(got) {
			t.Fatalf("Append(%q) = %q: not valid JSON", line, got)
		}
		if !keep && c.LastError() == nil {
			t.Fatalf("Append(%q) dropped without an error", line)
		}
		if keep && utf8.ValidString(line) {
			// Keys are unique: the last repeat won. (Keys that differ
			// only in invalid UTF-8 may repeat once it is replaced.)
			dec := json.NewDecoder(strings.NewReader(string(got)))
			seen := make(map[string]bool)
			dec.Token() // {
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					t.Fatalf("decode %q: %v", got, err)
				}
				if seen[k.(string)] {
					t.Fatalf("%q: key %q twice", got, k)
				}
				seen[k.(string)] = true
				if _, err := dec.Token(); err != nil { // the value: a string or true
					t.Fatalf("decode %q: %v", got, err)
				}
			}
		}
	})
}
