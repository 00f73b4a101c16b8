package tailer

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kinetail/kinetail/internal/testfs"
)

// recordLog keeps the JSON records logged, for tests that read them while
// the tailer writes.
type recordLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *recordLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// records returns the records with message msg.
func (l *recordLog) records(t *testing.T, msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(l.b.String()) {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// After the first scan, and only then, one INFO line says how many files
// the flow follows; the paths are at debug level.
func TestTailerLogsFilesFollowedAtStart(t *testing.T) {
	tests := []struct {
		name  string
		files []string
	}{
		{"no file matches yet", nil},
		{"two files match", []string{"a.log", "sub/b.log"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testfs.New(t)
			d.Mkdir("sub")
			var want []string
			for _, f := range tt.files {
				d.Write(f, "line\n")
				want = append(want, d.Path(f))
			}
			d.Write("other.txt", "not matched\n")
			var logs recordLog
			h := start(t, Config{
				Flow:   "app",
				Paths:  []string{d.Path("*.log"), d.Path("sub/*.log")},
				Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			h.waitStat("a few rescans", func(s Stats) bool { return s.Scans >= 3 })
			h.stop()

			infos := logs.records(t, "following files")
			if len(infos) != 1 {
				t.Fatalf("%d INFO lines, want 1: %v", len(infos), infos)
			}
			r := infos[0]
			if r["level"] != "INFO" || r["flow"] != "app" || r["files"] != float64(len(want)) {
				t.Errorf("INFO line %v, want flow app and files %d", r, len(want))
			}
			debug := logs.records(t, "followed files")
			if len(debug) != 1 || debug[0]["level"] != "DEBUG" {
				t.Fatalf("debug lines %v, want one", debug)
			}
			var got []string
			for _, p := range debug[0]["paths"].([]any) {
				got = append(got, p.(string))
			}
			if !slices.Equal(got, want) {
				t.Errorf("debug paths %v, want %v", got, want)
			}
		})
	}
}
