package transform

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kinetail/kinetail/config"
)

var allRedactPatterns = []string{"email", "credit_card", "aws_access_key", "aws_secret_key", "ipv4"}

const testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" // AWS's documentation example

func TestRedact(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		custom   []string
		mask     string
		in, want string
	}{
		{"email in a value", []string{"email"}, nil, "",
			`{"msg":"mail bob.smith+tag@mail.example.com."}`, `{"msg":"mail ****."}`},
		{"keys are untouched", []string{"email"}, nil, "",
			`{"a@b.cc":"a@b.cc"}`, `{"a@b.cc":"****"}`},
		{"not an email", []string{"email"}, nil, "",
			`{"m":"a@b, @x.com, user@host, x@.com, x@y.c1"}`, `{"m":"a@b, @x.com, user@host, x@.com, x@y.c1"}`},
		{"credit card with Luhn", []string{"credit_card"}, nil, "",
			`{"m":"card 4111 1111 1111 1111 and 4111-1111-1111-1112 and 5500005555555559"}`,
			`{"m":"card **** and 4111-1111-1111-1112 and ****"}`},
		{"digits in words are not cards", []string{"credit_card"}, nil, "",
			`{"m":"id4111111111111111 4111111111111111x 41111111111111111111111"}`,
			`{"m":"id4111111111111111 4111111111111111x 41111111111111111111111"}`},
		{"aws access key", []string{"aws_access_key"}, nil, "",
			`{"m":"key=AKIAIOSFODNN7EXAMPLE, ASIAIOSFODNN7EXAMPLE XAKIAIOSFODNN7EXAMPLE AKIAIOSFODNN7EXAMPLEX"}`,
			`{"m":"key=****, **** XAKIAIOSFODNN7EXAMPLE AKIAIOSFODNN7EXAMPLEX"}`},
		{"aws secret key after a key-ish word", []string{"aws_secret_key"}, nil, "",
			`{"m":"aws_secret_access_key = ` + testSecret + `"}`, `{"m":"aws_secret_access_key = ****"}`},
		{"aws secret key in a secret member", []string{"aws_secret_key"}, nil, "",
			`{"SecretAccessKey":"` + testSecret + `","other":"` + testSecret + `"}`,
			`{"SecretAccessKey":"****","other":"` + testSecret + `"}`},
		{"aws secret key in escaped JSON text", []string{"aws_secret_key"}, nil, "",
			`{"m":"{\"secret\": \"` + testSecret + `\"}"}`, `{"m":"{\"secret\": \"****\"}"}`},
		{"40 characters without context", []string{"aws_secret_key"}, nil, "",
			`{"sha":"` + testSecret + `"}`, `{"sha":"` + testSecret + `"}`},
		{"ipv4", []string{"ipv4"}, nil, "",
			`{"m":"from 192.168.10.24:443 and 10.0.0.1, not 1.2.3.4.5 or 300.1.1.1 or v1.2.3.4"}`,
			`{"m":"from ****:443 and ****, not 1.2.3.4.5 or 300.1.1.1 or v1.2.3.4"}`},
		{"custom and overlapping matches merge", []string{"ipv4"}, []string{`user=\w+`, `10\.0`}, "",
			`{"m":"user=bob at 10.0.0.1"}`, `{"m":"**** at ****"}`},
		{"mask is escaped", []string{"email"}, nil, `<"\x">`,
			`{"m":"a@b.cc"}`, `{"m":"<\"\\x\">"}`},
		{"escapes around a match are written again", []string{"email"}, nil, "",
			`{"m":"\u00e9\t\"a@b.cc\"\n"}`, `{"m":"é\t\"****\"\n"}`},
		{"nested values and arrays", allRedactPatterns, nil, "",
			` {"a": [ "10.0.0.1", {"b":"x@y.io"} ], "n": 10, "t": true} `,
			` {"a": [ "****", {"b":"****"} ], "n": 10, "t": true} `},
		{"a JSON string record", []string{"ipv4"}, nil, "", `"10.0.0.1"`, `"****"`},
		{"raw text", allRedactPatterns, nil, `<"x">`,
			`from 10.0.0.1 user a@b.cc key AKIAIOSFODNN7EXAMPLE`, `from <"x"> user <"x"> key <"x">`},
		{"invalid JSON is raw text", []string{"ipv4"}, nil, "", `{"ip":"10.0.0.1"`, `{"ip":"****"`},
		{"nothing to mask", allRedactPatterns, nil, "", `{"m":"hello"}`, `{"m":"hello"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mask := tt.mask
			if mask == "" {
				mask = "****"
			}
			c := mustChain(t, &config.Transform{Redact: &config.Redact{Patterns: tt.patterns, Custom: tt.custom, Mask: mask}})
			got, keep := c.Append([]byte("prev|"), []byte(tt.in))
			if !keep || string(got) != "prev|"+tt.want {
				t.Fatalf("redact(%s)\n got %s\nwant %s", tt.in, got, "prev|"+tt.want)
			}
			if json.Valid([]byte(tt.in)) && !json.Valid(got[len("prev|"):]) {
				t.Fatalf("output %s is not valid JSON", got)
			}
		})
	}
}

func TestNewRedactErrors(t *testing.T) {
	tests := []struct {
		cfg  config.Redact
		want string
	}{
		{config.Redact{Patterns: []string{"phone"}}, `redact: unknown pattern "phone"`},
		{config.Redact{Custom: []string{"a", "("}}, "redact: custom 2: error parsing regexp"},
		{config.Redact{}, "redact: needs patterns or custom"},
	}
	for _, tt := range tests {
		_, err := New([]*config.Transform{{Redact: &tt.cfg}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) error = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestRedactAllocs(t *testing.T) {
	c := mustChain(t, &config.Transform{Redact: &config.Redact{Patterns: allRedactPatterns, Mask: "****"}})
	in := []byte(`{"ts":"2024-05-01T12:00:00Z","ip":"192.168.10.24","user":"a@b.cc","card":"4111111111111111","msg":"plain \"text\""}`)
	buf := make([]byte, 0, 4096)
	buf, _ = c.Append(buf, in)
	if want := `{"ts":"2024-05-01T12:00:00Z","ip":"****","user":"****","card":"****","msg":"plain \"text\""}`; string(buf) != want {
		t.Fatalf("got  %s\nwant %s", buf, want)
	}
	allocs := testing.AllocsPerRun(100, func() { buf, _ = c.Append(buf[:0], in) })
	if allocs != 0 {
		t.Fatalf("redact with built-in patterns allocates %v times per record, want 0", allocs)
	}
}

// stripStrings replaces every string value (not key) of a decoded JSON
// value by "", so two records can be compared but for their values.
func stripStrings(v any) any {
	switch v := v.(type) {
	case string:
		return ""
	case []any:
		for i := range v {
			v[i] = stripStrings(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = stripStrings(v[k])
		}
	}
	return v
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		`{"m":"a@b.cc 10.0.0.1 4111 1111 1111 1111 AKIAIOSFODNN7EXAMPLE"}`,
		`{"secret":"` + testSecret + `"}`, `["x@y.io",{"k\u00e9":"\u0031.2.3.4"}]`,
		`raw 10.0.0.1 text`, `{"a":`, "\xff10.0.0.1", `"1.1.1.1"`,
	} {
		f.Add([]byte(s))
	}
	c := mustChainF(f, &config.Transform{Redact: &config.Redact{Patterns: allRedactPatterns, Custom: []string{`tok_[a-z]+`}, Mask: `*"\*`}})
	f.Fuzz(func(t *testing.T, in []byte) {
		out, keep := c.Append(nil, in)
		if !keep {
			t.Fatalf("redact(%q) dropped the record", in)
		}
		if !json.Valid(in) || !utf8.Valid(in) {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("redact(%q) = %q, not valid JSON", in, out)
		}
		// Only string values change: keys, numbers, literals and the
		// structure stay.
		// Numbers as written: one too large for a float64 is valid JSON.
		decode := func(b []byte) any {
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			var v any
			if err := d.Decode(&v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		a, b := decode(in), decode(out)
		if !reflect.DeepEqual(stripStrings(a), stripStrings(b)) {
			t.Fatalf("redact(%q) = %q changed more than string values", in, out)
		}
		if !bytes.Contains(out, []byte(`*\"\\*`)) && !bytes.Equal(in, out) {
			t.Fatalf("redact(%q) = %q changed a record without masking", in, out)
		}
	})
}
