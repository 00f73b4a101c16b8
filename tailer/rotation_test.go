package tailer

import (
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/testfs"
)

// numbered returns n lines of exactly 100 bytes (with the newline) and
// their texts.
func numbered(prefix string, n int) (string, []string) {
	var b strings.Builder
	texts := make([]string, n)
	for i := range n {
		s := fmt.Sprintf("%s-%05d-", prefix, i)
		s += strings.Repeat("x", 99-len(s))
		texts[i] = s
		b.WriteString(s + "\n")
	}
	return b.String(), texts
}

// perSource returns the texts of each Source in order of first batch, and
// the End of each Source's last batch.
func perSource(h *harness) ([][]string, []int64) {
	order, lines := h.sources()
	var texts [][]string
	var ends []int64
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range order {
		var ts []string
		for _, l := range lines[s] {
			ts = append(ts, l.Text)
		}
		texts = append(texts, ts)
		ends = append(ends, h.next[s])
	}
	return texts, ends
}

func TestTailerCopyTruncate(t *testing.T) {
	const n = 3000
	content, old := numbered("old", n)
	tests := []struct {
		name     string
		copyName string
		copied   int  // leading lines of the file the copy holds
		found    bool // the copy can be read
	}{
		{"the rest is read from a numbered copy", "app.log.1", n, true},
		{"the rest is read from a dated copy", "app.log-20261122", n, true},
		{"lines written between copy and truncation are counted as lost", "app.log.1", n / 2, true},
		{"the rest is read from a gzip copy", "app.log.1.gz", n, true},
		{"a copy that cannot be decompressed is reported lost", "app.log.2.gz", n, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testfs.New(t)
			d.Write("app.log", content)
			// The consumer is down: the reader stops after a few
			// batches, far from the end.
			h := startHolding(t, Config{Paths: []string{d.Path("app.log")}, BatchBytes: 4 << 10}, 16<<10)
			h.waitStat("reading", func(s Stats) bool { return s.LinesRead > 0 })
			switch {
			case strings.HasSuffix(tt.copyName, ".gz") && tt.found:
				d.Write(tt.copyName, gzipped(t, content[:tt.copied*100]))
			default: // a .gz that is not gzip data: unreadable
				d.Write(tt.copyName, content[:tt.copied*100])
			}
			d.Truncate("app.log", 0)
			d.Append("app.log", "new-1\nnew-2\n")
			h.unhold()
			h.waitStat("truncation handled", func(s Stats) bool { return s.Truncations == 1 })
			testfs.Wait(t, waitFor, "new lines", func() bool {
				got := h.texts()
				return len(got) > 0 && got[len(got)-1] == "new-2"
			})
			if !tt.found {
				h.waitStat("the loss reported", func(s Stats) bool { return s.CopyTruncateLost != 0 })
			}
			h.stop()

			texts, ends := perSource(h)
			if len(texts) != 2 || !slices.Equal(texts[1], []string{"new-1", "new-2"}) {
				t.Fatalf("want the old Source then a new one with new-1, new-2; got %d sources", len(texts))
			}
			got := texts[0]
			if tt.found {
				if !slices.Equal(got, old[:tt.copied]) {
					t.Fatalf("old Source: got %d lines, want the copy's %d", len(got), tt.copied)
				}
			} else {
				// What was read before the truncation, the last line
				// maybe cut; nothing from the compressed copy.
				if len(got) >= n || !slices.Equal(got[:len(got)-1], old[:len(got)-1]) {
					t.Fatalf("old Source: got %d lines", len(got))
				}
			}
			wantLost := int64(len(content)) - ends[0]
			if s := h.tl.Stats(); s.CopyTruncateLost != wantLost {
				t.Errorf("CopyTruncateLost = %d, want %d", s.CopyTruncateLost, wantLost)
			}
			if tt.found && tt.copied == n && wantLost != 0 {
				t.Errorf("a complete copy lost %d bytes", wantLost)
			}
		})
	}
}

func TestTailerResumeRotatedWhileDown(t *testing.T) {
	d := testfs.New(t)
	d.Write("app.log", "a1\na2\n")
	f := openFile(t, d.Path("app.log"))
	id, err := Identify(f)
	if err != nil {
		t.Fatal(err)
	}
	m, err := readMarker(f, 3)
	if err != nil {
		t.Fatal(err)
	}
	reused := id
	reused.Fingerprint++

	tests := []struct {
		name      string
		pos       Position
		want      []string
		recovered int64
	}{
		{"renamed out of the globs: drained from the saved offset", Position{Path: d.Path("app.log"), ID: id, Offset: 3, Marker: m},
			[]string{"a2", "a3", "b1"}, 1},
		{"an inode reused by another file is not resumed", Position{Path: d.Path("app.log"), ID: reused, Offset: 3},
			[]string{"b1"}, 0},
	}
	d.Append("app.log", "a3\n") // written before the rotation, never read
	d.Rename("app.log", "app.log.1")
	d.Write("app.log", "b1\n")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opened sync.Map // path → offset given to OnOpen
			cfg := Config{Paths: []string{d.Path("app.log")}, Positions: []Position{tt.pos}}
			cfg.Hooks.OnOpen = func(_ *Source, o Opened) { opened.Store(o.Path, o.Offset) }
			h := start(t, cfg)
			h.waitTexts(len(tt.want))
			h.waitStat("rotated file closed", func(s Stats) bool { return s.Files == 1 })
			h.stop()
			sameSet(t, h.texts(), tt.want)
			if s := h.tl.Stats(); s.Recovered != tt.recovered {
				t.Errorf("Recovered = %d, want %d", s.Recovered, tt.recovered)
			}
			if tt.recovered > 0 {
				if off, _ := opened.Load(d.Path("app.log.1")); off != int64(3) {
					t.Errorf("OnOpen offset of the rotated file = %v, want 3", off)
				}
			}
		})
	}
}

// A generation written and rotated while the agent was down, with no
// other generation of its path known, that moved again between the scan
// that found it and its opening (logrotate shifting numbered files), is
// looked for again and read. The retry used to look at the path's family
// for known generations only, so the generation was never read.
func TestTailerMissedGenerationMovedBeforeOpen(t *testing.T) {
	d := testfs.New(t)
	d.Write("app.log", "g1-1\ng1-2\n")
	d.Rename("app.log", "app.log.1")
	d.Write("app.log", "g2\n")
	var failed atomic.Bool
	h := start(t, Config{
		Paths: []string{d.Path("app.log")},
		Saved: time.Now().Add(-time.Minute), // before both were written
		openFile: func(p string) (*os.File, error) {
			if p == d.Path("app.log.1") && !failed.Swap(true) {
				return nil, &os.PathError{Op: "open", Path: p, Err: syscall.ENOENT}
			}
			return os.Open(p)
		},
	})
	h.waitTexts(3)
	h.stop()
	if !failed.Load() {
		t.Fatal("the rotated generation was not opened")
	}
	sameSet(t, h.texts(), []string{"g1-1", "g1-2", "g2"})
}

func TestTailerResumeChecksMarker(t *testing.T) {
	tests := []struct {
		name       string
		rewrite    bool // truncated and filled again in place while down
		zeroMarker bool
		want       []string
	}{
		{"an unchanged file resumes at its offset", false, false, []string{"cccc"}},
		{"a file rewritten in place is read from the start", true, false, []string{"aaaa", "XXXX", "cccc"}},
		{"without a marker the rewrite cannot be seen", true, true, []string{"cccc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testfs.New(t)
			d.Write("app.log", "aaaa\n")
			id := identify(t, d.Path("app.log")) // fingerprint of 5 bytes only
			d.Append("app.log", "bbbb\n")
			m, err := readMarker(openFile(t, d.Path("app.log")), 10)
			if err != nil {
				t.Fatal(err)
			}
			if tt.zeroMarker {
				m = 0
			}
			if tt.rewrite {
				d.Truncate("app.log", 0)
				d.Append("app.log", "aaaa\nXXXX\n")
			}
			d.Append("app.log", "cccc\n")
			h := start(t, Config{Paths: []string{d.Path("app.log")},
				Positions: []Position{{Path: d.Path("app.log"), ID: id, Offset: 10, Marker: m}}})
			h.waitTexts(len(tt.want))
			h.stop()
			if got := h.texts(); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTailerRemovedWhileConsumerBlocked(t *testing.T) {
	content, texts := numbered("l", 2000)
	tests := []struct {
		name        string
		closeAfter  time.Duration
		wantDrained bool
	}{
		{"kept open until drained", 0, true},
		{"closed after close_removed_after, unread bytes counted", 200 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testfs.New(t)
			d.Write("app.log", content)
			h := startHolding(t, Config{Paths: []string{d.Path("app.log")}, BatchBytes: 4 << 10,
				CloseRemovedAfter: tt.closeAfter}, 16<<10)
			h.waitStat("reading", func(s Stats) bool { return s.LinesRead > 0 })
			d.Remove("app.log")
			h.waitStat("removal noticed", func(s Stats) bool { return s.Rotations == 1 })
			if !tt.wantDrained {
				h.waitStat("forced close", func(s Stats) bool { return s.Files == 0 })
				h.stop()
				_, ends := perSource(h)
				if s := h.tl.Stats(); s.ClosedUnread == 0 || s.ClosedUnread != int64(len(content))-ends[0] {
					t.Errorf("ClosedUnread = %d, want %d", s.ClosedUnread, int64(len(content))-ends[0])
				}
				return
			}
			// Well past the grace period: still open, still waiting.
			time.Sleep(4 * h.tl.cfg.closeGrace)
			if s := h.tl.Stats(); s.Files != 1 {
				t.Fatalf("an undrained removed file was closed: Files = %d", s.Files)
			}
			h.unhold()
			h.waitTexts(len(texts))
			h.waitStat("drained file closed", func(s Stats) bool { return s.Files == 0 })
			h.stop()
			if got := h.texts(); !slices.Equal(got, texts) {
				t.Fatalf("got %d lines, want %d", len(got), len(texts))
			}
			if s := h.tl.Stats(); s.ClosedUnread != 0 {
				t.Errorf("ClosedUnread = %d", s.ClosedUnread)
			}
		})
	}
}

func TestTailerIdleFileReleasesDescriptor(t *testing.T) {
	d := testfs.New(t)
	d.Write("app.log", "one\n")
	h := start(t, Config{Paths: []string{d.Path("app.log")}, idleClose: 50 * time.Millisecond})
	h.waitTexts(1)
	parked := func(s Stats) bool { return s.Idle == 1 && s.Files == 0 }
	h.waitStat("parked", parked)

	d.Append("app.log", "two\n")
	h.waitTexts(2)
	h.waitStat("parked again", parked)

	// Truncated while closed: a new Source from 0.
	d.Truncate("app.log", 0)
	d.Append("app.log", "three\n")
	h.waitTexts(3)
	h.waitStat("parked after the truncation", parked)

	// Rotated out of the globs while closed, then written: drained.
	d.Rename("app.log", "app.log.1")
	d.Append("app.log.1", "four\n")
	h.waitTexts(4)
	h.waitStat("rotated file closed", func(s Stats) bool { return s.Files == 0 && s.Idle == 0 })
	h.stop()

	texts, _ := perSource(h)
	want := [][]string{{"one", "two"}, {"three", "four"}}
	if !slices.EqualFunc(texts, want, slices.Equal) {
		t.Fatalf("lines per source: got %q, want %q", texts, want)
	}
	if s := h.tl.Stats(); s.Truncations != 1 {
		t.Errorf("Truncations = %d, want 1", s.Truncations)
	}
}

// While the consumer blocks, the file is copied, truncated and written past
// the offset the reader had reached. The reader must notice before reading
// on (the bytes before its offset changed), take the rest from the copy and
// read the new content from 0: nothing lost, nothing of the new file read
// as the old one.
func TestTailerCopyTruncateRegrownWhileBlocked(t *testing.T) {
	const n = 3000
	content, old := numbered("old", n)
	fresh, newLines := numbered("new", n+500)
	d := testfs.New(t)
	d.Write("app.log", content)
	h := startHolding(t, Config{Paths: []string{d.Path("app.log")}, BatchBytes: 4 << 10}, 16<<10)
	h.waitStat("reading", func(s Stats) bool { return s.LinesRead > 0 })
	d.Write("app.log.1", content)
	d.Truncate("app.log", 0)
	d.Append("app.log", fresh)
	h.unhold()
	testfs.Wait(t, waitFor, "new lines", func() bool {
		got := h.texts()
		return len(got) > 0 && got[len(got)-1] == newLines[len(newLines)-1]
	})
	h.stop()
	texts, _ := perSource(h)
	if len(texts) != 2 {
		t.Fatalf("got %d sources, want the old one and the new one", len(texts))
	}
	if !slices.Equal(texts[0], old) {
		t.Fatalf("old Source: %d lines, first difference at %d", len(texts[0]), firstDiff(texts[0], old))
	}
	if !slices.Equal(texts[1], newLines) {
		t.Fatalf("new Source: %d lines, want %d", len(texts[1]), len(newLines))
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// gzipped returns s compressed with gzip.
func gzipped(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A new file that logrotate renamed between the scan that found it and its
// open is read where it went, whether or not its path has a history (a
// first start has none).
func TestTailerNewFileMovedBeforeOpen(t *testing.T) {
	for _, tt := range []struct {
		name  string
		saved time.Time
	}{
		{"first start", time.Time{}},
		{"restart", time.Now().Add(-time.Minute)},
		{"running", time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := testfs.New(t)
			d.Write("app.log", "old\n")
			if tt.name == "running" {
				d.Remove("app.log")
			} else {
				d.Write("app.log", "g1-1\ng1-2\n")
			}
			var moved atomic.Bool
			h := start(t, Config{
				Paths: []string{d.Path("app.log")},
				Saved: tt.saved,
				openFile: func(p string) (*os.File, error) {
					if p == d.Path("app.log") && !moved.Swap(true) {
						// rotate, nocreate: nothing at the path now
						if err := os.Rename(p, d.Path("app.log.1")); err != nil {
							return nil, err
						}
					}
					return os.Open(p)
				},
			})
			if tt.name == "running" {
				h.waitStat("first scan", func(s Stats) bool { return s.Scans > 0 })
				d.Write("app.log", "g1-1\ng1-2\n")
			}
			h.waitTexts(2)
			h.stop()
			if !moved.Load() {
				t.Fatal("the file was not moved before its open")
			}
			sameSet(t, h.texts(), []string{"g1-1", "g1-2"})
		})
	}
}

// A generation moved on by logrotate (app.log.1 to app.log.2) between the
// scan that found it and its open, and the agent stopped before a scan
// finds it again: the path's own file, opened after it, is saved with a
// time no later than the moved one's, so that the restart still takes it
// for unseen and reads it. Every line is read once, over the two runs.
//
// After a restart, the generation was written while the agent was down;
// on a first start (no checkpoint), a glob over rotated names found it
// with app.log in the same scan.
func TestTailerMissedGenerationMovedThenStopped(t *testing.T) {
	for _, tt := range []struct {
		name  string
		glob  string
		saved time.Time
	}{
		{"restart", "app.log", time.Now().Add(-time.Minute)},
		{"first start", "*.log*", time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := testfs.New(t)
			cfg := Config{
				Paths:          []string{d.Path(tt.glob)},
				Saved:          tt.saved,
				RescanInterval: time.Hour,
				watchAdd:       func(string) error { return syscall.ENOSPC },
			}
			m := newMoveAtOpen(t, d, &cfg, func(time.Time) { d.Rename("app.log.1", "app.log.2") })
			m.restartAfterMove(t, start(t, cfg), Config{Paths: []string{d.Path(tt.glob)}})
		})
	}
}

// moveAtOpen sets up a first run that misses a rotated generation: app.log.1
// (r-1, r-2, modified 30 s ago, at rotated) is moved on by move at its first
// open, and app.log (l-1) is read.
type moveAtOpen struct {
	rotated time.Time
	moved   atomic.Bool
	mu      sync.Mutex
	live    Opened // app.log's
}

// newMoveAtOpen writes the two files in d and sets cfg's openFile and
// OnOpen hook.
func newMoveAtOpen(t *testing.T, d *testfs.Dir, cfg *Config, move func(rotated time.Time)) *moveAtOpen {
	t.Helper()
	m := &moveAtOpen{rotated: time.Now().Add(-30 * time.Second)}
	d.Write("app.log.1", "r-1\nr-2\n")
	if err := os.Chtimes(d.Path("app.log.1"), m.rotated, m.rotated); err != nil {
		t.Fatal(err)
	}
	d.Write("app.log", "l-1\n")
	cfg.openFile = func(p string) (*os.File, error) {
		if p == d.Path("app.log.1") && !m.moved.Swap(true) {
			move(m.rotated)
		}
		return os.Open(p)
	}
	cfg.Hooks.OnOpen = func(_ *Source, o Opened) {
		if o.Path == d.Path("app.log") {
			m.mu.Lock()
			m.live = o
			m.mu.Unlock()
		}
	}
	return m
}

// restartAfterMove stops h, the first run, once it read app.log's line,
// and checks that it missed the moved generation and saved app.log with a
// time no later than the moved one's, and that a restart with cfg and
// app.log's position reads the moved lines: every line is read once over
// the two runs.
func (m *moveAtOpen) restartAfterMove(t *testing.T, h *harness, cfg Config) {
	t.Helper()
	h.waitTexts(1)
	h.stop()
	if !m.moved.Load() {
		t.Fatal("the rotated file was not moved before its open")
	}
	first := h.texts()
	if slices.Contains(first, "r-1") {
		t.Fatal("the first run found the moved file again: nothing left to test")
	}
	m.mu.Lock()
	live := m.live
	m.mu.Unlock()
	pos := Position{Path: live.Path, ID: live.ID, Offset: int64(len("l-1\n")), MTime: live.MTime}
	if pos.MTime.After(m.rotated) {
		t.Errorf("app.log opened with MTime %v, after the moved generation's %v", pos.MTime, m.rotated)
	}
	cfg.Saved = h.tl.Scanned()
	cfg.Positions = append(cfg.Positions, pos)
	h2 := start(t, cfg)
	h2.waitTexts(2)
	n := h2.tl.Stats().Scans
	h2.waitStat("two more scans", func(s Stats) bool { return s.Scans >= n+2 })
	h2.stop()
	sameSet(t, append(first, h2.texts()...), []string{"l-1", "r-1", "r-2"})
}

// A path that no checkpoint entry knows and that was rotated away with
// nothing created in its place while the agent was down: its rotated files
// written since the checkpoint are read, older ones are not, whether the
// glob names the path or matches it.
func TestTailerRestartFindsPathRotatedAway(t *testing.T) {
	for _, glob := range []string{"app.log", "*.log"} {
		t.Run(glob, func(t *testing.T) {
			d := testfs.New(t)
			d.Write("app.log.2.gz", gzipped(t, "old-1\n"))
			d.Write("app.log.2", "old-2\n")
			old := time.Now().Add(-time.Hour)
			for _, n := range []string{"app.log.2.gz", "app.log.2"} {
				if err := os.Chtimes(d.Path(n), old, old); err != nil {
					t.Fatal(err)
				}
			}
			d.Write("app.log.1", "g1-1\ng1-2\n")
			d.Write("other.log-20261207.gz", gzipped(t, "o-1\n"))
			h := start(t, Config{
				Paths: []string{d.Path(glob)},
				Saved: time.Now().Add(-time.Minute),
			})
			want := []string{"g1-1", "g1-2", "o-1"}
			if glob == "app.log" {
				want = want[:2] // other.log is in no glob
			}
			h.waitTexts(len(want))
			// A few more scans, for old files read by mistake to show.
			n := h.tl.Stats().Scans
			h.waitStat("three more scans", func(s Stats) bool { return s.Scans >= n+3 })
			h.stop()
			sameSet(t, h.texts(), want)
		})
	}
}

// A file created, written and rotated away with nothing created in its
// place between two scans, with no file events to tell of it: its rotated
// file is read, whether a glob matches the path or names it, and in a
// directory that appeared since the last scan too.
func TestTailerPathCreatedAndRotatedAwayBetweenScans(t *testing.T) {
	for _, tt := range []struct {
		paths []string
		late  string
	}{
		{[]string{"logs/*.log"}, "logs/late.log"},
		{[]string{"logs/app.log", "logs/late.log"}, "logs/late.log"},
		{[]string{"logs/*.log", "logs/*/*.log"}, "logs/new/late.log"},
		{[]string{"logs/app.log", "logs/new/late.log"}, "logs/new/late.log"},
	} {
		paths := tt.paths
		t.Run(strings.Join(paths, ",")+" "+tt.late, func(t *testing.T) {
			d := testfs.New(t)
			d.Write("logs/app.log", "a-1\n")
			cfg := Config{
				RescanInterval: 200 * time.Millisecond,
				watchAdd:       func(string) error { return syscall.ENOSPC },
			}
			for _, p := range paths {
				cfg.Paths = append(cfg.Paths, d.Path(p))
			}
			h := start(t, cfg)
			h.waitTexts(1)
			scans := h.tl.Stats().Scans
			h.waitStat("the next scan", func(s Stats) bool { return s.Scans > scans })
			d.Write(tt.late, "late-1\nlate-2\n")
			d.Rename(tt.late, tt.late+".1")
			// A directory time long past, as after a rescan interval
			// longer than the kernel's clock makes uncertain (racyDir).
			old := time.Now().Add(-time.Hour)
			if err := os.Chtimes(filepath.Dir(d.Path(tt.late)), old, old); err != nil {
				t.Fatal(err)
			}
			h.waitTexts(3)
			h.stop()
			sameSet(t, h.texts(), []string{"a-1", "late-1", "late-2"})
		})
	}
}

// With a glob over rotated names, a rotated file is followed in its own
// right (app.log.1), and when logrotate compresses it (delaycompress) it
// leaves the globs as a rotated file of the path it came from
// (app.log.2.gz). One that moved so between the scan that found it and its
// open is a generation nobody read: the next scan finds it among app.log's
// rotated files, and a restart before that scan finds it too, because
// app.log's newer generation, decided with it, is saved with a time no
// later than its own.
//
// With a known generation (another file's, here), the scan opens the new
// files to compare them with it before it decides, and the move is found
// then; without one, when the start opens it.
func TestTailerRotatedNameCompressedBeforeItsOpen(t *testing.T) {
	for _, tt := range []struct{ restart, known bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		t.Run(fmt.Sprintf("restart=%v,known=%v", tt.restart, tt.known), func(t *testing.T) {
			restart := tt.restart
			d := testfs.New(t)
			var known []Position
			if tt.known {
				d.Write("other.log", "o-1\n")
				known = append(known, Position{Path: d.Path("other.log"), ID: identify(t, d.Path("other.log")), Offset: 4})
			}
			interval := 50 * time.Millisecond
			if restart {
				interval = time.Hour
			}
			cfg := Config{
				Paths:          []string{d.Path("*.log*")},
				Exclude:        []string{"*.gz"},
				Saved:          time.Now().Add(-time.Minute),
				Positions:      known,
				RescanInterval: interval,
				watchAdd:       func(string) error { return syscall.ENOSPC },
			}
			m := newMoveAtOpen(t, d, &cfg, func(rotated time.Time) {
				// logrotate's delaycompress: gzip keeps the time.
				d.Write("app.log.2.gz", gzipped(t, "r-1\nr-2\n"))
				if err := os.Chtimes(d.Path("app.log.2.gz"), rotated, rotated); err != nil {
					t.Error(err)
				}
				d.Remove("app.log.1")
			})
			h := start(t, cfg)
			if !restart {
				h.waitTexts(3)
				n := h.tl.Stats().Scans
				h.waitStat("two more scans", func(s Stats) bool { return s.Scans >= n+2 })
				h.stop()
				if !m.moved.Load() {
					t.Fatal("the rotated file was not moved before its open")
				}
				sameSet(t, h.texts(), []string{"l-1", "r-1", "r-2"})
				return
			}
			m.restartAfterMove(t, h, Config{Paths: []string{d.Path("*.log*")}, Exclude: []string{"*.gz"}, Positions: known})
		})
	}
}

// With a glob over rotated names, a generation read at a rotated name
// (app.log.1, a generation nobody saw at app.log) and saved part-read is
// compressed while the agent is down (delaycompress: app.log.2.gz), out of
// the globs and into app.log's family. The restart finds it there, older
// than anything app.log's family is otherwise looked at for, and reads it
// on from its offset, instead of reporting it found nowhere.
func TestTailerRestartFindsRotatedNameCompressed(t *testing.T) {
	d := testfs.New(t)
	d.Write("app.log.1", "x-1\n")
	id := identify(t, d.Path("app.log.1"))
	m, err := readMarker(openFile(t, d.Path("app.log.1")), 4)
	if err != nil {
		t.Fatal(err)
	}
	seen := time.Now().Add(-time.Hour)
	// While down: written on, compressed into app.log's family, and
	// app.log rotated in its place.
	d.Write("app.log.2.gz", gzipped(t, "x-1\nx-2\n"))
	d.Remove("app.log.1")
	d.Write("app.log.1", "y-1\n")
	d.Write("app.log", "z-1\n")
	written := seen.Add(time.Minute)
	if err := os.Chtimes(d.Path("app.log.2.gz"), written, written); err != nil {
		t.Fatal(err)
	}
	var lost atomic.Int64
	cfg := Config{
		Paths:     []string{d.Path("*.log*")},
		Exclude:   []string{"*.gz"},
		Saved:     time.Now(),
		Positions: []Position{{Path: d.Path("app.log.1"), ID: id, Offset: 4, Marker: m, MTime: seen}},
	}
	cfg.Hooks.OnLost = func(Position, *Source) { lost.Add(1) }
	h := start(t, cfg)
	h.waitTexts(3)
	n := h.tl.Stats().Scans
	h.waitStat("four more scans", func(s Stats) bool { return s.Scans >= n+4 })
	h.stop()
	sameSet(t, h.texts(), []string{"x-2", "y-1", "z-1"})
	if lost.Load() != 0 || h.tl.Stats().Lost != 0 {
		t.Errorf("%d generations reported lost", lost.Load())
	}
}
