package tailer

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/kinetail/kinetail/internal/testfs"
)

// TestTailerManyFiles follows 10,000 files in 1,000 directories with 256
// descriptors: every line arrives, and no more files are ever open.
func TestTailerManyFiles(t *testing.T) {
	const dirs, perDir, limit = 1000, 10, 256
	d := testfs.New(t)
	var paths []string
	for i := range dirs {
		dir := d.Path(fmt.Sprintf("d%03d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := range perDir {
			p := filepath.Join(dir, fmt.Sprintf("f%d.log", j))
			if err := os.WriteFile(p, []byte(fmt.Sprintf("%d-%d-0\n", i, j)), 0o644); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
	}
	want := len(paths)
	h := start(t, Config{
		Paths:          []string{d.Path("*/*.log")},
		OpenFiles:      semaphore.NewWeighted(limit),
		RescanInterval: 500 * time.Millisecond,
		idleClose:      100 * time.Millisecond,
	})
	var maxOpen atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			if f := h.tl.Stats().Files; f > maxOpen.Load() {
				maxOpen.Store(f)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { cancel(); <-sampled }()

	testfs.Wait(t, 30*time.Second, "first lines", func() bool { return len(h.texts()) >= want })
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 1; round <= 5; round++ {
		for range 200 {
			i := rng.IntN(len(paths))
			f, err := os.OpenFile(paths[i], os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(f, "%d-%d\n", i, round*1000+want)
			f.Close()
			want++
		}
		time.Sleep(50 * time.Millisecond)
	}
	testfs.Wait(t, 30*time.Second, "appended lines", func() bool { return len(h.texts()) >= want })
	h.stop()
	cancel()
	<-sampled

	got := h.texts()
	seen := make(map[string]bool, len(got))
	for _, s := range got {
		if seen[s] {
			t.Fatalf("line %q sent twice", s)
		}
		seen[s] = true
	}
	if len(got) != want {
		t.Fatalf("got %d lines, want %d", len(got), want)
	}
	if m := maxOpen.Load(); m > limit || m == 0 {
		t.Fatalf("at most %d files were open, limit %d", m, limit)
	}
}

// captureHandler counts the records logged at Warn level per message.
type captureHandler struct {
	warns map[string]*atomic.Int64
}

func newCapture(msgs ...string) *captureHandler {
	c := &captureHandler{warns: make(map[string]*atomic.Int64)}
	for _, m := range msgs {
		c.warns[m] = new(atomic.Int64)
	}
	return c
}

func (c *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (c *captureHandler) Handle(_ context.Context, r slog.Record) error {
	if n := c.warns[r.Message]; n != nil && r.Level == slog.LevelWarn {
		n.Add(1)
	}
	return nil
}
func (c *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *captureHandler) WithGroup(string) slog.Handler      { return c }

func (c *captureHandler) count(msg string) int64 { return c.warns[msg].Load() }

func TestTailerWatchLimit(t *testing.T) {
	const msg = "cannot watch directory, relying on rescans (logged once)"
	d := testfs.New(t)
	d.Write("a/app.log", "one\n")
	d.Mkdir("b")
	logs := newCapture(msg)
	h := start(t, Config{
		Paths:          []string{d.Path("*/*.log")},
		Logger:         slog.New(logs),
		RescanInterval: 50 * time.Millisecond,
		watchAdd:       func(string) error { return syscall.ENOSPC },
	})
	h.waitTexts(1)
	d.Write("b/new.log", "two\n")
	d.Append("a/app.log", "three\n")
	h.waitTexts(3)
	time.Sleep(150 * time.Millisecond) // a few more rescans that fail to watch
	h.stop()
	sameSet(t, h.texts(), []string{"one", "two", "three"})
	if n := logs.count(msg); n != 1 {
		t.Errorf("watch failure logged %d times, want once", n)
	}
}

func TestTailerPermissionDenied(t *testing.T) {
	const msg = "cannot open file, will retry"
	d := testfs.New(t)
	d.Write("locked.log", "secret\n")
	written := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(d.Path("locked.log"), written, written); err != nil {
		t.Fatal(err)
	}
	var denied atomic.Bool
	denied.Store(true)
	logs := newCapture(msg)
	h := start(t, Config{
		Paths:  []string{d.Path("*.log")},
		Logger: slog.New(logs),
		openFile: func(p string) (*os.File, error) {
			if denied.Load() {
				return nil, &os.PathError{Op: "open", Path: p, Err: syscall.EACCES}
			}
			return os.Open(p)
		},
	})
	h.waitStat("retried", func(s Stats) bool { return s.OpenErrors >= 3 })
	// Not followed yet, so a checkpoint saved now must not claim its
	// writes: a restart would take its rotated files for read ones.
	if got := h.tl.Scanned(); got.After(written) {
		t.Errorf("Scanned() = %v while a file written at %v could not be opened", got, written)
	}
	denied.Store(false)
	h.waitTexts(1)
	h.stop()
	if n := logs.count(msg); n != 1 {
		t.Errorf("permission problem logged %d times, want once", n)
	}
}

// While the first scan opens the files it found, one after another (as
// descriptors are free, or as each goes idle and is parked when there is
// one), a checkpoint saved meanwhile (the first reader's Sync) must not
// claim the files not opened yet as seen: they are in no entry, and a
// restart would take their rotated files for read ones. Until a file is
// opened, the checkpoint's time (Scanned) must not pass its last write,
// whichever order they are opened in and whichever was written first.
func TestTailerScannedWhileStartsWait(t *testing.T) {
	for _, descriptors := range []int64{0, 1} {
		t.Run(fmt.Sprintf("descriptors=%d", descriptors), func(t *testing.T) {
			var open *semaphore.Weighted
			if descriptors > 0 {
				open = semaphore.NewWeighted(descriptors)
			}
			scannedWhileStartsWait(t, open)
		})
	}
}

func scannedWhileStartsWait(t *testing.T, open *semaphore.Weighted) {
	d := testfs.New(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	// Names and last writes in different orders: the oldest is neither
	// opened first nor last.
	written := map[string]time.Time{
		"a.log": base.Add(3 * time.Minute),
		"b.log": base,
		"c.log": base.Add(4 * time.Minute),
		"d.log": base.Add(time.Minute),
		"e.log": base.Add(2 * time.Minute),
	}
	for n, m := range written {
		d.Write(n, n+"\n")
		if err := os.Chtimes(d.Path(n), m, m); err != nil {
			t.Fatal(err)
		}
	}
	var (
		tl     atomic.Pointer[Tailer]
		ready  = make(chan struct{})
		mu     sync.Mutex
		opened = make(map[string]bool)
		bad    []string
	)
	h := start(t, Config{
		Paths:     []string{d.Path("*.log")},
		OpenFiles: open,
		Hooks: Hooks{OnOpen: func(src *Source, _ Opened) {
			<-ready
			got := tl.Load().Scanned()
			mu.Lock()
			defer mu.Unlock()
			opened[filepath.Base(src.Path)] = true
			for n, m := range written {
				if !opened[n] && got.After(m) {
					bad = append(bad, fmt.Sprintf("%s opened: Scanned() = %s, after %s's last write %s",
						filepath.Base(src.Path), got.Format(time.TimeOnly), n, m.Format(time.TimeOnly)))
				}
			}
		}},
	})
	tl.Store(h.tl)
	close(ready)
	h.waitTexts(len(written))
	h.stop()
	mu.Lock()
	defer mu.Unlock()
	if len(opened) != len(written) || len(bad) > 0 {
		t.Errorf("%d files opened of %d; %v", len(opened), len(written), bad)
	}
}

// Idle files in a directory that has not changed for long are written to:
// the scans that take their FileInfos as they were (told of writes by file
// events) still get every line, from the file events, or, where the
// directory cannot be watched, from scans that look at every file.
func TestTailerIdleFilesInSettledDirectory(t *testing.T) {
	for _, tt := range []struct {
		name     string
		watchAdd func(string) error
	}{
		{"file events", nil},
		{"no file events", func(string) error { return syscall.ENOSPC }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := testfs.New(t)
			const n = 20
			for i := range n {
				d.Write(fmt.Sprintf("logs/f%02d.log", i), fmt.Sprintf("first-%d\n", i))
			}
			old := time.Now().Add(-time.Hour)
			if err := os.Chtimes(d.Path("logs"), old, old); err != nil {
				t.Fatal(err)
			}
			h := start(t, Config{
				Paths:          []string{d.Path("logs/*.log")},
				RescanInterval: 20 * time.Millisecond,
				idleClose:      20 * time.Millisecond,
				watchAdd:       tt.watchAdd,
			})
			h.waitTexts(n)
			h.waitStat("parked", func(s Stats) bool { return s.Idle == n })
			scans := h.tl.Stats().Scans
			h.waitStat("scans of the settled directory", func(s Stats) bool { return s.Scans > scans+2*fullScanEvery })
			for i := range n {
				d.Append(fmt.Sprintf("logs/f%02d.log", i), fmt.Sprintf("second-%d\n", i))
			}
			h.waitTexts(2 * n)
			// Parked again with their new sizes, which scans that take
			// the files' FileInfos as they were have not seen: they
			// must not reopen them for it at every scan.
			h.waitStat("parked again", func(s Stats) bool { return s.Idle == n })
			scans, reopened := h.tl.Stats().Scans, int64(0)
			for h.tl.Stats().Scans < scans+2*fullScanEvery {
				reopened = max(reopened, h.tl.Stats().Files)
				time.Sleep(time.Millisecond)
			}
			h.stop()
			if got := len(h.texts()); got != 2*n {
				t.Errorf("got %d lines, want %d", got, 2*n)
			}
			if reopened > 0 {
				t.Errorf("%d idle files reopened with nothing written", reopened)
			}
		})
	}
}
