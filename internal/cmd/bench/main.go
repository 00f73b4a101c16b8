// Command bench measures the kinetail binary end to end, in workloads: for
// each it writes logs, runs `kinetail run` on them against a local Kinesis
// acceptor over TLS, waits until every line has been stored, stops the
// agent with SIGTERM, and prints throughput, the agent's CPU time and peak
// memory, the acceptor's CPU time, and what was sent; then one table with a
// row per workload.
//
//	go run ./internal/cmd/bench -bin ./bin/kinetail              # every workload
//	go run ./internal/cmd/bench -bin ./bin/kinetail -workloads raw,files -size 200MB
//	go run ./internal/cmd/bench -bin ./bin/kinetail -quick       # small sizes, seconds
//
// The workloads (sizes are flags):
//
//	raw        10 M lines of 100 bytes (1 GB) in one file, sent as they are
//	apache     5 M Apache combined log lines, log_to_json combined_apache
//	aggregate  raw's lines, in KPL aggregates of up to 51,200 bytes
//	files      raw's bytes in 1,000 files of 10 k lines, in 10 directories
//	outage     a backlog in 200 files; the acceptor is down for the first
//	           60 s, then up: peak RSS while down and while catching up
//	throttle   the same backlog; the acceptor refuses 90% of entries with
//	           ProvisionedThroughputExceededException for the first 60 s
//	csv        (not run by default) CSV → JSON over 4 files: the workload of
//	           the first figures in BENCHMARKS.md
//
// The agent's CPU and memory come from its own rusage, and the acceptor's
// from its own: the acceptor runs in a child process of the driver (see
// acceptproc.go), so the driver's work (generating files, polling) is
// counted in neither. All three share the machine's cores.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kinetail/kinetail/internal/benchaccept"
)

func main() {
	if os.Getenv(acceptorEnv) != "" {
		if err := serveAcceptor(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench acceptor:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	bin     string
	work    string
	keep    bool
	timeout time.Duration
	stall   time.Duration
	settle  time.Duration
	profile string
	// memProfile is for kinetail's -memprofile: what it allocated, and
	// what is live when it stops.
	memProfile string

	workloads    string
	size         int64 // raw, aggregate, files, csv
	line         int
	apacheLines  int64
	files        int
	manyFiles    int
	backlogFiles int
	backlogSize  int64
	outage       time.Duration
	throttleRate float64
	throttleFor  time.Duration
	aggregate    int
	dest         []string
	agentYAML    []string
	acceptH2     bool
	distinct     bool

	idle      time.Duration // run the idle scenario instead (idle.go) for this long
	idleFiles int
	// statusRequests is for -idle: how many /status requests are made
	// after the idle time, to measure what one costs the agent.
	statusRequests int

	transforms bool          // measure each transform alone instead (transforms.go)
	duration   time.Duration // per transform
	only       string        // transforms whose name starts with this
}

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// listFlag collects a flag given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, "; ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// quickSizes are the sizes of -quick, for flags not given: every workload
// in seconds, to test the harness rather than measure the agent.
var quickSizes = map[string]string{
	"size": "2MB", "apache-lines": "20000", "files": "50", "many-files": "200", "backlog-files": "20", "backlog-size": "1MB",
	"outage": "1s", "throttle-for": "1s", "settle": "300ms", "stall": "30s", "timeout": "2m",
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	size := fs.String("size", "1GB", "approximate `bytes` of logs for raw, aggregate, files and csv (KB, MB, GB, KiB, MiB, GiB)")
	backlogSize := fs.String("backlog-size", "200MB", "`bytes` of the backlog of outage and throttle")
	quick := fs.Bool("quick", false, "small sizes and short faults (seconds in all), to test the harness; flags given still count")
	fs.StringVar(&o.bin, "bin", "kinetail", "the kinetail `binary` to measure")
	fs.StringVar(&o.workloads, "workloads", defaultWorkloads, "comma-separated `names` of the workloads to run: "+strings.Join(workloadNames, ", "))
	fs.IntVar(&o.line, "line", 100, "`bytes` per generated CSV line, newline included")
	fs.Int64Var(&o.apacheLines, "apache-lines", 5_000_000, "`lines` of Apache combined log for apache")
	fs.IntVar(&o.files, "files", 1000, "`files` that files spreads -size over")
	fs.IntVar(&o.manyFiles, "many-files", 10000, "`files` that manyfiles spreads -size over")
	fs.IntVar(&o.backlogFiles, "backlog-files", 200, "`files` of the backlog of outage and throttle")
	fs.DurationVar(&o.outage, "outage", 60*time.Second, "how long the acceptor is down in outage, from the agent's start")
	fs.Float64Var(&o.throttleRate, "throttle-rate", 0.9, "share of entries the acceptor refuses in throttle, 0 to 1")
	fs.DurationVar(&o.throttleFor, "throttle-for", 60*time.Second, "how long throttle throttles, from the agent's start (or until every line is stored)")
	fs.IntVar(&o.aggregate, "aggregate", 51200, "KPL aggregate `bytes` of the aggregate workload")
	fs.Var((*listFlag)(&o.dest), "dest", "a YAML `snippet` added to the destination's settings, like 'max_in_flight: 8' (repeatable)")
	fs.Var((*listFlag)(&o.agentYAML), "agent", "a YAML `snippet` added to the agent's settings, like 'memory_limit: 48MiB' (repeatable)")
	fs.BoolVar(&o.acceptH2, "accept-h2", false, "let the acceptor speak HTTP/2 to clients that offer it (by default HTTP/1.1 only, as the service)")
	fs.BoolVar(&o.distinct, "distinct", false, "count distinct lines in every workload, not only outage and throttle (costs the acceptor CPU)")
	fs.StringVar(&o.work, "work", "", "work `directory` for logs, configs and state (default: a new temporary directory)")
	fs.BoolVar(&o.keep, "keep", false, "keep the generated logs and state")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "give up on a workload if not every line is stored by then (plus its fault's length)")
	fs.DurationVar(&o.stall, "stall", time.Minute, "give up on a workload if nothing new is stored for this long (outside a fault)")
	fs.StringVar(&o.profile, "cpuprofile", "", "have kinetail write a CPU profile to `file` (with several workloads, file-NAME.ext for each; with -idle, of the restart and the idle time)")
	fs.StringVar(&o.memProfile, "memprofile", "", "have kinetail write an allocation profile to `file` when it stops (with several workloads, file-NAME.ext for each; with -idle, of the restart and the idle time)")
	fs.DurationVar(&o.settle, "settle", 2*time.Second, "once every line is counted, wait until nothing arrives for this long")
	fs.DurationVar(&o.idle, "idle", 0, "run the idle scenario instead of the workloads: -idle-files files, restarted, then idle this long")
	fs.IntVar(&o.idleFiles, "idle-files", 10000, "`files` of the idle scenario")
	fs.IntVar(&o.statusRequests, "status-requests", 0, "with -idle: then ask the agent's /status this many `times`, and report its CPU per request")
	fs.BoolVar(&o.transforms, "transforms", false, "measure each transform's lines/s in this process instead (no binary, no files)")
	fs.DurationVar(&o.duration, "duration", 1500*time.Millisecond, "with -transforms: how long to run each transform")
	fs.StringVar(&o.only, "only", "", "with -transforms: only the transforms whose name starts with this")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *quick {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		for name, v := range quickSizes {
			if !given[name] {
				if err := fs.Set(name, v); err != nil {
					return o, err
				}
			}
		}
	}
	var err error
	if o.size, err = parseSize(*size); err != nil {
		return o, err
	}
	if o.backlogSize, err = parseSize(*backlogSize); err != nil {
		return o, fmt.Errorf("-backlog-size: %w", err)
	}
	switch {
	case o.throttleRate < 0 || o.throttleRate > 1:
		return o, fmt.Errorf("-throttle-rate %v: want 0 to 1", o.throttleRate)
	case o.files < 1 || o.backlogFiles < 1 || o.apacheLines < 1:
		return o, errors.New("-files, -backlog-files and -apache-lines must be positive")
	case o.aggregate < 1:
		return o, errors.New("-aggregate must be positive")
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
	ws, err := workloads(o)
	if err != nil {
		return err
	}
	if _, ok := stderr.(*os.File); !ok {
		// The agent and the acceptor write their logs to it from copying
		// goroutines (a file they would get as their own descriptor).
		stderr = &syncWriter{w: stderr}
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
	for _, d := range []string{"data", "state"} {
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
			os.RemoveAll(filepath.Join(work, "data"))
			os.RemoveAll(filepath.Join(work, "state"))
		}()
	}

	if o.idle > 0 {
		return runIdle(ctx, o, bin, work, stdout, stderr)
	}
	if err := checkConfigs(ctx, o, ws, bin, work); err != nil {
		return err
	}
	d := &datasets{root: filepath.Join(work, "data"), ws: ws, keep: o.keep, stderr: stderr}
	var (
		results []*result
		failed  []string
	)
	for i, w := range ws {
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "bench: workload %s: %s\n", w.name, w.title)
		r, err := runWorkload(ctx, o, w, bin, work, d, i, len(ws) > 1, stderr)
		if r == nil {
			r = &result{Workload: w.name, Title: w.title}
		}
		if err != nil {
			// Later workloads still run: one failure should not cost the
			// figures of a run of many minutes.
			fmt.Fprintf(stderr, "bench: workload %s failed: %v\n", w.name, err)
			r.Error = err.Error()
			failed = append(failed, w.name)
		} else {
			fmt.Fprintf(stdout, "\n== %s: %s\n", w.name, w.title)
			r.print(stdout)
		}
		results = append(results, r)
	}
	fmt.Fprintln(stdout)
	printSummary(stdout, results)
	if len(failed) > 0 {
		return fmt.Errorf("workloads failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

// datasets generates each workload's logs once, for all the workloads that
// read the same, and removes them after the last of those (unless kept),
// so at most two datasets are on disk at a time.
type datasets struct {
	root   string
	ws     []workload
	keep   bool
	stderr io.Writer
	dirs   map[string]string // by dataset key
	sizes  map[string]int64
}

// get returns the directory of workload i's dataset and its bytes.
func (d *datasets) get(i int) (string, int64, error) {
	data := d.ws[i].data
	key := data.key()
	if dir, ok := d.dirs[key]; ok {
		return dir, d.sizes[key], nil
	}
	if d.dirs == nil {
		d.dirs, d.sizes = map[string]string{}, map[string]int64{}
	}
	dir := filepath.Join(d.root, d.ws[i].name)
	t0 := time.Now()
	size, err := generate(dir, data)
	if err != nil {
		return "", 0, fmt.Errorf("generate logs: %w", err)
	}
	fmt.Fprintf(d.stderr, "bench: wrote %d lines (%.1f MB) in %d files to %s in %.1fs\n",
		data.lines, float64(size)/1e6, data.files, dir, time.Since(t0).Seconds())
	d.dirs[key], d.sizes[key] = dir, size
	return dir, size, nil
}

// done removes workload i's dataset if no later workload reads it.
func (d *datasets) done(i int) {
	key := d.ws[i].data.key()
	for _, w := range d.ws[i+1:] {
		if w.data.key() == key {
			return
		}
	}
	if dir, ok := d.dirs[key]; ok && !d.keep {
		os.RemoveAll(dir)
		delete(d.dirs, key)
	}
}

// runWorkload measures workload i. A result without an error is complete;
// with one, it may hold what was known when it failed.
func runWorkload(ctx context.Context, o options, w workload, bin, work string, d *datasets, i int, several bool, stderr io.Writer) (*result, error) {
	dataDir, inBytes, err := d.get(i)
	if err != nil {
		return nil, err
	}
	defer d.done(i)
	stateDir := filepath.Join(work, "state", w.name)
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, err
	}

	acc, err := startAcceptor(benchaccept.Options{
		TLS: true, HTTP2: o.acceptH2, Stream: "bench", CountLines: true,
		Distinct: w.distinct, Throttle: w.throttle,
	}, stateDir, stderr)
	if err != nil {
		return nil, err
	}
	closed := false
	defer func() {
		if !closed {
			acc.Close()
		}
	}()
	cfgFile := filepath.Join(stateDir, "kinetail.yaml")
	if err := os.WriteFile(cfgFile, []byte(configYAML(w, stateDir, dataDir, acc.url, o.agentYAML, o.dest)), 0o644); err != nil {
		return nil, err
	}
	suffix := ""
	if several {
		suffix = w.name
	}
	profiles, err := profileArgs(o, suffix)
	if err != nil {
		return nil, err
	}
	r, err := measure(ctx, o, w, bin, cfgFile, profiles, acc, stderr)
	usage, cerr := acc.Close()
	closed = true
	if err != nil {
		return r, err
	}
	if cerr != nil {
		return r, cerr
	}
	r.Workload, r.Title, r.Files = w.name, w.title, w.data.files
	r.Lines, r.InputBytes, r.Aggregate = w.data.lines, inBytes, w.aggregate
	if w.data.format == formatCSV {
		r.LineBytes = w.data.lineLen
	}
	r.AcceptorCPU = usage.CPU.Seconds()
	r.AcceptorRSSMiB = usage.PeakRSSMiB
	r.compute()
	if r.ExitErr != "" {
		return r, fmt.Errorf("kinetail did not stop cleanly: %s", r.ExitErr)
	}
	return r, nil
}

// checkConfigs has the binary under test judge each workload's
// configuration before any logs are written: -agent and -dest may name settings this
// tree does not know yet, or be mistyped.
func checkConfigs(ctx context.Context, o options, ws []workload, bin, work string) error {
	for _, w := range ws {
		stateDir := filepath.Join(work, "state", w.name)
		if err := os.MkdirAll(stateDir, 0o755); err != nil {
			return err
		}
		cfgFile := filepath.Join(stateDir, "kinetail.yaml")
		cfg := configYAML(w, stateDir, filepath.Join(work, "data", w.name), "https://127.0.0.1:1", o.agentYAML, o.dest)
		if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
			return err
		}
		check := exec.CommandContext(ctx, bin, "check", "-c", cfgFile)
		check.Env = childEnv(os.DevNull)
		if out, err := check.CombinedOutput(); err != nil {
			if msg := strings.TrimSpace(string(out)); msg != "" {
				return fmt.Errorf("kinetail check of workload %s: %s", w.name, msg)
			}
			return fmt.Errorf("kinetail check of workload %s: %w", w.name, err)
		}
	}
	return nil
}

// childEnv is the agent's environment: no AWS settings of the caller, dummy
// credentials, and the acceptor's certificate as the CA bundle.
func childEnv(caFile string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, acceptorEnv+"=") {
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

// profileArgs gives kinetail's profile flags for the files asked for, each
// named with suffix before its extension when suffix is not empty (one
// profile per workload).
func profileArgs(o options, suffix string) ([]string, error) {
	var args []string
	for _, p := range []struct{ flag, file string }{{"-cpuprofile", o.profile}, {"-memprofile", o.memProfile}} {
		if p.file == "" {
			continue
		}
		file := p.file
		if suffix != "" {
			ext := filepath.Ext(file)
			file = strings.TrimSuffix(file, ext) + "-" + suffix + ext
		}
		abs, err := filepath.Abs(file)
		if err != nil {
			return nil, err
		}
		args = append(args, p.flag, abs)
	}
	return args, nil
}
