package tailer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
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

	defaultReadBuf   = 64 << 10
	defaultPoll      = 250 * time.Millisecond
	defaultGrace     = time.Second
	defaultIdleClose = 5 * time.Second
	rescanDebounce   = 75 * time.Millisecond
	minPollInterval  = time.Millisecond
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
	// OpenFiles bounds the descriptors of followed files; it is shared by
	// the tailers of all flows (agent.max_open_files), each open file
	// holds one unit. A file that is idle at its end releases its
	// descriptor and is reopened when it changes; new files wait for a
	// free unit, and while they wait idle files are closed at once. Files
	// rotated away keep theirs until drained. Nil means unbounded (idle
	// files are still closed).
	OpenFiles *semaphore.Weighted
	// CloseRemovedAfter closes a file that left the globs (rotated away
	// or deleted) this long after it left, even if it was not read to its
	// end; the unread bytes are counted in Stats.ClosedUnread. 0 keeps it
	// open until drained, however long the consumer blocks.
	CloseRemovedAfter time.Duration
	// SkipHeaderLines is the number of lines at the start of each file
	// that are not sent as lines (they are covered by the batch offsets,
	// so checkpoints move past them).
	SkipHeaderLines int
	// Multiline groups lines into records; nil sends every line as one.
	Multiline *MultilineConfig

	// Test seams.
	pollInterval time.Duration
	closeGrace   time.Duration
	idleClose    time.Duration // < 0: never
	readBuf      int
	openFile     func(path string) (*os.File, error)
	watchAdd     func(dir string) error
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

// Stats are counters since New; Files is the number of open descriptors
// and Idle the number of followed files whose descriptor was released.
type Stats struct {
	Files        int64
	Idle         int64
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
	// CopyTruncateLost is the number of bytes written between a
	// copytruncate's copy and its truncation (in neither file), or not
	// read before a truncation when no copy was found.
	CopyTruncateLost int64
	// ClosedUnread is the number of bytes not read from files closed by
	// CloseRemovedAfter before they were drained.
	ClosedUnread int64
	// Recovered counts files found rotated away while the agent was down
	// (by their saved identity) and drained.
	Recovered int64
}

type counters struct {
	files, idle, linesRead, bytesRead, batches, truncated, partialLines atomic.Int64
	rotations, truncations, openErrors, scanErrors, readErrors          atomic.Int64
	panics, copyTruncateLost, closedUnread, recovered                   atomic.Int64
}

// resume is where a closed reader stopped, kept so a reopen neither skips
// nor repeats.
type resume struct {
	id  FileID
	off int64
}

// waiting is a new file found by a scan that waits for a descriptor.
type waiting struct {
	path  string
	atEnd bool // found by the first scan: StartAtEnd applies
}

// orphan is a file found rotated away while the agent was down: known only
// by its saved Position, outside the globs or under another name.
type orphan struct {
	path string
	pos  Position
}

// Tailer follows the files of one flow.
type Tailer struct {
	cfg     Config
	opts    readerOpts
	log     *slog.Logger
	scanner *Scanner
	stats   counters
	started atomic.Bool
	// pressure is set while files wait for a descriptor.
	pressure atomic.Bool
	bufs     sync.Pool
	// freed is signalled when a descriptor is released or a parked
	// reader's file was written, so waiting files are opened.
	freed chan struct{}

	// Owned by the Run goroutine.
	out        chan<- Batch
	watcher    *watcher
	firstScan  bool
	positions  map[devIno][]Position
	warned     map[string]struct{} // paths that failed to open, logged
	scanWarned map[string]struct{} // paths the scan could not read, logged
	pending    []waiting
	orphans    []orphan
	// searchAgain makes the next rescan look for positions' files again,
	// after one was renamed between being found and being opened.
	searchAgain bool
	startedAt   time.Time

	mu      sync.RWMutex
	readers map[devIno]*reader // open and parked readers
	byPath  map[string]*reader // followed (not rotated-away) readers
	done    map[devIno]resume
	dirty   []*reader // parked readers whose file changed, to reopen
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
	if cfg.SkipHeaderLines < 0 {
		return nil, errors.New("tailer: negative SkipHeaderLines")
	}
	if cfg.pollInterval <= 0 {
		cfg.pollInterval = defaultPoll
	}
	cfg.pollInterval = max(cfg.pollInterval, minPollInterval)
	if cfg.closeGrace <= 0 {
		cfg.closeGrace = max(defaultGrace, 2*cfg.pollInterval)
	}
	switch {
	case cfg.idleClose == 0:
		cfg.idleClose = defaultIdleClose
	case cfg.idleClose < 0:
		cfg.idleClose = 0
	}
	if cfg.readBuf <= 0 {
		cfg.readBuf = defaultReadBuf
	}
	if cfg.openFile == nil {
		// O_NONBLOCK: a FIFO swapped in after the scan must not block
		// us; it is refused by open. No effect on regular files.
		cfg.openFile = func(p string) (*os.File, error) { return os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0) }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Tailer{
		cfg:        cfg,
		log:        cfg.Logger.With("flow", cfg.Flow),
		scanner:    sc,
		freed:      make(chan struct{}, 1),
		firstScan:  true,
		positions:  make(map[devIno][]Position),
		warned:     make(map[string]struct{}),
		scanWarned: make(map[string]struct{}),
		readers:    make(map[devIno]*reader),
		byPath:     make(map[string]*reader),
		done:       make(map[devIno]resume),
	}
	t.opts = readerOpts{
		maxLine:        cfg.MaxLineBytes,
		batchLines:     cfg.BatchLines,
		batchBytes:     cfg.BatchBytes,
		readBuf:        cfg.readBuf,
		skipHeader:     cfg.SkipHeaderLines,
		poll:           cfg.pollInterval,
		grace:          cfg.closeGrace,
		partialTimeout: cfg.PartialLineTimeout,
		multiline:      cfg.Multiline,
		idleClose:      cfg.idleClose,
		hooks:          cfg.Hooks,
		pressure:       &t.pressure,
		bufs:           &t.bufs,
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
		Idle:         c.idle.Load(),
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

		CopyTruncateLost: c.copyTruncateLost.Load(),
		ClosedUnread:     c.closedUnread.Load(),
		Recovered:        c.recovered.Load(),
	}
}

// Run follows files until ctx is cancelled, sending batches to out. Batches
// of one Source arrive in file order. Run does not close out; the caller
// does after Run returns. On cancellation Run stops promptly, also while
// blocked on the Budget, on OpenFiles or on out, closes every file and
// returns nil. Lines read but not yet sent are dropped: they are read again
// from the checkpoint. Run may be called once.
func (t *Tailer) Run(ctx context.Context, out chan<- Batch) error {
	if !t.started.CompareAndSwap(false, true) {
		return errors.New("tailer: Run called twice")
	}
	t.out = out
	t.startedAt = time.Now()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	t.watcher = newWatcher(t.log, t.wakePath, t.scanner.Match, t.cfg.watchAdd)
	defer func() {
		cancel()
		wg.Wait()
		t.watcher.close()
		t.closeParked()
	}()
	wg.Go(func() { t.watcher.run(ctx) })

	// While files wait for a descriptor that another flow may free, look
	// again now and then; this flow's own frees signal t.freed.
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	after := func() {
		if len(t.pending) > 0 || len(t.orphans) > 0 {
			retry.Reset(t.cfg.pollInterval)
		}
	}
	t.rescan(ctx, &wg)
	after()
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
			continue
		case <-debounce.C:
			armed = false
			t.rescan(ctx, &wg)
		case <-t.freed:
			t.openWaiting(ctx, &wg)
		case <-retry.C:
			t.openWaiting(ctx, &wg)
		}
		after()
	}
}

// stopping reports whether Run is shutting down. select picks at random
// among ready cases, so a free descriptor or a scan can still come up after
// cancellation; nothing may be opened then: readers that stopped for the
// shutdown are gone from the map, and their files would be read again from
// the start.
func stopping(ctx context.Context) bool { return ctx.Err() != nil }

// send is the readers' emit: it takes budget for the batch, then hands it to
// the consumer.
func (t *Tailer) send(ctx context.Context, b Batch) error {
	if err := ctx.Err(); err != nil {
		return err // not a random pick between a ready consumer and the shutdown
	}
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

// wakePath is the watcher's hint that path was written. It reports whether
// a reader follows path; a parked one is queued for reopening.
func (t *Tailer) wakePath(path string) bool {
	t.mu.Lock()
	r := t.byPath[path]
	if r != nil && r.parked {
		if !r.dirty {
			r.dirty = true
			t.dirty = append(t.dirty, r)
		}
		t.mu.Unlock()
		t.signalFreed()
		return true
	}
	t.mu.Unlock()
	if r == nil {
		return false
	}
	r.wake()
	return true
}

func (t *Tailer) signalFreed() {
	select {
	case t.freed <- struct{}{}:
	default:
	}
}

// acquireSlot takes a descriptor from OpenFiles. When none is free it sets
// the pressure flag and wakes the open readers, so idle ones release
// theirs now rather than after the idle timeout.
func (t *Tailer) acquireSlot() bool {
	if t.cfg.OpenFiles == nil || t.cfg.OpenFiles.TryAcquire(1) {
		return true
	}
	if !t.pressure.Swap(true) {
		t.mu.RLock()
		for _, r := range t.readers {
			if !r.parked {
				r.wake()
			}
		}
		t.mu.RUnlock()
	}
	return false
}

func (t *Tailer) releaseSlot() {
	if t.cfg.OpenFiles != nil {
		t.cfg.OpenFiles.Release(1)
	}
	t.signalFreed()
}

// rescan compares a fresh snapshot with the readers by identity and
// decides renames, rotations away and new files. It stats each file once
// (in the scan) and hashes only files it opens.
func (t *Tailer) rescan(ctx context.Context, wg *sync.WaitGroup) {
	if stopping(ctx) {
		return
	}
	snap := t.scanner.Scan()
	t.watcher.setDirs(snap.Dirs)
	t.noteProblems(snap.Errors)

	byKey := make(map[devIno][]string, len(snap.Files))
	for p, fi := range snap.Files {
		if k, ok := keyOf(fi); ok {
			byKey[k] = append(byKey[k], p)
		}
	}
	// Files of saved positions that are not where the globs look are
	// searched for at the first scan, and again for a while after it: a
	// rotation during the search can move one out from under it.
	if t.firstScan || t.searchAgain || len(t.positions) > 0 && time.Since(t.startedAt) < orphanSearchWindow {
		t.searchAgain = false
		t.findOrphans(snap.Dirs, byKey)
	}
	now := time.Now().UnixNano()

	var lost []*reader
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
				if r.parked {
					lost = append(lost, r)
					continue
				}
				t.markGone(r, now)
				t.stats.rotations.Add(1)
				t.log.Info("file rotated away or deleted, draining it", "path", r.path)
			}
			continue
		}
		if r.goneAt.Load() != 0 {
			r.goneAt.Store(0)
			if r.forceTimer != nil {
				r.forceTimer.Stop()
				r.forceTimer = nil
			}
			t.log.Info("file is back in the globs", "path", r.path)
		}
		if !slices.Contains(paths, r.path) {
			np := slices.Min(paths)
			t.stats.rotations.Add(1)
			t.log.Info("file renamed", "from", r.path, "to", np)
			r.path = np
			r.newPath.Store(&np)
		}
		if r.parked && !r.dirty {
			if fi := snap.Files[r.path]; fi.Size() != r.parkSize || !fi.ModTime().Equal(r.parkMod) {
				r.dirty = true
				t.dirty = append(t.dirty, r)
			}
		}
	}
	clear(t.byPath)
	for _, r := range t.readers {
		if r.goneAt.Load() == 0 {
			t.byPath[r.path] = r
		}
	}
	t.mu.Unlock()
	for _, r := range lost {
		t.lostWhileParked(r, now)
	}

	atEnd := make(map[string]bool)
	for _, w := range t.pending {
		if w.atEnd {
			atEnd[w.path] = true
		}
	}
	t.pending = t.pending[:0]
	for _, ps := range byKey {
		p := slices.Min(ps)
		t.pending = append(t.pending, waiting{path: p, atEnd: t.firstScan || atEnd[p]})
	}
	slices.SortFunc(t.pending, func(a, b waiting) int { return strings.Compare(a.path, b.path) })
	t.firstScan = false
	t.openWaiting(ctx, wg)
}

// openWaiting opens what waits for a descriptor while there are free ones:
// files rotated away first (they may be deleted soon), then changed idle
// files, then new files.
func (t *Tailer) openWaiting(ctx context.Context, wg *sync.WaitGroup) {
	if stopping(ctx) {
		return
	}
	for len(t.orphans) > 0 {
		if !t.openOrphan(ctx, t.orphans[0], wg) {
			return
		}
		t.orphans = t.orphans[1:]
	}
	for {
		t.mu.Lock()
		if len(t.dirty) == 0 {
			t.dirty = nil
			t.mu.Unlock()
			break
		}
		r := t.dirty[0]
		t.mu.Unlock()
		if !t.reopen(ctx, r, wg) {
			return
		}
		t.mu.Lock()
		if len(t.dirty) > 0 && t.dirty[0] == r {
			t.dirty = t.dirty[1:]
		}
		t.mu.Unlock()
	}
	for len(t.pending) > 0 {
		if !t.open(ctx, t.pending[0], wg) {
			return
		}
		t.pending = t.pending[1:]
	}
	t.pressure.Store(false)
}

// noteProblems counts scan problems and logs each path once while it lasts.
func (t *Tailer) noteProblems(errs []PathError) {
	for p := range t.scanWarned {
		if !slices.ContainsFunc(errs, func(e PathError) bool { return e.Path == p }) {
			delete(t.scanWarned, p)
		}
	}
	for _, e := range errs {
		t.stats.scanErrors.Add(1)
		if _, ok := t.scanWarned[e.Path]; !ok {
			t.scanWarned[e.Path] = struct{}{}
			t.log.Warn("cannot read path, will retry", "path", e.Path, "err", e.Err)
		}
	}
}

// warnOnce logs a problem opening path once, until the path opens.
func (t *Tailer) warnOnce(path, msg string, err error) {
	if _, ok := t.warned[path]; ok {
		return
	}
	t.warned[path] = struct{}{}
	t.log.Warn(msg, "path", path, "err", err)
}

// open starts a reader for a new file unless it is already followed. It
// returns false only when no descriptor is free; the file then waits.
func (t *Tailer) open(ctx context.Context, w waiting, wg *sync.WaitGroup) bool {
	if stopping(ctx) || !t.acquireSlot() {
		return false
	}
	f, err := t.cfg.openFile(w.path)
	if err != nil {
		t.releaseSlot()
		t.stats.openErrors.Add(1)
		t.warnOnce(w.path, "cannot open file, will retry", err)
		return true
	}
	fi, err := f.Stat()
	k, ok := devIno{}, false
	if err == nil && fi.Mode().IsRegular() {
		k, ok = keyOf(fi)
	}
	t.mu.RLock()
	_, dup := t.readers[k]
	t.mu.RUnlock()
	if !ok || dup {
		// Not a regular file, or renamed or linked while we scanned
		// and already followed.
		f.Close()
		t.releaseSlot()
		return true
	}
	id, err := Identify(f)
	if err != nil {
		f.Close()
		t.releaseSlot()
		t.stats.openErrors.Add(1)
		t.warnOnce(w.path, "cannot identify file, will retry", err)
		return true
	}
	delete(t.warned, w.path)
	queued := len(t.orphans)
	off := t.startOffset(f, fi.Size(), k, w.atEnd)
	// Rotated copies holding the rest of earlier generations of this file
	// are opened before the file is announced: announcing it retires the
	// saved positions of its inode, and a checkpoint taken in between must
	// not lose those lines. Without a free descriptor they wait their turn.
	for len(t.orphans) > queued && t.openOrphan(ctx, t.orphans[queued], wg) {
		t.orphans = slices.Delete(t.orphans, queued, queued+1)
	}

	src := &Source{Flow: t.cfg.Flow, Path: w.path, ID: id}
	r := newReader(&t.opts, &t.stats, t.log, f, k, src, off, t.send)
	r.lastSize = fi.Size()
	t.mu.Lock()
	t.readers[k] = r
	t.byPath[w.path] = r
	t.mu.Unlock()
	t.stats.files.Add(1)
	if t.cfg.Hooks.OnOpen != nil {
		t.cfg.Hooks.OnOpen(src, w.path, id, off)
	}
	t.log.Debug("following file", "path", w.path, "offset", off, "id", id.String())
	wg.Go(func() { t.runReader(ctx, r) })
	return true
}

// reopen gives a parked reader a descriptor again, if its path still
// holds its file (same device and inode; the reader checks the rest:
// fingerprint and size, see checkTruncation). It returns false only when
// no descriptor is free.
func (t *Tailer) reopen(ctx context.Context, r *reader, wg *sync.WaitGroup) bool {
	t.mu.RLock()
	path, live := r.path, t.readers[r.key] == r && r.parked
	t.mu.RUnlock()
	if !live {
		return true
	}
	if !t.acquireSlot() {
		return false
	}
	f, err := t.cfg.openFile(path)
	if err == nil {
		var fi os.FileInfo
		if fi, err = f.Stat(); err == nil {
			if k, ok := keyOf(fi); !ok || k != r.key {
				err = errors.New("replaced by another file")
			}
		}
		if err != nil {
			f.Close()
		}
	}
	t.mu.Lock()
	r.dirty = false
	if err != nil {
		// The next scan finds where the file went, or that it is gone.
		t.mu.Unlock()
		t.releaseSlot()
		t.log.Debug("cannot reopen idle file", "path", path, "err", err)
		return true
	}
	r.f, r.parked, r.resumed = f, false, true
	t.mu.Unlock()
	t.stats.idle.Add(-1)
	t.stats.files.Add(1)
	wg.Go(func() { t.runReader(ctx, r) })
	return true
}

// park closes the descriptor of an idle reader, keeping its state. It
// refuses (the reader goes on) when the file was rotated away meanwhile:
// such a file cannot be opened again by path.
func (t *Tailer) park(r *reader) bool {
	fi, err := r.f.Stat()
	if err != nil {
		return false
	}
	t.mu.Lock()
	if r.goneAt.Load() != 0 || t.readers[r.key] != r {
		t.mu.Unlock()
		return false
	}
	r.parked, r.dirty = true, false
	r.parkSize, r.parkMod = fi.Size(), fi.ModTime()
	r.cancel = nil
	t.mu.Unlock()
	r.putBuf()
	r.f.Close()
	t.stats.files.Add(-1)
	t.stats.idle.Add(1)
	t.releaseSlot()
	return true
}

// lostWhileParked handles a parked reader whose file left the globs: if it
// was renamed next to where it was (rotation), it is drained like any file
// rotated away; if it is gone, so is the reader.
func (t *Tailer) lostWhileParked(r *reader, now int64) {
	if p, ok := findFile(filepath.Dir(r.path), r.key, r.id); ok {
		t.mu.Lock()
		t.markGone(r, now)
		r.path = p
		r.newPath.Store(&p)
		if !r.dirty {
			r.dirty = true
			t.dirty = append(t.dirty, r)
		}
		t.mu.Unlock()
		t.stats.rotations.Add(1)
		t.log.Info("idle file rotated away, draining it", "path", p)
		return
	}
	t.mu.Lock()
	if t.readers[r.key] == r {
		delete(t.readers, r.key)
	}
	if t.byPath[r.path] == r {
		delete(t.byPath, r.path)
	}
	t.mu.Unlock()
	t.stats.idle.Add(-1)
	t.log.Info("idle file was deleted", "path", r.path, "offset", r.emitted)
	if t.cfg.Hooks.OnClose != nil {
		t.cfg.Hooks.OnClose(r.src)
	}
}

// markGone records that r's file left the globs and arms
// CloseRemovedAfter. The caller holds t.mu.
func (t *Tailer) markGone(r *reader, now int64) {
	r.goneAt.Store(now)
	r.wake()
	if d := t.cfg.CloseRemovedAfter; d > 0 && r.forceTimer == nil {
		r.forceTimer = time.AfterFunc(d, func() {
			t.mu.Lock()
			if r.goneAt.Load() == 0 {
				t.mu.Unlock()
				return
			}
			r.forced.Store(true)
			c := r.cancel
			t.mu.Unlock()
			if c != nil {
				c()
			}
		})
	}
}

// findFile looks in dir for the file with key whose leading bytes match
// id, and returns its path.
func findFile(dir string, key devIno, id FileID) (string, bool) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", false
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if k, ok := keyOf(fi); !ok || k != key {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			return "", false
		}
		m, _ := Matches(f, id)
		f.Close()
		return p, m
	}
	return "", false
}

// findOrphans looks for files of Positions that the first scan did not
// find (by device and inode): rotated while the agent was down, maybe out
// of the globs (app.log.1 for a glob app.log). It searches the scanned
// directories and each Position's own directory; a match must also have
// the saved fingerprint, which tells a reused inode apart.
func (t *Tailer) findOrphans(dirs []string, inScan map[devIno][]string) {
	want := make(map[devIno][]Position)
	seen := make(map[string]struct{}, len(dirs))
	for _, d := range dirs {
		seen[d] = struct{}{}
	}
	for k, ps := range t.positions {
		if _, ok := inScan[k]; ok {
			continue
		}
		want[k] = ps
		for _, p := range ps {
			if p.Path == "" {
				continue
			}
			if d := filepath.Dir(p.Path); !inSet(seen, d) {
				seen[d] = struct{}{}
				dirs = append(dirs, d)
			}
		}
	}
	if len(want) == 0 {
		return
	}
	for _, dir := range dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			k, ok := keyOf(fi)
			if !ok || len(want[k]) == 0 {
				continue
			}
			p := filepath.Join(dir, e.Name())
			f, err := os.Open(p)
			if err != nil {
				// Renamed since the listing (logrotate shifts numbered
				// copies): look again at the next rescan.
				t.searchAgain = true
				continue
			}
			for i, pos := range want[k] {
				if m, _ := Matches(f, pos.ID); m {
					t.orphans = append(t.orphans, orphan{path: p, pos: pos})
					want[k] = slices.Delete(want[k], i, i+1)
					t.usePosition(k, pos)
					break
				}
			}
			f.Close()
		}
	}
}

func inSet(m map[string]struct{}, k string) bool {
	_, ok := m[k]
	return ok
}

// usePosition removes pos from the unclaimed positions.
func (t *Tailer) usePosition(k devIno, pos Position) {
	ps := t.positions[k]
	if i := slices.Index(ps, pos); i >= 0 {
		t.positions[k] = slices.Delete(ps, i, i+1)
	}
	if len(t.positions[k]) == 0 {
		delete(t.positions, k)
	}
}

var errNotSaved = errors.New("no longer the saved file")

// orphanSearchWindow is how long after start unclaimed positions are
// searched for at every rescan.
const orphanSearchWindow = 2 * time.Minute

// openOrphan starts draining a file found rotated away while the agent was
// down, from its saved offset. It returns false only when no descriptor is
// free.
func (t *Tailer) openOrphan(ctx context.Context, o orphan, wg *sync.WaitGroup) bool {
	if !t.acquireSlot() {
		return false
	}
	f, err := t.cfg.openFile(o.path)
	var fi os.FileInfo
	if err == nil {
		fi, err = f.Stat()
		if err == nil {
			if m, _ := Matches(f, o.pos.ID); !m {
				err = errNotSaved
			}
		}
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		t.releaseSlot()
		if errors.Is(err, errNotSaved) || errors.Is(err, fs.ErrNotExist) {
			// Renamed again since the scan found it (logrotate shifts
			// numbered copies on every rotation): search for it anew.
			k := o.pos.ID.key()
			t.positions[k] = append(t.positions[k], o.pos)
			t.searchAgain = true
			return true
		}
		t.log.Warn("cannot open file rotated away while stopped", "path", o.path, "err", err)
		return true
	}
	off, ok := t.resumeAt(f, fi.Size(), o.pos)
	id, err := Identify(f)
	if !ok || err != nil {
		t.log.Warn("file rotated away while stopped no longer matches its checkpoint; not read",
			"path", o.path, "offset", o.pos.Offset, "size", fi.Size())
	}
	if !ok || err != nil || off >= fi.Size() {
		// Rewritten (it is not ours to read from 0: it is out of the
		// globs), or nothing left to read.
		f.Close()
		t.releaseSlot()
		return true
	}
	k := o.pos.ID.key()
	src := &Source{Flow: t.cfg.Flow, Path: o.path, ID: id}
	r := newReader(&t.opts, &t.stats, t.log, f, k, src, off, t.send)
	r.path = o.path
	r.lastSize = fi.Size()
	t.mu.Lock()
	if _, dup := t.readers[k]; dup {
		t.mu.Unlock()
		f.Close()
		t.releaseSlot()
		return true
	}
	t.readers[k] = r
	t.markGone(r, time.Now().UnixNano())
	t.mu.Unlock()
	t.stats.files.Add(1)
	t.stats.recovered.Add(1)
	if t.cfg.Hooks.OnOpen != nil {
		t.cfg.Hooks.OnOpen(src, o.path, id, off)
	}
	t.log.Info("found file rotated away while stopped, draining it", "path", o.path,
		"saved_path", o.pos.Path, "offset", off)
	wg.Go(func() { t.runReader(ctx, r) })
	return true
}

// queueCopy handles a file that was truncated (copytruncate) while the
// agent was down: the lines after its saved offset are now only in the
// rotated copy, a sibling that starts with the same bytes and holds the
// same bytes before that offset. The copy is drained from the saved offset
// like a file rotated away while stopped.
func (t *Tailer) queueCopy(p Position, except devIno) {
	if p.Offset == 0 || p.Path == "" {
		return
	}
	f, path := findCopy(filepath.Dir(p.Path), p.ID, p.Offset, p.Marker, except)
	if f == nil {
		return
	}
	id, err := Identify(f)
	f.Close()
	if err != nil {
		return
	}
	t.log.Info("file was truncated while stopped; its rest is in the rotated copy",
		"path", p.Path, "copy", path, "offset", p.Offset)
	t.orphans = append(t.orphans, orphan{path: path,
		pos: Position{Path: path, ID: id, Offset: p.Offset, Marker: p.Marker}})
}

// startOffset decides where a newly opened file is read from.
func (t *Tailer) startOffset(f *os.File, size int64, k devIno, atEnd bool) int64 {
	t.mu.Lock()
	res, ok := t.done[k]
	delete(t.done, k)
	t.mu.Unlock()
	if ok {
		if m, _ := Matches(f, res.id); m {
			return t.clamp(f, res.off, size)
		}
	}
	for _, p := range t.positions[k] {
		if m, _ := Matches(f, p.ID); m {
			t.usePosition(k, p)
			// Other positions of this inode are earlier generations of
			// the file, truncated away (copytruncate) with lines still
			// in flight: their rest is in a rotated copy.
			for _, old := range slices.Clone(t.positions[k]) {
				t.usePosition(k, old)
				t.queueCopy(old, k)
			}
			off, ok := t.resumeAt(f, size, p)
			if !ok {
				t.queueCopy(p, k)
			}
			return off
		}
	}
	// The same inode with other leading bytes: the file was truncated and
	// written again while stopped (or the inode was reused). It is read
	// from 0, and the lines after the saved offset may be in a rotated copy.
	for _, p := range slices.Clone(t.positions[k]) {
		t.usePosition(k, p)
		t.queueCopy(p, k)
	}
	if atEnd && t.cfg.StartAtEnd {
		return lastLineStart(f, size)
	}
	return 0
}

// resumeAt checks a saved position against the file: an offset past the
// end means it was truncated, and a marker that does not match the bytes
// before the offset means it was rewritten in place (truncated and filled
// again to at least that size); either way it is read from 0, and ok is
// false.
func (t *Tailer) resumeAt(f *os.File, size int64, p Position) (off int64, ok bool) {
	off = t.clamp(f, p.Offset, size)
	if off != p.Offset {
		return 0, false
	}
	if off > 0 && p.Marker != 0 {
		if m, err := readMarker(f, off); err != nil || m != p.Marker {
			t.stats.truncations.Add(1)
			t.log.Warn("file changed before its saved offset while stopped (rewritten in place), reading it from the start",
				"path", f.Name(), "offset", off)
			return 0, false
		}
	}
	return off, true
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

// runReader runs r until it ends, then closes it, or parks it when it is
// idle. A reader that failed or panicked leaves its last sent offset behind
// so the next rescan reopens it there.
func (t *Tailer) runReader(ctx context.Context, r *reader) {
	rctx, cancel := context.WithCancel(ctx)
	t.mu.Lock()
	r.cancel = cancel
	t.mu.Unlock()
	if r.forced.Load() {
		cancel()
	}
	keep, parked := false, false
	defer func() {
		if p := recover(); p != nil {
			t.stats.panics.Add(1)
			t.log.Error("reader panicked, will reopen", "path", r.name, "panic", p,
				"stack", string(debug.Stack()))
			keep = true
		}
		cancel()
		if !parked {
			t.release(r, keep && ctx.Err() == nil)
		}
	}()
	for {
		err := r.run(rctx, t.retire)
		switch {
		case errors.Is(err, errIdle):
			if parked = t.park(r); !parked {
				continue
			}
		case err != nil && ctx.Err() == nil && r.forced.Load():
			t.closeUnread(r)
		case err != nil && ctx.Err() == nil:
			t.stats.readErrors.Add(1)
			t.log.Warn("read failed, will reopen", "path", r.name, "offset", r.emitted, "err", err)
			keep = true
		}
		return
	}
}

// closeUnread accounts for a rotated-away file closed by CloseRemovedAfter
// before it was drained.
func (t *Tailer) closeUnread(r *reader) {
	var unread int64
	if fi, err := r.f.Stat(); err == nil {
		unread = max(fi.Size()-r.emitted, 0)
	}
	t.stats.closedUnread.Add(unread)
	t.log.Warn("closed a rotated-away file before it was read to its end (close_removed_after); its rest is lost",
		"path", r.name, "offset", r.emitted, "unread_bytes", unread)
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
	if r.forceTimer != nil {
		r.forceTimer.Stop()
		r.forceTimer = nil
	}
	r.cancel = nil
	t.mu.Unlock()
	r.putBuf()
	r.f.Close()
	t.stats.files.Add(-1)
	t.releaseSlot()
	if t.cfg.Hooks.OnClose != nil {
		t.cfg.Hooks.OnClose(r.src)
	}
}

// closeParked ends the parked readers when Run returns.
func (t *Tailer) closeParked() {
	t.mu.Lock()
	var parked []*reader
	for k, r := range t.readers {
		if r.parked {
			parked = append(parked, r)
			delete(t.readers, k)
		}
		if r.forceTimer != nil {
			r.forceTimer.Stop()
			r.forceTimer = nil
		}
	}
	clear(t.byPath)
	t.dirty = nil
	t.mu.Unlock()
	for _, r := range parked {
		t.stats.idle.Add(-1)
		if t.cfg.Hooks.OnClose != nil {
			t.cfg.Hooks.OnClose(r.src)
		}
	}
}
