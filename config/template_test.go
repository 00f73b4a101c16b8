package config

import (
	"slices"
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
