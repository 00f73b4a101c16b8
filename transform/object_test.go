package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// reemit writes the scanned members of in again as an object.
func reemit(o *object, in []byte) []byte {
	dst := []byte{'{'}
	for i := range o.members {
		dst = appendMember(dst, in, &o.members[i], i)
	}
	return append(dst, '}')
}

func TestObjectScan(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		keys  []string // decoded
		kinds []valueKind
		out   string // re-emitted
	}{
		{"empty", `{}`, nil, nil, `{}`},
		{"empty with spaces", " { } ", nil, nil, `{}`},
		{"every kind", `{"s":"x","n":-1.5e3,"t":true,"f":false,"z":null,"o":{"a":[1]},"a":[]}`,
			[]string{"s", "n", "t", "f", "z", "o", "a"},
			[]valueKind{kindString, kindNumber, kindBool, kindBool, kindNull, kindObject, kindArray},
			`{"s":"x","n":-1.5e3,"t":true,"f":false,"z":null,"o":{"a":[1]},"a":[]}`},
		{"whitespace is dropped, nested too", "{ \"a\" :\t{ \"b\" : [ 1 , \"x y\" ] } ,\n\"c\":2 }",
			[]string{"a", "c"}, []valueKind{kindObject, kindNumber}, `{"a":{"b":[1,"x y"]},"c":2}`},
		{"escaped keys are decoded", `{"\u00e9t\u00e9":1,"a\"b":2,"\ud83d\ude00":3}`,
			[]string{"été", `a"b`, "😀"}, []valueKind{kindNumber, kindNumber, kindNumber},
			`{"\u00e9t\u00e9":1,"a\"b":2,"\ud83d\ude00":3}`},
		{"unicode kept as is", `{"schlüssel":"wert ✓"}`, []string{"schlüssel"}, []valueKind{kindString}, `{"schlüssel":"wert ✓"}`},
		{"duplicate keys are all kept", `{"a":1,"a":2}`, []string{"a", "a"}, []valueKind{kindNumber, kindNumber}, `{"a":1,"a":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o object
			in := []byte(tt.in)
			if err := o.scan("test", in); err != nil {
				t.Fatalf("scan(%q): %v", tt.in, err)
			}
			if len(o.members) != len(tt.keys) {
				t.Fatalf("scan(%q) found %d members, want %d", tt.in, len(o.members), len(tt.keys))
			}
			for i := range o.members {
				m := &o.members[i]
				if got := string(o.text(in, m.key, m.keyEsc)); got != tt.keys[i] {
					t.Errorf("member %d key = %q, want %q", i, got, tt.keys[i])
				}
				if !o.keyIs(in, m, tt.keys[i]) {
					t.Errorf("keyIs(member %d, %q) = false", i, tt.keys[i])
				}
				if m.kind != tt.kinds[i] {
					t.Errorf("member %d kind = %d, want %d", i, m.kind, tt.kinds[i])
				}
			}
			out := reemit(&o, in)
			if string(out) != tt.out {
				t.Errorf("re-emitted %s, want %s", out, tt.out)
			}
			if !json.Valid(out) {
				t.Errorf("re-emitted %s is not valid JSON", out)
			}
		})
	}
}

func TestObjectScanErrors(t *testing.T) {
	tests := []struct {
		in, msg string
		off     int
	}{
		{``, "not a JSON object", 0},
		{`[1]`, "not a JSON object", 0},
		{`"s"`, "not a JSON object", 0},
		{`plain text`, "not a JSON object", 0},
		{`{`, "want string for object key", 1},
		{`{"a"}`, "want ':' after object key", 4},
		{`{"a":}`, "invalid character looking for a value", 5},
		{`{"a":1,}`, "want string for object key", 7},
		{`{"a":1 "b":2}`, "want ',' or '}' after object value", 7},
		{`{"a":1}x`, "text after the JSON object", 7},
		{`{"a":1}{}`, "text after the JSON object", 7},
		{`{"a":"x`, "unterminated string", 5},
		{"{\"a\":\"\xff\"}", "invalid UTF-8 in string", 6},
		{"{\"a\":\"\x01\"}", "control character in string", 6},
		{`{"a":"\x"}`, "invalid escape", 6},
		{`{"a":"\u12"}`, "invalid \\u escape", 6},
		{`{"a":tru}`, "invalid literal", 5},
		{`{"a":{"b":1]}`, "want ',' or '}' after object value", 11},
		{`{"a":[1}`, "want ',' or ']' after array element", 7},
		{`{"a":[1,{"b" 2}]}`, "want ':' after object key", 13},
		{`{"a":01}`, "want ',' or '}' after object value", 6},
		{`{"a":[`, "unexpected end of input", 6},
		{`{"a":` + strings.Repeat("[", maxDepth+1), "nesting too deep", 5 + maxDepth},
	}
	for _, tt := range tests {
		t.Run(tt.in[:min(len(tt.in), 20)], func(t *testing.T) {
			var o object
			err := o.scan("fields", []byte(tt.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("scan(%q) error = %v, want a *SyntaxError", tt.in, err)
			}
			if se.Transform != "fields" || se.Msg != tt.msg || se.Offset != tt.off {
				t.Fatalf("scan(%q) error = %+v, want fields: %s at %d", tt.in, *se, tt.msg, tt.off)
			}
			if json.Valid([]byte(tt.in)) && utf8.ValidString(tt.in) && strings.HasPrefix(tt.in, "{") {
				t.Fatalf("test input %q is a valid object", tt.in)
			}
		})
	}
}

func TestAppendUnescaped(t *testing.T) {
	tests := []struct{ body, want string }{
		{`plain`, "plain"},
		{`a\"b\\c\/d`, `a"b\c/d`},
		{`\b\f\n\r\t`, "\b\f\n\r\t"},
		{`\u0041\u00e9\u6771`, "Aé東"},
		{`\ud83d\ude00`, "😀"},
		{`\ud83d`, "\uFFFD"},
		{`\ude00x`, "\uFFFDx"},
		{`\ud83d\u0041`, "\uFFFDA"},
	}
	for _, tt := range tests {
		if got, ok := AppendUnescaped(nil, []byte(tt.body)); !ok || string(got) != tt.want {
			t.Errorf("AppendUnescaped(%s) = %q, %v; want %q", tt.body, got, ok, tt.want)
		}
		var want string
		if err := json.Unmarshal([]byte(`"`+tt.body+`"`), &want); err != nil || want != tt.want {
			t.Errorf("encoding/json decodes %s to %q (%v), the test wants %q", tt.body, want, err, tt.want)
		}
	}
}

func TestObjectScanAllocs(t *testing.T) {
	in := []byte(`{"ts":"2024-05-01T12:00:00Z", "ip":"192.168.10.24", "n":{"a":[1, 2]}, "k\u00e9y":true}`)
	var o object
	if err := o.scan("test", in); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := o.scan("test", in); err != nil {
			t.Fatal(err)
		}
		_ = o.find(in, "kéy")
	})
	if allocs != 0 {
		t.Fatalf("scan allocates %v times per object, want 0", allocs)
	}
}

func FuzzObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":"x","b":[1,{"c":null}],"d":true}`, ` { "a" : [ 1 , 2 ] } `,
		`{"\u00e9":"\ud83d\ude00"}`, `{"a":1,"a":2}`, `[1]`, `{"a":`, "{\"a\":\"\xff\"}", `{"a":-0.5e+7}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var o object
		err := o.scan("fuzz", in)
		valid := json.Valid(in) && utf8.Valid(in) && bytes.HasPrefix(bytes.TrimLeft(in, " \t\r\n"), []byte("{"))
		if err != nil {
			if valid {
				t.Fatalf("scan(%q) rejects a valid object: %v", in, err)
			}
			return
		}
		if !valid {
			t.Fatalf("scan(%q) accepts an invalid object", in)
		}
		out := reemit(&o, in)
		if !json.Valid(out) {
			t.Fatalf("re-emitting %q gives invalid JSON %q", in, out)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, in); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, compact.Bytes()) {
			t.Fatalf("re-emitting %q gives %q, want the compact form %q", in, out, compact.Bytes())
		}
		for i := range o.members {
			m := &o.members[i]
			key := o.text(in, m.key, m.keyEsc)
			var want string
			if err := json.Unmarshal(in[m.key.start:m.key.end], &want); err != nil || string(key) != want {
				t.Fatalf("key %s decodes to %q, encoding/json says %q (%v)", in[m.key.start:m.key.end], key, want, err)
			}
		}
	})
}
