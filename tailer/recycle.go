package tailer

import "sync"

// recycler keeps a few batch buffers and Lines slices that the consumer has
// finished with (Tailer.ReleaseLines, Tailer.ReleaseBuffer) for the next
// batches. In a backlog every batch needs a new buffer of BatchBytes and a
// Lines slice: allocated each time, the memory must be cleared and
// collected, and with a thousand busy files most of the agent's CPU went to
// that. The few kept (Config.Recycle) are outside the memory budget: the
// caller sets the budget that much lower (RecycleBytes).
type recycler struct {
	size     int // the capacity of the buffers kept: BatchBytes
	maxLines int // the largest Lines slice kept: BatchLines
	keep     int // how many buffers, and how many Lines slices

	mu    sync.Mutex
	bufs  [][]byte
	lines [][]Line
}

// RecycleBytes is the most memory a tailer keeps for reuse with
// Config.Recycle n and the batch bounds of cfg (defaults for zero).
func RecycleBytes(n, batchBytes, batchLines int) int64 {
	if batchBytes <= 0 {
		batchBytes = DefaultBatchBytes
	}
	if batchLines <= 0 {
		batchLines = DefaultBatchLines
	}
	return int64(n) * (int64(batchBytes) + int64(batchLines)*lineBytes)
}

// buffer returns a buffer of length n and capacity c. The first n bytes are
// to be overwritten by the caller: a recycled buffer is not cleared.
func (p *recycler) buffer(n, c int) []byte {
	if c == p.size {
		p.mu.Lock()
		if k := len(p.bufs); k > 0 {
			b := p.bufs[k-1]
			p.bufs[k-1] = nil
			p.bufs = p.bufs[:k-1]
			p.mu.Unlock()
			return b[:n]
		}
		p.mu.Unlock()
	}
	return make([]byte, n, c)
}

// lineSlice returns a Lines slice of length n whose elements the caller
// sets, every one of them.
func (p *recycler) lineSlice(n int) []Line {
	p.mu.Lock()
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

func (p *recycler) putBuffer(b []byte) {
	if cap(b) != p.size {
		return
	}
	p.mu.Lock()
	if len(p.bufs) < p.keep {
		p.bufs = append(p.bufs, b[:0])
	}
	p.mu.Unlock()
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

// ReleaseBuffer gives the buffer b's lines point into back to the tailer,
// to be overwritten by later batches. Nothing may refer to the lines'
// bytes after it: every record made from them without copying must be
// done with (acknowledged). It may be called once per batch, from any
// goroutine, and after ReleaseLines.
func (t *Tailer) ReleaseBuffer(b *Batch) {
	t.recycle.putBuffer(b.buf)
	b.buf = nil
}
