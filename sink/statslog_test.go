// Tests of the sinks' counters as log values.

package sink

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
		stats any
		want  string
	}{
		{"stream stats in text", false,
			StreamStats{RecordsStored: 10, Requests: 2, Retries: 1},
			"stats.records_stored=10 stats.requests=2 stats.retries=1\n"},
		{"stream stats in json", true,
			StreamStats{RecordsStored: 10, DeadLettered: 3},
			`"stats":{"records_stored":10,"dead_lettered":3}}` + "\n"},
		{"file stats", false,
			FileStats{Records: 1, Bytes: 6, Rotations: 1},
			"stats.records=1 stats.bytes=6 stats.rotations=1\n"},
		{"stdout stats with nothing sent", false, StdoutStats{}, "stats.records=0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			var h slog.Handler = slog.NewTextHandler(&b, nil)
			if tt.json {
				h = slog.NewJSONHandler(&b, nil)
			}
			slog.New(h).Info("m", "stats", tt.stats)
			if got := b.String(); !strings.HasSuffix(got, tt.want) {
				t.Errorf("got %q, want it to end with %q", got, tt.want)
			}
		})
	}
}
