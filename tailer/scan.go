package tailer

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// This file owns what a scan means: it compares a fresh snapshot of the
// globs with what the readers follow (diff.go), applies the renames,
// departures and changes, and hands new files to plan.go.

// fullScanEvery is how often a scan looks at every file: see rescan.
const fullScanEvery = 6

// rescan scans the globs and applies the differences. It stats each file
// once (in the scan) and opens only files it has to look at.
func (t *Tailer) rescan(ctx context.Context, wg *sync.WaitGroup) {
	if stopping(ctx) {
		return
	}
	n := t.stats.scans.Add(1)
	began := time.Now()
	// File events tell of writes to watched directories' files, so most
	// scans look only at what the directories hold; every fullScanEvery-th
	// scan, and the first after the kernel dropped events, looks at every
	// file (a file system whose writers are elsewhere, NFS, tells nothing).
	all := t.watcher.lost.Swap(false) || n%fullScanEvery == 1
	t.mu.Lock()
	written := t.written
	t.written = nil
	t.mu.Unlock()
	snap := t.scanner.scan(t.watcher.watchID, all, written)
	t.watcher.setDirs(snap.Dirs)
	t.noteProblems(snap.Errors)
	t.noteRefused(snap.Refused, snap.Skipped)
	now := time.Now()
	t.recycle.trim()
	t.collectEnded()
	t.known.expire(now, t.cfg.KnownTTL)

	evs, same := t.sameFiles(snap.Files)
	if !same {
		evs = t.differ.diff(t.view(), snap.Files)
	}
	var moved []renameNote
	var news []event
	origins := t.replan
	t.replan = make(map[string]time.Time)
	t.mu.Lock()
	for _, e := range evs {
		switch e.Op {
		case gone:
			t.leave(e, snap.Errors, now, origins)
		case renamed:
			r := t.readers[e.Key]
			if r == nil {
				continue
			}
			t.stats.rotations.Add(1)
			r.setLoc(e.Path)
			moved = append(moved, renameNote{r.src, e.From, e.Path})
			if r.bk.parked && !r.bk.dirty {
				// A rename is also the moment to look at an idle file.
				r.bk.dirty = true
				t.dirty = append(t.dirty, r)
			}
		case changed:
			r := t.readers[e.Key]
			switch {
			case r == nil:
			case r.bk.parked && !r.bk.dirty:
				r.bk.dirty = true
				t.dirty = append(t.dirty, r)
			case !r.bk.parked:
				r.wake()
			}
		case appeared:
			if r := t.readers[e.Key]; r != nil {
				// A file rotated away came back into the globs while
				// it was still being drained.
				t.back(r, e.Path)
				moved = append(moved, renameNote{r.src, "", e.Path})
				continue
			}
			news = append(news, e)
		}
	}
	if !same {
		// Readers may have left, moved or come back: byPath is built
		// again. Else begin and release kept it as it is.
		clear(t.byPath)
		for _, r := range t.readers {
			if r.goneAt.Load() == 0 {
				t.byPath[r.name()] = r
			}
		}
	}
	t.mu.Unlock()

	for _, m := range moved {
		if m.from != "" {
			t.log.Info("file renamed", "from", m.from, "to", m.to)
		} else {
			t.log.Info("file is back in the globs", "path", m.to)
		}
		if t.cfg.Hooks.OnRename != nil {
			t.cfg.Hooks.OnRename(m.src, m.to)
		}
	}
	t.logLeft()
	var rt map[string]time.Time
	if len(news) > 0 {
		rt = t.readerTimes()
	}
	for _, e := range news {
		if since, ok := t.historyWith(e.Path, rt); ok {
			if old, dup := origins[e.Path]; !dup || since.Before(old) {
				origins[e.Path] = since
			}
		}
	}
	if t.firstScan {
		t.restartOrigins(snap, origins)
	} else if len(snap.Relisted) > 0 {
		t.unseenPaths(snap, origins)
	}
	t.dirChanges(origins)
	t.unopened = 0 // the files that failed are new to this scan again
	t.plan(news, origins, snap)
	// The new generations just decided are in no checkpoint until they
	// are opened, one after another: a save meanwhile (the first reader's
	// Sync, during a first start) must not claim them seen.
	t.noteWaiting()
	t.planned.Store(began.UnixNano()) // after waiting: Scanned reads them the other way round
	first := t.firstScan
	t.firstScan = false
	t.openWaiting(ctx, wg)
	if first {
		t.logFollowing()
	}
	t.noteWaiting() // before the scan's time: Scanned reads them the other way round
	t.scanned.Store(began.UnixNano())
}

// Scanned is when the last completed scan began: a file that appeared
// after it may not be followed yet. While new files the scans found wait
// for a descriptor, it is no later than the oldest one's last write: they
// are not followed yet either. While the first scan opens the files it
// decided on, it is when that scan began, or earlier for those files.
// Before, it is Config.Saved, or on a first start when the Tailer was made:
// nothing newer was looked at.
func (t *Tailer) Scanned() time.Time {
	n := t.scanned.Load()
	if n == 0 {
		n = t.planned.Load()
	}
	if n == 0 {
		return time.Unix(0, t.since)
	}
	if w := t.waiting.Load(); w != 0 && w < n {
		n = w
	}
	return time.Unix(0, n)
}

type renameNote struct {
	src      *Source
	from, to string
}

// view is what the readers follow, and the files in the globs decided on
// and waiting for a descriptor, as diff compares them with a scan. The
// caller must not hold t.mu.
func (t *Tailer) view() map[string]seen {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.viewed == nil {
		t.viewed = make(map[string]seen, len(t.byPath)+len(t.queue))
	}
	v := t.viewed // kept for the next scan: ten thousand entries each time
	clear(v)
	for _, s := range t.queue {
		if !s.gone {
			v[s.path] = seen{key: s.key, size: -1}
		}
	}
	for p, r := range t.byPath {
		v[p] = r.seen()
	}
	return v
}

// sameFiles is samePaths (see diff) against the readers at their paths,
// without building the view, while no decided start waits at a path.
func (t *Tailer) sameFiles(cur map[string]os.FileInfo) ([]event, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, s := range t.queue {
		if !s.gone {
			return nil, false
		}
	}
	return samePaths(len(t.byPath), func(p string) (seen, bool) {
		if r, ok := t.byPath[p]; ok {
			return r.seen(), true
		}
		return seen{}, false
	}, cur)
}

// seen is what the view holds of r. The caller holds t.mu.
func (r *reader) seen() seen {
	s := seen{key: r.key, size: -1}
	if r.bk.parked {
		s.size, s.mod = r.bk.parkSize, r.bk.parkMod
	}
	return s
}

// leave handles a followed file that is at no path in the globs any more.
// A file in a directory the scan could not read may still be there: it is
// left alone until the directory can be read again. A reader with a
// descriptor drains the file (rotated away or deleted); a parked reader
// has read it all, so its generation goes to the registry and the file's
// family is searched, which finds it if it was rotated and grew before.
// The caller holds t.mu.
func (t *Tailer) leave(e event, errs []PathError, now time.Time, origins map[string]time.Time) {
	r := t.readers[e.Key]
	if r == nil || r.goneAt.Load() != 0 {
		return
	}
	if unreadable(e.Path, errs) {
		return
	}
	t.stats.rotations.Add(1)
	if !r.bk.parked {
		t.markGone(r, now.UnixNano())
		t.left = append(t.left, leftNote{e.Path, false})
		return
	}
	t.removeReader(r)
	t.stats.idle.Add(-1)
	t.known.add(r.generation(false))
	t.left = append(t.left, leftNote{e.Path, true})
	t.closedParked = append(t.closedParked, r.src)
	if old, dup := origins[r.src.Path]; !dup || r.mtime.Before(old) {
		origins[r.src.Path] = r.mtime
	}
}

type leftNote struct {
	path   string
	parked bool
}

// logLeft logs (outside t.mu) the files leave handled, and closes the
// Sources of parked ones.
func (t *Tailer) logLeft() {
	for _, l := range t.left {
		if l.parked {
			t.log.Info("idle file rotated away or deleted; looking for it among rotated files", "path", l.path)
		} else {
			t.log.Info("file rotated away or deleted, draining it", "path", l.path)
		}
	}
	t.left = t.left[:0]
	for _, src := range t.closedParked {
		if t.cfg.Hooks.OnClose != nil {
			t.cfg.Hooks.OnClose(src, false)
		}
	}
	t.closedParked = t.closedParked[:0]
}

// back makes a file that came back into the globs a followed one again.
// The caller holds t.mu.
func (t *Tailer) back(r *reader, path string) {
	r.setLoc(path)
	if r.goneAt.Load() == 0 {
		return
	}
	r.goneAt.Store(0)
	if r.bk.forceTimer != nil {
		r.bk.forceTimer.Stop()
		r.bk.forceTimer = nil
	}
}

// unreadable reports whether path lies in a directory the scan could not
// read (permissions changed for a moment, say): its file is not known to be
// gone.
func unreadable(path string, errs []PathError) bool {
	for _, e := range errs {
		if e.Path == path || strings.HasPrefix(path, strings.TrimSuffix(e.Path, "/")+"/") {
			return true
		}
	}
	return false
}

// collectEnded moves the generations of readers that ended into the
// registry.
func (t *Tailer) collectEnded() {
	t.mu.Lock()
	ended := t.ended
	t.ended = nil
	t.mu.Unlock()
	for _, g := range ended {
		t.known.add(g)
		if g.truncated {
			t.lookFor = append(t.lookFor, g)
		}
	}
}

// history reports whether a generation was read at path before (its
// reader may still drain it elsewhere), and the newest such generation's
// MTime: later files of path's family are generations not seen yet.
func (t *Tailer) history(path string) (time.Time, bool) {
	return t.historyWith(path, t.readerTimes())
}

// readerTimes returns, for each followed path a reader reads a generation
// of, the newest of those generations' MTime: history's part from the
// readers, for all paths at once (a scan asks for thousands).
func (t *Tailer) readerTimes() map[string]time.Time {
	t.mu.RLock()
	defer t.mu.RUnlock()
	rt := make(map[string]time.Time, len(t.readers))
	for _, r := range t.readers {
		if old, ok := rt[r.src.Path]; !ok || r.mtime.After(old) {
			rt[r.src.Path] = r.mtime
		}
	}
	return rt
}

// historyWith is history with the readers' part from readerTimes.
func (t *Tailer) historyWith(path string, rt map[string]time.Time) (time.Time, bool) {
	since := t.known.newest(path)
	found := len(t.known.byOrigin[path]) > 0
	if m, ok := rt[path]; ok {
		found = true
		if m.After(since) {
			since = m
		}
	}
	return since, found
}

// dirChanges adds the followed paths whose directories (their own, and
// where their rotated files were found) changed since the last scan: a
// file was created, renamed or removed there. A rotated file that appears
// without the followed file changing may hold a generation written while
// the reader was not looking (copied and truncated within one poll, a file
// seen empty), and is looked at now.
func (t *Tailer) dirChanges(origins map[string]time.Time) {
	// The paths, their directories, and which of those changed: a few
	// directories for thousands of paths, and most scans change none,
	// so the paths of a directory are listed only once it changed.
	each := func(fn func(o string)) {
		t.mu.RLock()
		for _, r := range t.readers {
			fn(r.src.Path)
		}
		t.mu.RUnlock()
		// Paths whose readers ended too: the next generation may have
		// been written and rotated before any scan saw it at the path.
		for o := range t.known.byOrigin {
			fn(o)
		}
	}
	dirs := make(map[string]bool) // directory: changed since the last scan
	t.mu.RLock()
	for d := range t.readerDirs {
		dirs[d] = false
	}
	t.mu.RUnlock()
	for o := range t.known.byOrigin {
		dirs[dirOf(o)] = false
	}
	// And where rotated files of paths were found (olddir); of paths no
	// longer followed too, which costs a stat and adds no path below.
	for _, ds := range t.dirs {
		for d := range ds {
			dirs[d] = false
		}
	}
	now := time.Now()
	mods := make(map[string]dirTime, len(dirs))
	changed := false
	for d := range dirs {
		fi, err := statDir(d)
		if err != nil {
			continue
		}
		mods[d] = dirTime{mod: fi, seen: now}
		// A time seen less than racyDir after it was set may be that of
		// a later change too: the kernel's clock for file times moves in
		// ticks of milliseconds (a second on some file systems), and a
		// file created, written and rotated twice within one tick after
		// the last scan leaves the time as that scan saw it.
		if old, ok := t.dirMod[d]; ok && old.changed(fi) {
			dirs[d] = true
			changed = true
		}
	}
	t.dirMod = mods
	if !changed {
		return
	}
	var paths []string
	each(func(o string) {
		if dirs[dirOf(o)] {
			paths = append(paths, o)
			return
		}
		for d := range t.dirs[o] {
			if dirs[d] {
				paths = append(paths, o)
				return
			}
		}
	})
	rt := t.readerTimes()
	for _, o := range paths {
		if _, dup := origins[o]; dup {
			continue
		}
		if since, ok := t.historyWith(o, rt); ok {
			origins[o] = since
		}
	}
}

// dirTime is a directory's modification time and when it was read.
type dirTime struct{ mod, seen time.Time }

// changed reports whether a directory whose time is mod now may have
// changed since d was taken: its time moved, or d was taken too soon
// after that time was set to tell a later change from none (racyDir).
func (d dirTime) changed(mod time.Time) bool {
	return !d.mod.Equal(mod) || d.seen.Sub(d.mod) < racyDir
}

// racyDir is how long after a directory's modification time a scan cannot
// tell a later change from none (see dirChanges).
const racyDir = 2 * time.Second

// restartOrigins adds, at the first scan after a restart, every path that
// generations were read at, every path the globs match now, and every path
// they would match whose rotated files are there: files of their families
// written since the checkpoint are looked at. A first start (no
// checkpoint) reads no rotated file.
func (t *Tailer) restartOrigins(snap Snapshot, origins map[string]time.Time) {
	if t.cfg.Saved.IsZero() {
		return
	}
	for o := range t.known.byOrigin {
		if _, dup := origins[o]; !dup && o != "" {
			since := t.known.newest(o)
			if since.IsZero() {
				// Saved by a version that did not record MTime.
				since = t.cfg.Saved.Add(-savedSlack)
			}
			origins[o] = since
		}
	}
	for p := range snap.Files {
		if _, dup := origins[p]; !dup {
			// No generation of it is known: it appeared after the last
			// save. Its rotated files written since then are new too.
			origins[p] = t.cfg.Saved.Add(-savedSlack)
		}
	}
	// So are those of a path no entry knows that is not there now
	// (rotated away without a new file while the agent was down, or
	// before this scan), found by its rotated files' names.
	for _, o := range t.absentOrigins(snap, snap.Dirs) {
		if _, dup := origins[o]; !dup {
			origins[o] = t.cfg.Saved.Add(-savedSlack)
		}
	}
}

// unseenPaths adds the paths the globs match, in directories that changed
// since the last scan, that no scan saw and whose rotated files are there:
// created, written and rotated away with nothing created in their place
// between two scans (file events are late, or not told). Their rotated
// files written since the last scan are generations no one saw.
func (t *Tailer) unseenPaths(snap Snapshot, origins map[string]time.Time) {
	paths := t.absentOrigins(snap, snap.Relisted)
	if len(paths) == 0 {
		return
	}
	// Paths with a known generation, or a reader draining one, are
	// dirChanges'. The rest are looked up among the readers in one pass,
	// without readerTimes' map of every followed path.
	unseen := make(map[string]bool, len(paths))
	for _, o := range paths {
		if _, dup := origins[o]; !dup && len(t.known.byOrigin[o]) == 0 {
			unseen[o] = true
		}
	}
	if len(unseen) == 0 {
		return
	}
	t.mu.RLock()
	for _, r := range t.readers {
		delete(unseen, r.src.Path)
	}
	t.mu.RUnlock()
	since := time.Unix(0, t.scanned.Load()).Add(-savedSlack)
	for o := range unseen {
		origins[o] = since
	}
}

// savedSlack is how much earlier than the checkpoint's save a file may have
// been modified and still count as written after it: file times come from
// the kernel's coarse clock, and some file systems keep whole seconds.
const savedSlack = 2 * time.Second

// noteProblems counts scan problems and logs each path once while it lasts.
func (t *Tailer) noteProblems(errs []PathError) {
	for p := range t.scanWarned {
		if !slices.ContainsFunc(errs, func(e PathError) bool { return e.Path == p }) {
			delete(t.scanWarned, p)
			t.log.Info("path can be read again", "path", p)
		}
	}
	for _, e := range errs {
		t.stats.scanErrors.Add(1)
		if _, ok := t.scanWarned[e.Path]; !ok {
			t.scanWarned[e.Path] = struct{}{}
			if errors.Is(e.Err, fs.ErrPermission) {
				t.log.Warn("permission denied reading path; files in it are kept as they were and looked at again", "path", e.Path, "err", e.Err)
			} else {
				t.log.Warn("cannot read path, will retry", "path", e.Path, "err", e.Err)
			}
		}
	}
}

// noteRefused logs each link the policy refused (at WARN: a link out of
// the globs may be an attempt to make the agent ship another file) and
// each matched path that is not a regular file (at DEBUG), once while it
// lasts: not at every scan.
func (t *Tailer) noteRefused(refused []Refusal, skipped []Skip) {
	links := make(map[string]string, len(refused))
	for _, r := range refused {
		links[r.Path] = r.Target
		if old, ok := t.refused[r.Path]; !ok || old != r.Target {
			t.log.Warn("symbolic link not followed, by the flow's symlinks policy (within: only to files its globs or agent.allowed_roots cover)",
				"path", r.Path, "target", r.Target)
		}
	}
	t.refused = links
	others := make(map[string]struct{}, len(skipped))
	for _, s := range skipped {
		others[s.Path] = struct{}{}
		if _, ok := t.skipped[s.Path]; !ok {
			t.log.Debug("not a regular file; skipped", "path", s.Path, "type", s.Type.String())
		}
	}
	t.skipped = others
}

// warnOnce logs a problem opening path once, until the path opens.
func (t *Tailer) warnOnce(path, msg string, err error) {
	if _, ok := t.warned[path]; ok {
		return
	}
	t.warned[path] = struct{}{}
	t.log.Warn(msg, "path", path, "err", err)
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// statDir returns a directory's modification time: it changes when an entry
// is created, renamed or removed.
func statDir(dir string) (time.Time, error) {
	_, mod, err := dirStat(dir)
	return mod, err
}

// dirOf is filepath.Dir for the paths the Tailer handles, which are clean
// (scans join clean directories and names): without Dir's Clean, for each
// followed path at each scan (see dirChanges).
func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i > 0 && i < len(p)-1 {
		return p[:i]
	}
	return filepath.Dir(p)
}
