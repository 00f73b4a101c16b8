//go:build e2e

package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/testfs"
)

// TestStdoutClosedPipe runs kinetail with the stdout destination piped into
// a reader that stops after one line, as `kinetail run | head -1` does. The
// next write meets a closed pipe: kinetail must not die of SIGPIPE (exit
// 141, no log), but log the failed destination, shut down in order and
// checkpoint only what it wrote.
func TestStdoutClosedPipe(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(logs, "app.log")
	first := "first line\n"
	if err := os.WriteFile(app, []byte(first), 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "kinetail.yaml")
	cfg := fmt.Sprintf(`agent:
  checkpoint_file: %s/state/checkpoints.json
  checkpoint_interval: 100ms
  log_level: info
  shutdown_timeout: 5s
  metrics: {listen: ""}
destinations:
  out: {type: stdout}
flows:
  - name: app
    paths: [%s/*.log]
    initial_position: start_of_file
    rescan_interval: 100ms
    destination: out
`, dir, logs)
	if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	log := &testfs.Buffer{}
	cmd := exec.Command(binary, "run", "-c", config)
	cmd.Stdout, cmd.Stderr = w, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close() // the child has its own copy
	var werr error
	done := make(chan struct{})
	go func() { werr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("kinetail log:\n%s", tail(log.String(), 40))
		}
	})

	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if line != first {
		t.Fatalf("first line on stdout = %q, want %q", line, first)
	}
	r.Close() // like head -1
	appendLines(t, app, "after", 0, 10)

	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("kinetail did not stop after its stdout was closed")
	}
	var exit *exec.ExitError
	if !errors.As(werr, &exit) {
		t.Fatalf("kinetail exited with %v, want an error status", werr)
	}
	if !exit.Exited() || exit.ExitCode() != 1 {
		t.Fatalf("kinetail ended with %v (exited normally: %t), want exit status 1, not a signal", exit, exit.Exited())
	}
	out := log.String()
	for _, want := range []string{"broken pipe", "a destination failed; shutting down", "stopped with an error"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	// Only the line that was written is checkpointed: the ones after it
	// met the closed pipe and are read again on the next start.
	cp := readCheckpoint(t, filepath.Join(dir, "state", "checkpoints.json"))
	if len(cp) != 1 || cp[0].Offset != int64(len(first)) {
		t.Fatalf("checkpoint = %+v, want one entry at offset %d", cp, len(first))
	}
}
