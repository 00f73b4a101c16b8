// Package counterlog builds the log value of a stage's counters: a group
// of the non-zero ones (lines_read=… in text, an object in JSON), never a
// struct dump. The tailer, the transforms and the sinks log theirs with it.
package counterlog

import "log/slog"

// Group is a group being built; its first counter, always present, keeps
// it from ever being empty.
type Group []slog.Attr

// New starts a group with the counter that is always shown.
func New(key string, v int64, size int) Group {
	g := make(Group, 0, size)
	return append(g, slog.Int64(key, v))
}

// Add adds a counter if it is not zero.
func (g *Group) Add(key string, v int64) {
	if v != 0 {
		*g = append(*g, slog.Int64(key, v))
	}
}

// Value is the group as a log value.
func (g Group) Value() slog.Value { return slog.GroupValue(g...) }
