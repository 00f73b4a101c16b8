package tailer

import (
	"fmt"
	"time"
)

// FileID identifies one file across renames: the same device and inode, and
// the same leading bytes. Inode numbers are reused after deletion, so the
// fingerprint (a hash of the first FingerprintLen bytes) tells a new file on a
// recycled inode from the old one.
//
// A FileID also names a generation: the bytes written to a followed path
// between two rotations. The generation keeps the identity of the file it
// was first read from when its bytes move to a copy (copytruncate) or a
// compressed copy, so record ids stay the same wherever a line is read.
type FileID struct {
	Dev            uint64 `json:"dev"`
	Inode          uint64 `json:"inode"`
	Fingerprint    uint64 `json:"fingerprint"`
	FingerprintLen int    `json:"fingerprint_len"`
}

func (id FileID) String() string {
	return fmt.Sprintf("%d:%d:%016x/%d", id.Dev, id.Inode, id.Fingerprint, id.FingerprintLen)
}

// Source is one generation of a followed file. It never changes once
// created, so consumers may read it from any goroutine. Path is the followed
// path (matched by the flow's globs) the generation was written at, also
// when its bytes are read from a rotated name, a copy or a compressed copy;
// ID is its identity when it was first opened. Where it is read from now
// and its widened fingerprint are reported through Hooks.OnRename and
// Hooks.OnWiden.
type Source struct {
	Flow string
	Path string
	ID   FileID
}

// Line is one complete line of a file. Bytes excludes the line terminator and
// is only valid until the batch that holds it is released by its consumer
// (buffers are owned by the batch). End is the offset just after the newline,
// so resuming at End never repeats or skips a line.
type Line struct {
	Start, End int64
	Bytes      []byte
	// Truncated is set when the line was longer than the flow's maximum and
	// only its first bytes are in Bytes.
	Truncated bool
}

// Batch is a run of consecutive lines from one file covering [Start, End).
// Batches of one Source arrive in file order and are contiguous. Usually
// Lines[0].Start == Start and the last line ends at End; header lines
// skipped by Config.SkipHeaderLines are covered by the range but have no
// Line, so a batch may start before its first line or hold no line at all
// (it still must be acknowledged, so the checkpoint moves past them).
type Batch struct {
	Source *Source
	Start  int64
	End    int64
	Lines  []Line
	// Size is the memory budget the batch holds: the buffer its lines
	// point into (Config.Budget). The tailer took it before reading the
	// bytes; the consumer must release it when the batch is acknowledged.
	Size int64
	// Marker is a hash of the file's bytes [max(End-64, 0), End). Saved
	// with the offset, it lets a resume tell the file that was read from
	// one rewritten in place (same inode, same first bytes).
	Marker uint64
	// Header is the file's first line without its newline (at most
	// MaxLineBytes), nil until it is known or without Config.Headers. It
	// is the same for every batch of a Source and never modified;
	// consumers may keep it.
	Header []byte
	// Prefix is the file's first min(End, FingerprintSize) bytes, read from
	// the reader's own descriptor: what a record id needs to stay the same
	// for a line whatever the file's size was when it was opened. Later
	// batches of a Source may have a longer Prefix; none is ever modified.
	Prefix []byte

	buf []byte // what Lines point into (Tailer.ReleaseBuffer)
}

// Position is a resume point handed to the tailer at start: a generation
// known by identity and the offset up to which it was acknowledged.
type Position struct {
	// Path is where the generation's bytes were last seen; Origin the
	// followed path it was written at (empty: Path).
	Path   string
	Origin string
	ID     FileID
	Offset int64
	// Marker is the Batch.Marker of the batch that ended at Offset; 0
	// when unknown (then it is not checked).
	Marker uint64
	// Read is the end of what was handed on (>= Offset), 0 if unknown:
	// at least Read-Offset bytes are lost if the generation is found
	// nowhere.
	Read int64
	// MTime is the file's modification time when the generation was first
	// seen at Origin. Files of Origin's family modified after the newest
	// generation's MTime were written after it: generations the agent
	// did not see, to be read.
	MTime time.Time
	// Closed is set when the generation was read to its end and let go:
	// not finding it later is no loss.
	Closed bool
}

// Opened describes a generation when a reader starts on it (Hooks.OnOpen).
type Opened struct {
	Path   string    // where its bytes are read from
	ID     FileID    // its identity, widest known
	Offset int64     // where reading starts
	MTime  time.Time // see Position.MTime
}
