package tailer

import (
	"log/slog"

	"github.com/kinetail/kinetail/internal/counterlog"
)

// LogValue makes Stats a group of its non-zero counters in logs
// (lines_read=… in text, an object in JSON) rather than a struct dump. The
// names are those of /status; lines_read is always there, so that a
// group is never empty.
func (s Stats) LogValue() slog.Value {
	g := counterlog.New("lines_read", s.LinesRead, 20)
	add := g.Add
	add("bytes_read", s.BytesRead)
	add("batches", s.Batches)
	add("lines_truncated", s.Truncated)
	add("partial_lines", s.PartialLines)
	add("multiline_records", s.MultilineRecords)
	add("rotations", s.Rotations)
	add("truncations", s.Truncations)
	add("open_errors", s.OpenErrors)
	add("scan_errors", s.ScanErrors)
	add("read_errors", s.ReadErrors)
	add("panics", s.Panics)
	add("copytruncate_lost_bytes", s.CopyTruncateLost)
	add("closed_unread_bytes", s.ClosedUnread)
	add("generations_recovered", s.Recovered)
	add("generations_missed", s.Missed)
	add("generations_lost", s.Lost)
	add("lost_bytes", s.LostBytes)
	add("scans", s.Scans)
	add("files_open", s.Files)
	add("files_idle", s.Idle)
	return g.Value()
}
