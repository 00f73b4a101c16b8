package transform

import (
	"testing"

	"github.com/kinetail/kinetail/config"
)

func TestAddBrackets(t *testing.T) {
	brackets := &config.Transform{AddBrackets: &config.AddBrackets{}}
	tests := []struct {
		name string
		cfgs []*config.Transform
		in   string
		want string
	}{
		// The Kinesis Agent's own test of ADDBRACKETS.
		{"a raw line", []*config.Transform{brackets}, "hello there!! :)", "{hello there!! :)}"},
		{"an empty line", []*config.Transform{brackets}, "", "{}"},
		{"bytes as they are, not escaped", []*config.Transform{brackets}, "a\"b\\c\té", "{a\"b\\c\té}"},
		{"a JSON object made before", []*config.Transform{{JSON: &config.JSON{}}, brackets}, `{ "a": 1 }`, `{{"a":1}}`},
		{"twice", []*config.Transform{brackets, brackets}, "x", "{{x}}"},
		{
			"before add_metadata, inside its data",
			[]*config.Transform{brackets, {AddMetadata: &config.AddMetadata{}}},
			"x",
			`{"metadata":null,"data":"{x}"}`,
		},
		{
			"a line a parser wraps is enclosed too",
			[]*config.Transform{{JSON: &config.JSON{}}, brackets},
			"nope",
			`{{"raw":"nope","error":"json: invalid literal at offset 0"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, tt.cfgs...)
			// Appended after other bytes, as records of a batch are.
			got, keep := c.Append([]byte("prev"), []byte(tt.in))
			if !keep || string(got) != "prev"+tt.want {
				t.Errorf("Append(%q) = %q, %v; want %q, true", tt.in, got, keep, "prev"+tt.want)
			}
		})
	}
}
