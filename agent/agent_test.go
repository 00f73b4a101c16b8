package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kinetail/kinetail/checkpoint"
	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/internal/testfs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The HTTP transport keeps idle connections' goroutines for a while.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// awsTestEnv gives the SDK dummy credentials and keeps it away from the
// host's AWS configuration and instance metadata.
func awsTestEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
}

func newConfig(t *testing.T, dir, endpoint, extra string) *config.Config {
	t.Helper()
	awsTestEnv(t)
	yaml := fmt.Sprintf(`agent:
  checkpoint_file: %[1]s/state/cp.json
  checkpoint_interval: 50ms
  shutdown_timeout: 5s
  metrics: {listen: "127.0.0.1:0"}
destinations:
  out:
    type: kinesis
    stream: s
    region: us-east-1
    endpoint: %[2]s
    batch: {max_age: 20ms}
    retry: {initial_backoff: 10ms, max_backoff: 100ms}
flows:
  - name: f
    paths: ["%[1]s/logs/*.log"]
    initial_position: start_of_file
    destination: out
%[3]s`, dir, endpoint, extra)
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runAgent runs an agent for cfg; stop cancels it and waits for Run.
func runAgent(t *testing.T, cfg *config.Config) (_ *Agent, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return a, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testfs.Wait(t, 20*time.Second, what, cond)
}

// Every line is stored once, the checkpoint ends at each file's size, and a
// restart sends nothing again.
func TestAgentDeliversAndCheckpoints(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 3, FailEntryRate: 0.2})
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	var content []byte
	for i := 0; i < 2000; i++ {
		content = fmt.Appendf(content, "line-%d\n", i)
	}
	path := filepath.Join(dir, "logs", "a.log")
	os.WriteFile(path, content, 0o644)
	cfg := newConfig(t, dir, fs.URL(), "")

	_, stop := runAgent(t, cfg)
	waitFor(t, "2000 records", func() bool { return len(fs.Stored()) >= 2000 })
	stop()

	seen := map[string]int{}
	for _, r := range fs.Stored() {
		seen[string(r.Data)]++
	}
	for i := 0; i < 2000; i++ {
		if n := seen[fmt.Sprintf("line-%d", i)]; n != 1 {
			t.Fatalf("line-%d stored %d times", i, n)
		}
	}
	store, _ := checkpoint.Open(cfg.Agent.CheckpointFile, nil)
	res, err := store.Load()
	store.Close() // the restart below takes the lock
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 || res.Entries[0].Offset != int64(len(content)) || res.Entries[0].Path != path {
		t.Fatalf("checkpoint = %+v, want %s at %d", res.Entries, path, len(content))
	}
	if fi, _ := os.Stat(cfg.Agent.CheckpointFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("checkpoint mode %v, want 0600", fi.Mode().Perm())
	}

	// A restart resumes at the checkpoint: only new lines are sent.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("after-restart\n")
	f.Close()
	_, stop = runAgent(t, cfg)
	waitFor(t, "the new line", func() bool { return len(fs.Stored()) >= 2001 })
	time.Sleep(200 * time.Millisecond)
	stop()
	if n := len(fs.Stored()); n != 2001 {
		t.Fatalf("after restart %d records stored, want 2001", n)
	}
}

// A destination that never answers cannot hold shutdown beyond its timeout,
// and what it did not store is not checkpointed.
func TestAgentShutdownDeadline(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{})
	fs.SetDown(true)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	os.WriteFile(filepath.Join(dir, "logs", "a.log"), []byte("one\ntwo\n"), 0o644)
	cfg := newConfig(t, dir, fs.URL(), "")
	cfg.Agent.ShutdownTimeout = config.Duration(300 * time.Millisecond)
	_, stop := runAgent(t, cfg)
	waitFor(t, "attempts", func() bool { return fs.Counts().DownRejected > 0 })
	stop() // without the deadline, retrying a down destination never ends
	store, _ := checkpoint.Open(cfg.Agent.CheckpointFile, nil)
	defer store.Close()
	res, _ := store.Load()
	for _, e := range res.Entries {
		if e.Offset != 0 {
			t.Fatalf("checkpoint advanced to %d although nothing was stored", e.Offset)
		}
	}
}

// A flow whose csv_to_json takes its field names from the file's first
// line still has them after a restart that resumes past that line: the
// tailer keeps first lines for such a flow (tailer.Config.Headers), and
// only for it.
func TestAgentCSVHeaderAfterRestart(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 5})
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	path := filepath.Join(dir, "logs", "a.log")
	os.WriteFile(path, []byte("host,code\nweb-1,200\n"), 0o644)
	cfg := newConfig(t, dir, fs.URL(), `    transforms:
      - csv_to_json: {header: true}
`)
	_, stop := runAgent(t, cfg)
	waitFor(t, "the first record", func() bool { return len(fs.Stored()) >= 1 })
	stop()

	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("web-2,503\n")
	f.Close()
	_, stop = runAgent(t, cfg)
	waitFor(t, "the record after the restart", func() bool { return len(fs.Stored()) >= 2 })
	stop()

	var got []string
	for _, r := range fs.Stored() {
		got = append(got, string(r.Data))
	}
	want := []string{`{"host":"web-1","code":"200"}`, `{"host":"web-2","code":"503"}`}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("records %q, want %q", got, want)
	}
}
