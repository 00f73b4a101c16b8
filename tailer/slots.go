package tailer

import (
	"context"
	"sync"
)

// This file owns the descriptor budget (Config.OpenFiles): taking and
// giving back descriptors, parking idle readers and reopening them, and
// opening what waits for a descriptor.

// acquireSlot takes a descriptor from OpenFiles. When none is free it sets
// the pressure flag and wakes the open readers, so idle ones release
// theirs now rather than after the idle timeout.
func (t *Tailer) acquireSlot() bool {
	if t.cfg.OpenFiles == nil || t.cfg.OpenFiles.TryAcquire(1) {
		return true
	}
	if !t.pressure.Swap(true) {
		t.mu.RLock()
		for _, r := range t.readers {
			if !r.bk.parked {
				r.wake()
			}
		}
		t.mu.RUnlock()
	}
	return false
}

func (t *Tailer) releaseSlot() {
	if t.cfg.OpenFiles != nil {
		t.cfg.OpenFiles.Release(1)
	}
	t.signalFreed()
}

// openWaiting opens what waits for a descriptor while there are free ones:
// decided starts first (in order: generations of one path oldest first),
// then changed idle files.
func (t *Tailer) openWaiting(ctx context.Context, wg *sync.WaitGroup) {
	if stopping(ctx) {
		return
	}
	// Only a start of the oldest new generation waiting can change the
	// oldest: the others leave it, and one that fails to open counts no
	// older. noteWaiting walks the whole queue, and at a first start
	// with ten thousand files this runs once for every descriptor freed.
	oldest, stale := t.waiting.Load(), false
	defer func() {
		if stale {
			t.noteWaiting()
		}
	}()
	for len(t.queue) > 0 {
		s := t.queue[0]
		if !t.begin(ctx, s, wg) {
			return
		}
		if s.g == nil && !s.mtime.IsZero() && (oldest == 0 || s.mtime.UnixNano() <= oldest) {
			stale = true
		}
		// Begun, the start is its reader's or given back: the queue's
		// array must not keep it, its generation and its Source until
		// the queue is empty (ten thousand of them at a first start).
		t.queue[0] = nil
		t.queue = t.queue[1:]
		t.followed(-1) // a reader now, or given back to the next scan
	}
	t.queue = nil
	for {
		t.mu.Lock()
		if len(t.dirty) == 0 {
			t.dirty = nil
			t.mu.Unlock()
			break
		}
		r := t.dirty[0]
		t.mu.Unlock()
		if !t.reopen(ctx, r, wg) {
			return
		}
		t.mu.Lock()
		if len(t.dirty) > 0 && t.dirty[0] == r {
			t.dirty = t.dirty[1:]
		}
		t.mu.Unlock()
	}
	t.pressure.Store(false)
}

// reopen gives a parked reader a descriptor again, if its path still
// holds its file (same device and inode; the reader checks the rest:
// fingerprint and size, see checkTruncation). It returns false only when
// no descriptor is free.
func (t *Tailer) reopen(ctx context.Context, r *reader, wg *sync.WaitGroup) bool {
	t.mu.RLock()
	live := t.readers[r.key] == r && r.bk.parked
	t.mu.RUnlock()
	if !live {
		return true
	}
	if !t.acquireSlot() {
		return false
	}
	f, _, _, err := t.openAt(r.name(), r.key)
	t.mu.Lock()
	r.bk.dirty = false
	if err != nil {
		// The next scan finds where the file went, or that it is gone.
		t.mu.Unlock()
		t.releaseSlot()
		t.log.Debug("cannot reopen idle file", "path", r.name(), "err", err)
		return true
	}
	r.f, r.bk.parked, r.resumed = f, false, true
	t.mu.Unlock()
	t.stats.idle.Add(-1)
	t.stats.files.Add(1)
	wg.Go(func() { t.runReader(ctx, r) })
	return true
}

// park closes the descriptor of an idle reader, keeping its state. It
// refuses (the reader goes on) when the file was rotated away meanwhile:
// such a file cannot be opened again by path.
func (t *Tailer) park(r *reader) bool {
	size, mod, err := sizeOf(r.f)
	if err != nil {
		return false
	}
	// Once parked, the reader belongs to reopen, which may run at once:
	// everything the reader goroutine does to it happens before.
	r.drop()
	t.mu.Lock()
	if r.goneAt.Load() != 0 || t.readers[r.key] != r {
		t.mu.Unlock()
		return false
	}
	f := r.f
	r.f = nil
	r.bk.parked, r.bk.dirty = true, false
	r.bk.parkSize, r.bk.parkMod = size, mod
	t.noteWritten(r.name())
	r.bk.cancel = nil
	t.mu.Unlock()
	f.Close()
	t.stats.files.Add(-1)
	t.stats.idle.Add(1)
	t.releaseSlot()
	return true
}

// closeParked ends the parked readers when Run returns.
func (t *Tailer) closeParked() {
	t.mu.Lock()
	var parked []*reader
	for _, r := range t.readers {
		if r.bk.parked {
			parked = append(parked, r)
			t.removeReader(r)
		}
		if r.bk.forceTimer != nil {
			r.bk.forceTimer.Stop()
			r.bk.forceTimer = nil
		}
	}
	clear(t.byPath)
	t.dirty = nil
	t.mu.Unlock()
	for _, r := range parked {
		t.stats.idle.Add(-1)
		if t.cfg.Hooks.OnClose != nil {
			t.cfg.Hooks.OnClose(r.src, false)
		}
	}
	for _, s := range t.queue {
		s.abandon()
	}
	t.followed(-len(t.queue))
	t.queue = nil
}

// notOpened gives back a start that could not open its file: the next
// scan looks for the file again, and until then a new generation counts
// as waiting (noteWaiting).
func (t *Tailer) notOpened(s *opening, moved bool) {
	if m := s.mtime.UnixNano(); s.g == nil && !s.mtime.IsZero() && (t.unopened == 0 || m < t.unopened) {
		t.unopened = m
	}
	t.retry(s, moved)
	s.abandon()
}

// noteWaiting records the oldest modification time of the new generations
// that wait for a descriptor or failed to open since the last scan
// (Scanned). They have no checkpoint entry until they are opened: a
// checkpoint whose time is after their last write would have a restart
// take their rotated files for ones it had read. Only Run's goroutine
// changes the queue; it calls this after each change but the shutdown's,
// whose abandoned starts the last save must still account for.
func (t *Tailer) noteWaiting() {
	oldest := t.unopened
	for _, s := range t.queue {
		if s.g != nil || s.mtime.IsZero() {
			continue // a known generation: the checkpoint has it
		}
		if m := s.mtime.UnixNano(); oldest == 0 || m < oldest {
			oldest = m
		}
	}
	t.waiting.Store(oldest)
}
