//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// TestReloadUnderLoad reloads the configuration 20 times (SIGHUP) while
// three files grow: two flows, their routes and a destination change from
// one reload to the next, a third flow and its destination never change,
// one reload brings an invalid file (refused: the running configuration
// goes on), one an unchanged one and one changes an agent setting (every
// flow restarts). Every line arrives, none twice: a reload delivers what is
// in flight before the changed flows read on from the acknowledged
// offsets, and the unchanged flow is not stopped at all (it starts
// following its file once, and once more at the agent-wide restart).
func TestReloadUnderLoad(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 3, Latency: time.Millisecond})
	dir := t.TempDir()
	app, web, steady := filepath.Join(dir, "app.log"), filepath.Join(dir, "web.log"), filepath.Join(dir, "steady.log")
	// Two shapes: both flows to one stream; or web to a second
	// destination and stream, with other batching and a second flow that
	// follows app's rotated names too (they never exist: nothing rotates).
	shapes := []string{
		fmt.Sprintf(`  - name: app
    paths: ["%[1]s/app.log"]
    initial_position: start_of_file
    destination: out
  - name: web
    paths: ["%[1]s/web.log"]
    initial_position: start_of_file
    destination: out
  - name: steady
    paths: ["%[1]s/steady.log"]
    initial_position: start_of_file
    destination: out
`, dir),
		fmt.Sprintf(`  - name: app
    paths: ["%[1]s/app.log", "%[1]s/app.log.rotated-never"]
    initial_position: start_of_file
    destination: out
  - name: web
    paths: ["%[1]s/web.log"]
    initial_position: start_of_file
    routes:
      - to: [other]
  - name: steady
    paths: ["%[1]s/steady.log"]
    initial_position: start_of_file
    destination: out
`, dir),
	}
	other := fmt.Sprintf(`  other:
    type: kinesis
    stream: reload-other
    region: us-east-1
    endpoint: %s
    batch: {max_age: 50ms, max_records: 100}
    retry: {initial_backoff: 20ms, max_backoff: 500ms}
`, fs.URL())
	cfg := writeConfig(t, dir, fs.URL(), "reload", shapes[0])
	base, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	write := func(shape int, settings string) {
		text := string(base)
		text = strings.Replace(text, shapes[0], shapes[shape], 1)
		if shape == 1 {
			text = strings.Replace(text, "flows:\n", other+"flows:\n", 1)
		}
		text = strings.Replace(text, "agent:\n", "agent:\n"+settings, 1)
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	agent := startAgent(t, cfg)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	var once sync.Once
	halt := func() { once.Do(func() { close(stop) }); wg.Wait() }
	t.Cleanup(halt)
	counts := map[string]*int{app: new(int), web: new(int), steady: new(int)}
	for path, n := range counts {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				appendLines(t, path, filepath.Base(path), *n, *n+50)
				*n += 50
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	count := func(text string) int { return strings.Count(agent.log.String(), text) }
	following := func(flow string) int { return count(`msg="following files" flow=` + flow + " ") }
	started, reloaded := `msg="kinetail started"`, `msg="configuration reloaded"`
	eventually(t, 30*time.Second, "the start", func() bool { return count(started) == 1 && following("steady") == 1 })
	settings := ""
	for i := 1; i <= 20; i++ {
		switch i {
		case 7:
			if err := os.WriteFile(cfg, []byte("flows: [this is not: a flow\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			agent.cmd.Process.Signal(syscall.SIGHUP)
			eventually(t, 30*time.Second, "the invalid configuration refused", func() bool {
				return strings.Contains(agent.log.String(), "reload refused")
			})
			continue
		case 8:
			write(0, settings) // the same as before the invalid one (reload 6)
			agent.cmd.Process.Signal(syscall.SIGHUP)
			eventually(t, 30*time.Second, "nothing to reload", func() bool {
				return strings.Contains(agent.log.String(), "configuration unchanged")
			})
			continue
		case 12:
			settings = "  stats_interval: 30s\n" // an agent setting: every flow restarts
		}
		before, restarts := count(reloaded), count(started)
		write(i%2, settings)
		agent.cmd.Process.Signal(syscall.SIGHUP)
		eventually(t, 60*time.Second, fmt.Sprintf("reload %d", i), func() bool {
			return count(reloaded) > before || count(started) > restarts || agent.exited()
		})
		if agent.exited() {
			t.Fatalf("kinetail exited at reload %d: %v", i, agent.err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	halt()
	total := *counts[app] + *counts[web] + *counts[steady]
	eventually(t, 90*time.Second, "every line to arrive", func() bool { return len(uniq(fs.Stored())) >= total })
	agent.stop()

	seen := countKeys(fs.Stored(), func(r kinesistest.StoredRecord) []byte { return r.Data })
	lost, dups := 0, 0
	for path, n := range counts {
		for i := range *n {
			k := fmt.Sprintf("%s-%d", filepath.Base(path), i)
			switch c := seen[k]; {
			case c == 0:
				lost++
				if lost <= 10 {
					t.Errorf("%s lost", k)
				}
			case c > 1:
				dups += c - 1
			}
		}
	}
	if lost > 0 || dups > 0 {
		t.Fatalf("%d lines: %d lost, %d sent twice across 20 reloads", total, lost, dups)
	}
	// The unchanged flow started at the start and at the one agent-wide
	// restart; the changed ones at every reload.
	if n := count(started); n != 2 {
		t.Errorf("the agent started %d times, want 2 (the start and the change of agent settings)", n)
	}
	if n := following("steady"); n != 2 {
		t.Errorf("the unchanged flow started following its file %d times, want 2: reloads restarted it", n)
	}
	if n := following("web"); n != 19 {
		t.Errorf("the changed flow web started %d times, want 19 (the start and 18 reloads)", n)
	}
	if !t.Failed() {
		t.Logf("%d lines, 18 reloads that changed the configuration (one of the agent settings), 0 lost, 0 duplicates; the unchanged flow never restarted by a reload", total)
	}
}

// TestSystemdNotify runs kinetail as systemd does with Type=notify and
// WatchdogSec=: READY=1 once started, RELOADING=1 then READY=1 around a
// reload, WATCHDOG=1 while the flows run, STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 4})
	dir := t.TempDir()
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "notify"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	t.Setenv("NOTIFY_SOCKET", filepath.Join(dir, "notify"))
	t.Setenv("WATCHDOG_USEC", "400000") // a ping every 200 ms
	flows := fmt.Sprintf(`  - name: app
    paths: ["%s/app.log"]
    destination: out
`, dir)
	cfg := writeConfig(t, dir, fs.URL(), "notify", flows)
	agent := startAgent(t, cfg)

	states := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := sock.Read(buf)
			if err != nil {
				close(states)
				return
			}
			states <- string(buf[:n])
		}
	}()
	expect := func(prefix string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case s, ok := <-states:
				if !ok {
					t.Fatalf("socket closed before %q", prefix)
				}
				if strings.HasPrefix(s, prefix) {
					return
				}
			case <-deadline:
				t.Fatalf("no %q from kinetail within 30s", prefix)
			}
		}
	}
	expect("READY=1\nSTATUS=running 1 flows")
	expect("WATCHDOG=1")
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(text), "max_age: 100ms", "max_age: 150ms", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	agent.cmd.Process.Signal(syscall.SIGHUP)
	expect("RELOADING=1\nMONOTONIC_USEC=")
	expect("READY=1")
	agent.stop()
	expect("STOPPING=1")
}

// TestSignalsWhileLoading sends SIGUSR1 and SIGHUP while kinetail reads its
// configuration (a FIFO holds it there): neither kills it (Go ignores
// SIGUSR1 until it is asked for; SIGHUP is caught first thing). The status
// request is dropped, as there is nothing to show yet; the reload request
// is kept and carried out once the agent runs.
func TestSignalsWhileLoading(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 8})
	dir := t.TempDir()
	flows := fmt.Sprintf("  - name: app\n    paths: [\"%s/app.log\"]\n    destination: out\n", dir)
	text, err := os.ReadFile(writeConfig(t, dir, fs.URL(), "signals", flows))
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// feed waits until kinetail opened the FIFO to read (a writer's
	// non-blocking open fails until then), runs meanwhile, then gives it
	// the file.
	feed := func(meanwhile func()) {
		t.Helper()
		var w *os.File
		eventually(t, 30*time.Second, "kinetail reading its configuration", func() bool {
			w, err = os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
			return err == nil
		})
		meanwhile()
		if _, err := w.Write(text); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	agent := startAgent(t, fifo)
	feed(func() {
		for _, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP} {
			if err := agent.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(200 * time.Millisecond)
		if agent.exited() {
			t.Fatalf("kinetail died of a signal while loading its configuration: %v", agent.err)
		}
	})
	// The first reader is done with the FIFO once the agent started; the
	// reload asked for while loading reads it again.
	eventually(t, 30*time.Second, "the start", func() bool {
		return strings.Contains(agent.log.String(), `msg="kinetail started"`)
	})
	feed(func() {})
	eventually(t, 30*time.Second, "the reload", func() bool {
		return strings.Contains(agent.log.String(), "configuration unchanged")
	})
	agent.stop()
}
