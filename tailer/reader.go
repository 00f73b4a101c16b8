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
	"unsafe"
)

// readerOpts are the settings every reader of a Tailer shares.
type readerOpts struct {
	maxLine        int
	batchLines     int
	batchBytes     int
	readBuf        int
	skipHeader     int
	headers        bool          // keep the first line (Config.Headers)
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
	recycle  *recycler  // batch buffers and Lines slices; nil allocates
	// budget bounds the memory of lines read and not yet acknowledged
	// (Config.Budget); nil is unbounded.
	budget Budget
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
	emitted   int64 // End of the last batch sent
	cutEnd    int64 // End of the last batch cut (queued or sent); the next batch starts here
	lastSize  int64 // largest size seen by fstat, for copytruncate accounting

	// rbuf holds the file's bytes [bufOff, bufOff+bufLen) from the last
	// read, and hist the histLen bytes before bufOff: together they give
	// the marker of any recent line end without reading again.
	rbuf    []byte
	bufOff  int64
	bufLen  int
	hist    [markerLen]byte
	histLen int

	stage   []byte // complete lines in [:doneLen], then the current line
	doneLen int
	// held is the budget the reader holds for its stage; owed is stage
	// memory it took without budget (see grow), taken before the next read.
	held, owed int64
	lineLen    int     // the average length of the lines of the last batch; at least 16
	outbox     []Batch // cut and not handed on yet (see cut)
	readFull   bool    // the last read filled what was asked: more is likely
	lines      []stagedLine
	skipping   bool     // the current line passed maxLine; drop up to the newline
	group      *grouper // multi-line grouping; nil for one record per line
	suspect    bool     // a read found the file changed under what was read: checkTruncation must look now
	recs       []Line   // records the grouper finished, staged at once
	skipLeft   int      // header lines still to skip

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
		lineLen:   64,
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
		cutEnd:    off,
		lastSize:  off,
		bufOff:    off,
		skipLeft:  o.skipHeader,
		needHead:  off > 0 && (o.headers || o.skipHeader > 0),
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

// putBuf gives the read buffer back, keeping the marker history in hist. A
// reader holds its read buffer only while it reads and splits: never while
// it waits for the budget or the consumer, so a thousand waiting files do
// not pin a thousand buffers.
func (r *reader) putBuf() {
	r.slide()
	if r.rbuf != nil && r.o.bufs != nil {
		b := r.rbuf
		r.o.bufs.Put(&b)
	}
	r.rbuf = nil
}

// drop frees the reader's memory when it parks or ends: the read buffer,
// and the stage and its budget when nothing is staged.
func (r *reader) drop() {
	r.putBuf()
	if len(r.stage) == 0 {
		r.giveBack()
		r.stage = nil // parked readers are idle at EOF: nothing staged
	}
	r.lines = nil
	r.prefix = nil // 1 KiB each for thousands of idle files; read again when needed
	if len(r.outbox) == 0 {
		r.outbox = nil // room for a batch (144 bytes) each, for as many
	}
}

// giveBack returns the budget the stage holds; the stage must not be used
// after it without reserve.
func (r *reader) giveBack() {
	if r.o.budget != nil && r.held > 0 {
		r.o.budget.Release(r.held)
	}
	r.held, r.owed = 0, 0
}

// free gives back everything when the reader ends: the read buffer, the
// stage's budget and the budget of batches cut and not handed on.
func (r *reader) free() {
	r.putBuf()
	r.giveBack()
	for _, b := range r.outbox {
		if r.o.budget != nil && b.Size > 0 {
			r.o.budget.Release(b.Size)
		}
	}
	r.outbox, r.stage, r.lines = nil, nil, nil
}

// run reads until ctx is done, the descriptor fails, the reader is idle
// (errIdle), or the file has left the globs and stayed quiet for the grace
// period and retire agrees to let it go. It returns nil only in that last
// case.
func (r *reader) run(ctx context.Context, retire func(*reader) bool) error {
	r.lastGrowth = time.Now()
	r.timer = time.NewTimer(time.Hour)
	defer func() {
		r.timer.Stop()
		r.timer = nil // a parked reader keeps no timer
	}()
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
		if gone != 0 && (r.sealed() || now.Sub(r.quietSince(gone)) >= r.o.grace) {
			// Nobody wrote for a while after the rotation: whatever
			// is left of the last line is all there will be.
			if err := r.flushPartial(ctx); err != nil {
				return err
			}
			if retire(r) {
				return nil
			}
		}
		if size, ok := r.idle(now); gone == 0 && ok {
			// Parked, a file cut below what was seen of it would not
			// be looked at again (its size stays what the park saw):
			// a file truncated before its reader's first read, under
			// descriptor pressure, parked at once with its
			// generation's lines in a copy nobody read.
			if err := r.truncatedAt(size); err != nil {
				return err
			}
			return errIdle
		}
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
// once while other files wait for a descriptor). It returns the file's
// size when it is.
func (r *reader) idle(now time.Time) (int64, bool) {
	if r.o.idleClose <= 0 || r.off != r.lineStart || r.covered() != r.emitted {
		return 0, false
	}
	if now.Sub(r.lastGrowth) < r.o.idleClose && (r.o.pressure == nil || !r.o.pressure.Load()) {
		return 0, false
	}
	size, _, err := sizeOf(r.f)
	if err != nil || size != r.off {
		return 0, false // grew (or shrank) since the read: look again
	}
	return size, true
}

// sealed reports whether the file cannot grow: a compressed copy, written
// once. Read to its end, it is done at once, without the grace period a
// rotated file gets for late writes.
func (r *reader) sealed() bool {
	_, ok := r.f.(*unpacked)
	return ok
}

func (r *reader) quietSince(goneAt int64) time.Time {
	g := time.Unix(0, goneAt)
	if g.After(r.lastGrowth) {
		return g
	}
	return r.lastGrowth
}

// readAvailable reads up to EOF, sending full batches on the way and the
// rest at EOF. It reports whether any byte was read. Every read is sized to
// budget the reader took before it (see reserve), and the batches cut while
// splitting are handed on only after the read buffer is given back.
func (r *reader) readAvailable(ctx context.Context) (bool, error) {
	grew := false
	for {
		if r.doneLen > 0 && len(r.stage)+(4<<10) > r.o.batchBytes {
			// The batch has no room for another read: hand it on first.
			if err := r.flush(ctx); err != nil {
				return grew, err
			}
		}
		want, more := r.readSize()
		if !more {
			break
		}
		if len(r.stage) == 0 {
			// A new generation waits for its save before its first
			// read, not with its first batch read: waiting, it holds
			// no budget, and the files starting at once all go on
			// after one save. Waiting with their batches, as many as
			// the flow's budget holds went on after each save (ten
			// thousand files of 50 KB were read at 80 k lines a
			// second).
			if err := r.synced(ctx); err != nil {
				return grew, err
			}
		}
		if err := r.reserve(ctx, want); err != nil {
			return grew, err
		}
		r.getBuf()
		r.slide()
		n, err := r.f.ReadAt(r.rbuf[:want], r.off)
		if n > 0 && !r.unchanged() {
			// The file no longer starts with the bytes we read, or no
			// longer holds them just before our offset: it was truncated
			// and written past the offset since the last read (while we
			// waited for a wake, for budget, for the consumer). What was
			// just read is the new generation's, and must not be joined
			// with the partial line the stage may hold. Compared after
			// every read, not before it, so that no truncation can fall
			// between the comparison and the read.
			r.suspect = true
			break
		}
		r.readFull = n == want
		if n > 0 {
			grew = true
			r.bufOff, r.bufLen = r.off, n
			r.stats.bytesRead.Add(int64(n))
			r.consume(r.rbuf[:n])
		}
		if len(r.outbox) > 0 {
			r.putBuf()
			if serr := r.sendQueued(ctx); serr != nil {
				return grew, serr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			r.putBuf()
			return grew, &readError{fmt.Errorf("read %s at %d: %w", r.name(), r.off, err)}
		}
	}
	r.lastSize = max(r.lastSize, r.off)
	r.cut()
	r.putBuf()
	r.trim()
	return grew, r.sendQueued(ctx)
}

// trim gives back the room reserved and not filled: at the end of what the
// file holds, a reader keeps budget only for its partial line, so a reader
// waiting for more of its file never sits on budget others could read with
// (a thousand idle readers each keeping the room of one read would hold
// all of it, and nothing would be read again).
func (r *reader) trim() {
	keep := len(r.stage)
	if cap(r.stage) != keep {
		r.resize(keep)
	}
	if len(r.lines) == 0 {
		r.lines = nil // the index's room: the lines were cut
	}
	if excess := r.held - int64(keep) - int64(cap(r.lines))*lineBytes; excess > 0 {
		if r.o.budget != nil {
			r.o.budget.Release(excess)
		}
		r.held -= excess
	}
}

// unchanged reports whether the file still holds what was read: the bytes
// just before the offset, and the first bytes its identity hashes.
func (r *reader) unchanged() bool {
	if m, err := readMarker(r.f, r.off); err != nil || m != r.markerAt(r.off) {
		return false
	}
	if r.id.FingerprintLen == 0 {
		return true
	}
	ok, err := prefixMatches(r.f, r.id)
	return err == nil && ok
}

// lineBytes is what a line of a batch costs besides its bytes: its Line.
const lineBytes = int64(unsafe.Sizeof(Line{}))

// sendQueued hands on the batches cut so far, in order.
func (r *reader) sendQueued(ctx context.Context) error {
	for len(r.outbox) > 0 {
		if err := r.send(ctx, r.outbox[0]); err != nil {
			return err
		}
		r.outbox[0] = Batch{}
		r.outbox = r.outbox[1:]
	}
	r.outbox = r.outbox[:0]
	return nil
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
