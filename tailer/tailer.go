package tailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/semaphore"
)

// Defaults for zero Config fields.
const (
	DefaultBatchLines         = 4096
	DefaultBatchBytes         = 1 << 20
	DefaultMaxLineBytes       = 1 << 20
	DefaultPartialLineTimeout = 5 * time.Second
	DefaultRescanInterval     = 10 * time.Second

	defaultReadBuf  = 64 << 10
	defaultPoll     = 250 * time.Millisecond
	defaultGrace    = time.Second
	rescanDebounce  = 75 * time.Millisecond
	minPollInterval = time.Millisecond
)

// Config configures one Tailer (one flow).
type Config struct {
	Flow string
	// Paths are absolute globs; "**" matches any number of directories.
	// Exclude patterns match a file's base name or its full path.
	Paths, Exclude []string
	// StartAtEnd makes files found by the first scan that have no matching
	// Position start at their end (at the start of an unterminated last
	// line, so that line is not cut). All other files start at 0.
	StartAtEnd bool
	// Positions are resume points, matched by identity (device, inode and
	// fingerprint, see Matches). A match is used once.
	Positions []Position
	// MaxLineBytes caps a line: longer lines are sent with their first
	// MaxLineBytes bytes and Truncated set; the rest is skipped up to the
	// newline.
	MaxLineBytes int
	// PartialLineTimeout is how long an unterminated last line may stay
	// unchanged before it is sent as a line. A file rotated away is also
	// flushed when it has been drained.
	PartialLineTimeout time.Duration
	// RescanInterval is the period of the full glob rescan; file events
	// only make it happen sooner.
	RescanInterval time.Duration
	// BatchLines and BatchBytes bound a batch.
	BatchLines int
	BatchBytes int
	// Budget bounds the bytes sent but not yet acknowledged: a reader
	// acquires Batch.Size before sending, the consumer releases it on
	// acknowledgement. A batch larger than the whole budget (possible
	// with lines longer than it) waits until Run is cancelled, so the
	// budget must be at least BatchBytes plus the longest expected line.
	// Nil means unbounded.
	Budget *semaphore.Weighted
	Logger *slog.Logger
	// Hooks tell the consumer (the checkpoint tracker) about each Source.
	Hooks Hooks

	// Test seams.
	pollInterval time.Duration
	closeGrace   time.Duration
	readBuf      int
}

// Hooks are called from reader goroutines, in order for each Source:
// OnOpen before the Source's first batch is sent, OnRename when the file
// was renamed within the globs or its fingerprint was widened, OnClose when
// it is no longer read (closed, or replaced by a new Source after a
// truncation). Any may be nil. They must not block for long.
type Hooks struct {
	OnOpen   func(src *Source, path string, id FileID, offset int64)
	OnRename func(src *Source, path string, id FileID)
	OnClose  func(src *Source)
}

// Stats are counters since New; Files is the number of open files.
type Stats struct {
	Files        int64
	LinesRead    int64 // lines sent, including truncated and partial ones
	BytesRead    int64
	Batches      int64
	Truncated    int64 // lines cut to MaxLineBytes
	PartialLines int64 // unterminated lines sent after the timeout or rotation
	Rotations    int64 // followed files renamed, moved out of the globs or deleted
	Truncations  int64
	OpenErrors   int64
	ScanErrors   int64
	ReadErrors   int64
	Panics       int64
}

type counters struct {
	files, linesRead, bytesRead, batches, truncated, partialLines atomic.Int64
	rotations, truncations, openErrors, scanErrors, readErrors    atomic.Int64
	panics                                                        atomic.Int64
}

// resume is where a closed reader stopped, kept so a reopen neither skips
// nor repeats.
type resume struct {
	id  FileID
	off int64
}

// Tailer follows the files of one flow.
type Tailer struct {
	cfg     Config
	opts    readerOpts
	log     *slog.Logger
	scanner *Scanner
	stats   counters
	started atomic.Bool

	// Owned by the Run goroutine.
	out       chan<- Batch
	watcher   *watcher
	firstScan bool
	positions map[devIno][]Position
	warned    map[string]struct{} // paths whose problem was logged

	mu      sync.RWMutex
	readers map[devIno]*reader
	byPath  map[string]*reader // followed (not rotated-away) readers
	done    map[devIno]resume
}

// New checks cfg, applies defaults and returns a Tailer.
func New(cfg Config) (*Tailer, error) {
	if len(cfg.Paths) == 0 {
		return nil, errors.New("tailer: no paths")
	}
	sc, err := NewScanner(cfg.Paths, cfg.Exclude)
	if err != nil {
		return nil, fmt.Errorf("tailer: %w", err)
	}
	if cfg.MaxLineBytes <= 0 {
		cfg.MaxLineBytes = DefaultMaxLineBytes
	}
	if cfg.PartialLineTimeout <= 0 {
		cfg.PartialLineTimeout = DefaultPartialLineTimeout
	}
	if cfg.RescanInterval <= 0 {
		cfg.RescanInterval = DefaultRescanInterval
	}
	if cfg.BatchLines <= 0 {
		cfg.BatchLines = DefaultBatchLines
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = DefaultBatchBytes
	}
	if cfg.pollInterval <= 0 {
		cfg.pollInterval = defaultPoll
	}
	cfg.pollInterval = max(cfg.pollInterval, minPollInterval)
	if cfg.closeGrace <= 0 {
		cfg.closeGrace = max(defaultGrace, 2*cfg.pollInterval)
	}
	if cfg.readBuf <= 0 {
		cfg.readBuf = defaultReadBuf
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Tailer{
		cfg: cfg,
		opts: readerOpts{
			maxLine:        cfg.MaxLineBytes,
			batchLines:     cfg.BatchLines,
			batchBytes:     cfg.BatchBytes,
			readBuf:        cfg.readBuf,
			poll:           cfg.pollInterval,
			grace:          cfg.closeGrace,
			partialTimeout: cfg.PartialLineTimeout,
			hooks:          cfg.Hooks,
		},
		log:       cfg.Logger.With("flow", cfg.Flow),
		scanner:   sc,
		firstScan: true,
		positions: make(map[devIno][]Position),
		warned:    make(map[string]struct{}),
		readers:   make(map[devIno]*reader),
		byPath:    make(map[string]*reader),
		done:      make(map[devIno]resume),
	}
	for _, p := range cfg.Positions {
		k := p.ID.key()
		t.positions[k] = append(t.positions[k], p)
	}
	return t, nil
}

// Stats returns a snapshot of the counters.
func (t *Tailer) Stats() Stats {
	c := &t.stats
	return Stats{
		Files:        c.files.Load(),
		LinesRead:    c.linesRead.Load(),
		BytesRead:    c.bytesRead.Load(),
		Batches:      c.batches.Load(),
		Truncated:    c.truncated.Load(),
		PartialLines: c.partialLines.Load(),
		Rotations:    c.rotations.Load(),
		Truncations:  c.truncations.Load(),
		OpenErrors:   c.openErrors.Load(),
		ScanErrors:   c.scanErrors.Load(),
		ReadErrors:   c.readErrors.Load(),
		Panics:       c.panics.Load(),
	}
}

// Run follows files until ctx is cancelled, sending batches to out. Batches
// of one Source arrive in file order. Run does not close out; the caller
// does after Run returns. On cancellation Run stops promptly, also while
// blocked on the Budget or on out, closes every file and returns nil. Lines
// read but not yet sent are dropped: they are read again from the
// checkpoint. Run may be called once.
func (t *Tailer) Run(ctx context.Context, out chan<- Batch) error {
	if !t.started.CompareAndSwap(false, true) {
		return errors.New("tailer: Run called twice")
	}
	t.out = out
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	t.watcher = newWatcher(t.log, t.wakePath, t.scanner.Match)
	defer func() {
		cancel()
		wg.Wait()
		t.watcher.close()
	}()
	wg.Go(func() { t.watcher.run(ctx) })

	t.rescan(ctx, &wg)
	tick := time.NewTicker(t.cfg.RescanInterval)
	defer tick.Stop()
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	armed := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			t.rescan(ctx, &wg)
		case <-t.watcher.soon:
			// Gather a burst of events (logrotate renames, creates
			// and chmods) into one rescan. The timer is not pushed
			// back, so a steady stream of events cannot starve it.
			if !armed {
				armed = true
				debounce.Reset(rescanDebounce)
			}
		case <-debounce.C:
			armed = false
			t.rescan(ctx, &wg)
		}
	}
}

// send is the readers' emit: it takes budget for the batch, then hands it to
// the consumer.
func (t *Tailer) send(ctx context.Context, b Batch) error {
	if t.cfg.Budget != nil {
		if err := t.cfg.Budget.Acquire(ctx, b.Size); err != nil {
			return err
		}
	}
	select {
	case t.out <- b:
		return nil
	case <-ctx.Done():
		if t.cfg.Budget != nil {
			t.cfg.Budget.Release(b.Size)
		}
		return ctx.Err()
	}
}

func (t *Tailer) wakePath(path string) bool {
	t.mu.RLock()
	r := t.byPath[path]
	t.mu.RUnlock()
	if r == nil {
		return false
	}
	r.wake()
	return true
}

// rescan compares a fresh snapshot with the open readers by identity and
// decides renames, rotations away and new files.
func (t *Tailer) rescan(ctx context.Context, wg *sync.WaitGroup) {
	snap := t.scanner.Scan()
	t.watcher.setDirs(snap.Dirs)
	t.noteProblems(snap.Errors)

	byKey := make(map[devIno][]string, len(snap.Files))
	for p, fi := range snap.Files {
		if k, ok := keyOf(fi); ok {
			byKey[k] = append(byKey[k], p)
		}
	}
	now := time.Now().UnixNano()

	t.mu.Lock()
	for k := range t.done {
		if _, ok := byKey[k]; !ok {
			delete(t.done, k) // the file is gone; its inode may be reused
		}
	}
	for k, r := range t.readers {
		paths, ok := byKey[k]
		delete(byKey, k)
		if !ok {
			if r.goneAt.Load() == 0 {
				r.goneAt.Store(now)
				r.wake()
				t.stats.rotations.Add(1)
				t.log.Info("file rotated away or deleted, draining it", "path", r.path)
			}
			continue
		}
		if r.goneAt.Load() != 0 {
			r.goneAt.Store(0)
			t.log.Info("file is back in the globs", "path", r.path)
		}
		if !slices.Contains(paths, r.path) {
			np := slices.Min(paths)
			t.stats.rotations.Add(1)
			t.log.Info("file renamed", "from", r.path, "to", np)
			r.path = np
			r.newPath.Store(&np)
		}
	}
	clear(t.byPath)
	for _, r := range t.readers {
		if r.goneAt.Load() == 0 {
			t.byPath[r.path] = r
		}
	}
	t.mu.Unlock()

	paths := make([]string, 0, len(byKey))
	for _, ps := range byKey {
		paths = append(paths, slices.Min(ps))
	}
	slices.Sort(paths)
	for _, p := range paths {
		t.open(ctx, p, wg)
	}
	t.firstScan = false
}

// noteProblems counts scan problems and logs each path once while it lasts.
func (t *Tailer) noteProblems(errs []PathError) {
	for p := range t.warned {
		if !slices.ContainsFunc(errs, func(e PathError) bool { return e.Path == p }) {
			delete(t.warned, p)
		}
	}
	for _, e := range errs {
		t.stats.scanErrors.Add(1)
		t.warnOnce(e.Path, "cannot read path, will retry", e.Err)
	}
}

func (t *Tailer) warnOnce(path, msg string, err error) {
	if _, ok := t.warned[path]; ok {
		return
	}
	t.warned[path] = struct{}{}
	t.log.Warn(msg, "path", path, "err", err)
}

// open starts a reader for path unless its file is already followed.
func (t *Tailer) open(ctx context.Context, path string, wg *sync.WaitGroup) {
	// O_NONBLOCK: a FIFO swapped in after the scan must not block us; it
	// is refused below. It has no effect on regular files.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.stats.openErrors.Add(1)
		t.warnOnce(path, "cannot open file, will retry", err)
		return
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return
	}
	k, ok := keyOf(fi)
	if !ok {
		f.Close()
		return
	}
	t.mu.RLock()
	_, dup := t.readers[k]
	t.mu.RUnlock()
	if dup {
		f.Close() // renamed or linked while we scanned; already followed
		return
	}
	id, err := Identify(f)
	if err != nil {
		f.Close()
		t.stats.openErrors.Add(1)
		t.warnOnce(path, "cannot identify file, will retry", err)
		return
	}
	delete(t.warned, path)
	off := t.startOffset(f, fi.Size(), k)

	src := &Source{Flow: t.cfg.Flow, Path: path, ID: id}
	r := newReader(&t.opts, &t.stats, t.log, f, k, src, off, t.send)
	t.mu.Lock()
	t.readers[k] = r
	t.byPath[path] = r
	t.mu.Unlock()
	t.stats.files.Add(1)
	if t.cfg.Hooks.OnOpen != nil {
		t.cfg.Hooks.OnOpen(src, path, id, off)
	}
	t.log.Info("following file", "path", path, "offset", off, "id", id.String())
	wg.Go(func() { t.runReader(ctx, r) })
}

// startOffset decides where a newly opened file is read from.
func (t *Tailer) startOffset(f *os.File, size int64, k devIno) int64 {
	t.mu.Lock()
	res, ok := t.done[k]
	delete(t.done, k)
	t.mu.Unlock()
	if ok {
		if m, _ := Matches(f, res.id); m {
			return t.clamp(f, res.off, size)
		}
	}
	for i, p := range t.positions[k] {
		if m, _ := Matches(f, p.ID); m {
			t.positions[k] = slices.Delete(t.positions[k], i, i+1)
			if len(t.positions[k]) == 0 {
				delete(t.positions, k)
			}
			return t.clamp(f, p.Offset, size)
		}
	}
	if t.firstScan && t.cfg.StartAtEnd {
		return lastLineStart(f, size)
	}
	return 0
}

func (t *Tailer) clamp(f *os.File, off, size int64) int64 {
	if off < 0 || off > size {
		t.stats.truncations.Add(1)
		t.log.Info("file shrank below its saved offset, reading it from the start",
			"path", f.Name(), "offset", off, "size", size)
		return 0
	}
	return off
}

// lastLineStart returns the offset after the last newline within the final
// 64 KiB of the file, or size when there is none that close to the end.
func lastLineStart(f *os.File, size int64) int64 {
	n := min(size, 64<<10)
	buf := make([]byte, n)
	got, _ := f.ReadAt(buf, size-n)
	for i := got - 1; i >= 0; i-- {
		if buf[i] == '\n' {
			return size - n + int64(i) + 1
		}
	}
	if got == int(size) {
		return 0 // one unterminated line: take it whole
	}
	return size
}

// runReader runs r, then closes it. A reader that failed or panicked leaves
// its last sent offset behind so the next rescan reopens it there.
func (t *Tailer) runReader(ctx context.Context, r *reader) {
	keep := false
	defer func() {
		if p := recover(); p != nil {
			t.stats.panics.Add(1)
			t.log.Error("reader panicked, will reopen", "path", r.name, "panic", p,
				"stack", string(debug.Stack()))
			keep = true
		}
		t.release(r, keep && ctx.Err() == nil)
	}()
	err := r.run(ctx, t.retire)
	if err != nil && ctx.Err() == nil {
		t.stats.readErrors.Add(1)
		t.log.Warn("read failed, will reopen", "path", r.name, "offset", r.emitted, "err", err)
		keep = true
	}
}

// retire lets a drained, rotated-away reader go unless a rescan has found
// its file in the globs again.
func (t *Tailer) retire(r *reader) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r.goneAt.Load() == 0 {
		return false
	}
	// Remember where it ended in case the file reappears before the next
	// scan; the entry is dropped as soon as a scan misses the file.
	t.done[r.key] = resume{id: r.id, off: r.emitted}
	t.log.Info("closed rotated-away file", "path", r.path, "offset", r.emitted)
	return true
}

func (t *Tailer) release(r *reader, keep bool) {
	t.mu.Lock()
	if t.readers[r.key] == r {
		delete(t.readers, r.key)
	}
	if t.byPath[r.path] == r {
		delete(t.byPath, r.path)
	}
	if keep {
		t.done[r.key] = resume{id: r.id, off: r.emitted}
	}
	t.mu.Unlock()
	r.f.Close()
	t.stats.files.Add(-1)
	if t.cfg.Hooks.OnClose != nil {
		t.cfg.Hooks.OnClose(r.src)
	}
}
