package transform

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestStatsLogValue(t *testing.T) {
	tests := []struct {
		name  string
		json  bool
		stats Stats
		want  string
	}{
		{"text shows non-zero counters as key=value pairs", false,
			Stats{Lines: 5, Records: 4, Filtered: 1},
			"transform.records=4 transform.lines=5 transform.filtered=1\n"},
		{"json shows an object", true,
			Stats{Records: 2, Wrapped: 1},
			`"transform":{"records":2,"invalid_wrapped":1}}` + "\n"},
		{"zero stats still show records", false, Stats{}, "transform.records=0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			var h slog.Handler = slog.NewTextHandler(&b, nil)
			if tt.json {
				h = slog.NewJSONHandler(&b, nil)
			}
			slog.New(h).Info("m", "transform", tt.stats)
			if got := b.String(); !strings.HasSuffix(got, tt.want) {
				t.Errorf("got %q, want it to end with %q", got, tt.want)
			}
		})
	}
}
