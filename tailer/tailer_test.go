package tailer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sync/semaphore"

	"github.com/kinetail/kinetail/internal/testfs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitFor = 5 * time.Second

// harness runs a Tailer and collects what it sends, checking on the way
// that batches are well formed and each Source's batches are contiguous.
type harness struct {
	t      testing.TB
	tl     *Tailer
	cancel context.CancelFunc
	errc   chan error
	out    chan Batch
	done   chan struct{}
	once   sync.Once

	mu      sync.Mutex
	batches []Batch
	next    map[*Source]int64
	// With sem set, the collector acknowledges batches by releasing
	// their size, unless holding: then it keeps them unacknowledged
	// (a consumer that is down) until unhold.
	sem     *semaphore.Weighted
	holding bool
	held    int64
}

// fast fills the timing knobs the test left zero with values that keep
// tests quick.
func fast(cfg Config) Config {
	if cfg.Logger == nil && os.Getenv("TAILER_TEST_LOG") != "" {
		// Debugging aid: TAILER_TEST_LOG=1 go test -run X ./tailer/
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.pollInterval == 0 {
		cfg.pollInterval = 20 * time.Millisecond
	}
	if cfg.closeGrace == 0 {
		cfg.closeGrace = 300 * time.Millisecond
	}
	if cfg.RescanInterval == 0 {
		cfg.RescanInterval = 100 * time.Millisecond
	}
	if cfg.PartialLineTimeout == 0 {
		cfg.PartialLineTimeout = time.Minute
	}
	return cfg
}

// startHolding is start with a Budget of budget bytes that the collector
// does not release until unhold.
func startHolding(t testing.TB, cfg Config, budget int64) *harness {
	t.Helper()
	cfg.Budget = semaphore.NewWeighted(budget)
	return startWith(t, cfg, true)
}

// unhold acknowledges what was held and every batch from now on.
func (h *harness) unhold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holding = false
	h.sem.Release(h.held)
	h.held = 0
}

func start(t testing.TB, cfg Config) *harness {
	t.Helper()
	return startWith(t, cfg, false)
}

func startWith(t testing.TB, cfg Config, holding bool) *harness {
	t.Helper()
	tl, err := New(fast(cfg))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{
		t: t, tl: tl, cancel: cancel,
		errc: make(chan error, 1),
		out:  make(chan Batch, 4),
		done: make(chan struct{}),
		next: make(map[*Source]int64),
	}
	if holding {
		h.sem, h.holding = cfg.Budget.(*semaphore.Weighted), true
	}
	go func() { h.errc <- tl.Run(ctx, h.out) }()
	go h.collect()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) collect() {
	defer close(h.done)
	for b := range h.out {
		h.mu.Lock()
		if n, ok := h.next[b.Source]; ok && b.Start != n {
			h.t.Errorf("batch of %p starts at %d, previous ended at %d", b.Source, b.Start, n)
		}
		h.next[b.Source] = b.End
		h.batches = append(h.batches, b)
		if h.sem != nil {
			if h.holding {
				h.held += b.Size
			} else {
				h.sem.Release(b.Size)
			}
		}
		h.mu.Unlock()
	}
}

// stop cancels Run, requires it to return promptly with nil, and waits for
// the collector.
func (h *harness) stop() {
	h.once.Do(func() {
		h.cancel()
		select {
		case err := <-h.errc:
			if err != nil {
				h.t.Errorf("Run returned %v", err)
			}
		case <-time.After(waitFor):
			h.t.Fatal("Run did not return after cancel")
		}
		close(h.out)
		<-h.done
		// Every reader went through removeReader (see dirChanges).
		h.tl.mu.RLock()
		if len(h.tl.readers) != 0 || len(h.tl.readerDirs) != 0 {
			h.t.Errorf("after Run: %d readers, directories of readers %v", len(h.tl.readers), h.tl.readerDirs)
		}
		h.tl.mu.RUnlock()
	})
}

// sources returns the sources in order of their first batch, with the
// lines of each.
func (h *harness) sources() ([]*Source, map[*Source][]gotLine) {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	var order []*Source
	per := make(map[*Source][]Batch)
	for _, b := range h.batches {
		if _, ok := per[b.Source]; !ok {
			order = append(order, b.Source)
		}
		per[b.Source] = append(per[b.Source], b)
	}
	lines := make(map[*Source][]gotLine)
	for s, bs := range per {
		lines[s] = checkBatches(h.t, bs)
	}
	return order, lines
}

// texts returns every line's text, in arrival order.
func (h *harness) texts() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, b := range h.batches {
		for _, l := range b.Lines {
			out = append(out, string(l.Bytes))
		}
	}
	return out
}

func (h *harness) waitTexts(n int) []string {
	h.t.Helper()
	testfs.Wait(h.t, waitFor, "lines", func() bool { return len(h.texts()) >= n })
	return h.texts()
}

func (h *harness) waitStat(what string, cond func(Stats) bool) {
	h.t.Helper()
	testfs.Wait(h.t, waitFor, what, func() bool { return cond(h.tl.Stats()) })
}

func sameSet(t *testing.T, got, want []string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Fatalf("lines:\n got %q\nwant %q", g, w)
	}
}

func TestTailerStartPosition(t *testing.T) {
	tests := []struct {
		name       string
		startAtEnd bool
		existing   string
		want       []string // after appending "new\n" to the first-scan file
	}{
		{"from the start", false, "old1\nold2\n", []string{"old1", "old2", "new"}},
		{"at the end", true, "old1\nold2\n", []string{"new"}},
		{"at the end keeps an unterminated last line whole", true, "old1\npart", []string{"partnew"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testfs.New(t)
			d.Write("first.log", tt.existing)
			h := start(t, Config{Paths: []string{d.Path("*.log")}, StartAtEnd: tt.startAtEnd})
			h.waitStat("first file open", func(s Stats) bool { return s.Files == 1 })
			d.Append("first.log", "new\n")
			// A file that appears later is read from 0 either way.
			d.Write("later.log", "l1\nl2\n")
			want := append(slices.Clone(tt.want), "l1", "l2")
			sameSet(t, h.waitTexts(len(want)), want)
			h.stop()
			sameSet(t, h.texts(), want)
		})
	}
}

func TestTailerResumeFromPosition(t *testing.T) {
	d := testfs.New(t)
	d.Write("app.log", "a\nb\nc\n")
	id := identify(t, d.Path("app.log"))
	other := id
	other.Fingerprint++ // same inode, different content: a reused inode

	tests := []struct {
		name       string
		pos        Position
		startAtEnd bool
		want       []string
	}{
		{"a matching identity resumes at its offset, not at the end", Position{Path: d.Path("app.log"), ID: id, Offset: 2}, true, []string{"b", "c"}},
		{"a fingerprint mismatch is another file", Position{Path: d.Path("app.log"), ID: other, Offset: 2}, false, []string{"a", "b", "c"}},
		{"an offset past the end means truncated while away", Position{ID: id, Offset: 100}, true, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, Config{Paths: []string{d.Path("app.log")}, StartAtEnd: tt.startAtEnd, Positions: []Position{tt.pos}})
			got := h.waitTexts(len(tt.want))
			h.stop()
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			_, lines := h.sources()
			for _, ls := range lines {
				if ls[len(ls)-1].End != 6 {
					t.Errorf("last End = %d, want 6", ls[len(ls)-1].End)
				}
			}
		})
	}
}

func TestTailerPartialLine(t *testing.T) {
	t.Run("completed by a later append it is one line", func(t *testing.T) {
		d := testfs.New(t)
		d.Write("app.log", "abc")
		h := start(t, Config{Paths: []string{d.Path("app.log")}, PartialLineTimeout: time.Minute})
		h.waitStat("partial read", func(s Stats) bool { return s.BytesRead == 3 })
		d.Append("app.log", "def\n")
		h.waitTexts(1)
		h.stop()
		_, lines := h.sources()
		for _, ls := range lines {
			equalLines(t, ls, []gotLine{{0, 7, "abcdef", false}})
		}
	})
	t.Run("flushed after the timeout", func(t *testing.T) {
		d := testfs.New(t)
		d.Write("app.log", "one\nxyz")
		h := start(t, Config{Paths: []string{d.Path("app.log")}, PartialLineTimeout: 150 * time.Millisecond})
		h.waitTexts(2)
		d.Append("app.log", "more\n")
		h.waitTexts(3)
		h.stop()
		if s := h.tl.Stats(); s.PartialLines != 1 {
			t.Errorf("PartialLines = %d, want 1", s.PartialLines)
		}
		_, lines := h.sources()
		for _, ls := range lines {
			equalLines(t, ls, []gotLine{{0, 4, "one", false}, {4, 7, "xyz", false}, {7, 12, "more", false}})
		}
	})
}

func TestTailerGlobs(t *testing.T) {
	d := testfs.New(t)
	d.Write("logs/top.log", "top\n")
	d.Write("logs/a/mid.log", "mid\n")
	d.Write("logs/a/b/c/deep.log", "deep\n")
	d.Write("logs/a/old.log.gz", "gz\n")
	d.Write("logs/skip/s.log", "skipped\n")
	h := start(t, Config{
		Paths:          []string{d.Path("logs/**/*.log*")},
		Exclude:        []string{"*.gz", d.Path("logs/skip/**")},
		RescanInterval: time.Hour, // only file events find new directories
	})
	h.waitTexts(3)
	// Directories created after start, several levels at once.
	d.Write("logs/new/x/y/fresh.log", "fresh\n")
	d.Write("logs/skip/later.log", "skipped too\n")
	d.Write("logs/a/b/c/deep.log.1", "rotated\n")
	want := []string{"top", "mid", "deep", "fresh", "rotated"}
	h.waitTexts(len(want))
	h.stop()
	sameSet(t, h.texts(), want)
}

func TestTailerRotation(t *testing.T) {
	tests := []struct {
		name   string
		glob   string
		rotate func(d *testfs.Dir)
		// oldPath is where the first file is at the end.
		oldPath string
		// stays: the old file is still followed, its partial line is
		// sent by the timeout.
		stays bool
	}{
		{
			name:    "rename out of the globs and create",
			glob:    "app.log",
			rotate:  func(d *testfs.Dir) { d.Rename("app.log", "app.log.1") },
			oldPath: "app.log",
		},
		{
			name:    "rename within the globs keeps the Source",
			glob:    "app.log*",
			rotate:  func(d *testfs.Dir) { d.Rename("app.log", "app.log.1") },
			oldPath: "app.log.1",
			stays:   true,
		},
		{
			name:    "delete while open",
			glob:    "app.log",
			rotate:  func(d *testfs.Dir) { d.Remove("app.log") },
			oldPath: "app.log",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testfs.New(t)
			w := d.OpenAppend("app.log")
			write := func(f *os.File, s string) {
				if _, err := f.WriteString(s); err != nil {
					t.Fatal(err)
				}
			}
			write(w, "old-1\nold-2\n")
			cfg := Config{Paths: []string{d.Path(tt.glob)}}
			var renamed sync.Map // *Source → latest path reported by OnRename
			cfg.Hooks.OnRename = func(src *Source, path string) { renamed.Store(src, path) }
			wantFiles := int64(1)
			if tt.stays {
				cfg.PartialLineTimeout = 300 * time.Millisecond
				wantFiles = 2
			}
			h := start(t, cfg)
			h.waitTexts(2)
			write(w, "old-3\n")
			tt.rotate(d)
			// The application still writes to its old descriptor
			// before it reopens, ending with a partial line.
			write(w, "old-4\nold-5\nold-6")
			w2 := d.OpenAppend("app.log")
			write(w2, "new-1\n")
			h.waitStat("rotation noticed", func(s Stats) bool { return s.Rotations == 1 })
			// A late write within the grace period is still read.
			write(w, "-end")
			write(w2, "new-2\n")
			// After the grace period a rotated-away file is closed
			// and its partial line sent.
			h.waitStat("old file closed", func(s Stats) bool { return s.Files == wantFiles })
			h.waitTexts(8)
			h.stop()

			order, lines := h.sources()
			if len(order) != 2 {
				var desc []string
				for _, s := range order {
					var texts []string
					for _, l := range lines[s] {
						texts = append(texts, l.Text)
					}
					desc = append(desc, fmt.Sprintf("%s %v: %q", s.Path, s.ID, texts))
				}
				t.Fatalf("got %d sources, want 2:\n%s", len(order), strings.Join(desc, "\n"))
			}
			var got [][]string
			for _, s := range order {
				var texts []string
				for _, l := range lines[s] {
					texts = append(texts, l.Text)
				}
				got = append(got, texts)
			}
			want := [][]string{{"old-1", "old-2", "old-3", "old-4", "old-5", "old-6-end"}, {"new-1", "new-2"}}
			if !slices.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("lines per source:\n got %q\nwant %q", got, want)
			}
			p := order[0].Path
			if v, ok := renamed.Load(order[0]); ok {
				p = v.(string)
			}
			if p != d.Path(tt.oldPath) {
				t.Errorf("old Source path = %s, want %s", p, d.Path(tt.oldPath))
			}
			if p := order[1].Path; p != d.Path("app.log") {
				t.Errorf("new Source path = %s", p)
			}
		})
	}
}

func TestTailerTruncation(t *testing.T) {
	tests := []struct {
		name, rewrite string
	}{
		{"shorter than what was read", "c\n"},
		{"rewritten past the old offset before we looked", "cc\ndd\nee\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testfs.New(t)
			d.Write("app.log", "a\nb\n")
			h := start(t, Config{Paths: []string{d.Path("app.log")}})
			h.waitTexts(2)
			d.Truncate("app.log", 0)
			d.Append("app.log", tt.rewrite)
			want := append([]string{"a", "b"}, strings.Fields(tt.rewrite)...)
			h.waitTexts(len(want))
			h.stop()
			if got := h.texts(); !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			if s := h.tl.Stats(); s.Truncations != 1 {
				t.Errorf("Truncations = %d, want 1", s.Truncations)
			}
			order, lines := h.sources()
			if len(order) != 2 || lines[order[1]][0].Start != 0 {
				t.Fatalf("after truncation a new Source should start at 0: %v", lines)
			}
		})
	}
}

func TestTailerHugeLine(t *testing.T) {
	d := testfs.New(t)
	w := d.OpenAppend("app.log")
	chunk := strings.Repeat("x", 1<<20)
	for range 5 {
		if _, err := w.WriteString(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.WriteString("\nafter\n"); err != nil {
		t.Fatal(err)
	}
	h := start(t, Config{Paths: []string{d.Path("app.log")}, MaxLineBytes: 1 << 20})
	h.waitTexts(2)
	h.stop()
	_, lines := h.sources()
	for _, ls := range lines {
		if len(ls) != 2 {
			t.Fatalf("got %d lines", len(ls))
		}
		if l := ls[0]; !l.Truncated || len(l.Text) != 1<<20 || l.End != 5<<20+1 {
			t.Errorf("huge line: truncated=%v len=%d end=%d", l.Truncated, len(l.Text), l.End)
		}
		if ls[1] != (gotLine{5<<20 + 1, 5<<20 + 7, "after", false}) {
			t.Errorf("next line: %v", ls[1])
		}
	}
	if s := h.tl.Stats(); s.Truncated != 1 {
		t.Errorf("Stats.Truncated = %d", s.Truncated)
	}
}

func TestTailerUnreadablePaths(t *testing.T) {
	d := testfs.New(t)
	d.Symlink("missing.log", "dangling.log")
	if err := syscall.Mkfifo(d.Path("fifo.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.Write("ok.log", "fine\n")
	h := start(t, Config{Paths: []string{d.Path("*.log")}})
	h.waitTexts(1)
	h.waitStat("a second scan", func(s Stats) bool { return s.ScanErrors >= 2 })
	if s := h.tl.Stats(); s.Files != 1 {
		t.Errorf("Files = %d, want 1", s.Files)
	}
	// The link gets a target: it is picked up by a rescan.
	d.Write("missing.log", "late\n")
	h.waitTexts(2)
	h.stop()
	sameSet(t, h.texts(), []string{"fine", "late"})

	if os.Geteuid() == 0 {
		return // root reads files regardless of their mode
	}
	t.Run("permission denied is retried", func(t *testing.T) {
		d := testfs.New(t)
		d.Write("locked.log", "secret\n")
		if err := os.Chmod(d.Path("locked.log"), 0); err != nil {
			t.Fatal(err)
		}
		h := start(t, Config{Paths: []string{d.Path("*.log")}})
		h.waitStat("open errors", func(s Stats) bool { return s.OpenErrors >= 2 })
		if err := os.Chmod(d.Path("locked.log"), 0o644); err != nil {
			t.Fatal(err)
		}
		h.waitTexts(1)
		h.stop()
	})
}

func TestTailerFollowsLinkedFileOnce(t *testing.T) {
	d := testfs.New(t)
	d.Write("real/app.log", "one\n")
	d.Symlink(d.Path("real/app.log"), "links/app.log")
	h := start(t, Config{Paths: []string{d.Path("*/app.log")}})
	h.waitTexts(1)
	d.Append("real/app.log", "two\n")
	h.waitTexts(2)
	h.stop()
	if got := h.texts(); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("got %q", got)
	}
}

// Readers at the end of their files keep budget only for a partial line:
// many small files with a budget far smaller than a read's room each are
// all read. (Idle readers that kept the room of their last read held the
// whole budget, and reading stopped for good.)
func TestTailerManyFilesSmallBudget(t *testing.T) {
	const files = 400
	d := testfs.New(t)
	for i := range files {
		name := fmt.Sprintf("f%03d.log", i)
		d.Write(name, fmt.Sprintf("line of %s\n", name))
	}
	h := startHolding(t, Config{Paths: []string{d.Path("*.log")}, BatchBytes: 8 << 10}, 64<<10)
	h.unhold()
	h.waitTexts(files)
	// Every reader looks at its file again and finds nothing new: then
	// each file grows.
	time.Sleep(4 * h.tl.cfg.pollInterval)
	for i := range files {
		d.Append(fmt.Sprintf("f%03d.log", i), "second line\n")
	}
	h.waitTexts(2 * files)
	h.stop()
	if got := len(h.texts()); got != 2*files {
		t.Fatalf("%d lines, want %d", got, 2*files)
	}
}

// Config.Followed is told of every file the tailer follows or is about
// to, whether it has a descriptor, waits for one or is parked, and of every
// file let go: the agent takes each one's memory from the flow's budget,
// and gives it back when the file goes.
func TestTailerFollowedCount(t *testing.T) {
	const files = 6
	d := testfs.New(t)
	for i := range files {
		d.Write(fmt.Sprintf("f%d.log", i), fmt.Sprintf("line of f%d\n", i))
	}
	var followed, least atomic.Int64
	count := func(delta int) {
		if n := followed.Add(int64(delta)); n < least.Load() {
			least.Store(n)
		}
	}
	h := start(t, Config{Paths: []string{d.Path("*.log")}, OpenFiles: semaphore.NewWeighted(2), Followed: count})
	h.waitTexts(files)
	testfs.Wait(t, waitFor, "every file followed", func() bool { return followed.Load() == files })

	d.Remove("f0.log")
	testfs.Wait(t, waitFor, "the removed file let go", func() bool { return followed.Load() == files-1 })

	h.stop()
	if n := followed.Load(); n != 0 {
		t.Errorf("%d files followed once Run returned, want 0", n)
	}
	if n := least.Load(); n < 0 {
		t.Errorf("the count went down to %d", n)
	}
}

func TestTailerBackpressure(t *testing.T) {
	const budget = 32 << 10
	d := testfs.New(t)
	d.Write("app.log", strings.Repeat(strings.Repeat("y", 99)+"\n", 20_000)) // 2 MB
	sem := semaphore.NewWeighted(budget)
	h := start(t, Config{Paths: []string{d.Path("app.log")}, Budget: sem, BatchBytes: 8 << 10})
	// Two batches at least (a line costs its bytes and its Line).
	h.waitStat("budget used", func(s Stats) bool { return s.LinesRead > 2*(8<<10)/(100+lineBytes) })
	// Nobody releases: reading must stop. Give it time to overrun.
	time.Sleep(300 * time.Millisecond)
	s := h.tl.Stats()
	if limit := int64(budget + 8<<10 + 2*defaultReadBuf); s.BytesRead > limit {
		t.Fatalf("read %d bytes with a budget of %d (limit %d)", s.BytesRead, budget, limit)
	}
	var sent int64
	h.mu.Lock()
	for _, b := range h.batches {
		sent += b.Size
	}
	h.mu.Unlock()
	if sent > budget {
		t.Fatalf("sent %d bytes, more than the budget %d", sent, budget)
	}
	h.stop() // must return although the reader waits on the budget

	t.Run("cancel while the consumer does not receive", func(t *testing.T) {
		tl, err := New(fast(Config{Paths: []string{d.Path("app.log")}}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- tl.Run(ctx, make(chan Batch)) }()
		testfs.Wait(t, waitFor, "reader blocked", func() bool { return tl.Stats().BytesRead > 0 })
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(waitFor):
			t.Fatal("Run did not return")
		}
		if s := tl.Stats(); s.Files != 0 {
			t.Errorf("Files = %d after Run returned", s.Files)
		}
	})
}

func TestNewErrors(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Paths: []string{"relative/*.log"}},
		{Paths: []string{"/x/[.log"}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
}

func TestTailerFileEvents(t *testing.T) {
	// With polling and rescans out of the way, only file events can
	// deliver these lines.
	d := testfs.New(t)
	d.Write("logs/app.log", "one\n")
	h := start(t, Config{
		Paths:          []string{d.Path("logs/*.log")},
		RescanInterval: time.Hour,
		pollInterval:   time.Hour,
	})
	h.waitTexts(1)
	d.Append("logs/app.log", "two\n")
	h.waitTexts(2)
	d.Write("logs/new.log", "three\n")
	h.waitTexts(3)
	d.Append("logs/new.log", "four\n")
	h.waitTexts(4)
	h.stop()
	sameSet(t, h.texts(), []string{"one", "two", "three", "four"})
}

func TestTailerReopensAfterReadError(t *testing.T) {
	d := testfs.New(t)
	d.Write("app.log", "one\ntwo\n")
	h := start(t, Config{Paths: []string{d.Path("app.log")}})
	h.waitTexts(2)
	// Break the reader's descriptor under it.
	h.tl.mu.RLock()
	for _, r := range h.tl.readers {
		r.f.Close()
		r.wake()
	}
	h.tl.mu.RUnlock()
	h.waitStat("read error", func(s Stats) bool { return s.ReadErrors == 1 })
	d.Append("app.log", "three\n")
	h.waitTexts(3)
	h.stop()
	// Reopened at the end of the last line sent: nothing repeated.
	if got := h.texts(); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("got %q", got)
	}
}

func TestReaderPanicIsContained(t *testing.T) {
	d := testfs.New(t)
	d.Write("app.log", "one\ntwo\n")
	tl, err := New(fast(Config{Paths: []string{d.Path("app.log")}}))
	if err != nil {
		t.Fatal(err)
	}
	f := openFile(t, d.Path("app.log"))
	id, err := Identify(f)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	r := newReader(&tl.opts, &tl.stats, tl.log, f, id.key(), &Source{ID: id}, 0,
		func(context.Context, Batch) error {
			calls++
			panic("consumer bug")
		})
	tl.readers[r.key] = r
	tl.stats.files.Add(1)
	tl.runReader(context.Background(), r) // must return, not crash

	if s := tl.Stats(); s.Panics != 1 || s.Files != 0 {
		t.Errorf("Panics = %d, Files = %d", s.Panics, s.Files)
	}
	if _, ok := tl.readers[r.key]; ok || calls != 1 {
		t.Errorf("reader still registered or emit called %d times", calls)
	}
	// Nothing was sent, so a reopen starts where the reader started.
	if len(tl.ended) != 1 || tl.ended[0].pos.Offset != 0 || !Same(tl.ended[0].pos.ID, id) || tl.ended[0].src != r.src {
		t.Errorf("generation kept for a reopen = %+v", tl.ended)
	}
}

// Every batch carries the file's first min(End, FingerprintSize) bytes,
// also when the file was short at open and when reading resumes past the
// start; a prefix handed out is never changed afterwards.
func TestTailerBatchPrefix(t *testing.T) {
	d := testfs.New(t)
	w := d.OpenAppend("app.log")
	var content []byte
	write := func(n int) {
		for range n {
			l := fmt.Sprintf("line %04d %s\n", len(content), strings.Repeat("p", 30))
			if _, err := w.WriteString(l); err != nil {
				t.Fatal(err)
			}
			content = append(content, l...)
		}
	}
	check := func(h *harness) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, b := range h.batches {
			want := content[:min(b.End, FingerprintSize)]
			if string(b.Prefix) != string(want) {
				t.Fatalf("batch [%d, %d) has a prefix of %d bytes, want the file's first %d", b.Start, b.End, len(b.Prefix), len(want))
			}
		}
	}
	write(2)
	h := start(t, Config{Paths: []string{d.Path("app.log")}})
	h.waitTexts(2)
	write(40) // past FingerprintSize
	h.waitTexts(42)
	check(h)
	h.stop()

	// Resuming past the start: the prefix is read, not carried over.
	write(3)
	id := h.batches[len(h.batches)-1].Source.ID
	h2 := start(t, Config{Paths: []string{d.Path("app.log")}, Positions: []Position{{Path: d.Path("app.log"), ID: id, Offset: h.batches[len(h.batches)-1].End}}})
	h2.waitTexts(3)
	check(h2)
	h2.stop()
}
