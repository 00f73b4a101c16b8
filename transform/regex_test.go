package transform

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kinetail/kinetail/config"
)

func TestRegex(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		in      string
		want    string // "" means the line does not match
	}{
		{"named groups in pattern order", `(?P<b>\d+) (?P<a>\w+)`, "12 abc", `{"b":"12","a":"abc"}`},
		{"unnamed groups ignored", `(\w+)=(?P<v>\w+)`, "k=v", `{"v":"v"}`},
		{"non-participating group is null", `(?P<a>x)?(?P<b>y)`, "y", `{"a":null,"b":"y"}`},
		{"empty group is empty string", `a(?P<m>x*)b`, "ab", `{"m":""}`},
		{"search, not anchored", `status=(?P<status>\d+)`, "GET / status=503 took 2ms", `{"status":"503"}`},
		{"shared name takes the participating group", `(?P<n>\d+)|(?P<w>-)(?P<n>[a-z]+)`, "-abc", `{"n":"abc","w":"-"}`},
		{"values escaped", `(?P<m>.*)`, "a\"b\\c\x01", `{"m":"a\"b\\c\u0001"}`},
		{"invalid UTF-8 replaced", `(?P<m>.*)`, "a\xffb", "{\"m\":\"a\uFFFDb\"}"},
		{"CR removed", `(?P<m>.*)$`, "abc\r", `{"m":"abc"}`},
		{"no match", `^(?P<n>\d+)$`, "abc", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, &config.Transform{Regex: &config.Regex{Pattern: tt.pattern, OnError: config.OnErrorDrop}})
			got, keep := c.Append(nil, []byte(tt.in))
			if tt.want == "" {
				if keep || c.LastError() == nil || c.LastError().Error() != "regex: line does not match pattern" {
					t.Fatalf("Append(%q) = %s, %v, error %v; want it dropped as not matching", tt.in, got, keep, c.LastError())
				}
				return
			}
			if !keep || string(got) != tt.want {
				t.Fatalf("Append(%q) = %s, %v; want %s", tt.in, got, keep, tt.want)
			}
			if !json.Valid(got) {
				t.Fatalf("output %q is not valid JSON", got)
			}
		})
	}
}

func TestRegexConfigErrors(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{"", "pattern is required"},
		{"(", "pattern: error parsing regexp"},
		{`(\d+)`, "no named group"},
	}
	for _, tt := range tests {
		_, err := New([]*config.Transform{{Regex: &config.Regex{Pattern: tt.pattern}}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(pattern %q) error = %v; want one containing %q", tt.pattern, err, tt.want)
		}
	}
}

func TestRegexAllocs(t *testing.T) {
	c := mustChain(t, &config.Transform{Regex: &config.Regex{Pattern: `^(?P<ip>\S+) (?P<method>[A-Z]+) (?P<path>\S+)`}})
	in := []byte("10.0.0.1 GET /index.html 200")
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() { buf, _ = c.Append(buf[:0], in) })
	// Go's regexp returns the match positions in a new slice: one
	// allocation a line, and no more. Under the race detector its pooled
	// matchers are sometimes dropped and rebuilt, which costs a few more.
	limit := 1.0
	if raceEnabled {
		limit = 10
	}
	if allocs > limit {
		t.Fatalf("%v allocations per line, want at most %v", allocs, limit)
	}
}

func FuzzRegex(f *testing.F) {
	f.Add("10.0.0.1 GET /index.html 200")
	f.Add("- - -")
	f.Add("\xff\xfe GET \x00")
	c := mustChainF(f, &config.Transform{Regex: &config.Regex{
		Pattern: `^(?P<ip>\S+) (?:(?P<method>[A-Z]+)|(?P<other>.)) (?P<rest>.*)$`, OnError: config.OnErrorWrap}})
	f.Fuzz(func(t *testing.T, line string) {
		got, keep := c.Append(nil, []byte(line))
		if !keep || !json.Valid(got) {
			t.Fatalf("Append(%q) = %q, %v: want valid JSON", line, got, keep)
		}
	})
}
