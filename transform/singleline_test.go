package transform

import (
	"testing"

	"github.com/kinetail/kinetail/config"
)

func TestSingleline(t *testing.T) {
	tests := []struct {
		name string
		cfg  config.Singleline
		in   string
		want string
	}{
		// The Kinesis Agent documentation's case: a pretty-printed record
		// becomes one line.
		{"agent example", config.Singleline{}, "{\n    \"a\": 1,\n    \"b\": 2\n}", `{"a": 1,"b": 2}`},
		{"one line is trimmed", config.Singleline{}, "  \t hello world \t ", "hello world"},
		{"inner spaces kept", config.Singleline{}, "a  b\n  c  d  ", "a  bc  d"},
		{"CRLF breaks", config.Singleline{}, "a \r\n b\r\nc", "abc"},
		{"final CR removed", config.Singleline{NoTrim: true}, "a \r", "a "},
		{"lone CR inside a line is kept with no_trim", config.Singleline{NoTrim: true}, "a\rb\nc", "a\rbc"},
		{"empty lines vanish", config.Singleline{}, "a\n\n\nb", "ab"},
		{"empty input", config.Singleline{}, "", ""},
		{"only breaks", config.Singleline{}, "\n\r\n\n", ""},
		{"no_trim keeps whitespace", config.Singleline{NoTrim: true}, " a \n b ", " a  b "},
		{"escape_new_line", config.Singleline{EscapeNewLine: true}, " a \n b \r\n c ", `a\nb\nc`},
		{"escape_new_line keeps empty lines", config.Singleline{EscapeNewLine: true}, "a\n\nb", `a\n\nb`},
		{"escape_new_line and no_trim", config.Singleline{EscapeNewLine: true, NoTrim: true}, " a \r\n b ", ` a \n b `},
		{"non-ASCII and invalid bytes kept", config.Singleline{}, " \xffé\n\xa0 ", "\xffé\xa0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, &config.Transform{Singleline: &tt.cfg})
			got, keep := c.Append([]byte("x"), []byte(tt.in))
			if !keep || string(got) != "x"+tt.want {
				t.Fatalf("Append(%q) = %q, %v; want %q, true", tt.in, got, keep, "x"+tt.want)
			}
		})
	}
}
