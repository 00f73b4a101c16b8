// The dead-letter file: appending given-up records as JSON lines, and
// reading them back for replay.

package sink

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/kinetail/kinetail/transform"
)

// DeadRecord is a record a destination gave up on: it exceeded the retry
// limits or the service refused it as invalid. It carries what is needed to
// send it again later (kinetail replay).
type DeadRecord struct {
	Time            time.Time // when it was given up; zero means now
	Destination     string    // the configured destination's name
	Stream          string    // the stream it was sent to (a templated destination has many)
	PartitionKey    string
	ExplicitHashKey string
	Data            []byte
	Error           string // the last error
	Attempts        int
}

// ErrIncompleteLastLine is wrapped by ReadDeadLetters when the input ends
// in a line without a newline: a write cut short by a crash or a full disk.
// Such a record was never acknowledged, so it is sent again from its log
// file and may be skipped.
var ErrIncompleteLastLine = errors.New("incomplete last line")

// maxDeadLine bounds one line of a dead-letter file, so a corrupt file
// without newlines cannot use up memory. The largest record (10 MiB of data
// in base64) and its fields fit well.
const maxDeadLine = 32 << 20

// DeadLetter appends given-up records to a file as JSON lines, one object
// per record:
//
//	{"time":"2024-05-01T10:00:00.123Z","destination":"events","stream":"s","partition_key":"k",
//	 "explicit_hash_key":"1","data":"<base64>","error":"last error","attempts":3}
//
// partition_key and explicit_hash_key are left out when empty.
//
// A DeadLetter is safe for concurrent use. Open one per path in a process:
// each Write is one write(2) on an O_APPEND descriptor, so lines are never
// interleaved, and a failed write is cut off again so the file never keeps
// half a line. When the path is renamed away (by kinetail replay) or
// removed, the next Write starts a new file at the path.
type DeadLetter struct {
	path string

	mu  sync.Mutex
	f   *os.File // nil once closed
	buf []byte
}

// OpenDeadLetter opens path for appending, creating it with mode 0600. Its
// directory must exist. A torn last line left by a crash is cut off: its
// records were not acknowledged, so they are sent again.
func OpenDeadLetter(path string) (*DeadLetter, error) {
	f, _, err := openAppend(path, isDeadLine)
	if err != nil {
		return nil, fmt.Errorf("dead letter file: %w", err)
	}
	return &DeadLetter{path: path, f: f}, nil
}

// Path is the file's path.
func (d *DeadLetter) Path() string { return d.path }

// Write appends recs in one write and fsyncs the file. Only after it
// returns nil may the caller acknowledge the records; on an error nothing
// of this call is left in the file.
func (d *DeadLetter) Write(recs []DeadRecord) error {
	if len(recs) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return fmt.Errorf("write dead letters to %s: %w", d.path, os.ErrClosed)
	}
	if err := d.follow(); err != nil {
		return fmt.Errorf("write dead letters to %s: %w", d.path, err)
	}
	now := time.Now()
	buf := d.buf[:0]
	for i := range recs {
		buf = appendDeadRecord(buf, &recs[i], now)
	}
	// A rare, possibly large buffer is not worth keeping.
	if cap(buf) <= 1<<20 {
		d.buf = buf
	}
	st, err := d.f.Stat()
	if err != nil {
		return fmt.Errorf("write dead letters to %s: %w", d.path, err)
	}
	if _, err := d.f.Write(buf); err != nil {
		d.cutBack(st.Size())
		return fmt.Errorf("write dead letters to %s: %w", d.path, err)
	}
	if err := d.f.Sync(); err != nil {
		// What reached the disk is unknown: take it all back, the caller
		// writes the records again.
		d.cutBack(st.Size())
		return fmt.Errorf("fsync %s: %w", d.path, err)
	}
	return nil
}

// cutBack truncates the file to size after a failed write. If even that
// fails, the file is reopened by the next Write, which cuts the torn line.
func (d *DeadLetter) cutBack(size int64) {
	if d.f.Truncate(size) == nil {
		return
	}
	d.f.Close()
	f, _, err := openAppend(d.path, isDeadLine)
	if err != nil {
		// Keep a closed descriptor: every Write fails until the next one
		// manages to reopen the file in follow.
		return
	}
	d.f = f
}

// follow reopens the path when it no longer names the open file.
func (d *DeadLetter) follow() error {
	cur, err := d.f.Stat()
	if err == nil {
		if st, err := os.Lstat(d.path); err == nil && os.SameFile(st, cur) {
			return nil
		}
	}
	f, _, err := openAppend(d.path, isDeadLine)
	if err != nil {
		return err
	}
	d.f.Close()
	d.f = f
	return nil
}

// Close closes the file. Write fails afterwards.
func (d *DeadLetter) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", d.path, err)
	}
	return nil
}

// appendDeadRecord appends r as one JSON line.
func appendDeadRecord(dst []byte, r *DeadRecord, now time.Time) []byte {
	t := r.Time
	if t.IsZero() {
		t = now
	}
	dst = append(dst, `{"time":"`...)
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","destination":`...)
	dst = transform.AppendJSONString(dst, []byte(r.Destination))
	dst = append(dst, `,"stream":`...)
	dst = transform.AppendJSONString(dst, []byte(r.Stream))
	if r.PartitionKey != "" {
		dst = append(dst, `,"partition_key":`...)
		dst = transform.AppendJSONString(dst, []byte(r.PartitionKey))
	}
	if r.ExplicitHashKey != "" {
		dst = append(dst, `,"explicit_hash_key":`...)
		dst = transform.AppendJSONString(dst, []byte(r.ExplicitHashKey))
	}
	dst = append(dst, `,"data":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, r.Data)
	dst = append(dst, `","error":`...)
	dst = transform.AppendJSONString(dst, []byte(r.Error))
	dst = append(dst, `,"attempts":`...)
	dst = strconv.AppendInt(dst, int64(r.Attempts), 10)
	return append(dst, "}\n"...)
}

// deadJSON is the decoded form of a line; Data is a pointer to tell a
// missing field from an empty one.
type deadJSON struct {
	Time            time.Time `json:"time"`
	Destination     string    `json:"destination"`
	Stream          string    `json:"stream"`
	PartitionKey    string    `json:"partition_key"`
	ExplicitHashKey string    `json:"explicit_hash_key"`
	Data            *[]byte   `json:"data"`
	Error           string    `json:"error"`
	Attempts        int       `json:"attempts"`
}

// ReadDeadLetters calls fn for each record of a dead-letter file, in order,
// with its 1-based line number; each record's Data is its own. Blank lines
// are skipped; unknown fields are ignored. It stops at the first line it
// cannot decode, with an error naming the line, or at the first error of
// fn, which it returns as is. A last line without a newline is reported,
// after every complete line, as an error wrapping ErrIncompleteLastLine.
func ReadDeadLetters(r io.Reader, fn func(line int, rec DeadRecord) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for n := 1; ; n++ {
		line = line[:0]
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			if len(line)+len(chunk) > maxDeadLine {
				return fmt.Errorf("line %d: longer than %d bytes", n, maxDeadLine)
			}
			line = append(line, chunk...)
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		if errors.Is(err, io.EOF) {
			if len(bytes.TrimSpace(line)) > 0 {
				return fmt.Errorf("line %d: %w (%d bytes without a newline: a write was cut short)", n, ErrIncompleteLastLine, len(line))
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: read: %w", n, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec, err := decodeDeadLine(line)
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if err := fn(n, rec); err != nil {
			return err
		}
	}
}

// decodeDeadLine decodes one line of a dead-letter file.
func decodeDeadLine(line []byte) (DeadRecord, error) {
	var j deadJSON
	if err := json.Unmarshal(line, &j); err != nil {
		return DeadRecord{}, err
	}
	if j.Destination == "" {
		return DeadRecord{}, errors.New("no destination")
	}
	if j.Data == nil {
		return DeadRecord{}, errors.New("no data")
	}
	return DeadRecord{
		Time:            j.Time,
		Destination:     j.Destination,
		Stream:          j.Stream,
		PartitionKey:    j.PartitionKey,
		ExplicitHashKey: j.ExplicitHashKey,
		Data:            *j.Data,
		Error:           j.Error,
		Attempts:        j.Attempts,
	}, nil
}

// isDeadLine reports whether a file's first line is a dead record: only
// then is the file kinetail's own, and a torn last line cut off.
func isDeadLine(first []byte) bool {
	_, err := decodeDeadLine(first)
	return err == nil
}
