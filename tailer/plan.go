package tailer

import (
	"cmp"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// This file decides which generation a file holds and where reading it
// starts. One procedure serves every moment the Tailer was not looking:
// the first scan after a restart, a rotation or truncation seen while
// running, and a file that came back into the globs. It looks at
//
//   - the files that appeared in the globs, and
//   - the rotated files (see family.go) of followed paths whose
//     generation changed: in the path's directory, in directories where
//     its generations were found before (logrotate's olddir), and, while
//     a saved generation of the path is not found, in the directories
//     next to and below it,
//
// and matches them, in this order, with
//
//  1. known generations (saved Positions, and generations whose reader
//     ended), by inode: the same file, resumed at its offset if it still
//     holds the same bytes before it;
//  2. known generations by content: a copy (copytruncate, a compressed
//     copy, a file moved across file systems) that starts with the same
//     bytes and holds the same bytes before the offset goes on from there,
//     under the same Source, so record ids do not change;
//  3. generations being read: a file that starts with the same bytes as
//     one and holds what was handed on is a copy of it (copytruncate
//     while running) and is not read again; its reader will go on in it
//     when it finds its own file truncated;
//  4. the rest: a new file in the globs is a new generation; a rotated
//     file modified after the newest known generation of its path was
//     first seen is a generation nobody saw (written and rotated while the
//     agent was stopped, restarting, or within one scan): it is read from
//     the start. Older rotated files predate what the agent knows and are
//     left alone, so a first start never floods old files.
//
// The generations of one path are read oldest first: each waits until the
// one before it was read to its end once, and the file at the path itself
// comes last. A saved generation that is found nowhere, after a few looks,
// is reported lost with what is known of its size.

// Bounds of the search for saved generations that were not found.
const (
	searchRetry = 500 * time.Millisecond
	searchTries = 3
	maxNearDirs = 64
	// recentEmpty is how long an empty rotated file is looked at again:
	// logrotate may still be writing the copy.
	recentEmpty = 10 * time.Second
)

// candidate is a file the planner looks at.
type candidate struct {
	path   string
	key    devIno
	fi     os.FileInfo
	inGlob bool
	origin string // the followed path whose generations it may hold
	near   bool   // found in a directory searched only for saved generations
	prefix []byte // the first bytes (decompressed), once probed
	probed bool
	err    error // cannot be opened or decompressed
	g      *gen  // the known generation it holds
	short  bool  // g's copy, shorter than g's offset: nothing more of g
	held   bool  // a copy of a generation being read, or of one it holds
	f      file  // a compressed copy opened at its offset, for the start
}

func (c *candidate) compressed() bool { return compressedName(c.path) }

// planner is one run of plan.
type planner struct {
	t      *Tailer
	cands  []*candidate
	byPath map[string]*candidate
	since  map[string]time.Time // per origin: rotated files modified since then are unseen generations
	dirs   map[string][]os.DirEntry
	claims map[*gen]*candidate
	learn  map[string]string // directory → origin, where a known generation was found near
	// blocked are files that could not be looked at (permissions): a
	// saved generation in one is not lost.
	blocked map[devIno]bool
}

// plan looks at the files that appeared and at the families of origins
// (each with the time since which its rotated files are unseen
// generations), decides, and queues the starts.
func (t *Tailer) plan(appeared []event, origins map[string]time.Time, snap Snapshot) {
	p := &planner{t: t, byPath: make(map[string]*candidate), since: origins,
		dirs: make(map[string][]os.DirEntry), claims: make(map[*gen]*candidate), learn: make(map[string]string),
		blocked: make(map[devIno]bool)}
	for _, e := range appeared {
		if compressedName(e.Path) {
			continue // never followed as a new file; looked at as a rotated file
		}
		p.add(&candidate{path: e.Path, key: e.Key, fi: e.Info, inGlob: true, origin: e.Path})
	}
	// Saved generations not found yet are looked for with their path's
	// family, and near it.
	unfound := t.unfound()
	for _, g := range unfound {
		if o := g.origin(); o != "" {
			if _, ok := origins[o]; !ok {
				origins[o] = time.Time{} // look for known generations only
			}
		}
	}
	for o := range origins {
		p.family(o, snap, false)
	}
	for _, g := range unfound {
		if o := g.origin(); o != "" && !g.pos.Closed {
			p.family(o, snap, true)
		}
	}
	if len(p.cands) == 0 && len(unfound) == 0 {
		return
	}
	p.matchKnown()
	p.matchActive()
	p.decide()
	t.account(unfound, p, snap.Errors)
}

// add records a candidate once.
func (p *planner) add(c *candidate) {
	if _, dup := p.byPath[c.path]; dup {
		return
	}
	p.byPath[c.path] = c
	p.cands = append(p.cands, c)
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
		if !g.found && (floor.IsZero() || g.pos.MTime.Before(floor)) {
			floor = g.pos.MTime
		}
	}
	for _, dir := range dirs {
		for _, e := range p.readDir(dir) {
			path := filepath.Join(dir, e.Name())
			if !e.Type().IsRegular() || !(isRotation(base, e.Name()) || savedAt[path]) {
				continue
			}
			if _, ok := snap.Files[path]; ok && !compressedName(path) {
				continue // in the globs: followed, or handled as appeared
			}
			fi, err := e.Info()
			if err != nil {
				continue // renamed since the listing; the next look finds it
			}
			k, ok := keyOf(fi)
			if !ok || t.reading(k) {
				continue
			}
			if fi.ModTime().Before(floor) && !t.known.unfinished(k) && !savedAt[path] {
				continue // older than anything this path still needs
			}
			p.add(&candidate{path: path, key: k, fi: fi, origin: origin, near: near})
		}
	}
}

// nearDirs returns the directories below dir and next to it.
func (p *planner) nearDirs(dir string) []string {
	var out []string
	addSubdirs := func(d string) {
		n := 0
		for _, e := range p.readDir(d) {
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
	return out
}

func (p *planner) readDir(dir string) []os.DirEntry {
	if ents, ok := p.dirs[dir]; ok {
		return ents
	}
	ents, _ := os.ReadDir(dir) // an unreadable directory holds nothing we can read
	p.dirs[dir] = ents
	return ents
}

// reading reports whether a reader has the file k.
func (t *Tailer) reading(k devIno) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, ok := t.readers[k]
	return ok
}

// probe reads a candidate's first bytes (decompressed for a compressed
// copy).
func (p *planner) probe(c *candidate) {
	if c.probed {
		return
	}
	c.probed = true
	f, _, _, err := p.t.openAt(c.path, c.key)
	if err != nil {
		c.err = err
		if errors.Is(err, os.ErrPermission) {
			p.blocked[c.key] = true
		}
		return
	}
	defer f.Close()
	buf := make([]byte, FingerprintSize)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		c.err = err
		return
	}
	c.prefix = buf[:n]
}

// holds reports whether c holds generation g up to its offset: the same
// first bytes, at least that many bytes, and the bytes before the offset
// hash to its marker (when known). A copy shorter than the offset that
// holds g up to one of its recent batch ends is a copy made while g was
// read (logrotate's copytruncate, with lines written between its copy and
// its truncation): short is set, and it holds nothing g still needs. A
// compressed copy that holds g is kept open for its start.
func (p *planner) holds(c *candidate, g *gen) (ok, short bool) {
	p.probe(c)
	if c.err != nil {
		return false, false
	}
	id, off := g.pos.ID, g.pos.Offset
	if n := id.FingerprintLen; n > len(c.prefix) || fnv1a(c.prefix[:n]) != id.Fingerprint {
		return false, false
	}
	if off == 0 {
		return true, false
	}
	f, _, _, err := p.t.openAt(c.path, c.key)
	if err != nil {
		return false, false
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	m, err := readMarker(f, off)
	switch {
	case err == nil && (g.pos.Marker == 0 || m == g.pos.Marker):
		if c.compressed() {
			if c.f != nil {
				c.f.Close()
			}
			c.f, keep = f, true
		}
		return true, false
	case err == nil:
		return false, false // the bytes before the offset differ
	}
	for i := len(g.marks) - 1; i >= 0; i-- {
		mk := g.marks[i]
		if mk.end > off || mk.end == 0 {
			continue
		}
		if m, err := readMarker(f, mk.end); err == nil && m == mk.marker {
			return true, true
		}
	}
	return false, false
}

// claim records that c holds g (up to its offset, or all of c when short).
func (p *planner) claim(c *candidate, g *gen, short bool) {
	c.g, c.short = g, short
	p.claims[g] = c
	if c.near {
		p.learn[dirOf(c.path)] = c.origin
	}
}

// matchKnown matches candidates with known generations: by inode first,
// then by content, uncompressed files before compressed ones.
func (p *planner) matchKnown() {
	t := p.t
	if len(t.known.byKey) == 0 {
		return
	}
	order := slices.Clone(p.cands)
	slices.SortStableFunc(order, func(a, b *candidate) int {
		return cmp.Compare(b2i(a.compressed()), b2i(b.compressed()))
	})
	for _, c := range order {
		if c.compressed() {
			continue
		}
		for _, g := range newestFirst(t.known.byKey[c.key]) {
			if p.claims[g] != nil {
				continue
			}
			if g.pos.ID.FingerprintLen == 0 && c.path != g.pos.Path && c.path != g.origin() {
				continue // an empty file's inode reused elsewhere is not it
			}
			if ok, short := p.holds(c, g); ok {
				p.claim(c, g, short)
				break
			}
		}
	}
	for _, c := range order {
		if c.g != nil {
			continue
		}
		p.probe(c)
		if c.err != nil {
			continue
		}
		for _, g := range t.known.withPrefix(c.prefix) {
			ok, short := p.holds(c, g)
			if !ok {
				continue
			}
			if p.claims[g] != nil {
				c.held = true // another copy of a generation found already
				break
			}
			p.claim(c, g, short)
			break
		}
	}
}

// matchActive marks candidates that are copies of generations being read.
func (p *planner) matchActive() {
	active := newRegistry()
	wake := make(map[*gen]*reader)
	p.t.mu.RLock()
	for _, r := range p.t.readers {
		if pub := r.pub.Load(); pub != nil && pub.id.FingerprintLen > 0 {
			g := &gen{pos: Position{Path: r.name(), Origin: r.src.Path, ID: pub.id, Offset: pub.end, Marker: pub.marker}}
			active.add(g)
			wake[g] = r
		}
	}
	p.t.mu.RUnlock()
	if len(active.lens) == 0 {
		return
	}
	for _, c := range p.cands {
		if c.g != nil || c.held {
			continue
		}
		p.probe(c)
		if c.err != nil {
			continue
		}
		// The same first bytes are enough: a copy made while the
		// generation is read may be shorter or longer than what was
		// handed on. Its reader finds its own file truncated and the next
		// plan decides, on the generation's offset, what the copy holds.
		for _, g := range active.withPrefix(c.prefix) {
			c.held = true
			wake[g].wake()
			p.t.log.Debug("file is a copy of a file being read; not read again", "path", c.path, "of", g.pos.Path)
			break
		}
	}
}

// decide turns the matches into starts, ordered per path.
func (p *planner) decide() {
	t := p.t
	for dir, o := range p.learn {
		if dir != dirOf(o) {
			if t.dirs[o] == nil {
				t.dirs[o] = make(map[string]struct{})
			}
			if _, ok := t.dirs[o][dir]; !ok {
				t.dirs[o][dir] = struct{}{}
				t.log.Info("found rotated generations in another directory; looking there from now on", "path", o, "dir", dir)
			}
		}
	}
	// Uncompressed files first: of twins caught in the middle of their
	// compression, the uncompressed one is read.
	slices.SortStableFunc(p.cands, func(a, b *candidate) int {
		return cmp.Compare(b2i(a.compressed()), b2i(b.compressed()))
	})
	chains := make(map[string][]*opening)
	var queue []*opening
	missed := make(map[string]bool) // directory and name without compression
	for _, c := range p.cands {
		var s *opening
		switch {
		case c.g != nil:
			s = p.resume(c)
		case c.held || c.err != nil && !errors.Is(c.err, errUnsupported):
			continue
		case c.inGlob:
			s = t.newStart(c, "new file")
			// initial_position end_of_file is for files the agent knows
			// nothing of: not for a known path whose file was truncated
			// or replaced while it was down.
			s.atEnd = t.firstScan && t.cfg.StartAtEnd && len(t.known.byKey[c.key]) == 0 && len(t.known.byOrigin[c.path]) == 0
		case p.unseen(c):
			if c.fi.Size() == 0 {
				// Nothing in it, or a copy being written: looked at
				// again at the next scan while it is recent.
				if time.Since(c.fi.ModTime()) < recentEmpty {
					t.replan[c.origin] = p.since[c.origin]
				}
				continue
			}
			twin := filepath.Join(dirOf(c.path), trimCompression(filepath.Base(c.path)))
			if missed[twin] {
				continue
			}
			missed[twin] = true
			if errors.Is(c.err, errUnsupported) {
				t.lose(c.path, c.origin, c.fi.Size(), "a generation written while it was not followed is compressed in a format kinetail cannot read; its lines are lost", c.err)
				continue
			}
			s = t.newStart(c, "generation written while not followed")
			s.src.Path = c.origin
			s.gone, s.missed = true, true
		}
		if s == nil {
			continue
		}
		if _, hist := p.since[s.src.Path]; hist {
			chains[s.src.Path] = append(chains[s.src.Path], s)
		} else {
			queue = append(queue, s)
		}
	}
	for _, ss := range chains {
		slices.SortStableFunc(ss, func(a, b *opening) int {
			// The file at the path itself last, the rest by age.
			return cmp.Or(cmp.Compare(b2i(a.path == a.src.Path), b2i(b.path == b.src.Path)), a.mtime.Compare(b.mtime))
		})
		var after <-chan struct{}
		for _, s := range ss {
			s.after = after
			after = s.ended
			if s.missed {
				t.stats.missed.Add(1)
				t.log.Info("found a generation written while the file was not followed; reading it", "path", s.src.Path,
					"file", s.path, "size", s.size)
			}
			queue = append(queue, s)
		}
	}
	t.queue = append(t.queue, queue...)
}

// unseen reports whether c, a rotated file, is a generation of its path
// that no one saw: modified after the newest known generation of the path
// was first seen, in the path's own directory or one where its
// generations were found.
func (p *planner) unseen(c *candidate) bool {
	since := p.since[c.origin]
	if since.IsZero() || c.fi.ModTime().Before(since) {
		return false
	}
	return !c.near || p.learn[dirOf(c.path)] != ""
}

// resume makes the start that reads known generation c.g from c.
func (p *planner) resume(c *candidate) *opening {
	t, g := p.t, c.g
	if c.short {
		// All of it was read from the file it was copied from; what was
		// read after the copy was made is in neither file.
		g.found = true
		p.windowLost(c, g, g.pos.Offset)
		if !c.inGlob {
			return nil
		}
		// In the globs it is followed from its end, as a file of its own.
		s := t.newStart(c, "copy of a generation read before")
		s.off = c.fi.Size()
		return s
	}
	t.known.remove(g)
	g.found = true
	s := &opening{path: c.path, key: c.key, f: c.f, src: g.src, id: g.pos.ID, off: g.pos.Offset, marker: g.pos.Marker,
		mtime: g.pos.MTime, gone: !c.inGlob, g: g, ended: make(chan struct{}), why: "known generation"}
	c.f = nil
	if s.src == nil {
		s.src = &Source{Flow: t.cfg.Flow, Path: g.origin(), ID: g.pos.ID}
	}
	if s.mtime.IsZero() && c.path == g.origin() {
		// Saved without it (an older version): the file was at its path
		// now, so anything rotated from that path later is newer.
		s.mtime = c.fi.ModTime()
	}
	elsewhere := c.path != g.pos.Path || g.loc != (devIno{}) && c.key != g.loc
	if elsewhere {
		t.stats.recovered.Add(1)
		t.log.Info("found a generation in another file; reading on from its offset", "path", s.src.Path,
			"file", c.path, "was", g.pos.Path, "offset", g.pos.Offset)
		if !c.compressed() {
			p.windowLost(c, g, c.fi.Size())
		}
	}
	if !c.inGlob && !c.compressed() && c.fi.Size() <= g.pos.Offset {
		// Read to its end already: nothing to open. It stays known.
		t.known.add(g)
		return nil
	}
	return s
}

// windowLost counts what a truncated generation's copy lacks: the bytes
// written after logrotate copied the file and before it truncated it, from
// have (what the copy holds) to the size the file was last seen at.
func (p *planner) windowLost(c *candidate, g *gen, have int64) {
	if !g.truncated || g.size <= have {
		return
	}
	lost := g.size - have
	p.t.stats.copyTruncateLost.Add(lost)
	p.t.log.Warn("bytes written between the copy and the truncation were lost (copytruncate window)",
		"path", g.origin(), "copy", c.path, "lost_bytes", lost)
}

// newStart makes the start of a generation no one knows.
func (t *Tailer) newStart(c *candidate, why string) *opening {
	s := &opening{path: c.path, key: c.key, f: c.f, mtime: c.fi.ModTime(), ended: make(chan struct{}), why: why,
		src: &Source{Flow: t.cfg.Flow, Path: c.path}, identify: true, sync: true, size: c.fi.Size()}
	c.f = nil
	return s
}

// newestFirst orders the known generations of one inode: the newest is
// the likeliest to be what the file holds now.
func newestFirst(gs []*gen) []*gen {
	gs = slices.Clone(gs)
	slices.SortStableFunc(gs, func(a, b *gen) int { return b.pos.MTime.Compare(a.pos.MTime) })
	return gs
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// unfound returns the saved generations not found yet.
func (t *Tailer) unfound() []*gen {
	t.lookFor = slices.DeleteFunc(t.lookFor, func(g *gen) bool { return g.found })
	return slices.Clone(t.lookFor)
}

// searching reports whether saved generations are still looked for.
func (t *Tailer) searching() bool {
	for _, g := range t.lookFor {
		if !g.found && !g.pos.Closed {
			return true
		}
	}
	return false
}

// account counts a search for each generation that was looked for and
// not found, and after a few reports it lost. A saved generation was
// deleted (logrotate's rotate count, a cleanup) or compressed in a format
// kinetail cannot read; one read to its end before (Closed) is not missed.
// The rest of a generation truncated while it was read (copytruncate) is
// in no copy: it is counted with the copytruncate losses.
func (t *Tailer) account(unfound []*gen, p *planner, errs []PathError) {
	for _, g := range unfound {
		if p.claims[g] != nil || g.found {
			continue
		}
		if p.blocked[g.pos.ID.key()] || unreadable(g.pos.Path, errs) {
			continue // there, maybe, but cannot be read now: not lost
		}
		if g.pos.Closed {
			g.found = true // drained before; not finding it loses nothing
			continue
		}
		g.tries++
		if g.tries < searchTries {
			continue
		}
		g.found = true // looked for enough
		if g.truncated {
			g.pos.Closed = true
			if lost := g.size - g.pos.Offset; lost > 0 {
				t.stats.copyTruncateLost.Add(lost)
				t.log.Warn("file truncated before it was read to its end and no copy of it found; bytes lost",
					"path", g.origin(), "file", g.pos.Path, "offset", g.pos.Offset, "lost_bytes", lost)
			}
			if t.cfg.Hooks.OnLost != nil {
				t.cfg.Hooks.OnLost(g.pos, g.src)
			}
			continue
		}
		// It stays known: should it come back (moved out of the globs
		// and back), it is read from its offset after all.
		g.pos.Closed = true
		unread := max(g.pos.Read-g.pos.Offset, 0)
		t.lose(g.pos.Path, g.origin(), unread, "a generation with unread lines was found nowhere (deleted, or compressed in a format kinetail cannot read); its lines after the saved offset are lost", nil)
		if t.cfg.Hooks.OnLost != nil {
			t.cfg.Hooks.OnLost(g.pos, nil)
		}
	}
}

// lose reports a generation kinetail knows it cannot read.
func (t *Tailer) lose(path, origin string, atLeast int64, why string, err error) {
	t.stats.lost.Add(1)
	t.stats.lostBytes.Add(atLeast)
	args := []any{"path", origin, "file", path, "lost_bytes_at_least", atLeast}
	if err != nil {
		args = append(args, "err", err)
	}
	t.log.Warn(why, args...)
}

// retry gives a start whose file moved before it could be opened back to
// the next scan: the known generation is looked for again, as is the
// family of its path.
func (t *Tailer) retry(s *opening) {
	if s.g != nil {
		s.g.found = false
		t.known.add(s.g)
		if s.g.ended.IsZero() {
			t.lookFor = append(t.lookFor, s.g)
		}
	}
	if since, ok := t.history(s.src.Path); ok || s.missed {
		if old, dup := t.replan[s.src.Path]; !dup || since.Before(old) {
			t.replan[s.src.Path] = since
		}
	}
}
