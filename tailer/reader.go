package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// readerOpts are the settings every reader of a Tailer shares.
type readerOpts struct {
	maxLine        int
	batchLines     int
	batchBytes     int
	readBuf        int
	poll           time.Duration // fstat interval while at EOF
	grace          time.Duration // quiet time before a rotated-away file is closed
	partialTimeout time.Duration
	hooks          Hooks
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

// reader follows one open file from one goroutine. It reads with ReadAt at
// its own offset, so the descriptor's position never matters and restarting
// after a truncation is just setting off to 0.
type reader struct {
	o     *readerOpts
	stats *counters
	log   *slog.Logger
	f     *os.File
	key   devIno
	src   *Source // immutable once created; consumers read it concurrently
	// name and id are where the file is now and its widest identity; owned
	// by the reader goroutine and published through the OnRename hook.
	name string
	id   FileID
	// emit hands a finished batch on; it blocks for backpressure and
	// fails only when ctx is done.
	emit func(context.Context, Batch) error

	off       int64 // next byte to read
	lineStart int64 // offset of the current line's first byte
	emitted   int64 // End of the last line sent; where a reopen resumes

	rbuf     []byte
	stage    []byte // complete lines in [:doneLen], then the current line
	doneLen  int
	lines    []stagedLine
	skipping bool // the current line passed maxLine; drop up to the newline

	lastGrowth  time.Time
	truncLogged time.Time
	timer       *time.Timer

	// Set by the Tailer, read by the reader goroutine.
	wakeC   chan struct{}
	goneAt  atomic.Int64 // unix nanoseconds when the file left the globs; 0 while followed
	newPath atomic.Pointer[string]

	// path is the Tailer's view of where the file is; guarded by Tailer.mu.
	path string
}

func newReader(o *readerOpts, stats *counters, log *slog.Logger, f *os.File, key devIno, src *Source, off int64,
	emit func(context.Context, Batch) error) *reader {
	return &reader{
		o:         o,
		stats:     stats,
		log:       log,
		f:         f,
		key:       key,
		src:       src,
		name:      src.Path,
		id:        src.ID,
		emit:      emit,
		off:       off,
		lineStart: off,
		emitted:   off,
		rbuf:      make([]byte, o.readBuf),
		wakeC:     make(chan struct{}, 1),
		path:      src.Path,
	}
}

// wake makes a waiting reader look at its file now.
func (r *reader) wake() {
	select {
	case r.wakeC <- struct{}{}:
	default:
	}
}

// run reads until ctx is done, the descriptor fails, or the file has left
// the globs and stayed quiet for the grace period and retire agrees to let
// it go. It returns nil only in that last case.
func (r *reader) run(ctx context.Context, retire func(*reader) bool) error {
	r.lastGrowth = time.Now()
	r.timer = time.NewTimer(time.Hour)
	defer r.timer.Stop()
	for {
		grew, err := r.readAvailable(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		if grew {
			r.lastGrowth = now
		}
		if r.off > r.lineStart && now.Sub(r.lastGrowth) >= r.o.partialTimeout {
			if err := r.flushPartial(ctx); err != nil {
				return err
			}
		}
		if gone := r.goneAt.Load(); gone != 0 && now.Sub(r.quietSince(gone)) >= r.o.grace {
			// Nobody wrote for a while after the rotation: whatever
			// is left of the last line is all there will be.
			if err := r.flushPartial(ctx); err != nil {
				return err
			}
			if retire(r) {
				return nil
			}
		}
		r.shrink()
		if err := r.wait(ctx); err != nil {
			return err
		}
		if err := r.checkTruncation(ctx); err != nil {
			return err
		}
	}
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
	grew := false
	for {
		n, err := r.f.ReadAt(r.rbuf, r.off)
		if n > 0 {
			grew = true
			r.stats.bytesRead.Add(int64(n))
			if err := r.consume(ctx, r.rbuf[:n]); err != nil {
				return grew, err
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return grew, &readError{fmt.Errorf("read %s at %d: %w", r.name, r.off, err)}
		}
	}
	return grew, r.flush(ctx)
}

// consume splits p into lines; p continues the current line.
func (r *reader) consume(ctx context.Context, p []byte) error {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			r.appendLine(p)
			r.off += int64(len(p))
			return nil
		}
		r.appendLine(p[:i])
		r.off += int64(i + 1)
		r.endLine()
		p = p[i+1:]
		if len(r.lines) >= r.o.batchLines || r.doneLen >= r.o.batchBytes {
			if err := r.flush(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendLine adds bytes to the current line, keeping at most maxLine.
func (r *reader) appendLine(p []byte) {
	if r.skipping {
		return
	}
	if room := r.o.maxLine - (len(r.stage) - r.doneLen); len(p) > room {
		p = p[:room]
		r.skipping = true
	}
	r.stage = append(r.stage, p...)
}

// endLine completes the current line at r.off.
func (r *reader) endLine() {
	r.lines = append(r.lines, stagedLine{
		start: r.lineStart,
		end:   r.off,
		n:     len(r.stage) - r.doneLen,
		trunc: r.skipping,
	})
	r.doneLen = len(r.stage)
	r.lineStart = r.off
	r.skipping = false
}

// flushPartial sends the unterminated tail as a line of its own.
func (r *reader) flushPartial(ctx context.Context) error {
	if r.off == r.lineStart {
		return nil
	}
	r.endLine()
	r.stats.partialLines.Add(1)
	return r.flush(ctx)
}

// flush sends the staged complete lines as one batch in a buffer of its own.
func (r *reader) flush(ctx context.Context) error {
	if len(r.lines) == 0 {
		return nil
	}
	r.refreshSource()
	buf := make([]byte, r.doneLen)
	copy(buf, r.stage[:r.doneLen])
	lines := make([]Line, len(r.lines))
	p, trunc := 0, 0
	for i, l := range r.lines {
		lines[i] = Line{Start: l.start, End: l.end, Bytes: buf[p : p+l.n : p+l.n], Truncated: l.trunc}
		p += l.n
		if l.trunc {
			trunc++
		}
	}
	// Keep the current line's bytes for the next batch.
	n := copy(r.stage, r.stage[r.doneLen:])
	r.stage = r.stage[:n]
	r.doneLen = 0
	r.lines = r.lines[:0]

	b := Batch{
		Source: r.src,
		Start:  lines[0].Start,
		End:    lines[len(lines)-1].End,
		Lines:  lines,
	}
	b.Size = int64(len(buf))
	if err := r.emit(ctx, b); err != nil {
		return err
	}
	r.emitted = b.End
	r.stats.batches.Add(1)
	r.stats.linesRead.Add(int64(len(lines)))
	r.stats.truncated.Add(int64(trunc))
	if trunc > 0 && time.Since(r.truncLogged) > 10*time.Second {
		// At most one line per file every 10s: a file of huge lines must
		// not flood the log.
		r.truncLogged = time.Now()
		r.log.Warn("lines longer than max_line_bytes were truncated", "path", r.name,
			"lines", trunc, "max_line_bytes", r.o.maxLine)
	}
	return nil
}

// refreshSource applies a rename seen by the Tailer and lengthens a short
// fingerprint once the file has data (and again past FingerprintSize), so
// checkpoints carry the strongest identity available. Only this goroutine
// writes the Source, and only before sending a batch.
func (r *reader) refreshSource() {
	changed := false
	if p := r.newPath.Swap(nil); p != nil && *p != r.name {
		r.name = *p
		changed = true
	}
	fl := r.id.FingerprintLen
	if !(fl >= FingerprintSize || r.off <= int64(fl) || (fl > 0 && r.off < FingerprintSize)) {
		if id, err := Identify(r.f); err == nil && id.key() == r.key && id != r.id {
			r.id = id
			changed = true
		}
	}
	if changed && r.o.hooks.OnRename != nil {
		r.o.hooks.OnRename(r.src, r.name, r.id)
	}
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
// partial-line or grace deadline.
func (r *reader) wait(ctx context.Context) error {
	d := r.o.poll
	if r.off > r.lineStart {
		d = min(d, max(time.Until(r.lastGrowth.Add(r.o.partialTimeout)), 0))
	}
	if gone := r.goneAt.Load(); gone != 0 {
		d = min(d, max(time.Until(r.quietSince(gone).Add(r.o.grace)), 0))
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

// checkTruncation restarts at offset 0, as a new Source, when the file is
// now shorter than what was read or its leading bytes were rewritten
// (copytruncate followed by new writes before we looked).
func (r *reader) checkTruncation(ctx context.Context) error {
	fi, err := r.f.Stat()
	if err != nil {
		return &readError{fmt.Errorf("stat %s: %w", r.name, err)}
	}
	size := fi.Size()
	truncated := size < r.off
	if !truncated && size > r.off && r.id.FingerprintLen > 0 {
		ok, err := Matches(r.f, r.id)
		if err != nil {
			return &readError{err}
		}
		truncated = !ok
	}
	if !truncated {
		return nil
	}
	// The unterminated tail was in the file; send it rather than lose it.
	if err := r.flushPartial(ctx); err != nil {
		return err
	}
	id, err := Identify(r.f)
	if err != nil {
		return &readError{err}
	}
	r.stats.truncations.Add(1)
	r.log.Info("file truncated, reading it again from the start", "path", r.name,
		"size", size, "offset", r.off)
	if r.o.hooks.OnClose != nil {
		r.o.hooks.OnClose(r.src)
	}
	r.src = &Source{Flow: r.src.Flow, Path: r.name, ID: id}
	r.id = id
	if r.o.hooks.OnOpen != nil {
		r.o.hooks.OnOpen(r.src, r.name, id, 0)
	}
	r.off, r.lineStart, r.emitted = 0, 0, 0
	r.stage = r.stage[:0]
	r.doneLen = 0
	r.skipping = false
	r.lastGrowth = time.Now()
	return nil
}
