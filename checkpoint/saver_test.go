package checkpoint

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kinetail/kinetail/tailer"
)

var errDiskFull = errors.New("disk full")

// newTestSaver returns a Saver whose interval is an hour (only what the test
// asks for saves), on a new store, and a function that makes the store's
// writes fail (with errDiskFull) or work again.
func newTestSaver(t *testing.T) (*Saver, *Tracker, *Store, func(fail bool)) {
	t.Helper()
	store, err := Open(filepath.Join(t.TempDir(), "cp.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	tr := NewTracker(nil, time.Hour)
	s := NewSaver(store, tr, time.Hour, nil)
	failing := false
	store.step = func(name string) error {
		if failing && name == "write" {
			return errDiskFull
		}
		return nil
	}
	return s, tr, store, func(fail bool) {
		store.mu.Lock()
		failing = fail
		store.mu.Unlock()
	}
}

// runSaver runs s until the test ends, and returns the context it runs in.
func runSaver(t *testing.T, s *Saver) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return ctx
}

// Sync returns only once a save holds what was announced before it, and a
// save that fails keeps it waiting until one succeeds.
func TestSaverSync(t *testing.T) {
	s, _, store, failWrites := newTestSaver(t)
	failWrites(true)
	ctx := runSaver(t, s)

	src := &tailer.Source{Flow: "f", Path: "/a", ID: tailer.FileID{Inode: 1}}
	h := s.Hooks()
	h.OnOpen(src, tailer.Opened{Path: "/a", ID: src.ID})
	syncWaitsForSave(ctx, t, s, failWrites, "after an open")
	res, err := store.Load()
	if err != nil || len(res.Entries) != 1 || res.Entries[0].Path != "/a" {
		t.Fatalf("after Sync the file holds %+v, %v; want the opened generation", res.Entries, err)
	}

	// Cancelled while waiting: Sync returns the context's error. (OnOpen
	// asks for a save at once, so saves fail from before it.)
	failWrites(true)
	h.OnOpen(&tailer.Source{Flow: "f", Path: "/b"}, tailer.Opened{Path: "/b"})
	sctx, scancel := context.WithCancel(context.Background())
	synced := make(chan error, 1)
	go func() { synced <- h.Sync(sctx) }()
	scancel()
	if err := <-synced; !errors.Is(err, context.Canceled) {
		t.Fatalf("Sync after cancel = %v", err)
	}
}

// Sync waits for the generations announced (Open, Widen), not for
// acknowledgements made since the last save: with saves failing, a Sync
// after mere progress returns at once, and one after a Widen waits.
func TestSaverSyncWaitsForAnnouncementsOnly(t *testing.T) {
	s, tr, _, failWrites := newTestSaver(t)
	ctx := runSaver(t, s)

	src := &tailer.Source{Flow: "f", Path: "/a", ID: tailer.FileID{Inode: 1, FingerprintLen: 0}}
	h := s.Hooks()
	h.OnOpen(src, tailer.Opened{Path: "/a", ID: src.ID})
	if err := h.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	failWrites(true)
	tr.Begin(src, 100, 1, nil).Done(1)
	if tr.Version() <= tr.Announced() {
		t.Fatalf("the acknowledgement did not change the version: %d, announced %d", tr.Version(), tr.Announced())
	}
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if err := h.Sync(sctx); err != nil {
		t.Fatalf("Sync after progress only = %v, want nil at once", err)
	}

	h.OnWiden(src, tailer.FileID{Inode: 1, FingerprintLen: 10, Fingerprint: 7})
	if tr.Announced() != tr.Version() {
		t.Fatalf("a Widen announced version %d, not the one it made (%d)", tr.Announced(), tr.Version())
	}
	syncWaitsForSave(ctx, t, s, failWrites, "after a Widen")
}

// syncWaitsForSave checks that a Sync of s, while its writes fail, waits,
// and returns once they work again.
func syncWaitsForSave(ctx context.Context, t *testing.T, s *Saver, failWrites func(bool), after string) {
	t.Helper()
	synced := make(chan error, 1)
	go func() { synced <- s.Sync(ctx) }()
	select {
	case err := <-synced:
		t.Fatalf("Sync %s returned %v while every save failed", after, err)
	case <-time.After(100 * time.Millisecond):
	}
	failWrites(false)
	s.Soon()
	if err := <-synced; err != nil {
		t.Fatalf("Sync %s, once saves work: %v", after, err)
	}
}

// Status counts the saves that wrote the file: not those that found
// nothing new, nor those that failed.
func TestSaverCountsWrites(t *testing.T) {
	s, tr, _, failWrites := newTestSaver(t)
	src := &tailer.Source{Flow: "f", Path: "/a", ID: tailer.FileID{Inode: 1}}
	s.Hooks().OnOpen(src, tailer.Opened{Path: "/a", ID: src.ID})
	for _, step := range []struct {
		change, fail     bool
		writes, failures int64
	}{
		{false, false, 1, 0}, // the open
		{false, false, 1, 0}, // nothing new
		{true, true, 1, 1},   // progress, but the write fails
		{false, false, 2, 1}, // the same progress, written
	} {
		if step.change {
			tr.Begin(src, 10, 1, nil).Done(1)
		}
		failWrites(step.fail)
		if err := s.Save(); (err != nil) != step.fail {
			t.Fatalf("Save = %v, want failing %v", err, step.fail)
		}
		if st := s.Status(); st.Writes != step.writes || st.Failures != step.failures {
			t.Fatalf("after a save (change %v, fail %v): %d writes, %d failures; want %d, %d",
				step.change, step.fail, st.Writes, st.Failures, step.writes, step.failures)
		}
	}
}

// TestSaverGather checks how long a save asked for waits for more asks: in
// steps of the last save's time while asks keep coming, at most eight
// steps and a second, and no longer once a step passes with none.
func TestSaverGather(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name  string
		took  time.Duration // the last save's time
		asked int           // steps during which someone asks again
		stop  int           // the saver stops during this step (1-based); 0 never
		want  []time.Duration
		ok    bool
	}{
		{"no save yet", 0, 100, 0, nil, true},
		{"nobody asks again", 5 * ms, 0, 0, []time.Duration{5 * ms}, true},
		{"asked during two steps", 5 * ms, 2, 0, []time.Duration{5 * ms, 5 * ms, 5 * ms}, true},
		{"asked all the time: eight steps", 5 * ms, 100, 0, slices.Repeat([]time.Duration{5 * ms}, 8), true},
		{"slow saves: a second at most", 300 * ms, 100, 0, []time.Duration{300 * ms, 300 * ms, 300 * ms, 100 * ms}, true},
		{"fast saves: steps of a millisecond", 100 * time.Microsecond, 100, 0, []time.Duration{800 * time.Microsecond}, true},
		{"stopped while waiting", 5 * ms, 100, 2, []time.Duration{5 * ms, 5 * ms}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _, _ := newTestSaver(t)
			s.took = tt.took
			var waited []time.Duration
			wait := func(d time.Duration) bool {
				waited = append(waited, d)
				if len(waited) == tt.stop {
					return false
				}
				if len(waited) <= tt.asked {
					s.Soon()
				}
				return true
			}
			if ok := s.gather(wait); ok != tt.ok || !slices.Equal(waited, tt.want) {
				t.Fatalf("gather waited %v and reported %v; want %v and %v", waited, ok, tt.want, tt.ok)
			}
		})
	}
}
