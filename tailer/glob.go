package tailer

import (
	"strings"

	"github.com/kinetail/kinetail/internal/glob"
)

// Glob is a compiled path pattern with the syntax of a flow's paths:
// filepath.Match in each segment, and ** for any number of directories.
type Glob struct{ segs []string }

// CompileGlob compiles an absolute path pattern.
func CompileGlob(pattern string) (Glob, error) {
	segs, err := splitGlob(pattern)
	if err != nil {
		return Glob{}, err
	}
	return Glob{segs: segs}, nil
}

// Match reports whether path matches the pattern.
func (g Glob) Match(path string) bool {
	return glob.Match(g.segs, strings.Split(strings.TrimPrefix(path, "/"), "/"))
}
