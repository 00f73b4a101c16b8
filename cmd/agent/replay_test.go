package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/kinetail/kinetail/sink"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The HTTP transport keeps idle connections' goroutines for a while.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// The flags reach the replay: --destination picks where every record goes,
// --keep leaves the file. Package replay tests the replay itself.
func TestReplayFlags(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kinetail.yaml")
	yaml := fmt.Sprintf(`agent:
  checkpoint_file: %[1]s/cp.json
destinations:
  events: {type: file, path: %[1]s/events.jsonl}
  other: {type: file, path: %[1]s/other.jsonl}
flows:
  - name: f
    paths: ["%[1]s/*.log"]
    destination: events
`, dir)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, "dead.jsonl")
	d, err := sink.OpenDeadLetter(dead)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Write([]sink.DeadRecord{{Destination: "events", Data: []byte(`{"n":1}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	if code := run([]string{"replay", "-c", cfg, "--destination", "other", "--keep", dead}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("exit code = %d, want 0\nstdout: %s\nstderr: %s", code, &stdout, &stderr)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "other.jsonl")); err != nil || !strings.Contains(string(got), `{"n":1}`) {
		t.Errorf("other.jsonl = %q, %v; want the record", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "events.jsonl")); err == nil {
		t.Error("events.jsonl written: --destination was ignored")
	}
	if _, err := os.Stat(dead); err != nil {
		t.Errorf("the file was not kept: %v", err)
	}
	if !strings.Contains(stdout.String(), "1 records sent; kept (--keep)") {
		t.Errorf("stdout: %s", &stdout)
	}
}

func TestReplayCommandLine(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"help", []string{"replay", "--help"}, 0, "Usage: kinetail replay -c FILE [--destination NAME] [--keep] DEADLETTER..."},
		{"no files", []string{"replay", "-c", "x.yaml"}, 2, "no DEADLETTER file given"},
		{"bad config", []string{"replay", "-c", filepath.Join(t.TempDir(), "nope.yaml"), "dead.jsonl"}, 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, strings.NewReader(""), &stdout, &stderr); code != tt.code {
				t.Errorf("exit code = %d, want %d\nstderr: %s", code, tt.code, &stderr)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.stderr, &stderr)
			}
		})
	}
	var stdout bytes.Buffer
	run([]string{"help"}, strings.NewReader(""), &stdout, &stdout)
	if !strings.Contains(stdout.String(), "kinetail replay -c FILE") {
		t.Errorf("usage does not list replay:\n%s", &stdout)
	}
}
