// Tests that the AWS SDK's own log output reaches the sink's slog handler.

package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a log destination safe for the SDK's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The SDK's own warnings go through the destination's slog handler: with
// a JSON handler, every line of the log stays a JSON object. An instance
// metadata service that refuses IMDSv2 tokens makes the SDK warn that it
// falls back to IMDSv1 while it resolves credentials.
func TestSDKLogsThroughSlog(t *testing.T) {
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r) // no token, no role: credentials fail, after the warning
	}))
	defer imds.Close()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_EC2_METADATA_SERVICE_ENDPOINT":      imds.URL,
		"AWS_EC2_METADATA_DISABLED":              "false",
		"AWS_ACCESS_KEY_ID":                      "",
		"AWS_SECRET_ACCESS_KEY":                  "",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_PROFILE":                            "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_CONFIG_FILE":                        filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE":            filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}
	var out lockedBuffer
	k, err := NewKinesis(context.Background(), testDestination("http://127.0.0.1:1"), Options{
		Logger: slog.New(slog.NewJSONHandler(&out, nil)),
	})
	if err != nil {
		t.Fatalf("NewKinesis: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := k.creds.Retrieve(ctx); err == nil {
		t.Fatal("credentials resolved from an instance metadata service without any")
	}
	logged := out.String()
	if !strings.Contains(logged, "IMDSv1") {
		t.Fatalf("no SDK warning in the log: %q", logged)
	}
	for line := range strings.Lines(logged) {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Errorf("log line is not a JSON object: %q", line)
			continue
		}
		if strings.Contains(line, "IMDSv1") && (obj["level"] != "WARN" || obj["source"] != "aws-sdk" || obj["destination"] == nil) {
			t.Errorf("SDK warning %v: want level WARN, source aws-sdk and the destination", obj)
		}
	}
}
