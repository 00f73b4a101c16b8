package tailer

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kinetail/kinetail/internal/glob"
)

// Scanner expands a flow's include globs into the regular files they match,
// minus the excluded ones. It keeps no state between scans but the number
// of files the last one found.
//
// A glob is an absolute path whose segments are filepath.Match patterns; a
// segment "**" matches any number of directories (zero or more), and a
// trailing "**" matches every file below. Symbolic links to directories are
// followed, but never into a directory that is already an ancestor on the
// current walk, so link loops end. Symbolic links to files are followed: the
// FileInfo is the target's.
//
// Which links are followed is the Scanner's Symlinks policy: a path reached
// through a link (its last component, or a directory a wildcard or ** went
// into) is a link's. Links in the literal directories a glob starts with
// (/var/log being a link to /data/log) are the operator's own and always
// followed. A refused path is reported in Snapshot.Refused, not in Files.
// Only regular files are matched; the rest are reported in
// Snapshot.Skipped.
type Scanner struct {
	include [][]string
	exclude [][]string
	links   Symlinks
	roots   []string
	// lists are the directories the last scan read, with what it found
	// in them: a directory not modified since it was read (see list)
	// holds the same names, and a file whose lstat did not change keeps
	// its FileInfo. A rescan of ten thousand idle files used to make 6 MB
	// of garbage to find the same answers.
	lists map[string]*dirList
	// absentDirs are the directories of literal paths that were not
	// there, with their modification times when looked at (see absent).
	absentDirs map[string]absentDir
	scans      uint64
	// files is the last Snapshot's Files, cleared and filled again.
	files map[string]os.FileInfo
}

// absentDir is a directory's modification time and when it was looked
// at, and the last scan that did.
type absentDir struct {
	dirTime
	scan uint64
}

// dirList is what a directory held when a scan last read it.
type dirList struct {
	key  devIno
	mod  time.Time // its modification time then
	read time.Time // when, just before it was read
	ents []dirEnt  // sorted by name
	scan uint64    // the last scan that asked for it
	// watch is the number of its watch at that scan's start (see scan).
	watch uint64
	told  bool // what list answered that scan
}

// dirEnt is a directory entry, with its path and, for a regular file, what
// the last lstat of it returned.
type dirEnt struct {
	name, path string
	typ        fs.FileMode // the type bits, as fs.DirEntry.Type
	fi         os.FileInfo
}

// Symlinks says which symbolic links a Scanner follows.
type Symlinks int

const (
	// LinksWithin follows a link only when its target's real path matches
	// an include glob or lies under one of the allowed roots: links
	// within what the flow reads anyway, or into a place named for them
	// (Kubernetes' /var/log/containers into /var/log/pods). Whoever can
	// write a watched directory cannot make the flow read any other file.
	LinksWithin Symlinks = iota
	// LinksFollow follows every link.
	LinksFollow
	// LinksSkip follows none.
	LinksSkip
)

// ParseSymlinks returns the policy named within, follow or skip.
func ParseSymlinks(name string) (Symlinks, error) {
	switch name {
	case "within", "":
		return LinksWithin, nil
	case "follow":
		return LinksFollow, nil
	case "skip":
		return LinksSkip, nil
	}
	return 0, fmt.Errorf("symlinks: unknown policy %q", name)
}

// SetLinks sets the link policy and, for LinksWithin, the absolute
// directories links may point into besides the globs.
func (s *Scanner) SetLinks(policy Symlinks, roots []string) {
	s.links = policy
	s.roots = nil
	for _, r := range roots {
		s.roots = append(s.roots, filepath.Clean(r))
	}
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
	// symbolic links). The map is the Scanner's: the next Scan fills it
	// again.
	Files map[string]os.FileInfo
	// Dirs are the directories worth watching: every directory a wildcard
	// was matched in, and for literal paths the deepest existing directory,
	// so that creating the missing part is noticed.
	Dirs []string
	// Relisted are, after a Scanner's first scan, the directories a
	// wildcard is matched in that may have changed since the previous
	// scan, or are new (see list), and those of literal paths not there
	// that may have (see absent).
	Relisted []string
	// Errors are per-path problems: unreadable directories and matched
	// names whose target cannot be stat'ed (dangling links).
	Errors []PathError
	// Refused are matched paths reached through a symbolic link the
	// policy does not follow.
	Refused []Refusal
	// Skipped are matched paths that are not regular files: directories,
	// FIFOs, sockets, devices.
	Skipped []Skip
}

// Refusal is a matched path the link policy refused, and the real path it
// leads to.
type Refusal struct{ Path, Target string }

// Skip is a matched path that is not a regular file, and its type.
type Skip struct {
	Path string
	Type fs.FileMode
}

// PathError is a problem with one path found while scanning.
type PathError struct {
	Path string
	Err  error
}

func (e PathError) Error() string { return e.Path + ": " + e.Err.Error() }

// Scan walks the file system once. Scans are not concurrent.
func (s *Scanner) Scan() Snapshot { return s.scan(nil, true, nil) }

// scan is Scan for a caller told of the writes to the files of watched
// directories: watch returns the number of the watch on a directory (0:
// not watched). Unless all, the files of a directory whose names did not
// change, under the same watch since before the last scan, are not looked
// at again: their FileInfo is the last one. That scan looked at them after
// the watch began, so a write since then was told. The files at the paths
// in written are looked at in any case: the caller was told of them.
func (s *Scanner) scan(watch func(dir string) uint64, all bool, written map[string]struct{}) Snapshot {
	if s.files == nil {
		s.files, s.lists, s.absentDirs = make(map[string]os.FileInfo), make(map[string]*dirList), make(map[string]absentDir)
	}
	clear(s.files)
	s.scans++
	w := walk{
		s:       s,
		snap:    Snapshot{Files: s.files},
		dirs:    make(map[string]struct{}),
		watch:   watch,
		all:     all,
		written: written,
	}
	if s.links == LinksWithin {
		w.realGlobs, w.realRoots = s.realGlobs(), realPaths(s.roots)
	}
	for _, segs := range s.include {
		w.expand("/", segs, nil, false)
	}
	for d := range w.dirs {
		w.snap.Dirs = append(w.snap.Dirs, d)
	}
	slices.Sort(w.snap.Dirs)
	maps.DeleteFunc(s.lists, func(_ string, l *dirList) bool { return l.scan != s.scans })
	maps.DeleteFunc(s.absentDirs, func(_ string, a absentDir) bool { return a.scan != s.scans })
	return w.snap
}

// list returns the entries of dir, read again only when it may have
// changed since the last scan read it: another directory at that path, or
// another modification time, or one so close to the read that a later
// change may have left it as it was (see racyDir).
//
// It also reports whether the files' FileInfos may be taken as they are
// (see scan).
func (w *walk) list(dir string) ([]dirEnt, bool, error) {
	s := w.s
	l := s.lists[dir]
	if l != nil && l.scan == s.scans {
		// Asked again by the same scan (a ** glob lists each directory
		// to descend, and again to match its files).
		return l.ents, l.told, nil
	}
	now := time.Now()
	key, mod, err := dirStat(dir)
	if err != nil {
		l = nil // ReadDir says what is wrong
	}
	var watch uint64
	if w.watch != nil {
		watch = w.watch(dir)
	}
	if l != nil && l.key == key && !(dirTime{mod: l.mod, seen: l.read}).changed(mod) {
		told := !w.all && watch != 0 && watch == l.watch
		l.scan, l.watch, l.told = s.scans, watch, told
		return l.ents, told, nil
	}
	read, err := os.ReadDir(dir)
	if err != nil {
		delete(s.lists, dir)
		return nil, false, err
	}
	if l != nil || s.scans > 1 {
		// Read again, or new since the last scan: a file created and
		// rotated away in it since then left only its rotated names.
		w.snap.Relisted = append(w.snap.Relisted, dir)
	}
	ents := make([]dirEnt, len(read))
	j := 0
	for i, e := range read {
		name := e.Name()
		for l != nil && j < len(l.ents) && l.ents[j].name < name {
			j++
		}
		if l != nil && j < len(l.ents) && l.ents[j].name == name && l.ents[j].typ == e.Type() {
			ents[i] = l.ents[j] // its path, and its FileInfo while it does not change
			continue
		}
		ents[i] = dirEnt{name: name, path: joinName(dir, name), typ: e.Type()}
	}
	s.lists[dir] = &dirList{key: key, mod: mod, read: now, ents: ents, scan: s.scans, watch: watch}
	return ents, false, nil
}

// entries returns what dir holds: as the last scan listed it, or, for a
// directory it did not list (of a literal path), as read now (nil if it
// cannot be read).
func (s *Scanner) entries(dir string) []dirEnt {
	if l := s.lists[dir]; l != nil && l.scan == s.scans {
		return l.ents
	}
	read, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	ents := make([]dirEnt, len(read))
	for i, e := range read {
		ents[i] = dirEnt{name: e.Name(), path: joinName(dir, e.Name()), typ: e.Type()}
	}
	return ents
}

type walk struct {
	s    *Scanner
	snap Snapshot
	dirs map[string]struct{}
	// For LinksWithin: the include globs also with their literal leading
	// directories resolved, and the allowed roots resolved, as they are
	// at this scan: a link's target is compared with them by real path.
	realGlobs [][]string
	realRoots []string
	watch     func(dir string) uint64 // see scan
	all       bool
	written   map[string]struct{}
}

// realGlobs returns the include globs, and for each glob whose literal
// leading directories resolve elsewhere (/var/log a link to /data/log)
// that glob again with them resolved.
func (s *Scanner) realGlobs() [][]string {
	out := slices.Clone(s.include)
	for _, segs := range s.include {
		n := 0
		for n < len(segs)-1 && !hasMeta(segs[n]) {
			n++
		}
		lit := "/" + strings.Join(segs[:n], "/")
		real, err := filepath.EvalSymlinks(lit)
		if err != nil || real == lit {
			continue
		}
		rs := strings.Split(strings.TrimPrefix(real, "/"), "/")
		if real == "/" {
			rs = nil
		}
		out = append(out, append(rs, segs[n:]...))
	}
	return out
}

// realPaths resolves the links in each path; one that cannot be resolved
// (missing) is kept as it is.
func realPaths(paths []string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		out = append(out, p)
	}
	return out
}

func hasMeta(seg string) bool { return strings.ContainsAny(seg, `*?[\`) }

// expand matches segs below the existing directory base. ancestors holds the
// identities of the directories a ** has descended through, to stop loops.
// viaLink is set once a wildcard or ** went through a symbolic link to get
// to base.
func (w *walk) expand(base string, segs []string, ancestors []devIno, viaLink bool) {
	seg, rest := segs[0], segs[1:]
	switch {
	case seg == "**":
		// Zero directories, then one more level and ** again.
		w.expand(base, rest, ancestors, viaLink)
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
		ents, _, err := w.list(base)
		if err != nil {
			w.dirErr(base, err)
			return
		}
		for i := range ents {
			e := &ents[i]
			k, ok := w.dirKey(e)
			if !ok || slices.Contains(ancestors, k) {
				continue
			}
			w.expand(e.path, segs, append(ancestors[:len(ancestors):len(ancestors)], k), viaLink || e.isLink())
		}
	case !hasMeta(seg):
		p := filepath.Join(base, seg)
		if len(rest) == 0 {
			w.dirs[base] = struct{}{}
			lfi, err := os.Lstat(p)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					w.fileErr(p, err)
				} else {
					w.absent(base)
				}
				return
			}
			fi, link := lfi, lfi.Mode()&fs.ModeSymlink != 0
			if link {
				if fi, err = os.Stat(p); err != nil {
					w.fileErr(p, err) // a dangling link, or one that cannot be followed
					return
				}
			}
			w.add(p, fi, viaLink || link)
			return
		}
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			// The rest of the path does not exist (yet): watch here.
			w.dirs[base] = struct{}{}
			return
		}
		if viaLink || w.s.links == LinksFollow || !w.pastWildcard(base) {
			w.expand(p, rest, ancestors, viaLink)
			return
		}
		// A literal directory below a wildcard (logs in
		// /srv/*/logs/*.log) may be a link made by whoever can write
		// the directory the wildcard matched in.
		lfi, err := os.Lstat(p)
		w.expand(p, rest, ancestors, err != nil || lfi.Mode()&fs.ModeSymlink != 0)
	default:
		w.dirs[base] = struct{}{}
		ents, told, err := w.list(base)
		if err != nil {
			w.dirErr(base, err)
			return
		}
		for i := range ents {
			e := &ents[i]
			if ok, _ := filepath.Match(seg, e.name); !ok {
				continue
			}
			if len(rest) == 0 {
				_, wrote := w.written[e.path]
				fi, err := e.info(told && !wrote)
				if err != nil {
					w.fileErr(e.path, err)
					continue
				}
				w.add(e.path, fi, viaLink || e.isLink())
				continue
			}
			if _, ok := w.dirKey(e); ok {
				w.expand(e.path, rest, ancestors, viaLink || e.isLink())
			}
		}
	}
}

// absent notes the directory of a literal path that is not there. One that
// changed since the last scan looked at it, or whose time was too close to
// that look to tell (see racyDir), is reported in Relisted: a file created
// there and rotated away between two scans left only its rotated names.
func (w *walk) absent(dir string) {
	s := w.s
	if a, ok := s.absentDirs[dir]; ok && a.scan == s.scans {
		return // another literal path in it, this scan
	}
	_, mod, err := dirStat(dir)
	if err != nil {
		return
	}
	// Not looked at by the last scan (the path was there, or the
	// directory was not), changed since, or too close to tell.
	if a, ok := s.absentDirs[dir]; !ok && s.scans > 1 || ok && a.changed(mod) {
		w.snap.Relisted = append(w.snap.Relisted, dir)
	}
	s.absentDirs[dir] = absentDir{dirTime{mod: mod, seen: time.Now()}, s.scans}
}

// joinName is filepath.Join for a clean directory and the name of one of
// its entries (never empty, ".", ".." or with a slash): without Join's
// Clean, which was a tenth of a rescan of ten thousand files.
func joinName(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// info returns the FileInfo of the entry, following a symbolic link. The
// last one is kept while the file's lstat does not change, and taken as it
// is when told (writes to the file are told; see scan).
func (e *dirEnt) info(told bool) (os.FileInfo, error) {
	if e.isLink() {
		// A link's target may be anywhere, watched or not.
		return os.Stat(e.path)
	}
	if told && e.fi != nil {
		return e.fi, nil
	}
	fi, err := lstat(e.name, e.path, e.fi)
	if err != nil {
		return nil, err
	}
	e.fi = fi
	return fi, nil
}

func (e *dirEnt) isLink() bool { return e.typ&fs.ModeSymlink != 0 }

// dirKey reports whether the entry is (or links to) a directory, and its
// identity.
func (w *walk) dirKey(e *dirEnt) (devIno, bool) {
	if !e.typ.IsDir() && !e.isLink() {
		return devIno{}, false
	}
	fi, err := os.Stat(e.path)
	if err != nil || !fi.IsDir() {
		return devIno{}, false
	}
	return keyOf(fi)
}

// pastWildcard reports whether dir was reached by a wildcard or **: it is
// not one of the literal directories some include glob starts with.
func (w *walk) pastWildcard(dir string) bool {
	segs := strings.Split(strings.TrimPrefix(dir, "/"), "/")
	for _, inc := range w.s.include {
		n := 0
		for n < len(inc) && n < len(segs) && !hasMeta(inc[n]) && inc[n] == segs[n] {
			n++
		}
		if n == len(segs) {
			return false
		}
	}
	return true
}

// add records a matched path with the FileInfo of what it leads to.
// viaLink says a symbolic link was followed to get there: the policy
// decides.
func (w *walk) add(p string, fi os.FileInfo, viaLink bool) {
	if w.s.excluded(p) {
		return
	}
	if viaLink && w.s.links != LinksFollow {
		target, ok := w.linkTarget(p, fi)
		if !ok {
			return // changed while it was looked at: the next scan sees it
		}
		if w.s.links == LinksSkip || !w.within(target) {
			w.snap.Refused = append(w.snap.Refused, Refusal{Path: p, Target: target})
			return
		}
	}
	if !fi.Mode().IsRegular() {
		w.snap.Skipped = append(w.snap.Skipped, Skip{Path: p, Type: fi.Mode().Type()})
		return
	}
	w.snap.Files[p] = fi
}

// linkTarget returns the real path p leads to, and false when that is not
// the file fi describes any more (a link swapped after p was stat'ed).
// The Tailer opens p only as the file of fi's device and inode, so a link
// swapped after this check cannot make it read another file either.
func (w *walk) linkTarget(p string, fi os.FileInfo) (string, bool) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", false
	}
	rfi, err := os.Lstat(real)
	if err != nil {
		return "", false
	}
	// By identity: os.SameFile is false for any FileInfo but its own.
	k, ok := keyOf(fi)
	rk, rok := keyOf(rfi)
	if !ok || !rok || k != rk {
		return "", false
	}
	return real, true
}

// within reports whether the real path target matches an include glob (by
// real path) or lies under an allowed root.
func (w *walk) within(target string) bool {
	for _, r := range w.realRoots {
		if strings.HasPrefix(target, strings.TrimSuffix(r, "/")+"/") {
			return true
		}
	}
	segs := strings.Split(strings.TrimPrefix(target, "/"), "/")
	for _, inc := range w.realGlobs {
		if glob.Match(inc, segs) {
			return true
		}
	}
	return false
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
