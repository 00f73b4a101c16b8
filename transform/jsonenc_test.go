package transform

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestAppendJSONString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", `""`},
		{"plain ASCII is copied", "hello world", `"hello world"`},
		{"long plain run crosses words", "abcdefghijklmnopqrstuvwxyz0123456789", `"abcdefghijklmnopqrstuvwxyz0123456789"`},
		{"quote and backslash", `say "hi" \o/`, `"say \"hi\" \\o/"`},
		{"short escapes", "a\nb\rc\td", `"a\nb\rc\td"`},
		{"other controls as \\u00XX", "\x00\x01\x08\x0c\x1f", `"\u0000\u0001\u0008\u000c\u001f"`},
		{"DEL and slash are not escaped", "\x7f/", "\"\x7f/\""},
		{"valid UTF-8 is copied", "héllo, 世界 🙂", `"héllo, 世界 🙂"`},
		{"invalid byte replaced", "a\xffb", "\"a\uFFFDb\""},
		{"each invalid byte replaced", "\xc3\x28\xe2\x82", "\"\uFFFD(\uFFFD\uFFFD\""},
		{"UTF-8 surrogate is invalid", "\xed\xa0\x80", "\"\uFFFD\uFFFD\uFFFD\""},
		{"escape after word-sized run", "12345678\"", `"12345678\""`},
		{"escape inside word", "1234\n678", `"1234\n678"`},
		{"high byte inside word", "1234é5678", `"1234é5678"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendJSONString([]byte("pre"), []byte(tt.in)))
			if got != "pre"+tt.want {
				t.Fatalf("AppendJSONString(%q) = %q, want %q", tt.in, got, "pre"+tt.want)
			}
			if !json.Valid([]byte(tt.want)) {
				t.Fatalf("%q is not valid JSON", tt.want)
			}
		})
	}
}

// TestSafeWord checks the eight-bytes-at-once test against the plain one for
// every byte value in every lane.
func TestSafeWord(t *testing.T) {
	for lane := 0; lane < 8; lane++ {
		for c := 0; c < 256; c++ {
			b := []byte("aaaaaaaa")
			b[lane] = byte(c)
			w := uint64(0)
			for i := 7; i >= 0; i-- {
				w = w<<8 | uint64(b[i])
			}
			want := c >= 0x20 && c != '"' && c != '\\' && c < 0x80
			if got := safeWord(w); got != want {
				t.Fatalf("safeWord(%q) = %v, want %v", b, got, want)
			}
		}
	}
}

// TestSafeRun checks the whole-string test against the plain one for every
// byte value at every position of strings of 0 to 17 bytes: the padded
// word of a short string, the overlapping last word of a longer one. The
// run it reports before a byte that needs escaping is all safe, and never
// goes past that byte.
func TestSafeRun(t *testing.T) {
	if safeRun(nil) != 0 {
		t.Fatal("safeRun(empty) != 0")
	}
	for n := 1; n <= 17; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte("abcdefghijklmnopq"[:n])
				b[pos] = byte(c)
				want := c >= 0x20 && c != '"' && c != '\\' && c < 0x80
				run := safeRun(b)
				if got := run == len(b); got != want {
					t.Fatalf("safeRun(%q) = %d of %d bytes: safe %v, want %v", b, run, len(b), got, want)
				}
				if !want && run > pos {
					t.Fatalf("safeRun(%q) = %d, past the byte at %d", b, run, pos)
				}
			}
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c", "\x00\x1f\n", "héllo", "\xff\xfe", "12345678\x01abcdefgh", "\xed\xa0\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		out := AppendJSONString(nil, s)
		if n := JSONStringLen(s); n != len(out) {
			t.Fatalf("JSONStringLen(%q) = %d, AppendJSONString wrote %d bytes", s, n, len(out))
		}
		if !json.Valid(out) {
			t.Fatalf("AppendJSONString(%q) = %q: not valid JSON", s, out)
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("unmarshal %q: %v", out, err)
		}
		// Each invalid byte becomes one U+FFFD, as converting to []rune does.
		want := string([]rune(string(s)))
		if got != want {
			t.Fatalf("round trip of %q = %q, want %q", s, got, want)
		}
		if utf8.Valid(s) && got != string(s) {
			t.Fatalf("valid UTF-8 %q changed to %q", s, got)
		}
	})
}

func TestJSONStringLenAndRepairs(t *testing.T) {
	for _, s := range []string{
		"", "plain", `"`, `\`, "\x00", "\x7f", "\n\r\t", "é", "🎉", "\u2028\u2029",
		"bad \xff utf8", "\xc3", "\xed\xa0\x80", "mixed \x01 \"q\" \xfe ok",
	} {
		got := AppendJSONString(nil, []byte(s))
		if len(got) != JSONStringLen([]byte(s)) {
			t.Errorf("JSONStringLen(%q) = %d, AppendJSONString wrote %d bytes", s, JSONStringLen([]byte(s)), len(got))
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("AppendJSONString(%q) = %s: not a JSON string: %v", s, got, err)
			continue
		}
		// encoding/json makes the same repairs of invalid UTF-8.
		want, _ := json.Marshal(s)
		var wantBack string
		if err := json.Unmarshal(want, &wantBack); err != nil {
			t.Fatal(err)
		}
		if back != wantBack {
			t.Errorf("AppendJSONString(%q) decodes to %q, encoding/json's to %q", s, back, wantBack)
		}
	}
}
