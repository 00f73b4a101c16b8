package config

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
)

// TestParseTextErrors checks that problems the YAML parser reports without
// a position (bytes that are not UTF-8, control characters, an unknown
// anchor) have one, and that a binary file is reported in one line.
func TestParseTextErrors(t *testing.T) {
	elf := append([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"), bytes.Repeat([]byte("${X}\x00\x01"), 200)...)
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i*7919%251) | 0x80 // no NUL, mostly not UTF-8
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"binary with NUL bytes", elf, "f.yaml:1:1: not a text file (binary data at byte 0)"},
		{"binary without NUL bytes", append([]byte("a: b\n"), random...), "f.yaml:2:1: not a text file (binary data at byte 5)"},
		{"NUL in a text file", []byte("a: b\nc: d\x00\n"), "f.yaml:2:5: not a text file (binary data at byte 9)"},
		{"invalid UTF-8", []byte("a: b\nc: caf\xe9\n"), "f.yaml:2:7: invalid UTF-8 (byte 0xe9): the file must be UTF-8 text"},
		{"control character", []byte("a: b\x07c\n"), "f.yaml:1:5: control character U+0007 is not allowed (only tab and line breaks are)"},
		{"escape sequence", []byte("# \x1b[31m\na: b\n"), "f.yaml:1:3: control character U+001B is not allowed"},
		{"C1 control character", []byte("a: \u0090\n"), "f.yaml:1:4: control character U+0090 is not allowed"},
		{
			"one per line",
			[]byte("a: \xff\xfe\nb: c\nd: \x01\n"),
			"f.yaml:1:4: invalid UTF-8 (byte 0xff): the file must be UTF-8 text\nf.yaml:3:4: control character U+0001 is not allowed (only tab and line breaks are)",
		},
		{"unknown anchor", []byte("x: &a 1\n# *b\ny:\n  - *b\n"), `f.yaml:4:5: invalid YAML: unknown anchor "b" (an alias *b needs an anchor &b before it)`},
		{"problem on the first line", []byte("a: \"\\q\"\n"), "f.yaml:1:1: invalid YAML: found unknown escape character"},
		{"problem on an indented line", []byte("a:\n  b: c\n  d: e: f\n"), "f.yaml:3:3: invalid YAML: mapping values are not allowed in this context"},
		{"unquoted variable in a flow list", []byte("a: [${X}]\n"), "f.yaml:1:1: invalid YAML: did not find expected ',' or ']' (inside [...] or {...}, quote a value with ${VAR}: ['${VAR}/x.log'])"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("f.yaml", tt.in, testLookup)
			if err == nil {
				t.Fatal("parse succeeded")
			}
			if err.Error() != tt.want && !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got:\n%v\nwant:\n%s", err, tt.want)
			}
			checkErrors(t, err)
		})
	}
}

func TestParseTextErrorsBounded(t *testing.T) {
	in := bytes.Repeat([]byte("a: a line of Latin-1 text, not UTF-8: caf\xe9\n"), 50)
	_, err := parse("f.yaml", in, testLookup)
	errs, _ := err.(Errors)
	if len(errs) != maxTextErrors+1 || !strings.Contains(errs[maxTextErrors].Msg, "(50 in all)") {
		t.Errorf("got %d errors:\n%v", len(errs), err)
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text: é ü", "plain text: é ü"},
		{"bell\x07 esc\x1b[31m", `bell\a esc\x1b[31m`},
		{"tab\tnl\n", `tab\tnl\n`},
		{"bad \xff\xfe", `bad \xff\xfe`},
		{"nbsp\u00a0 bidi\u202e", `nbsp\u00a0 bidi\u202e`},
	}
	for _, tt := range tests {
		if got := printable(tt.in); got != tt.want {
			t.Errorf("printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	e := &Error{File: "a\x1b.yaml", Line: 1, Col: 2, Msg: "bad \x07"}
	if got, want := e.Error(), `a\x1b.yaml:1:2: bad \a`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// checkErrors fails t unless err is Errors whose every message has a line
// and a column and shows only printable characters.
func checkErrors(t *testing.T, err error) {
	t.Helper()
	errs, ok := err.(Errors)
	if !ok || len(errs) == 0 {
		t.Fatalf("error is not a non-empty Errors: %#v", err)
	}
	for _, e := range errs {
		if e.Line < 1 || e.Col < 1 {
			t.Errorf("error without a position: %q", e.Error())
		}
		if i := strings.IndexFunc(e.Error(), func(r rune) bool { return r == unicode.ReplacementChar || !unicode.IsPrint(r) }); i >= 0 {
			t.Errorf("error with a character that is not printable at byte %d: %q", i, e.Error())
		}
	}
}
