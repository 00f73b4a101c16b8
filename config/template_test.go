package config

import (
	"slices"
	"strings"
	"testing"
)

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		in       string
		literals []string
		fields   []string
		err      bool
	}{
		{"events", []string{"events"}, nil, false},
		{"app-%{service}", []string{"app-", ""}, []string{"service"}, false},
		{"%{a}-%{b}.x", []string{"", "-", ".x"}, []string{"a", "b"}, false},
		{"100%%{x}", []string{"100%{x}"}, nil, false},
		{"50%", []string{"50%"}, nil, false},
		{"app-%{service", nil, nil, true},
		{"app-%{}", nil, nil, true},
	}
	for _, tt := range tests {
		got, err := ParseTemplate(tt.in)
		if (err != nil) != tt.err {
			t.Fatalf("ParseTemplate(%q) error = %v, want error %v", tt.in, err, tt.err)
		}
		if err != nil {
			continue
		}
		if !slices.Equal(got.Literals, tt.literals) || !slices.Equal(got.Fields, tt.fields) {
			t.Errorf("ParseTemplate(%q) = %q %q, want %q %q", tt.in, got.Literals, got.Fields, tt.literals, tt.fields)
		}
		if IsTemplate(tt.in) != (len(tt.fields) > 0) {
			t.Errorf("IsTemplate(%q) = %v", tt.in, !(len(tt.fields) > 0))
		}
	}
}

// FuzzParseTemplate: any text either is refused or splits into literals
// and field names that, written back, give the same template.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"events", "app-%{service}", "%{a}-%{b}.x", "100%%{x}", "%{", "%{}", "%%%{a}%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := ParseTemplate(s)
		if err != nil {
			return
		}
		if len(tp.Literals) != len(tp.Fields)+1 {
			t.Fatalf("%q: %d literals for %d fields", s, len(tp.Literals), len(tp.Fields))
		}
		var b strings.Builder
		for i, lit := range tp.Literals {
			b.WriteString(strings.ReplaceAll(lit, "%{", "%%{"))
			if i < len(tp.Fields) {
				b.WriteString("%{" + tp.Fields[i] + "}")
			}
		}
		again, err := ParseTemplate(b.String())
		if err != nil || !slices.Equal(again.Literals, tp.Literals) || !slices.Equal(again.Fields, tp.Fields) {
			t.Fatalf("%q parses to %q %q; written back as %q it parses to %q %q (%v)", s, tp.Literals, tp.Fields, b.String(), again.Literals, again.Fields, err)
		}
	})
}
