package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// Status is what /status answers, with or without the metrics listener.
func TestStatus(t *testing.T) {
	tests := []struct {
		name   string
		listen string
	}{
		{"metrics served", "127.0.0.1:0"},
		{"metrics off", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{})
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
			path := filepath.Join(dir, "logs", "a.log")
			var content []byte
			for i := range 100 {
				content = fmt.Appendf(content, "line-%d\n", i)
			}
			os.WriteFile(path, content, 0o644)
			cfg := newConfig(t, dir, fs.URL(), "")
			cfg.Agent.Metrics.Listen = tt.listen

			a, stop := runAgent(t, cfg)
			defer stop()
			waitFor(t, "100 records sent and acknowledged", func() bool {
				s := a.Status()
				return len(s.Destinations) == 1 && s.Destinations[0].RecordsSent == 100 &&
					len(s.Flows) == 1 && s.Flows[0].BytesBehind == 0
			})
			s := a.Status()
			if !s.Healthy || s.Flows[0].Name != "f" || s.Flows[0].LinesRead != 100 {
				t.Errorf("status: healthy %v %v, flow %+v", s.Healthy, s.Problems, s.Flows[0])
			}
			if len(s.Flows[0].Files) != 1 || s.Flows[0].Files[0].Path != path {
				t.Errorf("files %+v, want %s", s.Flows[0].Files, path)
			}
		})
	}
}
