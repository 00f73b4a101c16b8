// How much a reader reads at once, and the memory budget it holds for it:
// every byte is inside the flow's budget before it is read, sized to what
// the file holds, and the stage grows once per batch.

package tailer

import (
	"context"
	"os"
)

// readSlack is what a read sized to the file's known end asks for beyond
// it: it makes a read that stops at the file's end short, so that it is
// told from a full one (readFull), and takes in a line or two written since
// the Stat.
const readSlack = 512

// readSize is how much to read next: a full read buffer while the file has
// more than that, else what it is known to hold and a little more, so a
// small file never reserves a batch's worth of budget, nor a quiet file's
// few new lines a read buffer's (10,000 files each given a line allocated
// 4 KiB each, 40 MB, at a restart); and no more than the batch has room
// for, so a batch's buffer is about BatchBytes. more is false when the file
// is known to hold nothing past the offset: a reader woken with nothing
// new (most wakes of a quiet file) then reserves and reads nothing.
func (r *reader) readSize() (want int, more bool) {
	const least = 4 << 10
	want = min(r.o.readBuf, r.o.batchBytes)
	if !r.readFull {
		left := r.lastSize - r.off
		if size, _, err := sizeOf(r.f); err == nil {
			left = size - r.off
			// A compressed copy's size is what was decompressed so
			// far: only reading on tells whether there is more.
			if _, plain := r.f.(*os.File); plain && left <= 0 {
				return 0, false
			}
		}
		want = int(min(max(left, 0)+readSlack, int64(want)))
	}
	if room := r.o.batchBytes - len(r.stage); room >= least {
		want = min(want, room)
	}
	// Most batches are cut by their number of lines: a read that goes
	// far past the cut leaves its rest to be copied into a new stage.
	want = min(want, max((r.o.batchLines-len(r.lines))*r.lineLen, least))
	return want, true
}

// batchTarget is the stage's capacity for a batch in a backlog: room for
// BatchLines lines of the file's average length, and a sixteenth more, at
// most BatchBytes; rounded up, so that the batches of a file, and of files
// like it, fit each other's recycled buffers.
func (r *reader) batchTarget() int {
	return min(recycledSize((r.o.batchLines+r.o.batchLines/16)*r.lineLen), r.o.batchBytes)
}

// batchRoom is the room to take at once for a batch in a backlog: its
// batchTarget, or less when the file is known to end sooner. The last
// batch of a file then holds budget for its own lines, not for a whole
// batch's: the batch holds its budget until its lines are stored, and a
// sink waiting for more records before it sends waited on budget those few
// lines held (a thousand files of 500 KB ending at once were read at 32 k
// lines a second with memory_limit 24MiB, waiting for max_age each time).
// It is rounded up as batchTarget is: sized exactly, the last batches of a
// thousand files of 500 KB (half of their batches) fitted no recycled
// buffer, and each was allocated and collected. One fstat per batch.
func (r *reader) batchRoom() int {
	room := r.batchTarget()
	if _, plain := r.f.(*os.File); !plain {
		return room // a compressed copy's size is what was decompressed so far
	}
	if size, _, err := sizeOf(r.f); err == nil && size >= r.off {
		exact := min(int64(room), int64(len(r.stage))+size-r.off+readSlack)
		room = min(room, recycledSize(int(exact)))
	}
	return room
}

// reserve makes room in the stage for want more bytes, taking them from the
// budget before they are read (waiting while there is none). In a backlog
// the room for the whole batch is taken at once, so the stage is allocated
// once per batch.
func (r *reader) reserve(ctx context.Context, want int) error {
	if cap(r.stage)-len(r.stage) >= want && r.owed == 0 {
		return nil
	}
	// The room covers the index of the lines it will hold too (see
	// addLine), sized by the lines the file had so far.
	var index int
	room := func() (target int, need int64) {
		target = max(cap(r.stage), recycledSize(len(r.stage)+want))
		if r.readFull {
			target = max(target, r.batchRoom())
		}
		index = min(r.o.batchLines, len(r.lines)+(target-len(r.stage))/r.lineLen+1)
		need = int64(target-cap(r.stage)) + r.owed
		if index > cap(r.lines) {
			need += int64(index-cap(r.lines)) * lineBytes
		}
		return target, need
	}
	target, need := room()
	if need > 0 && r.o.budget != nil && !r.o.budget.TryAcquire(need) {
		// Lines staged are what frees budget once acknowledged: hand
		// them on before waiting, never wait holding them (nor the
		// read buffer).
		r.putBuf()
		if r.doneLen > 0 {
			if err := r.flush(ctx); err != nil {
				return err
			}
			target, need = room()
		}
		if err := r.o.budget.Acquire(ctx, need); err != nil {
			return err
		}
	}
	r.held += max(need, 0)
	r.owed = 0
	r.resize(target)
	if index > cap(r.lines) {
		r.growIndex(index)
	}
	return nil
}

// growIndex gives the line index room for n lines, keeping what it holds.
// The budget for n was taken: a recycled index with more room is charged
// for the rest.
func (r *reader) growIndex(n int) {
	var l []stagedLine
	if r.o.recycle != nil {
		l = r.o.recycle.index(n)
		if extra := cap(l) - n; extra > 0 {
			r.charge(int64(extra) * lineBytes)
		}
	} else {
		l = make([]stagedLine, 0, n)
	}
	r.lines = append(l, r.lines...)
}

// grow makes room for n more bytes in the stage while splitting, when
// reserve's room is not enough (a multi-line record finished from lines
// of earlier reads). It does not wait: what the budget cannot give now is
// owed, and taken before the next read.
func (r *reader) grow(n int) {
	if cap(r.stage)-len(r.stage) >= n {
		return
	}
	// Rounded as batchTarget is: a new batch's stage starts as the rest
	// of the read that cut the one before, and often stays that size.
	target := recycledSize(max(len(r.stage)+n, 2*cap(r.stage)))
	r.charge(int64(target - cap(r.stage)))
	r.resize(target)
}

// charge takes n bytes of budget without waiting: what the budget cannot
// give now is owed, and taken before the next read.
func (r *reader) charge(n int64) {
	if r.o.budget == nil || r.o.budget.TryAcquire(n) {
		r.held += n
	} else {
		r.owed += n
	}
}

// resize gives the stage capacity c (at least its length), keeping what it
// holds.
func (r *reader) resize(c int) {
	if c == cap(r.stage) {
		return
	}
	if c == 0 {
		r.stage = nil
		return
	}
	var s []byte
	if r.o.recycle != nil {
		s = r.o.recycle.buffer(len(r.stage), c)
		if extra := cap(s) - c; extra > 0 {
			r.charge(int64(extra)) // a recycled buffer a little larger
		}
	} else {
		s = make([]byte, len(r.stage), c)
	}
	copy(s, r.stage)
	r.stage = s
}
