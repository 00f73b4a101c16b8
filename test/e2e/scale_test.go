//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/internal/testfs"
)

// 10,000 files in 1,000 directories followed with max_open_files 256:
// every line arrives, and the process never holds much more than 256
// descriptors.
func TestScale10000Files(t *testing.T) {
	const (
		dirs, perDir = 1000, 10
		maxOpen      = 256
		// slack covers what is not a followed file: stdio, the
		// checkpoint, sockets, epoll, inotify, the Go runtime.
		slack = 64
	)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: int64(seed)})
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mkdirs(t, dir, "state")

	paths := make([]string, 0, dirs*perDir)
	written := make(map[string]int, dirs*perDir)
	var buf []byte
	for d := range dirs {
		sub := filepath.Join(data, fmt.Sprintf("d%04d", d))
		mkdirs(t, data, filepath.Base(sub))
		for f := range perDir {
			p := filepath.Join(sub, fmt.Sprintf("f%d.log", f))
			name := lineName(p)
			buf = appendLine(buf[:0], name, 0)
			if err := os.WriteFile(p, buf, 0o644); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
			written[name] = 1
		}
	}

	// Written here rather than with writeConfig: it needs max_open_files,
	// and debug logging of 10,000 files would only slow the run down.
	cfg := filepath.Join(dir, "kinetail.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`agent:
  checkpoint_file: %s/state/checkpoints.json
  checkpoint_interval: 1s
  log_level: info
  shutdown_timeout: 20s
  metrics: {listen: "127.0.0.1:0"}
  max_open_files: %d
destinations:
  out:
    type: kinesis
    stream: scale
    region: us-east-1
    endpoint: %s
    batch: {max_age: 100ms}
    retry: {initial_backoff: 20ms, max_backoff: 500ms}
    timeouts: {connect: 1s, request: 3s}
flows:
  - name: many
    paths: [%q]
    initial_position: start_of_file
    rescan_interval: 5s
    destination: out
`, dir, maxOpen, srv.URL(), filepath.Join(data, "*", "*.log"))), 0o600); err != nil {
		t.Fatal(err)
	}

	began := time.Now()
	agent := startAgent(t, cfg)
	pid := agent.cmd.Process.Pid
	var (
		sampler  sync.WaitGroup
		stop     = make(chan struct{})
		peakFDs  int
		peakRSS  int64 // VmHWM, KiB
		samples  int
		overLast string // when the limit was first exceeded
	)
	sampler.Go(func() {
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
			if err != nil {
				continue // exiting
			}
			samples++
			if n := len(fds); n > peakFDs {
				peakFDs = n
				if n > maxOpen+slack && overLast == "" {
					overLast = fmt.Sprintf("%d descriptors %s after start", n, time.Since(began).Round(time.Millisecond))
				}
			}
			if hwm, ok := vmHWM(pid); ok {
				peakRSS = max(peakRSS, hwm)
			}
		}
	})
	stopSampler := sync.OnceFunc(func() {
		close(stop)
		sampler.Wait()
	})
	t.Cleanup(stopSampler)

	waitAll(t, srv, written, 40*time.Second, "")
	t.Logf("first line of %d files arrived %s after start", len(paths), time.Since(began).Round(time.Millisecond))

	// Two rounds of appends, each to a random tenth of the files, after
	// a pause in which idle readers may give their descriptors back: most
	// appends go to files that must be reopened.
	for round := range 2 {
		time.Sleep(2 * time.Second)
		for _, i := range rng.Perm(len(paths))[:len(paths)/10] {
			name := lineName(paths[i])
			buf = appendLine(buf[:0], name, written[name])
			if err := testfs.AppendFile(paths[i], buf, false); err != nil {
				t.Fatal(err)
			}
			written[name]++
		}
		waitAll(t, srv, written, 30*time.Second, "")
		t.Logf("round %d of appends arrived %s after start", round, time.Since(began).Round(time.Millisecond))
	}
	// A last sample after everything was read.
	time.Sleep(200 * time.Millisecond)
	stopSampler()
	agent.stop()

	c := check(srv.Stored(), written)
	t.Logf("%s; peak descriptors %d (limit %d + %d), peak RSS (VmHWM) %.1f MiB, %d samples",
		c, peakFDs, maxOpen, slack, float64(peakRSS)/1024, samples)
	if c.missing != 0 || c.unknown != 0 {
		t.Errorf("%s\n%s", c, strings.Join(c.samples, "\n"))
	}
	if c.dups != 0 {
		t.Errorf("%d duplicates in a run without kills, want 0", c.dups)
	}
	if samples < 10 {
		t.Errorf("only %d descriptor samples", samples)
	}
	if peakFDs > maxOpen+slack {
		t.Errorf("kinetail held %d descriptors, more than max_open_files %d + %d (first over: %s)",
			peakFDs, maxOpen, slack, overLast)
	}
}

// vmHWM returns the peak resident set size of a process in KiB.
func vmHWM(pid int) (int64, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}
