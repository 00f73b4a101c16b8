package tailer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// This file owns the bytes a reader keeps of its file besides the lines: the
// last bytes read, for the marker of any recent batch end; the file's first
// bytes (Batch.Prefix, and the fingerprint widened as the file grows); and
// its first line (Batch.Header).

// slide moves the tail of the last read into hist before rbuf is reused.
func (r *reader) slide() {
	b := r.rbuf[:r.bufLen]
	switch {
	case len(b) >= markerLen:
		copy(r.hist[:], b[len(b)-markerLen:])
		r.histLen = markerLen
	case len(b) > 0:
		keep := min(r.histLen, markerLen-len(b))
		copy(r.hist[:keep], r.hist[r.histLen-keep:r.histLen])
		copy(r.hist[keep:], b)
		r.histLen = keep + len(b)
	}
	r.bufOff += int64(r.bufLen)
	r.bufLen = 0
}

// markerAt returns the marker of offset end (see Batch.Marker) from the
// bytes held in hist and rbuf, reading the file only when they do not
// cover it. It returns 0 when the bytes cannot be had.
func (r *reader) markerAt(end int64) uint64 {
	lo := max(end-markerLen, 0)
	histStart := r.bufOff - int64(r.histLen)
	if lo >= histStart && end <= r.bufOff+int64(r.bufLen) {
		h := uint64(fnvOffset)
		if lo < r.bufOff {
			i := r.histLen - int(r.bufOff-lo)
			j := r.histLen - int(r.bufOff-min(end, r.bufOff))
			h = fnvMore(h, r.hist[i:j])
		}
		if end > r.bufOff {
			h = fnvMore(h, r.rbuf[max(lo, r.bufOff)-r.bufOff:end-r.bufOff])
		}
		return h
	}
	m, err := readMarker(r.f, end)
	if err != nil {
		return 0
	}
	return m
}

// fillPrefix makes r.prefix hold the file's first min(end,
// FingerprintSize) bytes. It never writes where an earlier batch's prefix
// points (a longer prefix is a new array), so those stay as they were. A
// read that comes up short (the file shrank) leaves the prefix shorter;
// checkTruncation starts a new Source then. A parked reader drops its
// prefix (drop): it is read again from the file, whose first bytes are
// the generation's as long as it is the same generation.
func (r *reader) fillPrefix(end int64) {
	want := min(end, FingerprintSize)
	have := int64(len(r.prefix))
	if have >= want {
		return
	}
	p := make([]byte, want)
	copy(p, r.prefix)
	n, _ := r.f.ReadAt(p[have:], have)
	r.prefix = p[:have+int64(n)]
}

// readHead reads the file's first line (the header) and counts the header
// lines before the resume offset, for a reader that starts past them. It
// reads at most up to the resume offset, in small steps, keeping at most
// maxLine bytes.
func (r *reader) readHead() error {
	// 4 KiB at a time, from the read buffers' pool: on an array of its
	// own, a restart of ten thousand files made 40 MB of garbage here.
	var buf []byte
	if r.o.bufs != nil {
		if b, ok := r.o.bufs.Get().(*[]byte); ok && len(*b) == r.o.readBuf {
			defer r.o.bufs.Put(b)
			buf = (*b)[:min(len(*b), 4096)]
		}
	}
	if buf == nil {
		buf = make([]byte, 4096)
	}
	var head []byte
	found := false
	seen := 0
	for pos := int64(0); pos < r.off && (!found || seen < r.o.skipHeader); {
		n, err := r.f.ReadAt(buf[:min(int64(len(buf)), r.off-pos)], pos)
		p := buf[:n]
		for len(p) > 0 && (!found || seen < r.o.skipHeader) {
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				i = len(p)
			} else {
				seen++
			}
			if !found {
				head = append(head, p[:min(i, r.o.maxLine-len(head))]...)
				found = i < len(p)
			}
			p = p[min(i+1, len(p)):]
		}
		pos += int64(n)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break // shrank below the offset: checkTruncation restarts at 0
			}
			return &readError{fmt.Errorf("read header of %s: %w", r.name(), err)}
		}
	}
	// Without a newline before the offset, the first line was sent as a
	// partial line, and what precedes the offset is all of it.
	if r.o.headers {
		r.header = append(make([]byte, 0, len(head)), head...)
		r.headerKnown = true
	}
	r.skipLeft = max(r.o.skipHeader-seen, 0)
	if !found && len(head) > 0 {
		r.skipLeft = max(r.skipLeft-1, 0)
	}
	if r.histLen == 0 && r.bufLen == 0 {
		// Prime the marker history, so the first batch needs no read.
		lo := max(r.off-markerLen, 0)
		n, _ := r.f.ReadAt(r.hist[:r.off-lo], lo)
		if int64(n) == r.off-lo {
			r.histLen = n
		}
	}
	return nil
}

// widen lengthens the fingerprint to the first min(end, FingerprintSize)
// bytes once a batch reaches past it, so that the checkpoint names the
// generation by every byte of its first KiB that was handed on. A
// fingerprint left at the few bytes the file held when it was opened
// matches a file re-created on the same inode that starts with the same
// bytes: after a restart the agent would take it for the generation, and
// the lines handed on but not yet delivered would be lost without a
// warning. The wider identity is made durable before the batch is handed
// on (r.sync), as a new generation's is; this costs a save only while the
// generation is shorter than FingerprintSize. The generation keeps its
// device and inode, also when read from a copy. Only this goroutine
// writes r.id, and only before sending a batch.
func (r *reader) widen(end int64) {
	fl := r.id.FingerprintLen
	if int64(fl) >= min(end, FingerprintSize) {
		return
	}
	r.fillPrefix(end)
	if len(r.prefix) <= fl || fnv1a(r.prefix[:fl]) != r.id.Fingerprint {
		return // shrank or rewritten: checkTruncation sees to it
	}
	r.id.Fingerprint, r.id.FingerprintLen = fnv1a(r.prefix), len(r.prefix)
	if r.o.hooks.Sync != nil {
		r.sync = true
	}
	if r.o.hooks.OnWiden != nil {
		r.o.hooks.OnWiden(r.src, r.id)
	}
}
