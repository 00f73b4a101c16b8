package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/internal/testfs"
)

// TestTemplatedStreamLimits runs a templated destination against the
// fault server, on a fake clock:
//   - a record naming an existing stream outside allowed (billing-audit)
//     goes to the fallback, counted;
//   - a burst of 1,000 junk names fills max_streams, and a real name right
//     after goes to the fallback too (counted);
//   - once the junk names were unused for stream_idle_timeout, a real name
//     gets its stream;
//   - no name chosen by a record is logged above DEBUG.
func TestTemplatedStreamLimits(t *testing.T) {
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{
		Streams: []string{"events", "svc-a", "svc-b", "svc-billing-audit"},
	})
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	awsTestEnv(t)
	yaml := fmt.Sprintf(`agent:
  checkpoint_file: %[1]s/state/cp.json
  checkpoint_interval: 50ms
  shutdown_timeout: 10s
  metrics: {listen: ""}
x-defaults: &k
  type: kinesis
  region: us-east-1
  endpoint: %[2]s
  batch: {max_age: 20ms}
  retry: {initial_backoff: 5ms, max_backoff: 50ms}
destinations:
  events: {<<: *k, stream: events}
  per-service:
    <<: *k
    stream: "svc-%%{service}"
    fallback: events
    allowed: ['svc-[a-z]', 'svc-junk[0-9]+']
    max_streams: 4
    stream_idle_timeout: 1m
flows:
  - name: f
    paths: ["%[1]s/logs/*.log"]
    initial_position: start_of_file
    transforms: [json]
    destination: per-service
`, dir, srv.URL())
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	var logs testfs.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := New(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).UnixNano())
	a.now = func() time.Time { return time.Unix(0, clock.Load()) }
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	stored := func(stream string) []string {
		var out []string
		for _, r := range srv.Stored() {
			if r.Stream == stream {
				out = append(out, string(r.Data))
			}
		}
		return out
	}
	app := filepath.Join(dir, "logs", "app.log")
	var burst strings.Builder
	burst.WriteString(`{"service":"billing-audit"}` + "\n")
	for i := range 1000 {
		fmt.Fprintf(&burst, `{"service":"junk%d"}`+"\n", i)
	}
	burst.WriteString(`{"service":"a"}` + "\n")
	if err := os.WriteFile(app, []byte(burst.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the burst in the fallback stream", func() bool { return len(stored("events")) == 1002 })

	clock.Add(int64(2 * time.Minute)) // the junk names are idle now
	appendLine := func(service string) {
		f, err := os.OpenFile(app, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fmt.Fprintf(f, `{"service":"%s"}`+"\n", service)
	}
	appendLine("b")
	waitFor(t, "a real stream after the junk was let go", func() bool { return len(stored("svc-b")) == 1 })

	// An idle stream's running sink is stopped to make room, and started
	// again when its name comes back after other names went idle.
	clock.Add(int64(2 * time.Minute))
	for i := range 4 {
		appendLine(fmt.Sprintf("junk%d", 1000+i))
	}
	waitFor(t, "four more junk names", func() bool { return len(stored("events")) == 1006 })
	clock.Add(int64(2 * time.Minute))
	appendLine("b")
	waitFor(t, "svc-b again", func() bool { return len(stored("svc-b")) == 2 })

	var dst *destination
	for _, d := range a.dests {
		if d.name == "per-service" {
			dst = d
		}
	}
	st := dst.status()[0]
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := stored("svc-billing-audit"); len(got) != 0 {
		t.Errorf("a stream outside allowed got %q", got)
	}
	if got := stored("svc-a"); len(got) != 0 {
		t.Errorf("svc-a got %q while max_streams names were in use", got)
	}
	if st.StreamNotAllowed != 1 || st.StreamOverLimit != 997 || st.DroppedNoStream != 0 {
		t.Errorf("not allowed %d, over limit %d, dropped %d; want 1, 997 (996 junk names and svc-a), 0",
			st.StreamNotAllowed, st.StreamOverLimit, st.DroppedNoStream)
	}
	// Only the totals at shutdown name the streams that were sent to.
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "destination totals") {
			continue
		}
		for _, name := range []string{"junk", "billing-audit", "svc-b"} {
			if strings.Contains(l, name) {
				t.Errorf("a name chosen by a record (%s) was logged above DEBUG: %s", name, l)
			}
		}
	}
	if n := strings.Count(logs.String(), "too many stream names"); n != 1 {
		t.Errorf("the cap was reported %d times, want once", n)
	}
	dst.mu.Lock()
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range dst.streams {
			if !yield(n) {
				return
			}
		}
	})
	dst.mu.Unlock()
	if !slices.Contains(names, "svc-b") || len(names) > 4 {
		t.Errorf("names in use %q: want svc-b among at most 4", names)
	}
}
