package awslog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/aws/smithy-go/logging"
)

func TestLogf(t *testing.T) {
	tests := []struct {
		name      string
		class     logging.Classification
		minLevel  slog.Level
		wantLevel string // empty: nothing logged
	}{
		{"a warning is logged at warn level", logging.Warn, slog.LevelInfo, "WARN"},
		{"a debug line is logged at debug level", logging.Debug, slog.LevelDebug, "DEBUG"},
		{"a debug line is dropped at info level", logging.Debug, slog.LevelInfo, ""},
		{"an unknown classification counts as debug", "TRACE", slog.LevelDebug, "DEBUG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			var l logging.Logger = New(slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{Level: tt.minLevel})))
			l = logging.WithContext(t.Context(), l)
			l.Logf(tt.class, "falling back to %s: %v", "IMDSv1", "timeout")
			if tt.wantLevel == "" {
				if b.Len() != 0 {
					t.Fatalf("logged %q, want nothing", b.String())
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(b.Bytes(), &got); err != nil {
				t.Fatalf("not one JSON object: %q: %v", b.String(), err)
			}
			if got["level"] != tt.wantLevel || got["msg"] != "falling back to IMDSv1: timeout" || got["source"] != "aws-sdk" {
				t.Errorf("got %v", got)
			}
		})
	}
}
