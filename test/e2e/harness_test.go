//go:build e2e

// Package e2e runs the real kinetail binary against a real Kinesis API
// server (kinesis-local) and against the in-process Kinesis-protocol fault
// server, on real files.
package e2e

import (
	"context"
	"fmt"
	"io"
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
  metrics: {listen: "127.0.0.1:0"}
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

// editConfig replaces, in the configuration file cfg, each old string of
// oldNew with the new one after it (once each).
func editConfig(t *testing.T, cfg string, oldNew ...string) {
	t.Helper()
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := string(text)
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("editConfig: %q not in %s", oldNew[i], cfg)
		}
		s = strings.Replace(s, oldNew[i], oldNew[i+1], 1)
	}
	if err := os.WriteFile(cfg, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startAgent starts the kinetail binary with config; its log is printed
// if the test fails.
func startAgent(t *testing.T, config string) *agentProc {
	t.Helper()
	return launch(t, config, launchOpts{})
}

// startQuiet starts kinetail like startAgent but does not print its log
// when the test fails: a test that starts it hundreds of times reports the
// logs that matter itself.
func startQuiet(t *testing.T, config string) *agentProc {
	t.Helper()
	return launch(t, config, launchOpts{quiet: true})
}

// launchOpts says how launch starts kinetail.
type launchOpts struct {
	bin   string              // the binary; the one under test when empty
	cred  *syscall.Credential // the user to run as; this process's when nil
	quiet bool                // do not print the log when the test fails
}

// launch is the one way the tests start kinetail run. It is killed at the
// end of the test if still running. KINETAIL_E2E_LOGDIR keeps every run's
// log and starting state (a crash loop's failures can start many runs
// before the one that shows them).
func launch(t *testing.T, config string, o launchOpts) *agentProc {
	t.Helper()
	bin := o.bin
	if bin == "" {
		bin = binary
	}
	p := &agentProc{t: t, log: &testfs.Buffer{}, done: make(chan struct{}), config: config}
	p.cmd = exec.Command(bin, "run", "-c", config)
	p.cmd.Env = append(os.Environ(), kinesistest.TestEnv("")...)
	if o.cred != nil {
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.cred}
	}
	var out io.Writer = p.log
	var keep *os.File
	if dir := os.Getenv("KINETAIL_E2E_LOGDIR"); dir != "" {
		runs++
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("run-%04d.log", runs)))
		if err != nil {
			t.Fatal(err)
		}
		keep, out = f, io.MultiWriter(p.log, f)
		keepState(t, filepath.Dir(config), filepath.Join(dir, fmt.Sprintf("run-%04d", runs)))
	}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		if keep != nil {
			keep.Close()
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() && !o.quiet {
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

// eventually polls cond until it holds or the timeout passes; the
// conditions read back what was stored, so not too often.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testfs.WaitEvery(t, timeout, 50*time.Millisecond, what, cond)
}

// appendLines writes lines "<prefix>-<i>" for i in [from, to) to path.
func appendLines(t *testing.T, path, prefix string, from, to int) {
	t.Helper()
	mustAppend(t, path, testfs.Lines(prefix, from, to))
}

// mustAppend appends b to path (created if needed) with one write.
func mustAppend(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := testfs.AppendFile(path, b, true); err != nil {
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
