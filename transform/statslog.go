package transform

import (
	"log/slog"

	"github.com/kinetail/kinetail/internal/counterlog"
)

// LogValue makes Stats a group of its non-zero counters in logs rather
// than a struct dump; records is always there.
func (s Stats) LogValue() slog.Value {
	g := counterlog.New("records", int64(s.Records), 8)
	add := func(key string, v uint64) { g.Add(key, int64(v)) }
	add("lines", s.Lines)
	add("header_lines", s.Header)
	add("filtered", s.Filtered)
	add("invalid", s.Invalid)
	add("invalid_dropped", s.Dropped)
	add("invalid_passed", s.Passed)
	add("invalid_wrapped", s.Wrapped)
	return g.Value()
}
