package config

import "testing"

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{"a.yaml", 3, 7, "bad"}, "a.yaml:3:7: bad"},
		{Error{"a.yaml", 3, 0, "bad"}, "a.yaml:3: bad"},
		{Error{"a.yaml", 0, 0, "bad"}, "a.yaml: bad"},
		{Error{"", 0, 0, "bad"}, "bad"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q, want %q", tt.err, got, tt.want)
		}
	}
	errs := Errors{{"a", 1, 2, "x"}, {"a", 3, 4, "y"}}
	if got, want := errs.Error(), "a:1:2: x\na:3:4: y"; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"destination", "exclude", "name", "paths", "stream", "type"}
	tests := []struct{ in, want string }{
		{"strem", "stream"},
		{"pahts", "paths"},
		{"destinaton", "destination"},
		{"Type", "type"},
		{"nmae", "name"},
		{"excludes", "exclude"},
		{"colour", ""},
		{"x", ""},
		{"ab", ""},
		{"streams_and_more", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, known); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "abc", 0},
		{"abc", "acb", 1},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := editDistance(tt.b, tt.a); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.b, tt.a, got, tt.want)
		}
	}
}
