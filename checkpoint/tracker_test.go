package checkpoint

import (
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
			tr.Open(src, "/x", tailer.FileID{Inode: 1}, 5)
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
	tr.Open(src, "/x", tailer.FileID{Inode: 1}, 0)
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
		{Flow: "f", Path: "/old", ID: tailer.FileID{Inode: 7}, Offset: 70, Updated: now.Add(-2 * time.Hour)},
		{Flow: "f", Path: "/kept", ID: tailer.FileID{Inode: 8}, Offset: 80, Updated: now.Add(-time.Minute)},
		{Flow: "f", Path: "/reopened", ID: tailer.FileID{Inode: 9}, Offset: 90, Updated: now},
	}
	tr := NewTracker(loaded, time.Hour)
	tr.now = func() time.Time { return now }
	src := &tailer.Source{Flow: "f"}
	tr.Open(src, "/reopened", tailer.FileID{Inode: 9}, 90)
	tr.Begin(src, 95, 0, nil).Done(1)
	got := tr.Snapshot()
	if len(got) != 2 || got[0].Path != "/kept" || got[1].Path != "/reopened" || got[1].Offset != 95 {
		t.Fatalf("snapshot = %+v", got)
	}
	tr.Close(src)
	now = now.Add(2 * time.Hour)
	if got := tr.Snapshot(); len(got) != 0 {
		t.Fatalf("after TTL snapshot = %+v, want empty", got)
	}
}

func TestTrackerConcurrentAcks(t *testing.T) {
	tr := NewTracker(nil, time.Hour)
	src := &tailer.Source{Flow: "f"}
	tr.Open(src, "/x", tailer.FileID{Inode: 1}, 0)
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

// A file reopened (after a read error) while ranges of its previous Source
// are in flight must not checkpoint past them.
func TestTrackerReopenWaitsForEarlierSource(t *testing.T) {
	tr := NewTracker(nil, time.Hour)
	id := tailer.FileID{Dev: 1, Inode: 5}
	old := &tailer.Source{Flow: "f"}
	tr.Open(old, "/x", id, 0)
	g1 := tr.Begin(old, 100, 0, nil)
	tr.Close(old)
	g0 := tr.Begin(old, 150, 0, nil) // sent before the close, begun after it
	reopened := &tailer.Source{Flow: "f"}
	tr.Open(reopened, "/x", id, 150)
	g2 := tr.Begin(reopened, 200, 0, nil)
	g2.Done(1)
	if got := tr.Snapshot(); len(got) != 1 || got[0].Offset != 0 {
		t.Fatalf("snapshot = %+v, want one entry at 0 while earlier ranges are in flight", got)
	}
	g1.Done(1)
	g0.Done(1)
	if got := tr.Snapshot(); len(got) != 1 || got[0].Offset != 200 {
		t.Fatalf("snapshot = %+v, want one entry at 200", got)
	}
}

func TestTrackerMarker(t *testing.T) {
	src := &tailer.Source{Flow: "f", Path: "/x"}
	id := tailer.FileID{Inode: 7}
	loaded := []Entry{{Flow: "f", Path: "/x", ID: id, Offset: 40, Marker: 0xabc, Updated: time.Now()}}
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
			tr.Open(src, "/x", id, tt.open)
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

// After a truncation the new Source's offset is saved for the file, and an
// older Source re-identified as the rotated copy is saved under the copy.
func TestTrackerTruncationAndCopy(t *testing.T) {
	tr := NewTracker(nil, time.Hour)
	orig := tailer.FileID{Dev: 1, Inode: 5}
	old := &tailer.Source{Flow: "f"}
	tr.Open(old, "/app.log", orig, 0)
	tr.Begin(old, 4000, 0, nil).Done(1)
	inFlight := tr.Begin(old, 5000, 0, nil)
	// The tailer found the copy and reads the rest of old from it.
	copyID := tailer.FileID{Dev: 1, Inode: 9}
	tr.Rename(old, "/app.log.1", copyID)
	tr.Close(old)
	fresh := &tailer.Source{Flow: "f"}
	tr.Open(fresh, "/app.log", orig, 0)
	tr.Begin(fresh, 100, 0, nil).Done(1)
	got := tr.Snapshot()
	want := map[string]int64{"/app.log": 100, "/app.log.1": 4000}
	if len(got) != 2 {
		t.Fatalf("snapshot = %+v, want %v", got, want)
	}
	for _, e := range got {
		if want[e.Path] != e.Offset {
			t.Fatalf("snapshot = %+v, want %v", got, want)
		}
	}
	inFlight.Done(1)
	for _, e := range tr.Snapshot() {
		if e.Path == "/app.log.1" && e.Offset != 5000 {
			t.Fatalf("copy offset = %d, want 5000", e.Offset)
		}
	}

	// Truncated before the copy was found (or with none): the new content
	// is saved for the file, and the old generation's unacknowledged rest
	// keeps an entry of its own, with its own identity, for a restart to
	// look for its copy; once acknowledged, only the new one remains.
	tr2 := NewTracker(nil, time.Hour)
	a := &tailer.Source{Flow: "f"}
	genA := tailer.FileID{Dev: 1, Inode: 5, Fingerprint: 0xa, FingerprintLen: 1024}
	genB := tailer.FileID{Dev: 1, Inode: 5, Fingerprint: 0xb, FingerprintLen: 10}
	tr2.Open(a, "/x", genA, 0)
	tr2.Begin(a, 4000, 0, nil).Done(1)
	pending := tr2.Begin(a, 5000, 0, nil)
	b := &tailer.Source{Flow: "f"}
	tr2.Open(b, "/x", genB, 0)
	tr2.Begin(b, 10, 0, nil).Done(1)
	got = tr2.Snapshot()
	if len(got) != 2 || got[0].ID.Fingerprint+got[1].ID.Fingerprint != 0xa+0xb {
		t.Fatalf("snapshot = %+v, want the new generation at 10 and the old at 4000", got)
	}
	for _, e := range got {
		if (e.ID == genA) != (e.Offset == 4000) || (e.ID == genB) != (e.Offset == 10) {
			t.Fatalf("snapshot = %+v, want the new generation at 10 and the old at 4000", got)
		}
	}
	pending.Done(1)
	if got := tr2.Snapshot(); len(got) != 1 || got[0].Offset != 10 {
		t.Fatalf("snapshot = %+v, want one entry at 10 once the old rest is acknowledged", got)
	}
}
