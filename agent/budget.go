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
type budget struct {
	sem  *semaphore.Weighted
	mu   sync.Mutex
	debt int64
	size int64
}

// The semaphore is as large as can be, with all but the budget's size held
// from the start: a reload can then grow a budget by releasing, which a
// semaphore of the budget's own size would refuse.
func newBudget(n int64) *budget {
	b := &budget{sem: semaphore.NewWeighted(math.MaxInt64), size: n}
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

// limit is the budget's size.
func (b *budget) limit() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.size
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
func (b *budget) resize(n int64) {
	b.mu.Lock()
	d := n - b.size
	b.size = n
	b.mu.Unlock()
	switch {
	case d > 0:
		b.Release(d)
	case d < 0:
		b.take(-d)
	}
}
