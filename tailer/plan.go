package tailer

import (
	"cmp"
	"errors"
	"path/filepath"
	"slices"
	"sync"
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

// planner is one run of plan.
type planner struct {
	t      *Tailer
	cands  []*candidate
	byPath map[string]*candidate
	since  map[string]time.Time // per origin: rotated files modified since then are unseen generations
	dirs   map[string]listing
	near   map[string][]string // nearDirs, by directory
	claims map[*gen]*candidate
	learn  map[string]string // directory → origin, where a known generation was found near
	// blocked are files that could not be looked at (permissions): a
	// saved generation in one is not lost.
	blocked map[devIno]bool
	// unsettled are followed paths whose families were not seen whole.
	unsettled map[string]bool
	// floors are, per origin, the oldest MTime of the saved generations
	// looked for in its family that were read at one of its rotated names.
	floors map[string]time.Time
}

// plan looks at the files that appeared and at the families of origins
// (each with the time since which its rotated files are unseen
// generations), decides, and queues the starts.
func (t *Tailer) plan(appeared []event, origins map[string]time.Time, snap Snapshot) {
	p := &planner{t: t, byPath: make(map[string]*candidate), since: origins,
		dirs: make(map[string]listing), near: make(map[string][]string), claims: make(map[*gen]*candidate), learn: make(map[string]string),
		blocked: make(map[devIno]bool), unsettled: make(map[string]bool), floors: make(map[string]time.Time)}
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
		o := g.origin()
		if o == "" {
			continue
		}
		if _, ok := origins[o]; !ok {
			origins[o] = time.Time{} // look for known generations only
		}
		if g.pos.Closed {
			continue
		}
		// One read at a rotated name followed in its own right (a glob
		// over rotated names) leaves the globs, when it is compressed,
		// for the family of the path it was rotated from: looked for
		// there too, however old that family's files are.
		for _, from := range t.originsOf(o) {
			if _, ok := origins[from]; !ok {
				origins[from] = time.Time{}
			}
			if f, ok := p.floors[from]; !ok || g.pos.MTime.Before(f) {
				p.floors[from] = g.pos.MTime
			}
		}
	}
	for o := range origins {
		p.family(o, snap, false)
	}
	for _, g := range unfound {
		if o := g.origin(); o != "" && !g.pos.Closed && !g.inPlace(snap) {
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
	// A family that could not be seen whole (listed while logrotate renamed
	// in it, or a file renamed or still being written when looked at) is
	// looked at again soon; until then the generations found now do not
	// move the time since which rotated files count as unseen (see
	// clampSince).
	for _, c := range p.cands {
		moved := c.err != nil && (errors.Is(c.err, errReplaced) || isNotExist(c.err))
		if c.incomplete || !c.inGlob && moved {
			p.unsettled[c.origin] = true
		}
		if c.inGlob && moved {
			// A rotated name followed in its own right (a glob over
			// rotated names) that moved before it was looked at went on
			// in the family of the path it was rotated from (shifted,
			// compressed): that family was not seen whole either.
			for _, o := range t.originsOf(c.path) {
				if since := p.since[o]; !since.IsZero() {
					p.since[o] = minTime(since, c.fi.ModTime())
					p.unsettled[o] = true
				} else {
					t.replanSince(o, c.fi.ModTime())
					t.watcher.rescanSoon()
				}
			}
		}
	}
	for o := range p.unsettled {
		if since, ok := p.since[o]; ok {
			t.replan[o] = since
			t.watcher.rescanSoon()
		}
	}
	chains := make(map[string][]*opening)
	var queue []*opening
	missed := make(map[string]bool) // directory and name without compression
	for _, c := range p.cands {
		var s *opening
		switch {
		case c.g != nil:
			s = p.resume(c)
		case c.held || c.incomplete:
			continue
		case c.err != nil && !errors.Is(c.err, errUnsupported):
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
		p.clampSince(s, c.compressed())
		if since, hist := p.since[s.src.Path]; hist {
			s.since = since
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
	// Rotated names followed in their own right (a glob over rotated
	// names) are opened before the paths they were rotated from: their
	// generations are older, and one that fails to open holds back the
	// newer ones still queued (see holdBack). A rotated name is its path's
	// name and more, so the longer paths go first; the order within a
	// path stays.
	slices.SortStableFunc(queue, func(a, b *opening) int { return cmp.Compare(len(b.src.Path), len(a.src.Path)) })
	t.queue = append(t.queue, queue...)
	t.followed(len(queue))
}

// clampSince keeps a new generation of a family that was not seen whole,
// or found in a compressed file, from moving the time since which rotated
// files count as unseen: its MTime, once saved, would otherwise put the
// generations that were missed behind it out of reach (a restart looks at
// rotated files modified after the newest known generation's MTime). A
// compressed file's time is when it was compressed (logrotate writes a new
// file), later than the time of newer generations not compressed yet
// (delaycompress), or not rotated into view yet.
func (p *planner) clampSince(s *opening, compressed bool) {
	since, ok := p.since[s.src.Path]
	if ok && (p.unsettled[s.src.Path] || compressed) && s.g == nil && !since.IsZero() && s.mtime.After(since) {
		s.mtime = since
	}
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
		mtime: g.pos.MTime, gone: !c.inGlob, g: g, ended: make(chan struct{}), once: new(sync.Once), why: "known generation"}
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
	if elsewhere && !c.compressed() {
		p.windowLost(c, g, c.fi.Size())
	}
	if !c.inGlob && !c.compressed() && c.fi.Size() <= g.pos.Offset {
		// Read to its end already: nothing to open. It stays known, as
		// finished, so its file is not looked at again unless it changes.
		g.pos.Closed, g.pos.Path, g.loc = true, c.path, c.key
		t.known.add(g)
		if s.f != nil {
			s.f.Close()
		}
		t.log.Debug("found a generation read to its end", "path", g.origin(), "file", c.path, "offset", g.pos.Offset)
		return nil
	}
	if elsewhere {
		t.stats.recovered.Add(1)
		t.log.Info("found a generation in another file; reading on from its offset", "path", s.src.Path,
			"file", c.path, "was", g.pos.Path, "offset", g.pos.Offset)
	}
	return s
}

// newStart makes the start of a generation no one knows.
func (t *Tailer) newStart(c *candidate, why string) *opening {
	s := &opening{path: c.path, key: c.key, f: c.f, mtime: c.fi.ModTime(), ended: make(chan struct{}), once: new(sync.Once), why: why,
		src: &Source{Flow: t.cfg.Flow, Path: c.path}, identify: true, sync: true, size: c.fi.Size()}
	c.f = nil
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// minTime returns the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
