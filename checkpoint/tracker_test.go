package checkpoint

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kinetail/kinetail/tailer"
)

func TestTrackerLowWatermark(t *testing.T) {
	tests := []struct {
		name  string
		ends  []int64 // ranges in emission order
		order []int   // order in which they are acknowledged
		want  []int64 // offset after each acknowledgement
	}{
		{"in order", []int64{10, 20, 30}, []int{0, 1, 2}, []int64{10, 20, 30}},
		{"reverse order waits for the head", []int64{10, 20, 30}, []int{2, 1, 0}, []int64{5, 5, 30}},
		{"gap in the middle", []int64{10, 20, 30, 40}, []int{0, 2, 3, 1}, []int64{10, 10, 10, 40}},
		{"truncation restarts offsets in emission order", []int64{100, 200, 10, 20}, []int{2, 0, 1, 3}, []int64{5, 100, 10, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(nil, time.Hour)
			src := &tailer.Source{Flow: "f", Path: "/x"}
			tr.Open(src, tailer.Opened{Path: "/x", ID: tailer.FileID{Inode: 1}, Offset: 5})
			released := 0
			groups := make([]interface{ Done(int) }, len(tt.ends))
			for i, end := range tt.ends {
				groups[i] = tr.Begin(src, end, 0, func() { released++ })
			}
			for i, idx := range tt.order {
				groups[idx].Done(1)
				got, ok := tr.Offset(src)
				if !ok || got != tt.want[i] {
					t.Fatalf("after ack %d (range %d): offset = %d, %v; want %d", i, idx, got, ok, tt.want[i])
				}
			}
			if released != len(tt.ends) {
				t.Fatalf("release ran %d times, want %d", released, len(tt.ends))
			}
		})
	}
}

func TestTrackerGroupWaitsForAllDeliveries(t *testing.T) {
	tr := NewTracker(nil, time.Hour)
	src := &tailer.Source{Flow: "f"}
	tr.Open(src, tailer.Opened{Path: "/x", ID: tailer.FileID{Inode: 1}})
	g := tr.Begin(src, 50, 0, nil)
	g.Add(2) // one record sent to two destinations
	g.Done(1)
	g.Done(1) // creator's hold released, one delivery outstanding
	if off, _ := tr.Offset(src); off != 0 {
		t.Fatalf("offset advanced to %d before every destination acknowledged", off)
	}
	g.Done(1)
	if off, _ := tr.Offset(src); off != 50 {
		t.Fatalf("offset = %d, want 50", off)
	}
}

func TestTrackerSnapshotCarriesAndExpires(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	loaded := []Entry{
		{Flow: "f", Path: "/old", Origin: "/old", ID: tailer.FileID{Inode: 7}, Offset: 70, Updated: now.Add(-2 * time.Hour)},
		{Flow: "f", Path: "/kept", Origin: "/kept", ID: tailer.FileID{Inode: 8}, Offset: 80, Updated: now.Add(-time.Minute)},
		{Flow: "f", Path: "/reopened", Origin: "/reopened", ID: tailer.FileID{Inode: 9}, Offset: 90, Updated: now},
		{Flow: "g", Path: "/other", Origin: "/other", ID: tailer.FileID{Inode: 9}, Offset: 90, Updated: now},
	}
	tr := NewTracker(loaded, time.Hour)
	tr.now = func() time.Time { return now }
	if ps := tr.Positions("f"); len(ps) != 3 {
		t.Fatalf("positions of f = %+v, want 3", ps)
	}
	src := &tailer.Source{Flow: "f", Path: "/reopened", ID: tailer.FileID{Inode: 9}}
	tr.Open(src, tailer.Opened{Path: "/reopened", ID: src.ID, Offset: 90})
	tr.Begin(src, 95, 0, nil).Done(1)
	snap := tr.Snapshot()
	if len(snap) != 4 {
		t.Fatalf("snapshot = %+v, want 4 entries (the opened one replacing its loaded entry)", snap)
	}
	for _, e := range snap {
		if e.Path == "/reopened" && e.Offset != 95 {
			t.Fatalf("snapshot = %+v, want /reopened at 95", snap)
		}
	}
	tr.Expire()
	if got := tr.Snapshot(); len(got) != 3 {
		t.Fatalf("after Expire snapshot = %+v, want /old gone", got)
	}
	tr.Close(src, false)
	now = now.Add(2 * time.Hour)
	if got := tr.Snapshot(); len(got) != 3 {
		t.Fatalf("Snapshot expired entries itself: %+v", got)
	}
	tr.Expire()
	if got := tr.Snapshot(); len(got) != 0 {
		t.Fatalf("after TTL snapshot = %+v, want empty", got)
	}
}

func TestTrackerConcurrentAcks(t *testing.T) {
	tr := NewTracker(nil, time.Hour)
	src := &tailer.Source{Flow: "f"}
	tr.Open(src, tailer.Opened{Path: "/x", ID: tailer.FileID{Inode: 1}})
	const n = 1000
	groups := make([]interface{ Done(int) }, n)
	for i := range groups {
		groups[i] = tr.Begin(src, int64(i+1)*10, 0, nil)
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				groups[i].Done(1)
			}
		}(w)
	}
	wg.Wait()
	if off, _ := tr.Offset(src); off != n*10 {
		t.Fatalf("offset = %d, want %d", off, n*10)
	}
}

// A Source read on after its reader ended (from a rotated copy, after a read
// error) keeps its ranges in flight: the offset never passes one of them.
func TestTrackerReopenedSourceKeepsRangesInFlight(t *testing.T) {
	tr := NewTracker(nil, time.Hour)
	src := &tailer.Source{Flow: "f", Path: "/x", ID: tailer.FileID{Dev: 1, Inode: 5}}
	tr.Open(src, tailer.Opened{Path: "/x", ID: src.ID})
	g1 := tr.Begin(src, 100, 0, nil)
	tr.Close(src, false)
	g0 := tr.Begin(src, 150, 0, nil) // sent before the close, begun after it
	tr.Open(src, tailer.Opened{Path: "/x.1", ID: src.ID, Offset: 150})
	g2 := tr.Begin(src, 200, 0, nil)
	g2.Done(1)
	if got := tr.Snapshot(); len(got) != 1 || got[0].Offset != 0 || got[0].Path != "/x.1" || got[0].Read != 200 {
		t.Fatalf("snapshot = %+v, want one entry at 0 in /x.1 (read 200) while earlier ranges are in flight", got)
	}
	g1.Done(1)
	g0.Done(1)
	if got := tr.Snapshot(); len(got) != 1 || got[0].Offset != 200 {
		t.Fatalf("snapshot = %+v, want one entry at 200", got)
	}
}

func TestTrackerMarker(t *testing.T) {
	id := tailer.FileID{Inode: 7}
	src := &tailer.Source{Flow: "f", Path: "/x", ID: id}
	loaded := []Entry{{Flow: "f", Path: "/x", Origin: "/x", ID: id, Offset: 40, Marker: 0xabc, Updated: time.Now()}}
	tests := []struct {
		name    string
		open    int64   // offset given to Open
		ends    []int64 // ranges begun, marker = end*10
		acks    []int   // which are acknowledged
		want    uint64  // marker in the snapshot
		wantOff int64
	}{
		{"resumed at the saved offset keeps its marker", 40, nil, nil, 0xabc, 40},
		{"opened elsewhere has no marker", 0, nil, nil, 0, 0},
		{"the marker of the acknowledged prefix", 40, []int64{50, 60, 70}, []int{0, 2}, 500, 50},
		{"all acknowledged", 40, []int64{50, 60}, []int{1, 0}, 600, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(loaded, time.Hour)
			tr.Open(src, tailer.Opened{Path: "/x", ID: id, Offset: tt.open})
			var groups []interface{ Done(int) }
			for _, e := range tt.ends {
				groups = append(groups, tr.Begin(src, e, uint64(e*10), nil))
			}
			for _, i := range tt.acks {
				groups[i].Done(1)
			}
			snap := tr.Snapshot()
			if len(snap) != 1 || snap[0].Marker != tt.want || snap[0].Offset != tt.wantOff {
				t.Fatalf("snapshot %+v, want offset %d marker %x", snap, tt.wantOff, tt.want)
			}
		})
	}
}

// Every generation has its own entry with what a restart needs to find it:
// where its bytes are, where it was written, its widest identity, how far
// it was handed on, and whether it was finished.
func TestTrackerGenerations(t *testing.T) {
	tr := NewTracker(nil, time.Hour)
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := &tailer.Source{Flow: "f", Path: "/app.log", ID: tailer.FileID{Dev: 1, Inode: 5}}
	tr.Open(a, tailer.Opened{Path: "/app.log", ID: a.ID, MTime: mtime})
	tr.Begin(a, 4000, 0, nil).Done(1)
	inFlight := tr.Begin(a, 5000, 0, nil)
	wide := tailer.FileID{Dev: 1, Inode: 5, Fingerprint: 0xa, FingerprintLen: 1024}
	tr.Widen(a, wide)
	// Truncated: its rest is read from the copy, under the same Source.
	tr.Close(a, false)
	tr.Open(a, tailer.Opened{Path: "/app.log.1", ID: wide, Offset: 5000, MTime: mtime})
	b := &tailer.Source{Flow: "f", Path: "/app.log", ID: tailer.FileID{Dev: 1, Inode: 5, Fingerprint: 0xb, FingerprintLen: 10}}
	tr.Open(b, tailer.Opened{Path: "/app.log", ID: b.ID, MTime: mtime.Add(time.Second)})
	tr.Begin(b, 10, 0, nil).Done(1)
	tr.Rename(b, "/app.log.1")
	got := tr.Snapshot()
	want := []Entry{
		{Flow: "f", Path: "/app.log.1", Origin: "/app.log", ID: wide, Offset: 4000, Read: 5000, MTime: mtime},
		{Flow: "f", Path: "/app.log.1", Origin: "/app.log", ID: b.ID, Offset: 10, Read: 10, MTime: mtime.Add(time.Second)},
	}
	for i := range got {
		got[i].Updated = time.Time{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("snapshot\n%+v\nwant\n%+v", got, want)
	}
	inFlight.Done(1)
	tr.Close(a, true)
	if e := tr.Snapshot()[0]; e.Offset != 5000 || !e.Closed {
		t.Fatalf("finished and acknowledged generation = %+v, want Closed at 5000", e)
	}
	// Finished but with a range in flight is not Closed: a crash must
	// send that range again.
	c := &tailer.Source{Flow: "f", Path: "/c", ID: tailer.FileID{Inode: 9}}
	tr.Open(c, tailer.Opened{Path: "/c", ID: c.ID})
	pending := tr.Begin(c, 10, 0, nil)
	tr.Close(c, true)
	for _, e := range tr.Snapshot() {
		if e.Path == "/c" && e.Closed {
			t.Fatalf("entry %+v is Closed with a range in flight", e)
		}
	}
	pending.Done(1)
}

// What the tailer reports lost is not looked for, or reported, again.
func TestTrackerLost(t *testing.T) {
	loaded := []Entry{{Flow: "f", Path: "/gone.1", Origin: "/gone", ID: tailer.FileID{Inode: 3}, Offset: 30, Updated: time.Now()}}
	tr := NewTracker(loaded, time.Hour)
	ps := tr.Positions("f")
	tr.Lost(ps[0], nil)
	if got := tr.Snapshot(); len(got) != 1 || !got[0].Closed {
		t.Fatalf("snapshot = %+v, want the lost entry Closed", got)
	}
	src := &tailer.Source{Flow: "f", Path: "/t", ID: tailer.FileID{Inode: 4}}
	tr.Open(src, tailer.Opened{Path: "/t", ID: src.ID})
	tr.Begin(src, 10, 0, nil).Done(1)
	tr.Close(src, false)
	tr.Lost(tailer.Position{}, src)
	if got := tr.Snapshot(); len(got) != 2 || !got[0].Closed || !got[1].Closed {
		t.Fatalf("snapshot = %+v, want the truncated generation Closed too", got)
	}
}

// Retiring a flow (a reload stops it) turns its Sources into the entries a
// restart would load: its positions resume at the acknowledged offset, a
// range still in flight is left to be read again, and its late
// acknowledgement changes nothing. Other flows are not touched.
func TestTrackerRetire(t *testing.T) {
	tr := NewTracker(nil, time.Hour)
	src := &tailer.Source{Flow: "f", Path: "/x"}
	other := &tailer.Source{Flow: "g", Path: "/y"}
	tr.Open(src, tailer.Opened{Path: "/x", ID: tailer.FileID{Inode: 1}, Offset: 0})
	tr.Open(other, tailer.Opened{Path: "/y", ID: tailer.FileID{Inode: 2}, Offset: 0})
	first, second := tr.Begin(src, 10, 0, nil), tr.Begin(src, 20, 0, nil)
	tr.Begin(other, 7, 0, nil)
	first.Done(1)
	if n := tr.Pending("f"); n != 1 {
		t.Fatalf("Pending(f) = %d, want 1", n)
	}
	tr.Retire("f")
	second.Done(1)
	if _, ok := tr.Offset(src); ok {
		t.Error("a retired Source is still tracked")
	}
	if n := tr.Pending("f"); n != 0 {
		t.Errorf("Pending(f) after Retire = %d, want 0", n)
	}
	if n := tr.Pending("g"); n != 1 {
		t.Errorf("Pending(g) = %d, want 1: another flow was touched", n)
	}
	pos := tr.Positions("f")
	if len(pos) != 1 || pos[0].Path != "/x" || pos[0].Offset != 10 || pos[0].Read != 20 {
		t.Fatalf("Positions(f) = %+v, want /x at 10 (read to 20)", pos)
	}
	if len(tr.Positions("g")) != 0 {
		t.Error("Retire(f) made entries of g")
	}
	var saved []string
	for _, e := range tr.Snapshot() {
		saved = append(saved, fmt.Sprintf("%s:%s@%d", e.Flow, e.Path, e.Offset))
	}
	if want := []string{"f:/x@10", "g:/y@0"}; !slices.Equal(saved, want) {
		t.Errorf("snapshot = %v, want %v", saved, want)
	}
	// Resuming claims the entry, as after a restart.
	again := &tailer.Source{Flow: "f", Path: "/x", ID: tailer.FileID{Inode: 1}}
	tr.Open(again, tailer.Opened{Path: "/x", ID: tailer.FileID{Inode: 1}, Offset: 10})
	if len(tr.Positions("f")) != 0 {
		t.Error("the resumed Source did not claim its entry")
	}
}

// sortEntries gives the order a sort of the entries themselves gives, for
// permutations with cycles of every length.
func TestSortEntries(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 60 {
		es := make([]Entry, n)
		for i := range es {
			es[i] = Entry{Flow: fmt.Sprint("f", rng.IntN(2)), Origin: fmt.Sprint("/o", rng.IntN(4)),
				MTime: time.Unix(int64(rng.IntN(3)), 0), Path: fmt.Sprint("/p", rng.IntN(5)), Offset: int64(i)}
			es[i].ID.Inode = uint64(rng.IntN(1000))
		}
		want := slices.Clone(es)
		slices.SortStableFunc(want, func(a, b Entry) int { return compareEntries(&a, &b) })
		sortEntries(es)
		for i := range es {
			if compareEntries(&es[i], &want[i]) != 0 {
				t.Fatalf("n=%d: entry %d is %+v, want one equal to %+v", n, i, es[i], want[i])
			}
		}
		seen := map[int64]bool{}
		for _, e := range es {
			seen[e.Offset] = true
		}
		if len(seen) != n {
			t.Fatalf("n=%d: %d distinct entries after sorting, want %d (lost or duplicated)", n, len(seen), n)
		}
	}
}

// Snapshot keeps its sorted order between saves while nothing that orders
// the entries changes, and sorts again when something does: the saved
// entries are in order and complete after any of the tracker's changes.
func TestTrackerSnapshotOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	now := time.Unix(1000, 0)
	var loaded []Entry
	for i := range 20 {
		p := fmt.Sprintf("/logs/l%02d.log", rng.IntN(50))
		loaded = append(loaded, Entry{Flow: "f", Path: p, Origin: p, ID: tailer.FileID{Inode: uint64(1000 + i)},
			Offset: 1, MTime: now, Updated: now})
	}
	tr := NewTracker(loaded, time.Hour)
	tr.now = func() time.Time { return now }
	var srcs []*tailer.Source
	var pending []interface{ Done(int) }
	for step := range 400 {
		switch op := rng.IntN(8); {
		case op == 0 || op == 7 || len(srcs) == 0: // a new Source, opened or announced by its first range
			// Few paths and times: entries of one path are ordered by
			// where their bytes are, which a rename changes.
			p := fmt.Sprintf("/logs/s%d.log", rng.IntN(4))
			src := &tailer.Source{Flow: "f", Path: p, ID: tailer.FileID{Inode: uint64(step)}}
			srcs = append(srcs, src)
			if rng.IntN(3) > 0 {
				tr.Open(src, tailer.Opened{Path: p, ID: src.ID, MTime: now.Add(time.Duration(rng.IntN(2)) * time.Second)})
			} else {
				pending = append(pending, tr.Begin(src, 10, 0, nil))
			}
		case op == 1:
			src := srcs[rng.IntN(len(srcs))]
			tr.Rename(src, fmt.Sprintf("/logs/r%02d.log", rng.IntN(50)))
		case op == 2:
			src := srcs[rng.IntN(len(srcs))]
			tr.Widen(src, tailer.FileID{Inode: uint64(rng.IntN(100))})
		case op == 3:
			tr.Close(srcs[rng.IntN(len(srcs))], rng.IntN(2) == 0)
		case op == 4:
			now = now.Add(20 * time.Minute)
			tr.Expire()
		case op == 5 && len(pending) > 0:
			i := rng.IntN(len(pending))
			pending[i].Done(1)
			pending = slices.Delete(pending, i, i+1)
		default:
			src := srcs[rng.IntN(len(srcs))]
			pending = append(pending, tr.Begin(src, int64(10+step), 0, nil))
		}
		got := tr.Snapshot()
		if !slices.IsSortedFunc(got, func(a, b Entry) int { return compareEntries(&a, &b) }) {
			t.Fatalf("step %d: the snapshot is out of order", step)
		}
		tr.sorted = nil // a snapshot sorted anew
		want := tr.Snapshot()
		if len(got) != len(want) {
			t.Fatalf("step %d: %d entries, want %d", step, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("step %d: entry %d is %+v, want %+v", step, i, got[i], want[i])
			}
		}
	}
}
