package tailer

import (
	"regexp"
	"time"
)

// MultilineConfig says how consecutive lines are grouped into one record.
// Exactly one of Start and Continue should be set; if both are, Start wins,
// and with neither every line is a record of its own.
type MultilineConfig struct {
	// Start matches the first line of a record (the Kinesis Agent's
	// multiLineStartPattern). Matching is unanchored, as regexp.Match is:
	// a pattern that must match at the line's beginning starts with '^'.
	Start *regexp.Regexp
	// Continue matches the lines that belong to the record before them,
	// such as the indented frames of a stack trace.
	Continue *regexp.Regexp
	// MaxLines and MaxBytes bound a record; MaxBytes counts the joined
	// bytes, the '\n' between lines included. Zero or less means no bound.
	MaxLines, MaxBytes int
	// Timeout sends a pending record that no line has completed for this
	// long; the reader enforces it.
	Timeout time.Duration
}

// grouper joins lines into multi-line records. It does no I/O and knows
// nothing of time: the reader calls Flush when the pending record has
// waited long enough, or when the file is drained after rotation.
//
// The rules:
//
//   - With Start, a matching line begins a new record and finishes the
//     previous one; any other line is appended to the pending record. A line
//     that does not match while no record is pending (the first lines read,
//     or lines after a Flush) begins a record too, and the lines after it
//     that do not match join it. The Kinesis Agent does the same: it never
//     tests the first line at its read position against the pattern.
//   - With Continue, a matching line is appended to the pending record and
//     any other line begins a new one. A matching line with no record
//     pending begins one.
//   - A line that would take the pending record past MaxLines or MaxBytes
//     finishes it and begins the next one. A record that cannot grow any
//     more (MaxLines lines, or MaxBytes bytes) is returned at once rather
//     than waiting for the next line, so it is not held up by a timeout. A
//     single line longer than MaxBytes is cut to MaxBytes.
//
// A record is a Line: Bytes are its lines joined with '\n', Start is the
// first line's Start and End the last line's End, so a checkpoint taken at
// a record's End never lies inside a record. Truncated is set when any of
// its lines was truncated or the grouper cut it.
//
// Memory: the pending record is copied into one of two buffers the grouper
// owns and reuses, so the lines given to Add need not outlive the call.
// Two buffers let a finished record and the first line of the next one
// exist at the same time without copying. The Bytes of the records that Add
// and Flush return alias these buffers: they are valid only until the next
// call of Add or Flush, and the caller must copy them before that (the
// reader copies them into its batch at once). Buffers grow to the longest
// record seen, at most MaxBytes; in steady state Add allocates nothing.
//
// A grouper is used by one goroutine.
type grouper struct {
	start, cont        *regexp.Regexp
	maxLines, maxBytes int

	bufs [2][]byte
	cur  int // index of the buffer that holds the pending record

	// The pending record; lines == 0 means there is none.
	lines     int
	first     int64 // Start of the first line
	end       int64 // End of the last line
	truncated bool

	// joined counts the records finished with more than one line since
	// the last takeJoined.
	joined int64
}

func newGrouper(c MultilineConfig) *grouper {
	return &grouper{start: c.Start, cont: c.Continue, maxLines: c.MaxLines, maxBytes: c.MaxBytes}
}

// Add gives the grouper the next complete line of the file, whose Bytes
// exclude the newline, and appends to out the records that it finished:
// zero, one or two (the pending record, and the record begun by l if that
// is already full). Records are appended in file order.
func (g *grouper) Add(out []Line, l Line) []Line {
	if g.lines > 0 && (g.begins(l.Bytes) || !g.fits(len(l.Bytes))) {
		out = g.finish(out)
	}
	buf := g.bufs[g.cur]
	if g.lines == 0 {
		g.first = l.Start
		g.truncated = false
	} else {
		buf = append(buf, '\n')
	}
	b := l.Bytes
	if g.maxBytes > 0 && len(buf)+len(b) > g.maxBytes {
		// Only the first line of a record can get here: fits sent any
		// other line to a new record.
		b = b[:g.maxBytes-len(buf)]
		g.truncated = true
	}
	g.bufs[g.cur] = append(buf, b...)
	g.lines++
	g.end = l.End
	g.truncated = g.truncated || l.Truncated
	if g.full() {
		out = g.finish(out)
	}
	return out
}

// Flush appends the pending record, if any, to out. The reader calls it
// when no line has completed the record for a while and when a rotated
// file has been drained. It is not called at shutdown: the unfinished
// record is then read again on restart, as its lines lie after the last
// checkpoint.
func (g *grouper) Flush(out []Line) []Line {
	if g.lines == 0 {
		return out
	}
	return g.finish(out)
}

// Pending reports whether lines are waiting in an unfinished record.
func (g *grouper) Pending() bool {
	return g.lines > 0
}

// takeJoined returns how many records of several lines were finished
// since its last call.
func (g *grouper) takeJoined() int64 {
	n := g.joined
	g.joined = 0
	return n
}

// PendingStart is the Start of the unfinished record; valid when Pending.
func (g *grouper) PendingStart() int64 { return g.first }

// begins reports whether a line begins a new record (given that one is
// pending).
func (g *grouper) begins(b []byte) bool {
	switch {
	case g.start != nil:
		return g.start.Match(b)
	case g.cont != nil:
		return !g.cont.Match(b)
	}
	return true
}

// fits reports whether a line of n bytes can join the pending record.
func (g *grouper) fits(n int) bool {
	if g.maxLines > 0 && g.lines >= g.maxLines {
		return false
	}
	return g.maxBytes <= 0 || len(g.bufs[g.cur])+1+n <= g.maxBytes
}

// full reports whether the pending record cannot take another line: even
// an empty line adds a '\n'.
func (g *grouper) full() bool {
	return (g.maxLines > 0 && g.lines >= g.maxLines) ||
		(g.maxBytes > 0 && len(g.bufs[g.cur]) >= g.maxBytes)
}

// finish appends the pending record to out and makes the other buffer the
// pending one. Resetting a buffer only shortens the slice: the bytes of a
// returned record are overwritten when the next record is written into its
// buffer, which within one Add never happens (Add finishes at most two
// records, one in each buffer).
func (g *grouper) finish(out []Line) []Line {
	buf := g.bufs[g.cur]
	out = append(out, Line{Start: g.first, End: g.end, Bytes: buf, Truncated: g.truncated})
	if g.lines > 1 {
		g.joined++
	}
	g.cur ^= 1
	g.bufs[g.cur] = g.bufs[g.cur][:0]
	g.lines = 0
	return out
}
