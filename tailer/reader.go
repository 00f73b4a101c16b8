package tailer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// readerOpts are the settings every reader of a Tailer shares.
type readerOpts struct {
	maxLine        int
	batchLines     int
	batchBytes     int
	readBuf        int
	skipHeader     int
	poll           time.Duration // fstat interval while at EOF
	grace          time.Duration // quiet time before a rotated-away file is closed
	partialTimeout time.Duration
	multiline      *MultilineConfig // nil: one record per line
	idleClose      time.Duration    // no growth for this long at EOF: release the descriptor; 0 never
	hooks          Hooks
	// pressure is set while files wait for a descriptor: idle readers
	// then release theirs at once instead of after idleClose.
	pressure *atomic.Bool
	bufs     *sync.Pool // of *[]byte of readBuf bytes; nil allocates
}

// stagedLine is a complete line waiting in reader.stage for the next batch.
type stagedLine struct {
	start, end int64
	n          int
	trunc      bool
}

// readError is a failure of the descriptor itself; the Tailer reopens the
// file at the last sent offset.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// errIdle is returned by run when the reader is at the end of its file,
// idle, and asks to release its descriptor (see Tailer.park).
var errIdle = errors.New("tailer: reader idle")

// file is what a reader reads a generation's bytes from: an *os.File, or
// the decompressed view of a compressed copy (see unpack.go).
type file interface {
	io.ReaderAt
	Stat() (os.FileInfo, error)
	Close() error
	Name() string
}

// reader follows one generation from one goroutine. It reads with ReadAt at
// its own offset, so the descriptor's position never matters.
//
// A reader outlives its descriptor: an idle reader is parked (descriptor
// closed, goroutine ended) with its offsets, partial line and identity, and
// run again on a new descriptor when its file changes.
type reader struct {
	o     *readerOpts
	stats *counters
	log   *slog.Logger
	f     file   // nil while parked
	key   devIno // the file f is (or was, while parked)
	src   *Source
	// id is the generation's widest identity; only the reader goroutine
	// touches it, and publishes it through Hooks.OnWiden.
	id FileID
	// loc is where the generation's bytes are read from now: the followed
	// path, its rotated name, or a copy. The Tailer sets it on renames,
	// the reader when it goes on in a copy.
	loc atomic.Pointer[string]
	// emit hands a finished batch on; it blocks for backpressure and
	// fails only when ctx is done.
	emit func(context.Context, Batch) error
	// mtime is the generation's Position.MTime; sync is set while the
	// generation is not in the checkpoint yet (Hooks.Sync before its
	// first batch).
	mtime time.Time
	sync  bool

	off       int64 // next byte to read
	lineStart int64 // offset of the current line's first byte; the next batch ends here
	emitted   int64 // End of the last batch sent; the next batch starts here
	lastSize  int64 // largest size seen by fstat, for copytruncate accounting

	// rbuf holds the file's bytes [bufOff, bufOff+bufLen) from the last
	// read, and hist the histLen bytes before bufOff: together they give
	// the marker of any recent line end without reading again.
	rbuf    []byte
	bufOff  int64
	bufLen  int
	hist    [markerLen]byte
	histLen int

	stage    []byte // complete lines in [:doneLen], then the current line
	doneLen  int
	lines    []stagedLine
	skipping bool     // the current line passed maxLine; drop up to the newline
	group    *grouper // multi-line grouping; nil for one record per line
	flushed  bool     // a batch was emitted since the last check of the bytes before off
	suspect  bool     // those bytes changed: checkTruncation must look now
	recs     []Line   // records the grouper finished, staged at once
	skipLeft int      // header lines still to skip

	header      []byte // the file's first line once known; never modified
	headerKnown bool
	prefix      []byte // the file's first bytes, up to FingerprintSize (see Batch.Prefix)
	needHead    bool   // resumed past the first line: read it (and count headers) first

	lastGrowth  time.Time
	truncLogged time.Time
	timer       *time.Timer
	resumed     bool   // run on a new descriptor: check the file before reading
	startMarker uint64 // the marker the bytes before off had when the start was decided

	// Set by the Tailer, read by the reader goroutine.
	wakeC  chan struct{}
	goneAt atomic.Int64 // unix nanoseconds when the file left the globs; 0 while followed
	forced atomic.Bool  // closed by close_removed_after before it was drained
	// after, when not nil, is closed when the reader may start reading:
	// generations of one path found at a restart are read oldest first.
	after <-chan struct{}
	// ended is closed once the reader read its file to the end, or ended
	// (see after); endOnce closes it.
	ended   chan struct{}
	endOnce *sync.Once
	// pub is what a scan compares new files with (see published).
	pub atomic.Pointer[published]
	// marks are the ends and markers of the last batches sent, oldest
	// first (see gen.marks).
	marks []mark

	bk bookkeeping // the Tailer's, guarded by Tailer.mu
}

// bookkeeping is the Tailer's state of a reader, guarded by Tailer.mu.
type bookkeeping struct {
	parked     bool
	dirty      bool // parked, and its file changed since
	parkSize   int64
	parkMod    time.Time
	forceTimer *time.Timer
	cancel     context.CancelFunc
}

// maxMarks is how many batch ends a reader remembers (see gen.marks).
const maxMarks = 16

// published is a reader's generation as far as it was handed on: a new
// file that starts with the same bytes and holds the same bytes before End
// is a copy of it (copytruncate), not a new generation.
type published struct {
	id     FileID
	end    int64
	marker uint64
}

func newReader(o *readerOpts, stats *counters, log *slog.Logger, f file, key devIno, src *Source, off int64,
	emit func(context.Context, Batch) error) *reader {
	r := &reader{
		o:         o,
		stats:     stats,
		log:       log,
		f:         f,
		key:       key,
		src:       src,
		id:        src.ID,
		emit:      emit,
		off:       off,
		lineStart: off,
		emitted:   off,
		lastSize:  off,
		bufOff:    off,
		skipLeft:  o.skipHeader,
		needHead:  off > 0,
		wakeC:     make(chan struct{}, 1),
		ended:     make(chan struct{}),
		endOnce:   new(sync.Once),
	}
	r.setLoc(f.Name())
	if o.multiline != nil {
		r.group = newGrouper(*o.multiline)
	}
	return r
}

// caughtUp lets the next generation of the same path be read: this one was
// read to its end once (or never will be).
func (r *reader) caughtUp() { r.endOnce.Do(func() { close(r.ended) }) }

// name is where the reader reads from now, for logs and hooks.
func (r *reader) name() string { return *r.loc.Load() }

func (r *reader) setLoc(p string) { r.loc.Store(&p) }

// wake makes a waiting reader look at its file now.
func (r *reader) wake() {
	select {
	case r.wakeC <- struct{}{}:
	default:
	}
}

func (r *reader) getBuf() {
	if r.rbuf != nil {
		return
	}
	if r.o.bufs != nil {
		if b, ok := r.o.bufs.Get().(*[]byte); ok && len(*b) == r.o.readBuf {
			r.rbuf = *b
			return
		}
	}
	r.rbuf = make([]byte, r.o.readBuf)
}

// putBuf gives the read buffer back while parked, keeping the marker
// history in hist.
func (r *reader) putBuf() {
	r.slide()
	if r.rbuf != nil && r.o.bufs != nil {
		b := r.rbuf
		r.o.bufs.Put(&b)
	}
	r.rbuf = nil
	if len(r.stage) == 0 {
		r.stage = nil // parked readers are idle at EOF: nothing staged
	}
	r.lines = nil
}

// run reads until ctx is done, the descriptor fails, the reader is idle
// (errIdle), or the file has left the globs and stayed quiet for the grace
// period and retire agrees to let it go. It returns nil only in that last
// case.
func (r *reader) run(ctx context.Context, retire func(*reader) bool) error {
	r.getBuf()
	r.lastGrowth = time.Now()
	r.timer = time.NewTimer(time.Hour)
	defer r.timer.Stop()
	if r.needHead {
		r.needHead = false
		if err := r.readHead(); err != nil {
			return err
		}
	}
	if r.resumed {
		// The file may have been truncated or replaced while we held
		// no descriptor.
		r.resumed = false
		if err := r.checkTruncation(); err != nil {
			return err
		}
	}
	for {
		grew, err := r.readAvailable(ctx)
		if err != nil {
			return err
		}
		r.caughtUp()
		if r.suspect {
			if err := r.checkTruncation(); err != nil {
				return err
			}
			continue
		}
		now := time.Now()
		if grew {
			r.lastGrowth = now
		}
		if r.group != nil && r.group.Pending() && now.Sub(r.lastGrowth) >= r.o.multiline.Timeout {
			if err := r.flushGroup(ctx); err != nil {
				return err
			}
		}
		if r.off > r.lineStart && now.Sub(r.lastGrowth) >= r.o.partialTimeout {
			if err := r.flushPartial(ctx); err != nil {
				return err
			}
		}
		gone := r.goneAt.Load()
		if gone != 0 && now.Sub(r.quietSince(gone)) >= r.o.grace {
			// Nobody wrote for a while after the rotation: whatever
			// is left of the last line is all there will be.
			if err := r.flushPartial(ctx); err != nil {
				return err
			}
			if retire(r) {
				return nil
			}
		}
		if gone == 0 && r.idle(now) {
			return errIdle
		}
		r.shrink()
		if err := r.wait(ctx); err != nil {
			return err
		}
		if err := r.checkTruncation(); err != nil {
			return err
		}
	}
}

// idle reports whether the reader may release its descriptor: at EOF with
// no partial line waiting for its timeout, and quiet for idleClose (or at
// once while other files wait for a descriptor).
func (r *reader) idle(now time.Time) bool {
	if r.o.idleClose <= 0 || r.off != r.lineStart || r.covered() != r.emitted {
		return false
	}
	if now.Sub(r.lastGrowth) < r.o.idleClose && (r.o.pressure == nil || !r.o.pressure.Load()) {
		return false
	}
	fi, err := r.f.Stat()
	if err != nil || fi.Size() != r.off {
		return false // grew (or shrank) since the read: look again
	}
	return true
}

func (r *reader) quietSince(goneAt int64) time.Time {
	g := time.Unix(0, goneAt)
	if g.After(r.lastGrowth) {
		return g
	}
	return r.lastGrowth
}

// readAvailable reads up to EOF, sending full batches on the way and the
// rest at EOF. It reports whether any byte was read.
func (r *reader) readAvailable(ctx context.Context) (bool, error) {
	r.getBuf()
	grew := false
	for {
		if r.flushed && r.off > 0 {
			// A batch was handed on, which may have blocked for a long
			// time (backpressure): before reading on, make sure the
			// bytes before our offset are still the ones we read. A
			// file truncated and written past our offset meanwhile
			// must not be read on as if it were the old one.
			r.flushed = false
			if m, err := readMarker(r.f, r.off); err != nil || m != r.markerAt(r.off) {
				r.suspect = true
				break
			}
		}
		r.slide()
		n, err := r.f.ReadAt(r.rbuf, r.off)
		if n > 0 {
			grew = true
			r.bufOff, r.bufLen = r.off, n
			r.stats.bytesRead.Add(int64(n))
			if err := r.consume(ctx, r.rbuf[:n]); err != nil {
				return grew, err
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return grew, &readError{fmt.Errorf("read %s at %d: %w", r.name(), r.off, err)}
		}
	}
	r.lastSize = max(r.lastSize, r.off)
	return grew, r.flush(ctx)
}

// shrink drops an oversized staging buffer while the reader idles, so
// thousands of quiet files do not each pin a batch worth of memory.
func (r *reader) shrink() {
	const keep = 64 << 10
	if cap(r.stage) > keep && len(r.stage) <= keep/2 {
		r.stage = append(make([]byte, 0, keep), r.stage...)
	}
	if cap(r.lines) > 1024 && len(r.lines) == 0 {
		r.lines = nil
	}
}

// wait blocks until the file may have changed: a wake from the Tailer, the
// poll interval (fstat works where file events do not, e.g. NFS), or a
// partial-line, idle or grace deadline.
func (r *reader) wait(ctx context.Context) error {
	d := r.o.poll
	if r.off > r.lineStart {
		d = min(d, max(time.Until(r.lastGrowth.Add(r.o.partialTimeout)), 0))
	}
	if r.group != nil && r.group.Pending() {
		d = min(d, max(time.Until(r.lastGrowth.Add(r.o.multiline.Timeout)), 0))
	}
	if gone := r.goneAt.Load(); gone != 0 {
		d = min(d, max(time.Until(r.quietSince(gone).Add(r.o.grace)), 0))
	} else if r.o.idleClose > 0 {
		d = min(d, max(time.Until(r.lastGrowth.Add(r.o.idleClose)), time.Millisecond))
	}
	r.timer.Reset(d)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.wakeC:
	case <-r.timer.C:
	}
	return nil
}
