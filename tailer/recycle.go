package tailer

import (
	"math/bits"
	"sync"
	"unsafe"
)

// recycler keeps a few batch buffers, line indexes and Lines slices that
// are finished with (Tailer.ReleaseLines, Tailer.ReleaseBuffer, and a
// batch's index once its Lines are made) for the next batches. In a
// backlog every batch needs a new buffer, index and Lines slice: allocated
// each time, the memory must be cleared and collected, and with a thousand
// busy files most of the agent's CPU went to that. The few kept
// (Config.Recycle) are outside the memory budget: the caller sets the
// budget that much lower (RecycleBytes).
type recycler struct {
	size     int // BatchBytes: the buffers kept hold keep*size bytes at most
	maxLines int // the largest index and Lines slice kept: BatchLines
	keep     int // how many of each

	mu      sync.Mutex
	used    bool // something was taken since the last trim
	bufs    [][]byte
	kept    int // the capacity of bufs' buffers, at most keep*size
	indexes [][]stagedLine
	lines   [][]Line
}

// minRecycled is the smallest buffer worth keeping: smaller ones are what
// a live file's few new lines need, cheap to allocate.
const minRecycled = 64 << 10

// recycledSize is the capacity to ask for n bytes in, so that buffers
// asked for by batches of about the same size fit each other once recycled
// (take gives a buffer up to a quarter larger than asked): n rounded up to
// a quarter of the largest power of two at most n, at most a quarter
// more. Below minRecycled (not kept) it is n.
func recycledSize(n int) int {
	if n < minRecycled {
		return n
	}
	step := 1 << (bits.Len(uint(n)) - 3)
	return (n + step - 1) &^ (step - 1)
}

// stagedLineBytes is the memory of one line of a reader's index.
const stagedLineBytes = int64(unsafe.Sizeof(stagedLine{}))

// RecycleBytes is the most memory a tailer keeps for reuse with
// Config.Recycle n and the batch bounds of cfg (defaults for zero).
func RecycleBytes(n, batchBytes, batchLines int) int64 {
	if batchBytes <= 0 {
		batchBytes = DefaultBatchBytes
	}
	if batchLines <= 0 {
		batchLines = DefaultBatchLines
	}
	return int64(n) * (int64(batchBytes) + int64(batchLines)*(lineBytes+stagedLineBytes))
}

// buffer returns a buffer of length n and capacity at least c, and at most
// a quarter more: the caller accounts for the capacity it got. The first n
// bytes are to be overwritten by the caller: a recycled buffer is not
// cleared.
func (p *recycler) buffer(n, c int) []byte {
	if c >= minRecycled && c <= p.largest() {
		p.mu.Lock()
		b := take(&p.bufs, c)
		p.kept -= cap(b)
		p.used = true
		p.mu.Unlock()
		if b != nil {
			return b[:n]
		}
	}
	return make([]byte, n, c)
}

// index returns an empty line index with room for at least n lines, and
// at most a quarter more.
func (p *recycler) index(n int) []stagedLine {
	p.mu.Lock()
	b := take(&p.indexes, n)
	p.used = true
	p.mu.Unlock()
	if b != nil {
		return b
	}
	return make([]stagedLine, 0, n)
}

// lineSlice returns a Lines slice of length n whose elements the caller
// sets, every one of them.
func (p *recycler) lineSlice(n int) []Line {
	p.mu.Lock()
	p.used = true
	for i := len(p.lines) - 1; i >= 0; i-- {
		if l := p.lines[i]; cap(l) >= n {
			last := len(p.lines) - 1
			p.lines[i] = p.lines[last]
			p.lines[last] = nil
			p.lines = p.lines[:last]
			p.mu.Unlock()
			return l[:n]
		}
	}
	p.mu.Unlock()
	return make([]Line, n)
}

// trim drops what is kept if nothing was asked for since the last trim:
// a tailer whose files are quiet holds no batch's memory. The rescan calls
// it, so a flow idle for a rescan interval gives its buffers back.
func (p *recycler) trim() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.used {
		clear(p.bufs)
		clear(p.indexes)
		clear(p.lines)
		p.bufs, p.indexes, p.lines, p.kept = p.bufs[:0], p.indexes[:0], p.lines[:0], 0
	}
	p.used = false
}

// take removes from kept a slice whose capacity is c to c+c/4, if there is
// one.
func take[T any](kept *[][]T, c int) []T {
	s := *kept
	for i := len(s) - 1; i >= 0; i-- {
		if b := s[i]; cap(b) >= c && cap(b) <= c+c/4 {
			last := len(s) - 1
			s[i] = s[last]
			s[last] = nil
			*kept = s[:last]
			return b[:0]
		}
	}
	return nil
}

// putBuffer keeps b while the buffers kept hold at most keep batches of
// the largest size: as many more of the smaller buffers most files need.
// Acknowledgements come a request at a time, a dozen batches at once:
// buffers kept by number would be mostly dropped, and allocated again.
func (p *recycler) putBuffer(b []byte) {
	if cap(b) < minRecycled || cap(b) > p.largest() || p.keep == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.kept+cap(b) > p.keep*p.size && len(p.bufs) > 0 {
		// In place of the oldest: the sizes a flow's files need change
		// rarely, the newest is the likeliest to be asked for.
		p.kept -= cap(p.bufs[0])
		p.bufs[0] = nil
		p.bufs = p.bufs[1:]
	}
	p.bufs = append(p.bufs, b[:0])
	p.kept += cap(b)
}

// largest is the largest buffer kept: a batch's, or a batch's records'
// made by transforms, which are larger than its lines (Tailer.Buffer).
func (p *recycler) largest() int { return 2 * p.size }

// putIndex keeps l in place of one of another size if the ones kept are as
// many as batch buffers could be.
func (p *recycler) putIndex(l []stagedLine) {
	if cap(l) == 0 || cap(l) > p.maxLines || p.keep == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.indexes) < p.keep*p.size/minRecycled && int64(len(p.indexes)+1)*int64(cap(l)) <= int64(p.keep*p.maxLines) {
		p.indexes = append(p.indexes, l[:0])
		return
	}
	for i, k := range p.indexes {
		if cap(k) != cap(l) {
			p.indexes[i] = l[:0]
			return
		}
	}
}

func (p *recycler) putLines(l []Line) {
	if cap(l) == 0 || cap(l) > p.maxLines || p.keep == 0 {
		return
	}
	clear(l[:cap(l)]) // the Lines point into buffers that may be collected
	p.mu.Lock()
	if len(p.lines) < p.keep {
		p.lines = append(p.lines, l[:0])
	} else if cap(p.lines[0]) < cap(l) && cap(l) <= p.maxLines {
		p.lines[0] = l[:0] // keep the larger
	}
	p.mu.Unlock()
}

// ReleaseLines gives b.Lines (the slice of Line, not the bytes the lines
// point into) back to the tailer for later batches. The caller must not
// use b.Lines after it; b's lines' bytes stay valid.
func (t *Tailer) ReleaseLines(b *Batch) {
	t.recycle.putLines(b.Lines)
	b.Lines = nil
}

// Buffer returns an empty buffer with room for at least n bytes, and at
// most a quarter more, for what the consumer makes of a batch's lines
// (transforms' records): one given back with Recycle if there is one.
// It is not in the tailer's budget: the caller accounts for its capacity.
func (t *Tailer) Buffer(n int) []byte {
	if n < minRecycled {
		// A live file's few new lines: allocated as they are, not
		// rounded up to a recycled size they would hold budget for.
		return make([]byte, 0, n)
	}
	return t.recycle.buffer(0, recycledSize(n))
}

// Recycle gives a buffer from Buffer back to the tailer, once nothing
// refers to its bytes. It may be called from any goroutine.
func (t *Tailer) Recycle(b []byte) {
	t.recycle.putBuffer(b)
}

// ReleaseBuffer gives the buffer b's lines point into back to the tailer,
// to be overwritten by later batches. Nothing may refer to the lines'
// bytes after it: every record made from them without copying must be
// done with (acknowledged). It may be called once per batch, from any
// goroutine, and after ReleaseLines.
func (t *Tailer) ReleaseBuffer(b *Batch) {
	t.recycle.putBuffer(b.buf)
	b.buf = nil
}
