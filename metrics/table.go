package metrics

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kinetail/kinetail/checkpoint"
)

// WriteTable prints s for people: the agent's health, each flow with its
// files, each destination with its rates and last error. Times are shown
// relative to s.Time.
func WriteTable(w io.Writer, s *Status) error {
	ew := &errWriter{w: w}
	health := "healthy"
	if !s.Healthy {
		health = "UNHEALTHY: " + strings.Join(s.Problems, "; ")
	}
	fmt.Fprintf(ew, "kinetail %s, up %s, %s\n", s.Version, roundDuration(s.Time.Sub(s.Started)), health)
	cp := s.Checkpoint
	saved := "not saved yet"
	if !cp.LastSaved.IsZero() {
		saved = "saved " + ago(s.Time, cp.LastSaved)
	}
	fmt.Fprintf(ew, "checkpoint %s: %s", cp.File, saved)
	if cp.LastError != "" {
		fmt.Fprintf(ew, ", last save FAILED: %s", cp.LastError)
	}
	fmt.Fprintln(ew)

	for _, f := range s.Flows {
		state := "running"
		if !f.Running {
			state = "STOPPED"
		}
		oldest := "none"
		if !f.OldestUnacked.IsZero() {
			oldest = ago(s.Time, f.OldestUnacked)
		}
		fmt.Fprintf(ew, "\nflow %s (%s): %d lines read, %d records, %d bytes behind, %d in flight, oldest unacknowledged: %s\n",
			f.Name, state, f.LinesRead, f.Records, f.BytesBehind, f.BytesInFlight, oldest)
		if lost := f.CopyTruncateLostBytes + f.LostBytes + f.ClosedUnreadBytes; lost > 0 || f.GenerationsLost > 0 {
			fmt.Fprintf(ew, "  LOST: %d bytes in copytruncate windows, %d generations found nowhere (%d bytes), %d bytes closed unread\n",
				f.CopyTruncateLostBytes, f.GenerationsLost, f.LostBytes, f.ClosedUnreadBytes)
		}
		if len(f.Files) == 0 {
			fmt.Fprintln(ew, "  no files")
			continue
		}
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  PATH\tOFFSET\tSIZE\tBEHIND\tSTATE")
		for _, file := range f.Files {
			size := "gone"
			if file.Size >= 0 {
				size = strconv.FormatInt(file.Size, 10)
			}
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%d\t%s\n", file.Path, file.Offset, size, file.BytesBehind, file.State)
		}
		tw.Flush()
	}

	if len(s.Destinations) > 0 {
		fmt.Fprintln(ew)
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "DESTINATION\tSTREAM\tRECORDS/S\tERRORS\tSENT\tQUEUED\tLAST ERROR")
		for _, d := range s.Destinations {
			stream := d.Stream
			if stream == "" {
				stream = "-"
			}
			last := "-"
			if d.LastError != "" {
				last = fmt.Sprintf("%s: %s", ago(s.Time, d.LastErrorTime), oneLine(d.LastError, 100))
			}
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f%%\t%d\t%d\t%s\n", d.Name, stream, d.RecordsPerSecond, 100*d.ErrorRate,
				d.RecordsSent, d.Queued, last)
		}
		tw.Flush()
	}
	return ew.err
}

// WriteCheckpoint prints the entries of a checkpoint file, for when no
// agent answers: where each file's reading would resume.
func WriteCheckpoint(w io.Writer, file string, entries []checkpoint.Entry, saved, now time.Time) error {
	ew := &errWriter{w: w}
	when := "unknown"
	if !saved.IsZero() {
		when = ago(now, saved) + " (" + saved.Format(time.RFC3339) + ")"
	}
	fmt.Fprintf(ew, "checkpoint %s, saved %s: %d entries\n", file, when, len(entries))
	if len(entries) == 0 {
		return ew.err
	}
	fmt.Fprintln(ew)
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FLOW\tPATH\tOFFSET\tSIZE\tBEHIND\tSTATE")
	for _, e := range entries {
		size, behind := "?", "?"
		if sz, ok := SizeOf(e.Path, e.ID); ok {
			size, behind = strconv.FormatInt(sz, 10), strconv.FormatInt(max(sz-e.Offset, 0), 10)
		}
		state := "open"
		if e.Closed {
			state = "closed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", e.Flow, e.Path, e.Offset, size, behind, state)
	}
	tw.Flush()
	return ew.err
}

func ago(now, t time.Time) string {
	return roundDuration(now.Sub(t)) + " ago"
}

func roundDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// oneLine keeps the first line of s, at most n bytes of it.
func oneLine(s string, n int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// errWriter keeps the first write error, so printing code stays plain.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
