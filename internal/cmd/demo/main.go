// Command demo runs kinetail end to end on one machine: it starts a local
// Kinesis server (kinesis-local) on loopback, writes sample logs that are
// rotated while the agent runs, runs the real kinetail binary with
// config.example.yaml pointed at the local server, reads the stream back
// and shows that every line arrived.
//
// Run it with `make demo`.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	bin := flag.String("bin", "bin/kinetail", "kinetail binary")
	cfgPath := flag.String("config", "config.example.yaml", "configuration to run")
	duration := flag.Duration("duration", 6*time.Second, "how long the sample logs are written")
	keep := flag.Bool("keep", false, "keep the temporary directory")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	work, err := os.MkdirTemp("", "kinetail-demo-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Println("work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}

	step("starting a local Kinesis server (kinesis-local) on 127.0.0.1")
	srv, err := kinesistest.Start(ctx, kinesistest.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()
	const stream = "demo-events"
	if err := srv.CreateStream(ctx, stream, 2); err != nil {
		return err
	}
	fmt.Printf("   endpoint %s, stream %q with 2 shards\n", srv.Endpoint(), stream)

	logDir := filepath.Join(work, "logs")
	for _, d := range []string{"app", "web/site-a", "web/site-b/2026"} {
		if err := os.MkdirAll(filepath.Join(logDir, d), 0o755); err != nil {
			return err
		}
	}

	metricsAddr, err := kinesistest.FreeAddr()
	if err != nil {
		return err
	}

	step("running kinetail with " + *cfgPath)
	agentLog, err := os.Create(filepath.Join(work, "kinetail.log"))
	if err != nil {
		return err
	}
	defer agentLog.Close()
	cmd := exec.Command(*bin, "run", "-c", *cfgPath)
	cmd.Env = append(os.Environ(), kinesistest.TestEnv(srv.Endpoint())...)
	cmd.Env = append(cmd.Env,
		"KINETAIL_LOG_DIR="+logDir,
		"KINETAIL_STATE_DIR="+filepath.Join(work, "state"),
		"KINETAIL_STREAM="+stream,
		"KINETAIL_ENDPOINT="+srv.Endpoint(),
		"KINETAIL_METRICS="+metricsAddr,
	)
	cmd.Stdout, cmd.Stderr = agentLog, agentLog
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w (run `make build` first)", *bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	}()

	step(fmt.Sprintf("writing sample logs for %s, rotating them (rename + create) every 2s", *duration))
	written, rotations, err := writeLogs(ctx, logDir, *duration)
	if err != nil {
		return err
	}
	fmt.Printf("   %d lines written to %d files, %d rotations\n", len(written), 3, rotations)

	step("reading the stream back with GetRecords")
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	recs, err := srv.WaitForCount(wctx, stream, len(written))
	cancel()
	if err != nil && len(recs) == 0 {
		return fmt.Errorf("read back: %w", err)
	}

	// The status of the run, as an operator sees it, shown at the end.
	status := exec.Command(*bin, "status", "-c", *cfgPath)
	status.Env = cmd.Env
	statusOut, err := status.CombinedOutput()
	if err != nil {
		statusOut = fmt.Appendf(statusOut, "kinetail status: %v\n", err)
	}

	step("stopping kinetail (SIGTERM)")
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			return fmt.Errorf("kinetail exited with %v; its log: %s", err, agentLog.Name())
		}
	case <-time.After(30 * time.Second):
		return errors.New("kinetail did not stop within 30s")
	}

	if err := report(written, recs, agentLog.Name()); err != nil {
		return err
	}
	step("kinetail status, just before the stop")
	os.Stdout.Write(statusOut)
	return nil
}

// line is what the demo wrote; key identifies it in what comes back.
type line struct {
	file, key string
}

func writeLogs(ctx context.Context, dir string, d time.Duration) ([]line, int, error) {
	files := []struct {
		path string
		json bool
	}{
		{filepath.Join(dir, "app", "app.log"), true},
		{filepath.Join(dir, "web", "site-a", "access.csv"), false},
		{filepath.Join(dir, "web", "site-b", "2026", "access.csv"), false},
	}
	var written []line
	open := make([]*os.File, len(files))
	for i, f := range files {
		var err error
		if open[i], err = os.OpenFile(f.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return nil, 0, err
		}
	}
	defer func() {
		for _, f := range open {
			f.Close()
		}
	}()
	start := time.Now()
	nextRotate := start.Add(2 * time.Second)
	rotations, seq := 0, 0
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for time.Since(start) < d {
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-tick.C:
		}
		for i, f := range files {
			seq++
			key := "demo-" + strconv.Itoa(seq)
			var b []byte
			ts := time.Now().UTC().Format(time.RFC3339Nano)
			if f.json {
				b = fmt.Appendf(nil, `{"ts":%q, "level":"info", "msg":"user signed in", "id":%q}`+"\n", ts, key)
			} else {
				b = fmt.Appendf(nil, "%s,web-%d,GET,/items/%s,200,%d\n", ts, i, key, 100+seq%900)
			}
			if _, err := open[i].Write(b); err != nil {
				return nil, 0, err
			}
			written = append(written, line{file: f.path, key: key})
		}
		if time.Now().After(nextRotate) {
			// Rename and create, as logrotate's default mode does. The
			// writer keeps appending to the renamed file for a moment, as
			// a real program does until it reopens its log.
			for i, f := range files {
				if err := os.Rename(f.path, f.path+".1"); err != nil {
					return nil, 0, err
				}
				seq++
				key := "demo-" + strconv.Itoa(seq)
				tail := fmt.Appendf(nil, `{"ts":"late", "msg":"written after rename", "id":%q}`+"\n", key)
				if !f.json {
					tail = fmt.Appendf(nil, "late,web-%d,GET,/items/%s,200,1\n", i, key)
				}
				open[i].Write(tail)
				written = append(written, line{file: f.path + ".1", key: key})
				open[i].Close()
				var err error
				if open[i], err = os.OpenFile(f.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
					return nil, 0, err
				}
			}
			rotations++
			nextRotate = nextRotate.Add(2 * time.Second)
		}
	}
	return written, rotations, nil
}

func report(written []line, recs []kinesistest.Record, logPath string) error {
	seen := make(map[string]int, len(recs))
	for _, r := range recs {
		var v map[string]any
		if err := json.Unmarshal(r.Data, &v); err != nil {
			return fmt.Errorf("record is not JSON: %q", r.Data)
		}
		key, _ := v["id"].(string)
		if key == "" {
			if p, ok := v["path"].(string); ok {
				key = p[strings.LastIndexByte(p, '/')+1:]
			}
		}
		seen[key]++
	}

	step("records as they arrived in Kinesis (first 3 and last 3)")
	show := func(r kinesistest.Record) {
		fmt.Printf("   %-22s %s\n", r.Shard, bytes.TrimSpace(r.Data))
	}
	for i, r := range recs {
		if i < 3 || i >= len(recs)-3 {
			show(r)
		} else if i == 3 {
			fmt.Println("   …")
		}
	}

	missing, dups := 0, 0
	for _, w := range written {
		switch n := seen[w.key]; {
		case n == 0:
			missing++
			if missing <= 5 {
				fmt.Printf("   MISSING %s from %s\n", w.key, w.file)
			}
		case n > 1:
			dups += n - 1
		}
	}
	step("summary")
	fmt.Printf("   lines written:     %d\n   records received:  %d\n   missing:           %d\n   duplicates:        %d\n",
		len(written), len(recs), missing, dups)
	fmt.Println("   kinetail's own log:")
	printTail(logPath, 8)
	if missing > 0 {
		return fmt.Errorf("%d lines did not arrive", missing)
	}
	fmt.Println("\nevery line arrived.")
	return nil
}

func printTail(path string, n int) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for _, l := range lines {
		fmt.Println("     ", l)
	}
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }
