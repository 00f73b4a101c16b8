package agent

import "testing"

// A budget grows and shrinks with its share: growing frees room at once,
// shrinking below what is in use is owed and paid back by releases before
// anything can be taken again.
func TestBudgetResize(t *testing.T) {
	b := newBudget(100)
	steps := []struct {
		do   func()
		take int64
		ok   bool
	}{
		{func() {}, 100, true},
		{func() {}, 1, false},
		{func() { b.resize(150) }, 50, true},
		{func() { b.resize(100) }, 1, false}, // 150 in use: 50 owed
		{func() { b.Release(50) }, 1, false}, // pays the debt only
		{func() { b.Release(100) }, 100, true},
		{func() { b.Release(100); b.resize(40) }, 41, false},
		{func() {}, 40, true},
	}
	for i, s := range steps {
		s.do()
		if got := b.TryAcquire(s.take); got != s.ok {
			t.Fatalf("step %d: TryAcquire(%d) = %v, want %v", i, s.take, got, s.ok)
		}
	}
}
