package transform

import "log/slog"

// LogValue makes Stats a group of its non-zero counters in logs rather
// than a struct dump; records is always there.
func (s Stats) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, 8)
	add := func(key string, v uint64) {
		if v != 0 {
			attrs = append(attrs, slog.Uint64(key, v))
		}
	}
	attrs = append(attrs, slog.Uint64("records", s.Records))
	add("lines", s.Lines)
	add("header_lines", s.Header)
	add("filtered", s.Filtered)
	add("invalid", s.Invalid)
	add("invalid_dropped", s.Dropped)
	add("invalid_passed", s.Passed)
	add("invalid_wrapped", s.Wrapped)
	return slog.GroupValue(attrs...)
}
