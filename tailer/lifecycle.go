package tailer

import (
	"context"
	"errors"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// This file owns a reader's life: starting it on a decided file, running
// it, and ending it, when the generation it read goes to the registry (see
// known.go) so that it can be found again.

// opening is a decision to read a generation from a file, made by a scan
// (see plan.go), waiting for a descriptor.
type opening struct {
	path string
	key  devIno // the file decided on; anything else at path is a race
	f    file   // already open (a compressed copy checked at its offset), or nil
	src  *Source
	id   FileID
	off  int64
	// marker is the marker of off when known, so copies can be told
	// before the first batch.
	marker uint64
	mtime  time.Time
	// since is the time since which the scan that decided this counted
	// rotated files of src.Path as unseen generations; a missed one that
	// fails to open is looked for again with it.
	since time.Time
	gone  bool // not in the globs: read to its end, then closed
	sync  bool // a generation the checkpoint does not know yet
	// g is the known generation this resumes, given back to the registry
	// if the start is abandoned.
	g *gen
	// after and ended order the generations of one path: the reader
	// starts reading when after is closed, and ended is closed once it
	// read its file to the end (or will never read it).
	after <-chan struct{}
	ended chan struct{}
	// once closes ended, from abandon or from the reader that takes the
	// start over: apart, so that a reader keeps it and not the opening
	// (ten thousand of them, with their generations, after a restart).
	once *sync.Once
	why  string // for the log: how the generation was found
	// identify: the generation is new, its identity is taken when it is
	// opened; atEnd: it starts at its end (initial_position end_of_file
	// on a first start); missed: written while nobody looked.
	identify, atEnd, missed bool
	size                    int64 // its size when found, for the log
}

// abandon gives up a start that will not run: the next generation of its
// path may go on, and a known generation is looked for again.
func (s *opening) abandon() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	s.once.Do(func() { close(s.ended) })
}

// begin opens a decided start and runs its reader. It returns false only
// when no descriptor is free; the start then waits.
func (t *Tailer) begin(ctx context.Context, s *opening, wg *sync.WaitGroup) bool {
	if stopping(ctx) {
		return false
	}
	t.mu.RLock()
	_, dup := t.readers[s.key]
	t.mu.RUnlock()
	if dup {
		// Read already (a second scan decided on it before the first
		// start ran).
		s.abandon()
		return true
	}
	if !t.acquireSlot() {
		return false
	}
	f := s.f
	s.f = nil
	var err error
	if f == nil {
		f, _, _, err = t.openAt(s.path, s.key)
	}
	if err != nil {
		t.releaseSlot()
		t.stats.openErrors.Add(1)
		moved := errors.Is(err, errReplaced) || isNotExist(err)
		if moved {
			// Renamed since the scan (logrotate shifts numbered copies):
			// the next scan looks for it again.
			t.log.Debug("file moved before it was opened; looking again", "path", s.path, "err", err)
		} else {
			t.warnOnce(s.path, "cannot open file, will retry", err)
		}
		t.notOpened(s, moved)
		return true
	}
	delete(t.warned, s.path)
	if err := s.prepare(f); err != nil {
		f.Close()
		t.releaseSlot()
		t.stats.openErrors.Add(1)
		t.warnOnce(s.path, "cannot identify file, will retry", err)
		t.notOpened(s, false)
		return true
	}
	r := newReader(&t.opts, &t.stats, t.log, f, s.key, s.src, s.off, t.send)
	r.id, r.mtime, r.sync = s.id, s.mtime, s.sync && t.cfg.Hooks.Sync != nil
	r.after, r.ended = s.after, s.ended
	r.endOnce = s.once
	// The file may change between the decision and the first read (a
	// reader waiting for an earlier generation waits long): it is checked
	// again then.
	r.resumed, r.startMarker = true, s.marker
	r.pub.Store(&published{id: s.id, end: s.off, marker: s.marker})
	if size, _, err := sizeOf(f); err == nil {
		r.lastSize = max(size, s.off)
	}
	if s.g != nil {
		// An earlier run read this far (handed on, not all of it
		// acknowledged): the file held that much, and if it is found
		// truncated now with no copy, that much is lost.
		r.lastSize = max(r.lastSize, s.g.pos.Read)
	}
	t.mu.Lock()
	t.addReader(r)
	if s.gone {
		t.markGone(r, time.Now().UnixNano())
	} else {
		t.byPath[s.path] = r
	}
	t.mu.Unlock()
	t.stats.files.Add(1)
	if t.cfg.Hooks.OnOpen != nil {
		t.cfg.Hooks.OnOpen(s.src, Opened{Path: s.path, ID: s.id, Offset: s.off, MTime: s.mtime})
	}
	t.log.Debug("following file", "path", s.path, "offset", s.off, "id", s.id.String(), "found", s.why)
	wg.Go(func() { t.runReader(ctx, r) })
	return true
}

// prepare takes what a start of a new generation needs from its open
// file: the identity, the end for a start at the end, and the marker of
// the offset.
func (s *opening) prepare(f file) error {
	if s.identify {
		id, err := fileID(f)
		if err != nil {
			return err
		}
		s.id = id
		s.src.ID = id // s.src is not shared before the reader starts
	}
	if s.atEnd {
		size, _, err := sizeOf(f)
		if err != nil {
			return err
		}
		s.off = lastLineStart(f, size)
	}
	if s.off > 0 && s.marker == 0 {
		if m, err := readMarker(f, s.off); err == nil {
			s.marker = m
		}
	}
	return nil
}

// lastLineStart returns the offset after the last newline within the final
// 64 KiB of the file, or size when there is none that close to the end.
func lastLineStart(f file, size int64) int64 {
	n := min(size, 64<<10)
	buf := make([]byte, n)
	got, _ := f.ReadAt(buf, size-n)
	for i := got - 1; i >= 0; i-- {
		if buf[i] == '\n' {
			return size - n + int64(i) + 1
		}
	}
	if got == int(size) {
		return 0 // one unterminated line: take it whole
	}
	return size
}

// runReader runs r until it ends, then closes it, or parks it when it is
// idle. A reader that failed or panicked leaves its generation in the
// registry, so the next scan opens the file again where it stopped.
func (t *Tailer) runReader(ctx context.Context, r *reader) {
	rctx, cancel := context.WithCancel(ctx)
	t.mu.Lock()
	r.bk.cancel = cancel
	t.mu.Unlock()
	if r.forced.Load() {
		cancel()
	}
	var end error // why the generation's reader ended; nil for a shutdown
	parked := false
	defer func() {
		if p := recover(); p != nil {
			t.stats.panics.Add(1)
			t.log.Error("reader panicked, will reopen", "path", r.name(), "panic", p,
				"stack", string(debug.Stack()))
			end = errPanicked
		}
		cancel()
		if !parked {
			t.release(r, end, ctx.Err() != nil)
		}
	}()
	if r.after != nil {
		select {
		case <-r.after:
		case <-rctx.Done():
			return
		}
	}
	for {
		err := r.run(rctx, t.retire)
		switch {
		case errors.Is(err, errIdle):
			if parked = t.park(r); !parked {
				continue
			}
		case err == nil:
			end = errRetired
		case errors.Is(err, errTruncated):
			end = err
			// The file holds a new generation now, and the rest of this
			// one may be in a copy: a scan sorts it out.
			t.watcher.rescanSoon()
		case ctx.Err() == nil && r.forced.Load():
			t.closeUnread(r)
			end = errRetired
		case ctx.Err() == nil:
			t.stats.readErrors.Add(1)
			t.log.Warn("read failed, will reopen", "path", r.name(), "offset", r.emitted, "err", err)
			end = err
		}
		return
	}
}

var (
	errRetired  = errors.New("tailer: drained after it left the globs")
	errPanicked = errors.New("tailer: reader panicked")
)

// closeUnread accounts for a rotated-away file closed by CloseRemovedAfter
// before it was drained.
func (t *Tailer) closeUnread(r *reader) {
	var unread int64
	if size, _, err := sizeOf(r.f); err == nil {
		unread = max(size-r.emitted, 0)
	}
	t.stats.closedUnread.Add(unread)
	t.log.Warn("closed a rotated-away file before it was read to its end (close_removed_after); its rest is lost",
		"path", r.name(), "offset", r.emitted, "unread_bytes", unread)
}

// retire lets a drained, rotated-away reader go unless a rescan has found
// its file in the globs again.
func (t *Tailer) retire(r *reader) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return r.goneAt.Load() != 0
}

// addReader and removeReader are the one way readers come and go. The
// caller holds t.mu.
func (t *Tailer) addReader(r *reader) {
	if old := t.readers[r.key]; old != nil {
		t.removeReader(old)
	}
	t.readers[r.key] = r
	t.readerDirs[dirOf(r.src.Path)]++
	t.followed(1)
}

func (t *Tailer) removeReader(r *reader) {
	if t.readers[r.key] != r {
		return
	}
	delete(t.readers, r.key)
	d := dirOf(r.src.Path)
	if t.readerDirs[d]--; t.readerDirs[d] <= 0 {
		delete(t.readerDirs, d)
	}
	t.followed(-1)
}

// followed tells Config.Followed that delta more files are followed (see
// there): a reader came or went, starts were queued or taken from the
// queue.
func (t *Tailer) followed(delta int) {
	if t.cfg.Followed != nil && delta != 0 {
		t.cfg.Followed(delta)
	}
}

// release closes r's descriptor and forgets the reader. Unless Run is
// stopping, its generation goes to the registry: drained (retired), or
// with the rest to read after a failure or a truncation.
func (t *Tailer) release(r *reader, end error, stopping bool) {
	t.mu.Lock()
	t.removeReader(r)
	if p := r.name(); t.byPath[p] == r {
		delete(t.byPath, p)
	}
	if r.bk.forceTimer != nil {
		r.bk.forceTimer.Stop()
		r.bk.forceTimer = nil
	}
	r.bk.cancel = nil
	if !stopping && end != nil {
		g := r.generation(end == errRetired)
		g.truncated = errors.Is(end, errTruncated)
		t.ended = append(t.ended, g)
	}
	t.mu.Unlock()
	if errors.Is(end, errRetired) {
		t.log.Info("closed rotated-away file", "path", r.name(), "offset", r.emitted)
	}
	r.free()
	r.f.Close()
	r.caughtUp()
	t.stats.files.Add(-1)
	t.releaseSlot()
	if t.cfg.Hooks.OnClose != nil {
		t.cfg.Hooks.OnClose(r.src, errors.Is(end, errRetired))
	}
}

// generation returns what the registry keeps of r's generation once r
// ended.
func (r *reader) generation(drained bool) *gen {
	var marker uint64
	if p := r.pub.Load(); p != nil && p.end == r.emitted {
		marker = p.marker
	}
	return &gen{
		pos: Position{Path: r.name(), Origin: r.src.Path, ID: r.id, Offset: r.emitted, Marker: marker,
			Read: r.emitted, MTime: r.mtime, Closed: drained},
		src:   r.src,
		loc:   r.key,
		ended: time.Now(),
		size:  r.lastSize,
		marks: slices.Clone(r.marks),
	}
}

// markGone records that r's file left the globs and arms
// CloseRemovedAfter. The caller holds t.mu.
func (t *Tailer) markGone(r *reader, now int64) {
	r.goneAt.Store(now)
	r.wake()
	if d := t.cfg.CloseRemovedAfter; d > 0 && r.bk.forceTimer == nil {
		r.bk.forceTimer = time.AfterFunc(d, func() {
			t.mu.Lock()
			if r.goneAt.Load() == 0 {
				t.mu.Unlock()
				return
			}
			r.forced.Store(true)
			c := r.bk.cancel
			t.mu.Unlock()
			if c != nil {
				c()
			}
		})
	}
}
