// The Stdout sink: records written as lines to a writer.

package sink

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
)

// Stdout writes each record's data and a newline to a writer, normally the
// process's standard output: for trying a configuration out, or for a
// supervisor that collects the output.
type Stdout struct {
	w     io.Writer
	buf   []byte
	stats stdoutCounters
}

// StdoutStats is a snapshot of a Stdout sink's counters.
type StdoutStats struct {
	Records     int64 // records written and acknowledged
	Bytes       int64 // bytes written for them, newlines included
	WriteErrors int64
}

type stdoutCounters struct {
	records, bytes, writeErrors atomic.Int64
}

// NewStdout returns a sink writing to w.
func NewStdout(w io.Writer) *Stdout { return &Stdout{w: w} }

// Stats returns the current counters; it is safe to call at any time.
func (s *Stdout) Stats() StdoutStats {
	return StdoutStats{
		Records:     s.stats.records.Load(),
		Bytes:       s.stats.bytes.Load(),
		WriteErrors: s.stats.writeErrors.Load(),
	}
}

// Run writes each batch with one Write and then acknowledges its records.
// It returns nil once in is closed, ctx.Err() once ctx is cancelled, and
// an error when a write fails: a closed pipe or terminal does not come
// back, and the batch's records stay unacknowledged, so they are sent
// again after a restart.
func (s *Stdout) Run(ctx context.Context, in <-chan Batch) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case b, ok := <-in:
			if !ok {
				return nil
			}
			if len(b.Records) == 0 {
				continue
			}
			buf := s.buf[:0]
			for i := range b.Records {
				buf = append(buf, b.Records[i].Data...)
				buf = append(buf, '\n')
			}
			s.buf = buf
			if _, err := s.w.Write(buf); err != nil {
				s.stats.writeErrors.Add(1)
				return fmt.Errorf("stdout sink: write: %w", err)
			}
			s.stats.records.Add(int64(len(b.Records)))
			s.stats.bytes.Add(int64(len(buf)))
			for i := range b.Records {
				if a := b.Records[i].Ack; a != nil {
					a.Done(1)
				}
			}
			b.done()
		}
	}
}
