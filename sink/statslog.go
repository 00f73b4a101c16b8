package sink

import "log/slog"

// The sinks' stats log as groups of their non-zero counters
// (records_stored=… in text, an object in JSON), never as struct dumps.
// The records delivered are always there, so that a group is never empty.

// counterAttrs collects non-zero counters as attributes.
type counterAttrs []slog.Attr

func (a *counterAttrs) add(key string, v int64) {
	if v != 0 {
		*a = append(*a, slog.Int64(key, v))
	}
}

// LogValue implements slog.LogValuer.
func (s StreamStats) LogValue() slog.Value {
	a := make(counterAttrs, 0, 13)
	a = append(a, slog.Int64("records_stored", s.RecordsStored))
	a.add("requests", s.Requests)
	a.add("records_sent", s.RecordsSent)
	a.add("service_records", s.ServiceRecords)
	a.add("bytes_stored", s.BytesStored)
	a.add("failed_entries", s.FailedEntries)
	a.add("throttled", s.Throttled)
	a.add("request_errors", s.RequestErrors)
	a.add("retries", s.Retries)
	a.add("payload_units", s.PayloadUnits)
	a.add("rejected", s.Rejected)
	a.add("dropped", s.Dropped)
	a.add("dead_lettered", s.DeadLettered)
	return slog.GroupValue(a...)
}

// LogValue implements slog.LogValuer.
func (s FileStats) LogValue() slog.Value {
	a := make(counterAttrs, 0, 4)
	a = append(a, slog.Int64("records", s.Records))
	a.add("bytes", s.Bytes)
	a.add("rotations", s.Rotations)
	a.add("write_errors", s.WriteErrors)
	return slog.GroupValue(a...)
}

// LogValue implements slog.LogValuer.
func (s StdoutStats) LogValue() slog.Value {
	a := make(counterAttrs, 0, 3)
	a = append(a, slog.Int64("records", s.Records))
	a.add("bytes", s.Bytes)
	a.add("write_errors", s.WriteErrors)
	return slog.GroupValue(a...)
}
