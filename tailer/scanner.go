package tailer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kinetail/kinetail/internal/glob"
)

// Scanner expands a flow's include globs into the regular files they match,
// minus the excluded ones. It keeps no state between scans.
//
// A glob is an absolute path whose segments are filepath.Match patterns; a
// segment "**" matches any number of directories (zero or more), and a
// trailing "**" matches every file below. Symbolic links to directories are
// followed, but never into a directory that is already an ancestor on the
// current walk, so link loops end. Symbolic links to files are followed: the
// FileInfo is the target's.
type Scanner struct {
	include [][]string
	exclude [][]string
}

// NewScanner checks the globs and returns a Scanner for them. Exclude
// patterns without a slash match a file's base name; patterns with one match
// its full path (with ** as in include globs).
func NewScanner(include, exclude []string) (*Scanner, error) {
	s := &Scanner{}
	for _, p := range include {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("path %q: glob must be absolute", p)
		}
		segs, err := splitGlob(p)
		if err != nil {
			return nil, err
		}
		if segs[len(segs)-1] == "**" {
			segs = append(segs, "*")
		}
		s.include = append(s.include, segs)
	}
	for _, p := range exclude {
		segs, err := splitGlob(p)
		if err != nil {
			return nil, fmt.Errorf("exclude %w", err)
		}
		s.exclude = append(s.exclude, segs)
	}
	return s, nil
}

// splitGlob parses p with the parser config's checks use too, so a flow
// that passes `kinetail check` never fails here.
func splitGlob(p string) ([]string, error) {
	segs, err := glob.Split(p)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", p, err)
	}
	return segs, nil
}

// Snapshot is the result of one scan.
type Snapshot struct {
	// Files maps each matching path to its FileInfo (of the link target for
	// symbolic links).
	Files map[string]os.FileInfo
	// Dirs are the directories worth watching: every directory a wildcard
	// was matched in, and for literal paths the deepest existing directory,
	// so that creating the missing part is noticed.
	Dirs []string
	// Errors are per-path problems: unreadable directories and matched
	// names whose target cannot be stat'ed (dangling links).
	Errors []PathError
}

// PathError is a problem with one path found while scanning.
type PathError struct {
	Path string
	Err  error
}

func (e PathError) Error() string { return e.Path + ": " + e.Err.Error() }

// Scan walks the file system once.
func (s *Scanner) Scan() Snapshot {
	w := walk{
		s:    s,
		snap: Snapshot{Files: make(map[string]os.FileInfo)},
		dirs: make(map[string]struct{}),
	}
	for _, segs := range s.include {
		w.expand("/", segs, nil)
	}
	for d := range w.dirs {
		w.snap.Dirs = append(w.snap.Dirs, d)
	}
	slices.Sort(w.snap.Dirs)
	return w.snap
}

type walk struct {
	s    *Scanner
	snap Snapshot
	dirs map[string]struct{}
}

func hasMeta(seg string) bool { return strings.ContainsAny(seg, `*?[\`) }

// expand matches segs below the existing directory base. ancestors holds the
// identities of the directories a ** has descended through, to stop loops.
func (w *walk) expand(base string, segs []string, ancestors []devIno) {
	seg, rest := segs[0], segs[1:]
	switch {
	case seg == "**":
		// Zero directories, then one more level and ** again.
		w.expand(base, rest, ancestors)
		w.dirs[base] = struct{}{}
		if len(ancestors) == 0 {
			// Count the directory ** starts in, so a link back to it
			// is not walked again.
			if fi, err := os.Stat(base); err == nil {
				if k, ok := keyOf(fi); ok {
					ancestors = []devIno{k}
				}
			}
		}
		ents, err := os.ReadDir(base)
		if err != nil {
			w.dirErr(base, err)
			return
		}
		for _, e := range ents {
			p := filepath.Join(base, e.Name())
			k, ok := w.dirKey(p, e)
			if !ok || slices.Contains(ancestors, k) {
				continue
			}
			w.expand(p, segs, append(ancestors[:len(ancestors):len(ancestors)], k))
		}
	case !hasMeta(seg):
		p := filepath.Join(base, seg)
		if len(rest) == 0 {
			w.dirs[base] = struct{}{}
			fi, err := os.Stat(p)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					w.fileErr(p, err)
				} else if _, lerr := os.Lstat(p); lerr == nil {
					w.fileErr(p, err) // a dangling link
				}
				return
			}
			w.add(p, fi)
			return
		}
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			// The rest of the path does not exist (yet): watch here.
			w.dirs[base] = struct{}{}
			return
		}
		w.expand(p, rest, ancestors)
	default:
		w.dirs[base] = struct{}{}
		ents, err := os.ReadDir(base)
		if err != nil {
			w.dirErr(base, err)
			return
		}
		for _, e := range ents {
			if ok, _ := filepath.Match(seg, e.Name()); !ok {
				continue
			}
			p := filepath.Join(base, e.Name())
			if len(rest) == 0 {
				fi, err := w.fileInfo(p, e)
				if err != nil {
					w.fileErr(p, err)
					continue
				}
				w.add(p, fi)
				continue
			}
			if _, ok := w.dirKey(p, e); ok {
				w.expand(p, rest, ancestors)
			}
		}
	}
}

// fileInfo returns the FileInfo of the entry, following a symbolic link.
func (w *walk) fileInfo(p string, e fs.DirEntry) (os.FileInfo, error) {
	if e.Type()&fs.ModeSymlink != 0 {
		return os.Stat(p)
	}
	return e.Info()
}

// dirKey reports whether the entry is (or links to) a directory, and its
// identity.
func (w *walk) dirKey(p string, e fs.DirEntry) (devIno, bool) {
	if !e.IsDir() && e.Type()&fs.ModeSymlink == 0 {
		return devIno{}, false
	}
	fi, err := os.Stat(p)
	if err != nil || !fi.IsDir() {
		return devIno{}, false
	}
	return keyOf(fi)
}

func (w *walk) add(p string, fi os.FileInfo) {
	if !fi.Mode().IsRegular() || w.s.excluded(p) {
		return
	}
	w.snap.Files[p] = fi
}

func (w *walk) fileErr(p string, err error) {
	if w.s.excluded(p) {
		return
	}
	w.snap.Errors = append(w.snap.Errors, PathError{Path: p, Err: err})
}

func (w *walk) dirErr(p string, err error) {
	if errors.Is(err, fs.ErrNotExist) {
		return // removed while we walked; the next scan sees it
	}
	w.snap.Errors = append(w.snap.Errors, PathError{Path: p, Err: err})
}

// Match reports whether path matches an include glob and no exclude
// pattern, by name only (links are not resolved). The watcher uses it to
// ignore writes to files the flow does not follow.
func (s *Scanner) Match(path string) bool {
	segs := strings.Split(strings.TrimPrefix(filepath.Clean(path), "/"), "/")
	for _, inc := range s.include {
		if glob.Match(inc, segs) {
			return !s.excluded(path)
		}
	}
	return false
}

func (s *Scanner) excluded(p string) bool {
	if len(s.exclude) == 0 {
		return false
	}
	base := filepath.Base(p)
	var segs []string
	for _, ex := range s.exclude {
		if len(ex) == 1 {
			if ok, _ := filepath.Match(ex[0], base); ok {
				return true
			}
		}
		if segs == nil {
			segs = strings.Split(strings.TrimPrefix(p, "/"), "/")
		}
		if glob.Match(ex, segs) {
			return true
		}
	}
	return false
}
