package agent

import (
	"context"
	"math"
	"sync"

	"golang.org/x/sync/semaphore"
)

// budget is a flow's memory budget (its share of agent.memory_limit). The
// tailer takes from it before it reads; the flow exchanges what a batch's
// lines took for what the records made from them take, which it must do
// without waiting (the lines that would free budget may be queued behind
// it), so it can owe: what it takes beyond what is free is paid back from
// the next releases before anyone else gets budget again. Memory then
// overshoots by at most one batch's growth, and reading waits until that is
// paid.
//
// The files the flow follows hold memory of their own whatever they read:
// fileBytes each (see follow), taken from the budget too, so a flow with
// ten thousand files reads with less rather than growing the heap past the
// limit, where the collector runs without end.
type budget struct {
	sem  *semaphore.Weighted
	mu   sync.Mutex
	debt int64
	size int64
	// floor is what the files leave for lines at least: a batch and its
	// longest line, or the tailer could never hand on that line.
	floor int64
	files int64 // files followed (tailer.Config.Followed)
	held  int64 // what the files hold: filesHold
	// changed, when set, is called after the part for lines (lines)
	// changed with the files followed, without the budget's lock.
	changed func()
}

// fileBytes is the memory a followed file holds: its reader or its start
// waiting for a descriptor, its state in the tailer's scans, its
// checkpoint entry. Ten thousand idle files after a restart left 15 MB of
// live heap against 2.5 MB for one file (GODEBUG=gctrace=1); heap profiles
// of ten thousand files with a backlog showed about 1.8 KB each (readers
// 0.5 KB, starts 0.46 KB, checkpoint entries 0.3 KB, scan state 0.25 KB,
// first bytes and the rest); 1.5 KiB is between the two. With the default
// memory_limit a flow reaches its floor at about 8,000 files. The
// goroutine stacks of the files open, up to max_open_files, stay in the
// runtime's part of the limit.
const fileBytes = 1536

// The semaphore is as large as can be, with all but the budget's size held
// from the start: a reload can then grow a budget by releasing, which a
// semaphore of the budget's own size would refuse.
func newBudget(n, floor int64) *budget {
	b := &budget{sem: semaphore.NewWeighted(math.MaxInt64), size: n, floor: floor}
	b.sem.TryAcquire(math.MaxInt64 - n)
	return b
}

func (b *budget) Acquire(ctx context.Context, n int64) error { return b.sem.Acquire(ctx, n) }

func (b *budget) TryAcquire(n int64) bool { return b.sem.TryAcquire(n) }

func (b *budget) Release(n int64) {
	b.mu.Lock()
	pay := min(b.debt, n)
	b.debt -= pay
	b.mu.Unlock()
	if n > pay {
		b.sem.Release(n - pay)
	}
}

// lines is the part of the budget the files followed leave for lines and
// records.
func (b *budget) lines() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.size - b.held
}

// filesHold is what the files followed hold of the budget: fileBytes each,
// as long as the floor is left. The caller holds b.mu.
func (b *budget) filesHold() int64 {
	return max(0, min(b.files*fileBytes, b.size-b.floor))
}

// follow counts delta more files followed (tailer.Config.Followed): their
// memory is taken from the budget without waiting, owed when lines hold
// it, and given back when they go.
func (b *budget) follow(delta int) {
	b.mu.Lock()
	b.files += int64(delta)
	d := b.filesHold() - b.held
	b.held += d
	b.mu.Unlock()
	b.change(-d)
	if d != 0 && b.changed != nil {
		b.changed()
	}
}

// change gives d bytes back to the budget, or takes -d without waiting.
func (b *budget) change(d int64) {
	switch {
	case d > 0:
		b.Release(d)
	case d < 0:
		b.take(-d)
	}
}

// take takes n bytes without waiting, owing what is not free.
func (b *budget) take(n int64) {
	if n <= 0 || b.sem.TryAcquire(n) {
		return
	}
	b.mu.Lock()
	b.debt += n
	b.mu.Unlock()
}

// resize makes the budget n bytes (a reload changed the number of flows
// sharing the limit). Shrinking takes the difference as debt when it is in
// use: reading waits until the flow's acknowledgements paid it.
// The files then hold what the new size leaves them.
func (b *budget) resize(n int64) {
	b.mu.Lock()
	d := n - b.size
	b.size = n
	held := b.filesHold() - b.held
	b.held += held
	b.mu.Unlock()
	b.change(d - held)
}
