package tailer

import (
	"bytes"
	"context"
	"time"
)

// This file owns how a reader turns the bytes it read into lines and
// batches: splitting, the maximum line length, header lines, multi-line
// records, partial lines, and handing a batch on.

// consume splits p into lines; p continues the current line. Full batches
// are cut (see cut) on the way.
func (r *reader) consume(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			r.appendLine(p)
			r.off += int64(len(p))
			return
		}
		r.appendLine(p[:i])
		r.off += int64(i + 1)
		r.endLine()
		p = p[i+1:]
		if len(r.lines) >= r.o.batchLines || r.doneLen >= r.o.batchBytes {
			r.cutWithin(len(p))
		}
	}
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
	r.grow(len(p))
	r.stage = append(r.stage, p...)
}

// endLine completes the current line at r.off. The file's first line
// becomes the header (with Config.Headers); skipped header lines are
// dropped but stay covered by the next batch's range.
func (r *reader) endLine() {
	line := r.stage[r.doneLen:]
	if r.o.headers && r.lineStart == 0 && !r.headerKnown {
		r.header = append(make([]byte, 0, len(line)), line...)
		r.headerKnown = true
	}
	if r.skipLeft > 0 {
		r.skipLeft--
		r.stage = r.stage[:r.doneLen]
	} else if r.group != nil {
		r.recs = r.group.Add(r.recs[:0], Line{Start: r.lineStart, End: r.off, Bytes: line, Truncated: r.skipping})
		r.stage = r.stage[:r.doneLen]
		r.stageRecords()
	} else {
		r.addLine(stagedLine{
			start: r.lineStart,
			end:   r.off,
			n:     len(line),
			trunc: r.skipping,
		})
		r.doneLen = len(r.stage)
	}
	r.lineStart = r.off
	r.skipping = false
}

// addLine adds a complete line to the batch's index. The index is inside
// the budget like the bytes: each line of its capacity is charged as the
// Line the batch will hold for it (see cut), taken as grow takes room.
func (r *reader) addLine(l stagedLine) {
	if len(r.lines) == cap(r.lines) {
		c := min(max(64, 2*cap(r.lines)), max(r.o.batchLines, len(r.lines)+1))
		r.charge(int64(c-cap(r.lines)) * lineBytes)
		r.growIndex(c)
	}
	r.lines = append(r.lines, l)
}

// stageRecords moves the records the grouper finished into the batch being
// built (their bytes alias the grouper's buffers until its next call).
func (r *reader) stageRecords() {
	for _, rec := range r.recs {
		r.grow(len(rec.Bytes))
		r.stage = append(r.stage, rec.Bytes...)
		r.addLine(stagedLine{start: rec.Start, end: rec.End, n: len(rec.Bytes), trunc: rec.Truncated})
		r.doneLen = len(r.stage)
	}
	r.recs = r.recs[:0]
}

// flushGroup sends the grouper's unfinished record, if any.
func (r *reader) flushGroup(ctx context.Context) error {
	if r.group == nil || !r.group.Pending() {
		return nil
	}
	// The current partial line stays after the record in stage.
	partial := append([]byte(nil), r.stage[r.doneLen:]...)
	r.stage = r.stage[:r.doneLen]
	r.recs = r.group.Flush(r.recs[:0])
	r.stageRecords()
	r.grow(len(partial))
	r.stage = append(r.stage, partial...)
	return r.flush(ctx)
}

// covered is the offset up to which every line was handed on (or skipped):
// the start of the current line, or of the record the grouper still holds.
func (r *reader) covered() int64 {
	if r.group != nil && r.group.Pending() {
		return r.group.PendingStart()
	}
	return r.lineStart
}

// flushPartial sends the unterminated tail as a line of its own.
func (r *reader) flushPartial(ctx context.Context) error {
	if r.off != r.lineStart {
		r.endLine()
		r.stats.partialLines.Add(1)
	}
	if err := r.flushGroup(ctx); err != nil {
		return err
	}
	return r.flush(ctx)
}

// flush hands on the staged complete lines (and skipped header lines).
func (r *reader) flush(ctx context.Context) error {
	r.cut()
	r.putBuf()
	return r.sendQueued(ctx)
}

// cut makes the staged complete lines (and skipped header lines) a batch
// and queues it; sendQueued hands it on. The batch takes the stage's array,
// which its lines point into, and the budget the reader took for it; the
// current line's bytes go on in a new stage.
func (r *reader) cut() { r.cutWithin(0) }

// cutWithin cuts a batch in the middle of a read, rest bytes of which are
// still to be split: the new stage gets room for them at once (doubling
// from the partial line's few bytes would allocate it ten times).
func (r *reader) cutWithin(rest int) {
	end := r.covered()
	if end == r.cutEnd {
		return
	}
	r.widen(end)
	var lines []Line
	var size int64
	var whole []byte // the stage's array, now the batch's
	if len(r.lines) > 0 {
		buf := r.stage[:r.doneLen:r.doneLen]
		whole = r.stage[:0]
		if r.o.recycle != nil {
			lines = r.o.recycle.lineSlice(len(r.lines))
		} else {
			lines = make([]Line, len(r.lines))
		}
		p := 0
		for i, l := range r.lines {
			lines[i] = Line{Start: l.start, End: l.end, Bytes: buf[p : p+l.n : p+l.n], Truncated: l.trunc}
			p += l.n
		}
		size, r.held = r.held, 0
		partial := r.stage[r.doneLen:]
		r.stage = nil
		if len(partial)+rest > 0 {
			r.grow(len(partial) + rest)
			r.stage = append(r.stage, partial...)
		}
		r.lineLen = max(16, r.doneLen/len(r.lines))
		r.doneLen = 0
		// The index's budget is the batch's Lines' now: a reader
		// between batches holds no index.
		if r.o.recycle != nil {
			r.o.recycle.putIndex(r.lines)
		}
		r.lines = nil
	}
	r.fillPrefix(end)
	r.outbox = append(r.outbox, Batch{
		Source: r.src,
		Start:  r.cutEnd,
		End:    end,
		Lines:  lines,
		Size:   size,
		Marker: r.markerAt(end),
		Header: r.header,
		Prefix: r.prefix[:len(r.prefix):len(r.prefix)],
		buf:    whole,
	})
	r.cutEnd = end
}

// synced returns once the generation is in the checkpoint. A generation
// the checkpoint does not know yet is recorded durably before any of it is
// handed on: after a crash, its entry is what finds its rest in a rotated
// copy.
func (r *reader) synced(ctx context.Context) error {
	if !r.sync {
		return nil
	}
	if err := r.o.hooks.Sync(ctx); err != nil {
		return err
	}
	r.sync = false
	return nil
}

// send hands one batch on.
func (r *reader) send(ctx context.Context, b Batch) error {
	if err := r.synced(ctx); err != nil {
		return err
	}
	// Counted before it is handed on: the consumer may give b.Lines back
	// at once (Tailer.ReleaseLines).
	trunc, n := 0, len(b.Lines)
	for i := range b.Lines {
		if b.Lines[i].Truncated {
			trunc++
		}
	}
	if err := r.emit(ctx, b); err != nil {
		return err
	}
	r.emitted = b.End
	r.pub.Store(&published{id: r.id, end: b.End, marker: b.Marker})
	if len(r.marks) == maxMarks {
		r.marks = append(r.marks[:0], r.marks[1:]...)
	}
	r.marks = append(r.marks, mark{b.End, b.Marker})
	r.stats.batches.Add(1)
	r.stats.linesRead.Add(int64(n))
	r.stats.truncated.Add(int64(trunc))
	if r.group != nil {
		r.stats.multiline.Add(r.group.takeJoined())
	}
	if trunc > 0 && time.Since(r.truncLogged) > 10*time.Second {
		// At most one line per file every 10s: a file of huge lines must
		// not flood the log.
		r.truncLogged = time.Now()
		r.log.Warn("lines longer than max_line_bytes were truncated", "path", r.name(),
			"lines", trunc, "max_line_bytes", r.o.maxLine)
	}
	return nil
}
