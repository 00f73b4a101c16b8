package tailer

import (
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/testfs"
)

// TestWatcherCovers checks when file events are trusted to see every
// change, which lets the tailer skip periodic rescans.
func TestWatcherCovers(t *testing.T) {
	d := testfs.New(t)
	d.Write("a/x.log", "x\n")
	d.Write("b/y.log", "y\n")
	d.Write("real/z.log", "z\n")
	d.Symlink(d.Path("real/z.log"), "c/z.log")
	tests := []struct {
		name    string
		glob    string
		add     func(string) error
		partial bool // the directories are on a file system whose events miss writes
		want    bool
	}{
		{name: "every directory watched", glob: "*/*.log", want: false}, // c/z.log is a link
		{name: "no links", glob: "[ab]/*.log", want: true},
		{name: "watch refused", glob: "[ab]/*.log", add: func(string) error { return syscall.ENOSPC }, want: false},
		{name: "network file system", glob: "[ab]/*.log", partial: true, want: false},
		{name: "literal link", glob: "c/z.log", want: false},
		{name: "literal file", glob: "a/x.log", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewScanner([]string{d.Path(tt.glob)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			w := newWatcher(slog.New(slog.DiscardHandler), func(string) bool { return false }, s.Match, tt.add)
			defer w.close()
			snap := s.Scan()
			w.setDirs(snap.Dirs)
			if tt.partial {
				for _, dir := range snap.Dirs {
					w.partial[dir] = struct{}{}
				}
			}
			if got := w.covers(snap); got != tt.want {
				t.Fatalf("covers = %v, want %v (dirs %q, %d linked)", got, tt.want, snap.Dirs, snap.Linked)
			}
		})
	}
}

func TestScannerLinked(t *testing.T) {
	d := testfs.New(t)
	d.Write("real/a.log", "a\n")
	d.Write("logs/b.log", "b\n")
	d.Symlink(d.Path("real/a.log"), "logs/a.log")
	for glob, want := range map[string]int{"logs/*.log": 1, "logs/a.log": 1, "logs/b.log": 0, "real/*.log": 0} {
		s, err := NewScanner([]string{d.Path(glob)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Scan().Linked; got != want {
			t.Errorf("%s: Linked = %d, want %d", glob, got, want)
		}
	}
}

// TestTailerSkipsRescansWhileEventsCover: with every followed file where
// file events see it, only one periodic rescan in fullRescanEvery runs,
// and a parked file's new lines still arrive, woken by its event.
func TestTailerSkipsRescansWhileEventsCover(t *testing.T) {
	if !eventsComplete(os.TempDir()) {
		t.Skip("the temporary directory's file system is not one whose events are trusted")
	}
	const interval = 10 * time.Millisecond
	d := testfs.New(t)
	d.Write("a.log", "1\n")
	d.Write("b.log", "2\n")
	// A directory changed within racyDir of a scan is scanned again at the
	// next tick (see dirChanges): make it an old one.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(d.Path("."), old, old); err != nil {
		t.Fatal(err)
	}
	h := start(t, Config{Paths: []string{d.Path("*.log")}, RescanInterval: interval, idleClose: time.Millisecond})
	testfs.Wait(t, 10*time.Second, "first lines", func() bool { return len(h.texts()) == 2 })
	testfs.Wait(t, 10*time.Second, "readers parked", func() bool { return h.tl.Stats().Files == 0 })

	s0 := h.tl.Stats().Scans
	begin := time.Now()
	testfs.Wait(t, 10*time.Second, "three more scans", func() bool { return h.tl.Stats().Scans >= s0+3 })
	// Between the first and the third of those scans, at least two full
	// runs of fullRescanEvery ticks (6): a ticker never delivers 6 ticks
	// in less than 5 intervals (one tick may come late and the next early).
	if elapsed, least := time.Since(begin), 2*5*interval; elapsed < least {
		t.Fatalf("3 scans in %v: rescans were not skipped (at least %v expected)", elapsed, least)
	}
	d.Append("a.log", "3\n")
	testfs.Wait(t, 10*time.Second, "the parked file's new line", func() bool { return len(h.texts()) == 3 })
}
