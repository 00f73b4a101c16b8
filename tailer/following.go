package tailer

import (
	"log/slog"
	"slices"
)

// logFollowing says, once after the first scan, how many files the flow
// follows: an operator who made a typo in a glob learns it from the start
// line ("files=0"), not from the silence that follows. The paths are
// listed at debug level, where a glob over thousands of files belongs.
// Files waiting for a descriptor (agent.max_open_files) are counted
// apart, as they are not read yet.
func (t *Tailer) logFollowing() {
	t.mu.RLock()
	paths := make([]string, 0, len(t.byPath)+len(t.queue))
	for p := range t.byPath {
		paths = append(paths, p)
	}
	t.mu.RUnlock()
	waiting := 0
	for _, s := range t.queue {
		if !s.gone {
			paths = append(paths, s.path)
			waiting++
		}
	}
	slices.Sort(paths)
	attrs := []any{slog.Int("files", len(paths)), slog.Any("globs", t.cfg.Paths)}
	if waiting > 0 {
		attrs = append(attrs, slog.Int("waiting_for_descriptor", waiting))
	}
	t.log.Info("following files", attrs...)
	t.log.Debug("followed files", "paths", paths)
}
