package tailer

import (
	"os"
	"path/filepath"
	"slices"
	"time"
)

// This file owns the search for generations that were not found where they
// were expected, and what is reported when they are found nowhere.

// unfound returns the saved generations not found yet.
func (t *Tailer) unfound() []*gen {
	t.lookFor = slices.DeleteFunc(t.lookFor, func(g *gen) bool { return g.found })
	return slices.Clone(t.lookFor)
}

// inPlace reports whether a saved generation's file is still at its saved
// path, as long as it was: its family's own look finds it there, and only
// one that moved (to an olddir) or shrank (its rest copied elsewhere) needs
// the search of the directories near it.
func (g *gen) inPlace(snap Snapshot) bool {
	fi, ok := snap.Files[g.pos.Path]
	if !ok {
		var err error
		if fi, err = os.Stat(g.pos.Path); err != nil {
			return false
		}
	}
	k, ok := keyOf(fi)
	return ok && k == g.pos.ID.key() && fi.Size() >= g.pos.Offset
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

// retry gives a start whose file could not be opened back to the next
// scan: the known generation is looked for again, as is the family of its
// path. A new generation whose file moved (renamed by logrotate) is looked
// for among the rotated files written since it was decided on: its path may
// have no history to say since when.
func (t *Tailer) retry(s *opening, moved bool) {
	if s.g != nil {
		s.g.found = false
		t.known.add(s.g)
		if s.g.ended.IsZero() {
			t.lookFor = append(t.lookFor, s.g)
		}
	}
	since, ok := t.history(s.src.Path)
	switch {
	case s.missed:
		// Looked at again as this scan did, so that it is still unseen
		// wherever it moved: history may have nothing yet (no generation
		// of the path read so far), and nothing means known ones only.
		since, ok = s.since, true
	case moved && s.g == nil:
		for _, m := range []time.Time{s.since, s.mtime} {
			if !m.IsZero() && (!ok || m.Before(since)) {
				since, ok = m, true
			}
		}
	}
	if ok {
		t.replanSince(s.src.Path, since)
	}
	if s.g == nil {
		// A rotated name followed in its own right (a glob over rotated
		// names) leaves the globs when it is compressed, as a rotated file
		// of the path it came from: looked for there, as written since
		// its own time.
		var origins []string
		if moved && !s.mtime.IsZero() {
			origins = t.originsOf(s.path)
			for _, o := range origins {
				t.replanSince(o, s.mtime)
			}
		}
		t.holdBack(s, origins)
	}
}

// replanSince has the next scan look at the family of origin, with rotated
// files modified since then as unseen generations (the earliest time asked
// for wins).
func (t *Tailer) replanSince(origin string, since time.Time) {
	if old, dup := t.replan[origin]; !dup || since.Before(old) {
		t.replan[origin] = since
	}
}

// originsOf returns the paths in path's directory that the globs match and
// that path is a rotated name of (app.log for app.log.1 and app.1.log).
func (t *Tailer) originsOf(path string) []string {
	var out []string
	suffixed, inner := rotationOrigins(filepath.Base(path))
	for _, name := range []string{suffixed, inner} {
		if o := joinName(dirOf(path), name); name != "" && !slices.Contains(out, o) && t.scanner.Match(o) {
			out = append(out, o)
		}
	}
	return out
}

// holdBack keeps the newer generations of s's path, and of the origins of
// its file (see originsOf), decided with it and queued after it (see
// decide), from moving the time since which their rotated files count as
// unseen past s's: s has no checkpoint entry, and a restart before the next
// scan finds it again would look for unseen generations only among rotated
// files modified after the newest saved MTime of the path (history), which
// theirs would be.
func (t *Tailer) holdBack(s *opening, origins []string) {
	limit := s.mtime
	if !s.since.IsZero() && (limit.IsZero() || s.since.Before(limit)) {
		limit = s.since // s.since is its own path's
	}
	for _, q := range t.queue {
		if q == s || q.g != nil {
			continue
		}
		switch {
		case q.src.Path == s.src.Path && !limit.IsZero() && q.mtime.After(limit):
			q.mtime = limit
		case slices.Contains(origins, q.src.Path) && q.mtime.After(s.mtime):
			q.mtime = s.mtime
		}
	}
}
