package tailer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// A followed path's family is the set of names its earlier generations get
// when they are rotated: logrotate's numbered names (app.log.1), dated
// names (app.log-20261206, dateext), either one before the extension
// (app.1.log, app-20261206.log, logrotate's extension option), each
// optionally compressed (app.log.2.gz). Only names are looked at here;
// whether a file of the family holds a generation the flow still has to
// read is decided by its content and modification time (see plan.go).

// isRotation reports whether name is a rotated name of the file called base.
func isRotation(base, name string) bool {
	if name == base {
		return false
	}
	name = trimCompression(name)
	if rest, ok := strings.CutPrefix(name, base); ok && isRotationSuffix(rest) {
		return true
	}
	ext := filepath.Ext(base)
	if ext == "" || ext == base {
		return false
	}
	stem := base[:len(base)-len(ext)]
	mid, ok := strings.CutPrefix(name, stem)
	if !ok {
		return false
	}
	mid, ok = strings.CutSuffix(mid, ext)
	return ok && isRotationSuffix(mid)
}

// isRotationSuffix reports whether s is what rotation appends to a name: a
// separator, then a number or a date and time made of digits and
// separators, ending in a digit (".1", "-20261206", ".2026-12-06_10").
func isRotationSuffix(s string) bool {
	if len(s) < 2 || !isSep(s[0]) || !isDigit(s[1]) || !isDigit(s[len(s)-1]) {
		return false
	}
	for i := 2; i < len(s); i++ {
		if !isDigit(s[i]) && !isSep(s[i]) {
			return false
		}
	}
	return true
}

// rotationOrigins returns the names that name is a rotated name of (see
// isRotation), taking the longest rotation suffix of each form: app.log for
// app.log.1.gz, app.log-20261206 and app-20261206.log. Both may be empty.
func rotationOrigins(name string) (suffixed, inner string) {
	n := trimCompression(name)
	if i := rotationSuffixAt(n); i > 0 {
		suffixed = n[:i]
	}
	if ext := filepath.Ext(n); ext != "" && ext != n {
		body := n[:len(n)-len(ext)]
		if i := rotationSuffixAt(body); i > 0 {
			inner = body[:i] + ext
		}
	}
	return suffixed, inner
}

// rotationSuffixAt returns where the longest rotation suffix of s begins,
// or -1.
func rotationSuffixAt(s string) int {
	at := -1
	for i := len(s) - 1; i > 0; i-- {
		c := s[i]
		if !isDigit(c) && !isSep(c) {
			break
		}
		if isSep(c) && isRotationSuffix(s[i:]) {
			at = i
		}
	}
	return at
}

// absentOrigins returns the paths the globs match that are not in the
// snapshot, and whose rotated files are in dirs (directories the globs
// were matched in): followed paths rotated away with nothing created in
// their place.
func (t *Tailer) absentOrigins(snap Snapshot, dirs []string) []string {
	var out []string
	listed := make(map[string]bool)
	for _, dir := range dirs {
		if listed[dir] {
			continue
		}
		listed[dir] = true
		looked := make(map[string]bool) // names, in dir
		look := func(name string) {
			if name == "" || looked[name] {
				return
			}
			looked[name] = true
			o := joinName(dir, name)
			if _, ok := snap.Files[o]; !ok && t.scanner.Match(o) {
				out = append(out, o)
			}
		}
		for _, e := range t.scanner.entries(dir) {
			if !e.typ.IsRegular() {
				continue
			}
			if _, ok := snap.Files[e.path]; ok && !compressedName(e.name) {
				continue // followed in its own right
			}
			suffixed, inner := rotationOrigins(e.name)
			look(suffixed)
			look(inner)
		}
	}
	return out
}

func isSep(c byte) bool   { return c == '.' || c == '-' || c == '_' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// trimCompression removes a compression extension (see codecOfExt) from
// name.
func trimCompression(name string) string {
	if codecOfExt(name) == codecNone {
		return name
	}
	if s := strings.TrimSuffix(name, filepath.Ext(name)); s != "" {
		return s
	}
	return name
}

// family adds the rotated files of origin. With near, it searches the
// directories next to and below origin's (for a saved generation that is
// not where it was; where it is found, the directory is learned as
// origin's olddir).
func (p *planner) family(origin string, snap Snapshot, near bool) {
	t := p.t
	base, home := filepath.Base(origin), dirOf(origin)
	var dirs []string
	if near {
		dirs = p.nearDirs(home)
	} else {
		dirs = append(dirs, home)
		for d := range t.dirs[origin] {
			dirs = append(dirs, d)
		}
		for _, g := range t.known.byOrigin[origin] {
			dirs = append(dirs, dirOf(g.pos.Path))
		}
		slices.Sort(dirs)
		dirs = slices.Compact(dirs)
	}
	// Saved paths of known generations are looked at whatever their
	// names, the rest only if they are rotated names of origin.
	savedAt := make(map[string]bool)
	for _, g := range t.known.byOrigin[origin] {
		savedAt[g.pos.Path] = true
	}
	// Files older than this cannot hold anything to read: neither an
	// unseen generation nor the rest of a known one (a known generation's
	// bytes were all written after its MTime).
	floor := p.since[origin]
	for _, g := range t.known.byOrigin[origin] {
		if !g.found && !g.pos.Closed && (floor.IsZero() || g.pos.MTime.Before(floor)) {
			floor = g.pos.MTime
		}
	}
	if f, ok := p.floors[origin]; ok && f.Before(floor) {
		floor = f
	}
	look := func(dir string, e os.DirEntry) {
		path := filepath.Join(dir, e.Name())
		if !e.Type().IsRegular() || !(isRotation(base, e.Name()) || savedAt[path]) {
			return
		}
		if _, ok := snap.Files[path]; ok && !compressedName(path) {
			return // in the globs: followed, or handled as appeared
		}
		fi, err := e.Info()
		if err != nil {
			return // renamed since the listing; the next look finds it
		}
		k, ok := keyOf(fi)
		if !ok || t.reading(k) {
			return
		}
		if fi.ModTime().Before(floor) && !t.known.unfinished(k) && !savedAt[path] {
			return // older than anything this path still needs
		}
		p.add(&candidate{path: path, key: k, fi: fi, origin: origin, near: near})
	}
	// Every rotated name begins with the name's stem (app for app.log):
	// in a listing sorted by name they are one run, found by binary
	// search, so a directory of thousands of followed files costs each
	// of them its own few names, not the whole listing.
	stem := base
	if ext := filepath.Ext(base); ext != "" && ext != base {
		stem = base[:len(base)-len(ext)]
	}
	for _, dir := range dirs {
		ents, stable := p.readDir(dir)
		if !stable {
			p.unsettled[origin] = true
		}
		i, _ := slices.BinarySearchFunc(ents, stem, byName)
		for ; i < len(ents) && strings.HasPrefix(ents[i].Name(), stem); i++ {
			look(dir, ents[i])
		}
		for path := range savedAt {
			if dirOf(path) != dir || strings.HasPrefix(filepath.Base(path), stem) {
				continue // elsewhere, or seen in the run
			}
			if j, ok := slices.BinarySearchFunc(ents, filepath.Base(path), byName); ok {
				look(dir, ents[j])
			}
		}
	}
}

// byName orders directory entries as os.ReadDir returns them.
func byName(e os.DirEntry, name string) int { return strings.Compare(e.Name(), name) }

// nearDirs returns the directories next to and below dir that a near
// search looks in, at most maxNearDirs of each kind; a planner works them
// out once per directory.
func (p *planner) nearDirs(dir string) []string {
	if ds, ok := p.near[dir]; ok {
		return ds
	}
	var out []string
	addSubdirs := func(d string) {
		n := 0
		ents, _ := p.readDir(d)
		for _, e := range ents {
			if n >= maxNearDirs {
				return
			}
			sub := filepath.Join(d, e.Name())
			if sub == dir {
				continue
			}
			if fi, err := os.Stat(sub); err == nil && fi.IsDir() {
				out = append(out, sub)
				n++
			}
		}
	}
	addSubdirs(dir)
	if parent := dirOf(dir); parent != dir {
		addSubdirs(parent)
	}
	p.near[dir] = out
	return out
}

func (p *planner) readDir(dir string) ([]os.DirEntry, bool) {
	if l, ok := p.dirs[dir]; ok {
		return l.ents, l.stable
	}
	ents, stable := quietList(dir)
	p.dirs[dir] = listing{ents, stable}
	return ents, stable
}

// listing is a directory's entries, and whether they were listed while
// nothing changed in it.
type listing struct {
	ents   []os.DirEntry
	stable bool
}

// Listing a directory while logrotate renames in it can miss a file: one
// renamed during the listing to a name the listing already passed. A
// listing is trusted when the directory did not change while it was made
// and had been quiet for a moment before (a change within the same clock
// tick as the one before it leaves the time as it was); otherwise it is
// made again, a few times at most, and said to be unstable.
const (
	dirQuiet     = 10 * time.Millisecond
	dirListTries = 10
)

// quietList lists dir (nil when it cannot be read: an unreadable directory
// holds nothing to read) and reports whether the listing is stable.
func quietList(dir string) ([]os.DirEntry, bool) {
	var ents []os.DirEntry
	for range dirListTries {
		before, err := statDir(dir)
		if err != nil {
			return nil, true
		}
		ents, _ = os.ReadDir(dir)
		after, err := statDir(dir)
		if err == nil && before.Equal(after) && time.Since(after) >= dirQuiet {
			return ents, true
		}
		time.Sleep(dirQuiet)
	}
	return ents, false
}

// reading reports whether a reader has the file k.
func (t *Tailer) reading(k devIno) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, ok := t.readers[k]
	return ok
}
