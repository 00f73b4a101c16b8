package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kinetail/kinetail/internal/benchaccept"
	"github.com/kinetail/kinetail/internal/kinesistest"
)

// runIdle measures the agent at scale with nothing to do (-idle): it
// follows o.idleFiles files of one line each, is stopped and started again
// with a checkpoint of as many entries, and then sits idle for o.idle while
// its CPU time and resident memory are read. It prints what it measured:
//
//   - first start: every file's line stored, seconds after the start;
//   - stop: the shutdown, with the final save of the checkpoint;
//   - restart: a line appended to every file just after the start, all
//     stored, seconds after the start (an upper bound on being ready);
//   - idle: CPU as a share of one core, RSS at the start and end of it.
func runIdle(ctx context.Context, o options, bin, work string, stdout, stderr io.Writer) error {
	n := o.idleFiles
	data := dataset{format: formatCSV, files: n, dirs: dirsFor(n), lines: int64(n), lineLen: o.line}
	dataDir := filepath.Join(work, "data", "idle")
	stateDir := filepath.Join(work, "state", "idle")
	for _, d := range []string{dataDir, stateDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "bench: idle: %d files of one line\n", n)
	if _, err := generate(dataDir, data); err != nil {
		return err
	}
	acc, err := startAcceptor(benchaccept.Options{TLS: true, Stream: "bench", CountLines: true}, stateDir, stderr)
	if err != nil {
		return err
	}
	defer acc.Close()
	w := workload{name: "idle", data: data}
	cfgFile := filepath.Join(stateDir, "kinetail.yaml")
	if err := os.WriteFile(cfgFile, []byte(configYAML(w, stateDir, dataDir, acc.url, o.agentYAML, o.dest)), 0o644); err != nil {
		return err
	}
	start := func(extra ...string) (*exec.Cmd, chan error, time.Time, error) {
		cmd := exec.Command(bin, append([]string{"run", "-c", cfgFile}, extra...)...)
		cmd.Dir = stateDir
		cmd.Env = childEnv(acc.caFile)
		cmd.Stdout, cmd.Stderr = stderr, stderr
		t := time.Now()
		if err := cmd.Start(); err != nil {
			return nil, nil, t, fmt.Errorf("start kinetail: %w", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		return cmd, exited, t, nil
	}
	waitStored := func(want int64, exited chan error) error {
		deadline := time.Now().Add(o.timeout)
		for {
			s, err := acc.Stats()
			if err != nil {
				return err
			}
			if s.UserRecords >= want {
				return nil
			}
			select {
			case err := <-exited:
				return fmt.Errorf("kinetail exited (%v) with %d of %d lines stored", err, s.UserRecords, want)
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("timeout: %d of %d lines stored", s.UserRecords, want)
			}
		}
	}
	stop := func(cmd *exec.Cmd, exited chan error) (time.Duration, error) {
		t := time.Now()
		cmd.Process.Signal(syscall.SIGTERM)
		err := <-exited
		return time.Since(t), err
	}

	cmd, exited, t0, err := start()
	if err != nil {
		return err
	}
	if err := waitStored(int64(n), exited); err != nil {
		cmd.Process.Kill()
		return err
	}
	first := time.Since(t0)
	stopped, err := stop(cmd, exited)
	if err != nil {
		return fmt.Errorf("first run: %w", err)
	}

	// The profiles, if asked for, cover the restart and the idle time.
	extra, err := profileArgs(o, "")
	if err != nil {
		return err
	}
	statusAt := ""
	if o.statusRequests > 0 {
		// The restarted agent serves /status on a port known here.
		if statusAt, err = kinesistest.FreeAddr(); err != nil {
			return err
		}
		cfg, err := os.ReadFile(cfgFile)
		if err != nil {
			return err
		}
		to := bytes.Replace(cfg, []byte(`listen: "127.0.0.1:0"`), []byte(`listen: "`+statusAt+`"`), 1)
		if bytes.Equal(to, cfg) {
			return fmt.Errorf("%s: no metrics listen address to replace", cfgFile)
		}
		if err := os.WriteFile(cfgFile, to, 0o644); err != nil {
			return err
		}
	}
	cmd, exited, t0, err = start(extra...)
	if err != nil {
		return err
	}
	defer cmd.Process.Kill()
	line := bytes.Repeat([]byte("i"), o.line-1)
	line = append(line, '\n')
	for _, p := range data.paths() {
		f, err := os.OpenFile(filepath.Join(dataDir, p), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		_, err = f.Write(line)
		f.Close()
		if err != nil {
			return err
		}
	}
	if err := waitStored(int64(2*n), exited); err != nil {
		return err
	}
	restart := time.Since(t0)

	pid := cmd.Process.Pid
	cpu0, err := procCPU(pid)
	if err != nil {
		return err
	}
	rss0, _, err := memStatus(pid)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: idle: %v with nothing to do\n", o.idle)
	idleStart := time.Now()
	// A line per tenth of the idle time: memory must stay flat, and the
	// CPU must not come in bursts either.
	step := o.idle / 10
	prev, prevAt := cpu0, idleStart
	for at := step; at <= o.idle; at += step {
		select {
		case <-time.After(time.Until(idleStart.Add(at))):
		case err := <-exited:
			return fmt.Errorf("kinetail exited while idle: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		}
		c, err := procCPU(pid)
		if err != nil {
			return err
		}
		rss, _, err := memStatus(pid)
		if err != nil {
			return err
		}
		now := time.Now()
		fmt.Fprintf(stderr, "bench: idle %v: CPU %.3f%% of one core, RSS %.1f MiB\n", at.Round(time.Second),
			100*(c-prev).Seconds()/now.Sub(prevAt).Seconds(), rss)
		prev, prevAt = c, now
	}
	cpu1, err := procCPU(pid)
	if err != nil {
		return err
	}
	rss1, peak, err := memStatus(pid)
	if err != nil {
		return err
	}
	idleFor := time.Since(idleStart)
	var status *statusCost
	if o.statusRequests > 0 {
		if status, err = measureStatus(ctx, pid, statusAt, o.statusRequests); err != nil {
			return err
		}
	}
	if _, err := stop(cmd, exited); err != nil {
		return fmt.Errorf("second run: %w", err)
	}

	fmt.Fprintf(stdout, "\n== idle: %d followed files (%d directories), nothing written for %v\n", n, data.dirs, idleFor.Round(time.Second))
	fmt.Fprintf(stdout, "first start: every file's line stored %.2f s after the start\n", first.Seconds())
	fmt.Fprintf(stdout, "stop (with the final save of %d checkpoint entries): %.2f s\n", n, stopped.Seconds())
	fmt.Fprintf(stdout, "restart: a line appended to every file right after the start, all stored %.2f s after it\n", restart.Seconds())
	fmt.Fprintf(stdout, "idle CPU: %.3f s in %v = %.3f%% of one core\n", (cpu1 - cpu0).Seconds(), idleFor.Round(time.Second),
		100*(cpu1-cpu0).Seconds()/idleFor.Seconds())
	fmt.Fprintf(stdout, "idle RSS: %.1f MiB at its start, %.1f MiB at its end (peak of the run %.1f MiB)\n", rss0, rss1, peak)
	if status != nil {
		fmt.Fprintf(stdout, "/status: %d requests, %.0f KB each, %.1f ms of agent CPU each (%.1f ms the slowest answer)\n",
			status.requests, float64(status.bytes)/1e3, status.cpu.Seconds()*1e3/float64(status.requests), status.slowest.Seconds()*1e3)
	}
	return nil
}

// procCPU reads a process's user and system CPU time from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14 and stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += v
	}
	// USER_HZ is 100 on Linux.
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// statusCost is what /status requests cost the agent.
type statusCost struct {
	requests int
	bytes    int           // of one answer
	cpu      time.Duration // the agent's, for all of them
	slowest  time.Duration
}

// measureStatus asks the /status of the agent at addr n times, one after
// another, and measures the agent's CPU time meanwhile.
func measureStatus(ctx context.Context, pid int, addr string, n int) (*statusCost, error) {
	url := "http://" + addr + "/status"
	c := &statusCost{requests: n}
	cpu0, err := procCPU(pid)
	if err != nil {
		return nil, err
	}
	for range n {
		t := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("/status: %w", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("/status: %s, %v", resp.Status, err)
		}
		c.bytes = len(body)
		c.slowest = max(c.slowest, time.Since(t))
	}
	cpu1, err := procCPU(pid)
	if err != nil {
		return nil, err
	}
	c.cpu = cpu1 - cpu0
	return c, nil
}
