package glob

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		pattern string
		want    []string
		err     error
	}{
		{"/var/log/*.log", []string{"var", "log", "*.log"}, nil},
		{"/srv/**/logs/**/*.log", []string{"srv", "**", "logs", "**", "*.log"}, nil},
		{"/var/log/../app//x.log", []string{"var", "app", "x.log"}, nil},
		{"/var/log/**", []string{"var", "log", "**"}, nil},
		{"*.gz", []string{"*.gz"}, nil},
		{"", nil, ErrEmpty},
		{"/", nil, ErrNoFile},
		{"//", nil, ErrNoFile},
		{"/var/log/**.log", nil, ErrStarStar},
		{"/var/**x/a.log", nil, ErrStarStar},
		{"/var/log/[app.log", nil, filepath.ErrBadPattern},
		{`a\`, nil, filepath.ErrBadPattern},
	}
	for _, tt := range tests {
		got, err := Split(tt.pattern)
		if !errors.Is(err, tt.err) || !slices.Equal(got, tt.want) {
			t.Errorf("Split(%q) = %q, %v; want %q, %v", tt.pattern, got, err, tt.want, tt.err)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/a/**/b/**/c", "/a/b/c", true},
		{"/a/**/b/**/c", "/a/x/b/y/z/c", true},
		{"/a/**/b/**/c", "/a/x/c", false},
		{"/a/**", "/a", true}, // zero directories: the scanner adds "*" for files below
		{"/a/**", "/a/x/y", true},
		{"/a/**", "/b/x", false},
		{"/a/[bc]?/d", "/a/cx/d", true},
		{"/a/[bc]?/d", "/a/cx", false},
		{"*.gz", "x.log.gz", true},
	}
	for _, tt := range tests {
		pat, err := Split(tt.pattern)
		if err != nil {
			t.Fatalf("Split(%q): %v", tt.pattern, err)
		}
		if got := Match(pat, strings.Split(strings.TrimPrefix(tt.path, "/"), "/")); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}
