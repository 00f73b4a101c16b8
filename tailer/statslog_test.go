package tailer

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestStatsLogValue(t *testing.T) {
	tests := []struct {
		name    string
		handler func(*bytes.Buffer) slog.Handler
		stats   Stats
		want    string
	}{
		{"text shows non-zero counters as key=value pairs",
			func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
			Stats{LinesRead: 3, BytesRead: 42, Lost: 1},
			"tailer.lines_read=3 tailer.bytes_read=42 tailer.generations_lost=1\n"},
		{"json shows an object",
			func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
			Stats{LinesRead: 3, Files: 2},
			`"tailer":{"lines_read":3,"files_open":2}}` + "\n"},
		{"zero stats still show lines_read",
			func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
			Stats{},
			"tailer.lines_read=0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			slog.New(tt.handler(&b)).Info("m", "tailer", tt.stats)
			if got := b.String(); !strings.HasSuffix(got, tt.want) {
				t.Errorf("got %q, want it to end with %q", got, tt.want)
			}
		})
	}
}
