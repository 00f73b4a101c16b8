package agent

import "testing"

// A budget grows and shrinks with its share: growing frees room at once,
// shrinking below what is in use is owed and paid back by releases before
// anything can be taken again.
func TestBudgetResize(t *testing.T) {
	b := newBudget(100, 0)
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

// The files a flow follows take fileBytes each from its budget, leaving at
// least the floor for lines; lines in use when they come make it owed.
// The destinations are told again (changed) whenever the part for lines
// changed with them, and only then.
func TestBudgetFollowedFiles(t *testing.T) {
	const fb = fileBytes
	b := newBudget(10*fb, 4*fb)
	told := 0
	b.changed = func() { told++ }
	steps := []struct {
		do    func()
		lines int64 // b.lines() after do
		take  int64
		ok    bool
		told  int
	}{
		{func() { b.follow(3) }, 7 * fb, 7 * fb, true, 1},
		{func() { b.Release(7 * fb) }, 7 * fb, 7*fb + 1, false, 1},
		{func() { b.follow(10) }, 4 * fb, 4 * fb, true, 2}, // 13 files: the floor is left
		{func() { b.follow(1) }, 4 * fb, 1, false, 2},      // still the floor: nothing to tell
		{func() { b.follow(-11) }, 7 * fb, 3 * fb, true, 3},
		{func() { b.follow(2) }, 5 * fb, 1, false, 4}, // 7 in use: the files' 2 are owed
		{func() { b.Release(2 * fb) }, 5 * fb, 1, false, 4},
		{func() { b.Release(5 * fb) }, 5 * fb, 5 * fb, true, 4},
		{func() { b.resize(8 * fb) }, 4 * fb, 1, false, 4}, // the files keep the floor free; 1 owed
		{func() { b.Release(5 * fb) }, 4 * fb, 4 * fb, true, 4},
	}
	for i, s := range steps {
		s.do()
		if got := b.lines(); got != s.lines {
			t.Fatalf("step %d: lines() = %d, want %d", i, got, s.lines)
		}
		if got := b.TryAcquire(s.take); got != s.ok {
			t.Fatalf("step %d: TryAcquire(%d) = %v, want %v", i, s.take, got, s.ok)
		}
		if told != s.told {
			t.Fatalf("step %d: told %d times, want %d", i, told, s.told)
		}
	}
}
