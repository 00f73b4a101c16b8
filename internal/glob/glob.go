// Package glob owns the syntax of kinetail's path patterns: a flow's paths
// and exclude, and a route's when.path. Each segment is a filepath.Match
// pattern; a segment "**" matches any number of directories.
//
// Both `kinetail check` (config) and the running agent (tailer, route)
// parse patterns with Split, so a pattern the check accepts is one the
// agent can follow, and a pattern the agent would refuse fails the check.
// It is its own package because config must not import the tailer, a
// later stage.
package glob

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Problems Split reports. The caller names the pattern.
var (
	ErrEmpty    = errors.New("must not be empty")
	ErrStarStar = errors.New(`"**" must be a whole path segment, like /var/log/**/*.log`)
	ErrNoFile   = errors.New("matches no file")
)

// Split checks pattern and returns its segments, cleaned (filepath.Clean)
// and without the leading slash of an absolute pattern. A "**" that is not
// a whole segment is refused rather than read as "*": it almost always
// means a forgotten slash.
func Split(pattern string) ([]string, error) {
	if pattern == "" {
		return nil, ErrEmpty
	}
	var segs []string
	for seg := range strings.SplitSeq(strings.TrimPrefix(filepath.Clean(pattern), "/"), "/") {
		if seg != "**" && strings.Contains(seg, "**") {
			return nil, ErrStarStar
		}
		if _, err := filepath.Match(seg, ""); err != nil {
			return nil, fmt.Errorf("invalid glob: %w", err)
		}
		segs = append(segs, seg)
	}
	if len(segs) == 1 && segs[0] == "" {
		// "/" alone: a directory, never a file.
		return nil, ErrNoFile
	}
	return segs, nil
}

// Match reports whether the segments of a path match the segments of a
// pattern from Split; "**" matches zero or more of them.
func Match(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			if len(pat) == 1 {
				return true
			}
			for i := 0; i <= len(name); i++ {
				if Match(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := filepath.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
