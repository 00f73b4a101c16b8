// The sinks' counters as log values: groups of the non-zero ones.

package sink

import (
	"log/slog"

	"github.com/kinetail/kinetail/internal/counterlog"
)

// The sinks' stats log as groups of their non-zero counters; the records
// delivered are always there.

// LogValue implements slog.LogValuer.
func (s StreamStats) LogValue() slog.Value {
	a := counterlog.New("records_stored", s.RecordsStored, 13)
	a.Add("requests", s.Requests)
	a.Add("records_sent", s.RecordsSent)
	a.Add("service_records", s.ServiceRecords)
	a.Add("bytes_stored", s.BytesStored)
	a.Add("failed_entries", s.FailedEntries)
	a.Add("throttled", s.Throttled)
	a.Add("request_errors", s.RequestErrors)
	a.Add("retries", s.Retries)
	a.Add("payload_units", s.PayloadUnits)
	a.Add("rejected", s.Rejected)
	a.Add("dropped", s.Dropped)
	a.Add("dead_lettered", s.DeadLettered)
	return a.Value()
}

// LogValue implements slog.LogValuer.
func (s FileStats) LogValue() slog.Value {
	a := counterlog.New("records", s.Records, 4)
	a.Add("bytes", s.Bytes)
	a.Add("rotations", s.Rotations)
	a.Add("write_errors", s.WriteErrors)
	return a.Value()
}

// LogValue implements slog.LogValuer.
func (s StdoutStats) LogValue() slog.Value {
	a := counterlog.New("records", s.Records, 3)
	a.Add("bytes", s.Bytes)
	a.Add("write_errors", s.WriteErrors)
	return a.Value()
}
