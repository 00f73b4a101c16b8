package tailer

import (
	"errors"
	"fmt"
)

// errTruncated ends a reader whose file no longer holds its generation.
var errTruncated = errors.New("tailer: file truncated")

// checkTruncation ends the reader with errTruncated when its file no longer
// holds its generation: it is shorter than what was read (copytruncate, or
// the application truncated it), or its first bytes or the bytes just before
// the read offset changed (truncated and written again past it while we were
// not looking; the read that follows tells, see readAvailable). The Tailer
// then looks for the unread rest in a rotated copy, reads any generation
// written in between, and reads the file again as a new generation (see
// plan.go). What was read but not handed on (a partial line, a multi-line
// record still open) is read again from the copy, so the reader hands on
// nothing more here.
func (r *reader) checkTruncation() error {
	if _, ok := r.f.(*unpacked); ok {
		// A compressed copy is written once and never truncated; its
		// size is only known as far as it was decompressed.
		r.startMarker, r.suspect = 0, false
		return nil
	}
	size, _, err := sizeOf(r.f)
	if err != nil {
		return &readError{fmt.Errorf("stat %s: %w", r.name(), err)}
	}
	return r.truncatedAt(size)
}

// truncatedAt is checkTruncation for a plain file whose size was just
// taken.
func (r *reader) truncatedAt(size int64) error {
	if _, ok := r.f.(*unpacked); ok {
		return r.checkTruncation() // never truncated; see there
	}
	truncated := size < r.off
	if !truncated && r.suspect {
		// The file changed under what was read (see readAvailable).
		truncated = !r.unchanged()
	}
	r.suspect = false
	if !truncated && r.startMarker != 0 && r.off > 0 {
		m, err := readMarker(r.f, r.off)
		truncated = err != nil || m != r.startMarker
	}
	r.startMarker = 0
	if !truncated && size < int64(r.id.FingerprintLen) {
		// Shorter than the bytes that name it: cut, also when nothing
		// was read yet (offset 0).
		truncated = true
	}
	if !truncated {
		// Truncated and written past what was read: the read that
		// follows tells (see readAvailable).
		r.lastSize = max(r.lastSize, size)
		return nil
	}
	r.stats.truncations.Add(1)
	r.log.Info("file truncated; looking for its rest in a rotated copy, then reading it again from the start",
		"path", r.name(), "size", size, "offset", r.emitted)
	return errTruncated
}
