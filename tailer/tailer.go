package tailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/kinetail/kinetail/config"
)

// Defaults for zero Config fields.
const (
	DefaultBatchLines         = 4096
	DefaultBatchBytes         = 1 << 20
	DefaultMaxLineBytes       = 1 << 20
	DefaultPartialLineTimeout = time.Duration(config.DefaultPartialLineTimeout)
	DefaultRescanInterval     = time.Duration(config.DefaultRescanInterval)
	DefaultKnownTTL           = time.Duration(config.DefaultCheckpointTTL)

	defaultReadBuf   = 64 << 10
	defaultPoll      = 250 * time.Millisecond
	defaultGrace     = time.Second
	defaultIdleClose = 5 * time.Second
	rescanDebounce   = 75 * time.Millisecond
	minPollInterval  = time.Millisecond
)

// Budget is a memory budget in bytes (Config.Budget); a
// *semaphore.Weighted is one. Acquire waits for n bytes, TryAcquire takes
// them only if they are free now.
type Budget interface {
	Acquire(ctx context.Context, n int64) error
	TryAcquire(n int64) bool
	Release(n int64)
}

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
	// Positions are resume points from the checkpoint. A generation is
	// found by its identity (device, inode and fingerprint) or, when it
	// was rotated, copied or compressed while the agent was down, by its
	// content: the same first bytes and the same bytes before Offset.
	Positions []Position
	// Saved is when the checkpoint that Positions come from was saved;
	// zero on a first start. Rotated generations of a followed path that
	// no Position knows are read when they were modified after the newest
	// known generation of that path (or after Saved for a path with no
	// Position): they were written while the agent was not looking. A
	// first start reads no rotated generation.
	Saved time.Time
	// KnownTTL is how long a generation whose reader ended is remembered,
	// so that a file moved out of the globs and back, or a copy of it,
	// resumes where it ended instead of being read again. Zero means
	// DefaultKnownTTL.
	KnownTTL time.Duration
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
	// Recycle is how many batch buffers (and Lines slices) given back by
	// the consumer (ReleaseBuffer, ReleaseLines) the tailer keeps for the
	// next batches: memory outside Budget, RecycleBytes at most. 0 keeps
	// none.
	Recycle int
	// BatchLines and BatchBytes bound a batch.
	BatchLines int
	BatchBytes int
	// Budget bounds the memory of lines read and not yet acknowledged:
	// a reader takes budget before it reads (sized to what the file
	// holds, so small files take little), a batch carries what its
	// buffer took (Batch.Size), and the consumer releases that on
	// acknowledgement. Readers waiting for budget hold no buffer. A line
	// longer than the whole budget waits until Run is cancelled, so the
	// budget must be at least BatchBytes plus the longest expected line.
	// Nil means unbounded.
	Budget Budget
	// Followed, when set, is told of each change in the number of files
	// the tailer follows or is about to: its readers, open or parked, and
	// the starts waiting for a descriptor. Each holds memory of its own
	// (its reader, its scan state, its checkpoint entry) whatever it
	// reads, which the agent takes from the flow's budget. It may be
	// called from any goroutine, some with the tailer's lock held: it must
	// not call the Tailer, nor wait.
	Followed func(delta int)
	Logger   *slog.Logger
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
	// Headers keeps each file's first line for Batch.Header (a transform
	// takes field names from it); without it Header is nil, and a reader
	// resumed past the first line does not read it: at a restart of
	// 10,000 files that is 10,000 reads, and their lines kept.
	Headers bool
	// Multiline groups lines into records; nil sends every line as one.
	Multiline *MultilineConfig
	// Symlinks is the policy for symbolic links the globs match (see
	// Scanner), AllowedRoots the directories LinksWithin lets them point
	// into. A refused link is logged once at WARN, with its target.
	Symlinks     Symlinks
	AllowedRoots []string

	// Test seams.
	pollInterval time.Duration
	closeGrace   time.Duration
	idleClose    time.Duration // < 0: never
	searchEvery  time.Duration // between looks for generations not found yet
	readBuf      int
	openFile     func(path string) (*os.File, error)
	watchAdd     func(dir string) error
}

// Hooks tell the consumer (the checkpoint tracker) about each Source, in
// order for each one: OnOpen before a reader starts on it (again, when its
// bytes turn up in another file after its reader ended), OnRename and
// OnWiden while it is read, OnClose when its reader ended. OnOpen and
// OnRename are called from the Run goroutine, the others from the
// Source's reader. Any may be nil. They must not block for long.
type Hooks struct {
	OnOpen func(src *Source, o Opened)
	// OnRename reports where the Source's bytes are now: renamed within
	// the globs, or found in a rotated copy.
	OnRename func(src *Source, path string)
	// OnWiden reports a fingerprint that covers more of the file.
	OnWiden func(src *Source, id FileID)
	// OnClose reports that no reader reads the Source now; finished
	// when it was read to its end and let go (drained after it left the
	// globs).
	OnClose func(src *Source, finished bool)
	// OnLost reports a generation whose unread rest was found nowhere: a
	// Position (src nil), or a Source truncated before it was read to its
	// end whose copy was not found. It was logged and counted and is not
	// looked for any more, but stays known: if its bytes turn up again
	// (a file moved back into the globs), reading goes on from its
	// offset.
	OnLost func(p Position, src *Source)
	// Sync returns once everything announced through OnOpen and OnWiden
	// so far is durable. A reader calls it before it hands on the first
	// batch of a generation the Positions did not know, so that after a
	// crash the generation is looked for in its rotated copies. Nil skips
	// this.
	Sync func(ctx context.Context) error
}

// Stats are counters since New; Files is the number of open descriptors
// and Idle the number of followed files whose descriptor was released.
type Stats struct {
	Files        int64
	Idle         int64
	LinesRead    int64 // lines sent, including truncated and partial ones (records, for a multiline flow)
	BytesRead    int64
	Batches      int64
	Truncated    int64 // lines cut to MaxLineBytes
	PartialLines int64 // unterminated lines sent after the timeout or rotation
	// MultilineRecords counts the records made of more than one line
	// (multiline flows).
	MultilineRecords int64
	Rotations        int64 // followed files renamed, moved out of the globs or deleted
	Truncations      int64
	OpenErrors       int64
	ScanErrors       int64
	ReadErrors       int64
	Panics           int64
	// CopyTruncateLost is the number of bytes written between a
	// copytruncate's copy and its truncation (in neither file), or not
	// read before a truncation when no copy was found.
	CopyTruncateLost int64
	// ClosedUnread is the number of bytes not read from files closed by
	// CloseRemovedAfter before they were drained.
	ClosedUnread int64
	// Recovered counts generations read on from another file than the
	// one they were last read from: rotated, copied or compressed while
	// the agent was not looking.
	Recovered int64
	// Missed counts generations the agent had not seen, written and
	// rotated while it was not looking, found among a followed path's
	// rotated copies and read.
	Missed int64
	// Lost counts generations with unread bytes that were found nowhere
	// (deleted, or compressed in a format kinetail cannot read), and
	// LostBytes what is known of those bytes (at least).
	Lost      int64
	LostBytes int64
	// Scans counts the scans of the globs: periodic, and those file
	// events asked for.
	Scans int64
}

type counters struct {
	files, idle, linesRead, bytesRead, batches, truncated, partialLines, multiline atomic.Int64
	rotations, truncations, openErrors, scanErrors, readErrors                     atomic.Int64
	panics, copyTruncateLost, closedUnread, recovered, missed                      atomic.Int64
	lost, lostBytes, scans                                                         atomic.Int64
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
	recycle  recycler
	// freed is signalled when a descriptor is released or a parked
	// reader's file was written, so waiting files are opened.
	freed chan struct{}

	// Owned by the Run goroutine.
	out          chan<- Batch
	watcher      *watcher
	firstScan    bool
	known        *registry
	warned       map[string]struct{}  // paths that failed to open, logged
	scanWarned   map[string]struct{}  // paths the scan could not read, logged
	refused      map[string]string    // links refused by the policy, logged: their targets
	skipped      map[string]struct{}  // matched paths that are not regular files, logged
	queue        []*opening           // decided starts waiting for a descriptor, in order
	lookFor      []*gen               // saved generations not found yet
	replan       map[string]time.Time // followed paths whose families the next scan looks at
	left         []leftNote           // files that left the globs in this scan, to log
	closedParked []*Source            // their Sources, to close
	// dirs are the directories, other than its own, where generations of
	// a followed path were found (logrotate's olddir).
	dirs   map[string]map[string]struct{}
	dirMod map[string]dirTime // modification times of followed paths' directories
	// since is Scanned until the first scan decided: Config.Saved, or
	// when the Tailer was made (Unix nanoseconds).
	since   int64
	scanned atomic.Int64 // Scanned, in Unix nanoseconds
	waiting atomic.Int64 // see noteWaiting, in Unix nanoseconds; 0 for none
	planned atomic.Int64 // when the last scan that decided began (see Scanned)
	// unopened is the oldest last write of the new files that could not
	// be opened since the last scan planned (Run's goroutine only; see
	// noteWaiting), in Unix nanoseconds; 0 for none.
	unopened int64
	// written are the paths noteWritten recorded since the last scan
	// (under mu).
	written map[string]struct{}
	// differ and viewed are the scan's scratch, kept for the next one
	// (Run's goroutine only).
	differ differ
	viewed map[string]seen

	mu      sync.RWMutex
	readers map[devIno]*reader // open and parked readers, by the file they read
	// readerDirs counts the readers by the directory of their followed
	// path (see dirChanges): a scan looks at a hundred directories
	// without going through ten thousand readers.
	readerDirs map[string]int
	byPath     map[string]*reader // followed (not rotated-away) readers
	dirty      []*reader          // parked readers whose file changed, to reopen
	ended      []*gen             // generations whose reader ended, for the registry
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
	sc.SetLinks(cfg.Symlinks, cfg.AllowedRoots)
	if cfg.MaxLineBytes <= 0 {
		cfg.MaxLineBytes = DefaultMaxLineBytes
	}
	if cfg.PartialLineTimeout <= 0 {
		cfg.PartialLineTimeout = DefaultPartialLineTimeout
	}
	if cfg.RescanInterval <= 0 {
		cfg.RescanInterval = DefaultRescanInterval
	}
	if cfg.KnownTTL <= 0 {
		cfg.KnownTTL = DefaultKnownTTL
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
	if cfg.searchEvery <= 0 {
		cfg.searchEvery = searchRetry
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
		recycle:    recycler{size: cfg.BatchBytes, maxLines: cfg.BatchLines, keep: cfg.Recycle},
		known:      newRegistry(),
		warned:     make(map[string]struct{}),
		scanWarned: make(map[string]struct{}),
		refused:    make(map[string]string),
		skipped:    make(map[string]struct{}),
		replan:     make(map[string]time.Time),
		dirs:       make(map[string]map[string]struct{}),
		readers:    make(map[devIno]*reader),
		byPath:     make(map[string]*reader),
		readerDirs: make(map[string]int),
	}
	t.since = time.Now().UnixNano()
	if !cfg.Saved.IsZero() {
		t.since = cfg.Saved.UnixNano()
	}
	t.opts = readerOpts{
		maxLine:        cfg.MaxLineBytes,
		batchLines:     cfg.BatchLines,
		batchBytes:     cfg.BatchBytes,
		readBuf:        cfg.readBuf,
		skipHeader:     cfg.SkipHeaderLines,
		headers:        cfg.Headers,
		poll:           cfg.pollInterval,
		grace:          cfg.closeGrace,
		partialTimeout: cfg.PartialLineTimeout,
		multiline:      cfg.Multiline,
		idleClose:      cfg.idleClose,
		hooks:          cfg.Hooks,
		pressure:       &t.pressure,
		bufs:           &t.bufs,
		recycle:        &t.recycle,
		budget:         cfg.Budget,
	}
	for _, p := range cfg.Positions {
		g := &gen{pos: p}
		t.known.add(g)
		if !p.Closed {
			// A generation read to its end before needs no search:
			// it is only recognised if a copy of it turns up.
			t.lookFor = append(t.lookFor, g)
		}
	}
	// The generations hold them now: ten thousand positions are not
	// kept twice for the tailer's life.
	t.cfg.Positions = nil
	return t, nil
}

// Stats returns a snapshot of the counters.
func (t *Tailer) Stats() Stats {
	c := &t.stats
	return Stats{
		Files:            c.files.Load(),
		Idle:             c.idle.Load(),
		LinesRead:        c.linesRead.Load(),
		BytesRead:        c.bytesRead.Load(),
		Batches:          c.batches.Load(),
		Truncated:        c.truncated.Load(),
		PartialLines:     c.partialLines.Load(),
		MultilineRecords: c.multiline.Load(),
		Rotations:        c.rotations.Load(),
		Truncations:      c.truncations.Load(),
		OpenErrors:       c.openErrors.Load(),
		ScanErrors:       c.scanErrors.Load(),
		ReadErrors:       c.readErrors.Load(),
		Panics:           c.panics.Load(),

		CopyTruncateLost: c.copyTruncateLost.Load(),
		ClosedUnread:     c.closedUnread.Load(),
		Recovered:        c.recovered.Load(),
		Missed:           c.missed.Load(),
		Lost:             c.lost.Load(),
		LostBytes:        c.lostBytes.Load(),
		Scans:            c.scans.Load(),
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

	// While files wait for a descriptor that another flow may free, or
	// saved generations were not found yet, look again now and then; this
	// flow's own frees signal t.freed.
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	after := func() {
		if len(t.queue) > 0 {
			retry.Reset(t.cfg.pollInterval)
		} else if t.searching() {
			retry.Reset(t.cfg.searchEvery)
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
			if t.searching() {
				t.rescan(ctx, &wg)
			} else {
				t.openWaiting(ctx, &wg)
			}
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

// send is the readers' emit: it hands a batch to the consumer. The batch's
// budget was taken before its bytes were read; a batch that is not handed on
// is given back by its reader (reader.free).
func (t *Tailer) send(ctx context.Context, b Batch) error {
	if err := ctx.Err(); err != nil {
		return err // not a random pick between a ready consumer and the shutdown
	}
	select {
	case t.out <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wakePath is the watcher's hint that path was written. It reports whether
// a reader follows path; a parked one is queued for reopening.
func (t *Tailer) wakePath(path string) bool {
	t.mu.Lock()
	r := t.byPath[path]
	if r != nil && r.bk.parked {
		t.noteWritten(path)
		if !r.bk.dirty {
			r.bk.dirty = true
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

// noteWritten records that the file at path changed since the scans last
// looked at it, or was parked with a size they may not have seen: the next
// scan looks at it even in a directory whose writes file events tell of
// (see Scanner.scan), or the last FileInfo, older than the parked size,
// would have it reopened at every scan for nothing. The caller holds t.mu.
func (t *Tailer) noteWritten(path string) {
	if t.written == nil {
		t.written = make(map[string]struct{})
	}
	t.written[path] = struct{}{}
}

func (t *Tailer) signalFreed() {
	select {
	case t.freed <- struct{}{}:
	default:
	}
}
