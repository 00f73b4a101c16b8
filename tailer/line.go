package tailer

import "fmt"

// FileID identifies one file across renames: the same device and inode, and
// the same leading bytes. Inode numbers are reused after deletion, so the
// fingerprint (a hash of the first FingerprintLen bytes) tells a new file on a
// recycled inode from the old one.
type FileID struct {
	Dev            uint64 `json:"dev"`
	Inode          uint64 `json:"inode"`
	Fingerprint    uint64 `json:"fingerprint"`
	FingerprintLen int    `json:"fingerprint_len"`
}

func (id FileID) String() string {
	return fmt.Sprintf("%d:%d:%016x/%d", id.Dev, id.Inode, id.Fingerprint, id.FingerprintLen)
}

// Source is one opened file. It never changes once created, so consumers may
// read it from any goroutine: Path and ID are as they were at open. Later
// renames and widened fingerprints are reported through Hooks.OnRename.
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

// Batch is a run of consecutive lines from one file: Lines[0].Start == Start
// and the last line ends at End. Batches of one Source arrive in file order.
type Batch struct {
	Source *Source
	Start  int64
	End    int64
	Lines  []Line
	// Size is the number of bytes of memory the batch holds (the line bytes;
	// less than End-Start when lines were truncated). The tailer acquired
	// that much of its memory budget before sending the batch, and the
	// consumer must release it when the batch is acknowledged.
	Size int64
}

// Position is a resume point handed to the tailer at start: a file known by
// identity and the offset up to which it was acknowledged.
type Position struct {
	Path   string `json:"path"`
	ID     FileID `json:"id"`
	Offset int64  `json:"offset"`
}
