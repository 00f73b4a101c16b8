package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/testfs"
)

// TestEndpointCredentialsNotLogged checks that an endpoint's user name and
// password appear in no log line, from the start warning to the errors of
// a destination that cannot be reached.
func TestEndpointCredentialsNotLogged(t *testing.T) {
	awsTestEnv(t)
	// A port nothing listens on: every request fails at once.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "logs", "a.log"), []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf(`agent:
  checkpoint_file: %[1]s/state/cp.json
  shutdown_timeout: 1s
  metrics: {listen: ""}
destinations:
  out:
    type: kinesis
    stream: s
    region: us-east-1
    endpoint: http://admin:hunter2@%[2]s
    allow_insecure_endpoint: true
    batch: {max_age: 20ms}
    retry: {initial_backoff: 10ms, max_backoff: 50ms}
flows:
  - name: f
    paths: ["%[1]s/logs/*.log"]
    initial_position: start_of_file
    destination: out
`, dir, addr)
	cfg, err := config.Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var logs testfs.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := New(ctx, cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitFor(t, "a check failure and a request failure in the log", func() bool {
		s := logs.String()
		return strings.Contains(s, "destination check failed") && strings.Contains(s, "request failed")
	})
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}

	s := logs.String()
	if strings.Contains(s, "hunter2") || strings.Contains(s, "admin") {
		t.Errorf("the log shows the endpoint's credentials:\n%s", s)
	}
	if !strings.Contains(s, "allow_insecure_endpoint is set") || !strings.Contains(s, "endpoint=http://"+addr) {
		t.Errorf("no start warning naming the endpoint:\n%s", s)
	}
	if !strings.Contains(s, "http://"+addr) {
		t.Errorf("the errors do not name the endpoint's host:\n%s", s)
	}
}
