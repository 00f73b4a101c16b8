// Command bench measures the kinetail binary end to end: it writes about a
// gigabyte of CSV logs, runs `kinetail run` on them against a local Kinesis
// acceptor over TLS, waits until every line has been stored, stops the agent
// with SIGTERM, and prints throughput, the agent's CPU time and peak memory,
// and what it sent.
//
//	go run ./internal/cmd/bench -bin ./bin/kinetail -size 1GB
//
// The agent's CPU and memory come from its own rusage, so the driver's work
// (generating files, accepting requests) is not counted in them; it does
// share the machine's cores with the agent while it runs.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kinetail/kinetail/internal/benchaccept"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	bin     string
	size    int64
	line    int
	work    string
	keep    bool
	timeout time.Duration
	stall   time.Duration
	settle  time.Duration
	profile string
	// aggregate turns on KPL aggregation, packing records up to this many
	// bytes; 0 leaves it off.
	aggregate int

	transforms bool          // measure each transform alone instead (transforms.go)
	duration   time.Duration // per transform
	only       string        // transforms whose name starts with this
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	size := fs.String("size", "1GB", "approximate `bytes` of logs to generate (KB, MB, GB, KiB, MiB, GiB)")
	fs.StringVar(&o.bin, "bin", "kinetail", "the kinetail `binary` to measure")
	fs.IntVar(&o.line, "line", 100, "`bytes` per line, newline included")
	fs.StringVar(&o.work, "work", "", "work `directory` for logs, config and state (default: a new temporary directory)")
	fs.BoolVar(&o.keep, "keep", false, "keep the generated logs and state")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "give up if not every line is stored by then")
	fs.DurationVar(&o.stall, "stall", time.Minute, "give up if nothing new is stored for this long")
	fs.StringVar(&o.profile, "cpuprofile", "", "have kinetail write a CPU profile to `file`")
	fs.IntVar(&o.aggregate, "aggregate", 0, "pack records into KPL aggregates of up to `bytes` (0: no aggregation)")
	fs.DurationVar(&o.settle, "settle", 2*time.Second, "once every line is counted, wait until nothing arrives for this long")
	fs.BoolVar(&o.transforms, "transforms", false, "measure each transform's lines/s in this process instead (no binary, no files)")
	fs.DurationVar(&o.duration, "duration", 1500*time.Millisecond, "with -transforms: how long to run each transform")
	fs.StringVar(&o.only, "only", "", "with -transforms: only the transforms whose name starts with this")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.size, err = parseSize(*size); err != nil {
		return o, err
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.transforms {
		return runTransforms(o, stdout, stderr)
	}
	bin, err := exec.LookPath(o.bin)
	if err != nil {
		return fmt.Errorf("kinetail binary: %w (build it with make, or pass -bin)", err)
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return err
	}

	work := o.work
	if work == "" {
		if work, err = os.MkdirTemp("", "kinetail-bench-"); err != nil {
			return err
		}
	} else if work, err = filepath.Abs(work); err != nil {
		return err
	}
	// Start from nothing: stale logs change the count and a stale
	// checkpoint would make the agent skip them.
	for _, d := range []string{"logs", "state"} {
		if err := os.RemoveAll(filepath.Join(work, d)); err != nil {
			return err
		}
	}
	if !o.keep {
		defer func() {
			if o.work == "" {
				os.RemoveAll(work)
				return
			}
			os.RemoveAll(filepath.Join(work, "logs"))
			os.RemoveAll(filepath.Join(work, "state"))
		}()
	}
	if err := os.MkdirAll(filepath.Join(work, "state"), 0o755); err != nil {
		return err
	}

	t0 := time.Now()
	lines, err := generate(work, o.size, o.line)
	if err != nil {
		return fmt.Errorf("generate logs: %w", err)
	}
	inBytes := lines * int64(o.line)
	fmt.Fprintf(stderr, "bench: wrote %d lines (%.1f MB) to %s in %.1fs\n",
		lines, float64(inBytes)/1e6, filepath.Join(work, "logs"), time.Since(t0).Seconds())

	acc, err := benchaccept.Start(benchaccept.Options{TLS: true, Stream: "bench", CountLines: true})
	if err != nil {
		return err
	}
	defer acc.Close()
	caFile, err := acc.CAFile(work)
	if err != nil {
		return err
	}
	cfgFile := filepath.Join(work, "kinetail.yaml")
	if err := os.WriteFile(cfgFile, []byte(configYAML(work, acc.URL(), o.aggregate)), 0o644); err != nil {
		return err
	}

	res, err := measure(ctx, o, bin, cfgFile, caFile, acc, lines, stderr)
	if err != nil {
		return err
	}
	res.Lines, res.InputBytes, res.LineBytes, res.Aggregate = lines, inBytes, o.line, o.aggregate
	res.compute()
	res.print(stdout)
	if res.ExitErr != "" {
		return fmt.Errorf("kinetail did not stop cleanly: %s", res.ExitErr)
	}
	return nil
}

// configYAML is the agent's configuration: one flow over the generated
// files, CSV to JSON, into the acceptor's stream, aggregated when
// aggregate > 0.
func configYAML(work, endpoint string, aggregate int) string {
	q := strconv.Quote
	agg := ""
	if aggregate > 0 {
		agg = "\n    aggregation: {enabled: true, max_bytes: " + strconv.Itoa(aggregate) + "}"
	}
	return `agent:
  checkpoint_file: ` + q(filepath.Join(work, "state", "checkpoints.json")) + `
  log_level: warn
  shutdown_timeout: 30s

destinations:
  bench:
    type: kinesis
    stream: bench
    region: us-east-1
    endpoint: ` + q(endpoint) + agg + `

flows:
  - name: csv
    paths: [` + q(filepath.Join(work, "logs", "*", "*.csv")) + `]
    initial_position: start_of_file
    transforms:
      - csv_to_json: {fields: [time, host, method, path, status, bytes]}
    destination: bench
`
}

// childEnv is the agent's environment: no AWS settings of the caller, dummy
// credentials, and the acceptor's certificate as the CA bundle.
func childEnv(caFile string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID=AKIDBENCHKINETAIL000",
		"AWS_SECRET_ACCESS_KEY=bench-secret",
		"AWS_REGION=us-east-1",
		"AWS_CA_BUNDLE="+caFile,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
	)
}

// measure runs the agent until the acceptor has every line, then stops it.
func measure(ctx context.Context, o options, bin, cfgFile, caFile string, acc *benchaccept.Acceptor, lines int64, stderr io.Writer) (*result, error) {
	args := []string{"run", "-c", cfgFile}
	if o.profile != "" {
		p, err := filepath.Abs(o.profile)
		if err != nil {
			return nil, err
		}
		args = append(args, "-cpuprofile", p)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(cfgFile)
	cmd.Env = childEnv(caFile)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start kinetail: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	kill := func() {
		cmd.Process.Kill()
		<-exited
	}

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(o.timeout)
	defer deadline.Stop()
	var (
		last         = acc.Stats()
		lastProgress = time.Now()
	)
	for last.UserRecords < lines {
		select {
		case <-ctx.Done():
			kill()
			return nil, fmt.Errorf("interrupted with %d of %d lines stored", last.UserRecords, lines)
		case err := <-exited:
			return nil, fmt.Errorf("kinetail exited (%v) with %d of %d lines stored", err, acc.Stats().UserRecords, lines)
		case <-deadline.C:
			kill()
			return nil, fmt.Errorf("timeout after %v: %d of %d lines stored", o.timeout, acc.Stats().UserRecords, lines)
		case now := <-tick.C:
			s := acc.Stats()
			if s.UserRecords != last.UserRecords {
				lastProgress = now
			} else if now.Sub(lastProgress) > o.stall {
				kill()
				return nil, fmt.Errorf("no progress for %v: %d of %d lines stored", o.stall, s.UserRecords, lines)
			}
			last = s
		}
	}
	// Duplicates (a retried request that had been stored) can reach the
	// count before the last lines do, so wait until nothing more arrives.
	// The wall time ends at the last stored record, not here.
	for quiet := time.Now(); time.Since(quiet) < o.settle; {
		select {
		case <-ctx.Done():
			kill()
			return nil, errors.New("interrupted")
		case err := <-exited:
			return nil, fmt.Errorf("kinetail exited (%v) before it was stopped", err)
		case <-tick.C:
			if s := acc.Stats(); s.Records != last.Records {
				last, quiet = s, time.Now()
			}
		}
	}
	done := time.Now()

	// Stop the agent as its service manager would, and give it its
	// shutdown_timeout and some.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		kill()
		return nil, fmt.Errorf("stop kinetail: %w", err)
	}
	var exitErr error
	select {
	case exitErr = <-exited:
	case <-time.After(45 * time.Second):
		kill()
		exitErr = errors.New("still running 45s after SIGTERM; killed")
	}
	stopped := time.Now()

	final := acc.Stats()
	ps := cmd.ProcessState
	r := &result{
		Wall:         final.Last.Sub(final.First).Seconds(),
		Startup:      final.First.Sub(started).Seconds(),
		Shutdown:     stopped.Sub(done).Seconds(),
		CPU:          (ps.UserTime() + ps.SystemTime()).Seconds(),
		CPUUser:      ps.UserTime().Seconds(),
		CPUSys:       ps.SystemTime().Seconds(),
		Requests:     final.Requests,
		Records:      final.Records,
		UserRecords:  final.UserRecords,
		DataBytes:    final.DataBytes,
		PayloadUnits: final.PayloadUnits,
		UserBytes:    final.UserBytes,
		IdealUnits:   (final.UserBytes + 25600 - 1) / 25600,
		PeakRSSMiB:   -1,
		Process:      stopped.Sub(started).Seconds(),
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSSMiB = float64(ru.Maxrss) / 1024 // Linux reports KiB
	}
	if exitErr != nil {
		r.ExitErr = exitErr.Error()
	}
	return r, nil
}

// result is one run's numbers; it is also the RESULT line's JSON.
type result struct {
	Lines        int64   `json:"lines"`
	LineBytes    int     `json:"line_bytes"`
	InputBytes   int64   `json:"input_bytes"`
	Wall         float64 `json:"wall_s"`    // first request to last record stored
	Startup      float64 `json:"startup_s"` // process start to first request
	Shutdown     float64 `json:"shutdown_s"`
	Process      float64 `json:"process_s"` // process start to exit
	LinesPerSec  float64 `json:"lines_per_s"`
	MBPerSec     float64 `json:"input_mb_per_s"`
	CPU          float64 `json:"cpu_s"`
	CPUUser      float64 `json:"cpu_user_s"`
	CPUSys       float64 `json:"cpu_sys_s"`
	CPUPerMLines float64 `json:"cpu_s_per_million_lines"`
	CPUPerGB     float64 `json:"cpu_s_per_gb"`
	LinesPerCPU  float64 `json:"lines_per_cpu_s"`
	PeakRSSMiB   float64 `json:"peak_rss_mib"`
	Requests     int64   `json:"requests"`
	Records      int64   `json:"kinesis_records"`
	UserRecords  int64   `json:"user_records"`
	DataBytes    int64   `json:"data_bytes"`
	UserBytes    int64   `json:"user_bytes"` // of the records the agent made, inside aggregates
	UsersPerRec  float64 `json:"user_records_per_kinesis_record"`
	UnitsPerM    float64 `json:"payload_units_per_million_lines"`
	Aggregate    int     `json:"aggregation_max_bytes,omitempty"`
	PayloadUnits int64   `json:"payload_units"`
	IdealUnits   int64   `json:"ideal_payload_units"`
	UnitsRatio   float64 `json:"payload_units_vs_ideal"`
	// SentIdealUnits is the ideal for the bytes actually sent: what
	// packing alone wastes, without the aggregate format's own overhead.
	SentIdealUnits int64   `json:"sent_ideal_payload_units"`
	SentUnitsRatio float64 `json:"payload_units_vs_sent_ideal"`
	RecsPerReq     float64 `json:"records_per_request"`
	ExitErr        string  `json:"exit_error,omitempty"`
}

func (r *result) compute() {
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	r.LinesPerSec = div(float64(r.Lines), r.Wall)
	r.MBPerSec = div(float64(r.InputBytes)/1e6, r.Wall)
	r.CPUPerMLines = div(r.CPU, float64(r.Lines)/1e6)
	r.CPUPerGB = div(r.CPU, float64(r.InputBytes)/1e9)
	r.LinesPerCPU = div(float64(r.Lines), r.CPU)
	r.UnitsRatio = div(float64(r.PayloadUnits), float64(r.IdealUnits))
	r.SentIdealUnits = (r.DataBytes + 25600 - 1) / 25600
	r.SentUnitsRatio = div(float64(r.PayloadUnits), float64(r.SentIdealUnits))
	r.RecsPerReq = div(float64(r.Records), float64(r.Requests))
	r.UsersPerRec = div(float64(r.UserRecords), float64(r.Records))
	r.UnitsPerM = div(float64(r.PayloadUnits), float64(r.Lines)/1e6)
}

func (r *result) print(w io.Writer) {
	row := func(name, value, note string) {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("%-14s %16s  %s", name, value, note), " "))
	}
	f := func(format string, v ...any) string { return fmt.Sprintf(format, v...) }
	row("lines", f("%d", r.Lines), f("%d bytes each", r.LineBytes))
	row("input", f("%.1f MB", float64(r.InputBytes)/1e6), "")
	row("wall", f("%.2f s", r.Wall), "first request to last record stored")
	row("startup", f("%.2f s", r.Startup), "process start to first request")
	row("shutdown", f("%.2f s", r.Shutdown), "SIGTERM to exit")
	row("throughput", f("%.0f lines/s", r.LinesPerSec), "")
	row("", f("%.1f MB/s", r.MBPerSec), "of input")
	row("cpu", f("%.2f s", r.CPU), f("user %.2f s, sys %.2f s (whole process life)", r.CPUUser, r.CPUSys))
	row("", f("%.3f s", r.CPUPerMLines), "per million lines")
	row("", f("%.2f s", r.CPUPerGB), "per GB of input")
	row("", f("%.0f lines", r.LinesPerCPU), "per CPU second")
	row("peak rss", f("%.1f MiB", r.PeakRSSMiB), "")
	row("requests", f("%d", r.Requests), "PutRecords")
	agg := "aggregation off"
	if r.Aggregate > 0 {
		agg = f("KPL aggregates of up to %d bytes", r.Aggregate)
	}
	row("records", f("%d", r.Records), f("%.1f per request; %.1f user records each (%s)", r.RecsPerReq, r.UsersPerRec, agg))
	row("user records", f("%d", r.UserRecords), f("%+d vs lines", r.UserRecords-r.Lines))
	row("data", f("%.1f MB", float64(r.DataBytes)/1e6), f("decoded; %.1f MB of user records", float64(r.UserBytes)/1e6))
	row("payload units", f("%d", r.PayloadUnits), f("ideal %d = user bytes / 25 KiB (x%.3f); %.0f per million lines", r.IdealUnits, r.UnitsRatio, r.UnitsPerM))
	row("", "", f("ideal for the data sent (KPL framing included) %d (x%.3f)", r.SentIdealUnits, r.SentUnitsRatio))
	if r.ExitErr != "" {
		row("exit", r.ExitErr, "")
	}
	b, _ := json.Marshal(r)
	fmt.Fprintf(w, "RESULT %s\n", b)
}
