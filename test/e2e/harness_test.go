//go:build e2e

// Package e2e runs the real kinetail binary against a real Kinesis API
// server (kinesis-local) and against the in-process Kinesis-protocol fault
// server, on real files.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/internal/testfs"
)

var binary string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	binary = os.Getenv("KINETAIL_BIN")
	if binary == "" {
		dir, err := os.MkdirTemp("", "kinetail-e2e-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "kinetail")
		build := exec.Command("go", "build", "-race", "-o", binary, "../../cmd/agent")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build kinetail:", err)
			return 1
		}
	}
	return m.Run()
}

// agentProc is a running kinetail.
type agentProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	log    *testfs.Buffer
	done   chan struct{}
	err    error
	config string
}

// writeConfig writes a configuration whose single destination points at
// endpoint, and returns its path.
func writeConfig(t *testing.T, dir, endpoint, stream, flows string) string {
	t.Helper()
	cfg := fmt.Sprintf(`agent:
  checkpoint_file: %s/state/checkpoints.json
  checkpoint_interval: 200ms
  log_level: debug
  shutdown_timeout: 20s
destinations:
  out:
    type: kinesis
    stream: %s
    region: us-east-1
    endpoint: %s
    batch: {max_age: 100ms}
    retry: {initial_backoff: 20ms, max_backoff: 500ms}
    timeouts: {connect: 1s, request: 3s}
flows:
%s`, dir, stream, endpoint, flows)
	path := filepath.Join(dir, "kinetail.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func startAgent(t *testing.T, config string) *agentProc {
	t.Helper()
	p := &agentProc{t: t, log: &testfs.Buffer{}, done: make(chan struct{}), config: config}
	p.cmd = exec.Command(binary, "run", "-c", config)
	p.cmd.Env = append(os.Environ(), kinesistest.TestEnv("")...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("kinetail log (%s):\n%s", config, tail(p.log.String(), 60))
		}
	})
	return p
}

// stop sends SIGTERM and requires a clean exit.
func (p *agentProc) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.t.Fatal("kinetail did not exit within 60s of SIGTERM")
	}
	if p.err != nil {
		p.t.Fatalf("kinetail exited with %v", p.err)
	}
}

// kill sends SIGKILL: no chance to flush or save anything.
func (p *agentProc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

func (p *agentProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// appendLines writes lines "<prefix>-<i>" for i in [from, to) to path.
func appendLines(t *testing.T, path, prefix string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b bytes.Buffer
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s-%d\n", prefix, i)
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// countKeys tallies data values.
func countKeys[T any](recs []T, data func(T) []byte) map[string]int {
	m := make(map[string]int, len(recs))
	for _, r := range recs {
		m[string(data(r))]++
	}
	return m
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
