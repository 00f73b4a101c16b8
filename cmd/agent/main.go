// Command kinetail follows log files and sends their lines to Kinesis
// without losing any. See README.md and config.example.yaml.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/kinetail/kinetail/agent"
	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/sdnotify"
	"github.com/kinetail/kinetail/preflight"
)

// version and commit are set at build time with
// -ldflags "-X main.version=… -X main.commit=…" (make package does).
var version, commit = "", ""

const usage = `kinetail follows log files and sends their lines to Amazon Kinesis.

Usage:
  kinetail run -c FILE      run the agent until SIGTERM or SIGINT
  kinetail check -c FILE    validate a configuration and print a summary
  kinetail test -c FILE --flow NAME [INPUT|-]
                            show what a flow's transforms make of lines
  kinetail replay -c FILE [--destination NAME] [--keep] DEADLETTER...
                            send the records of dead-letter files again
  kinetail status [-c FILE] show what the running agent is doing (or the checkpoint)
  kinetail convert AGENT.JSON [AGENT.D/*.JSON]
                            print a Kinesis Agent configuration as kinetail YAML
  kinetail version          print the version

Run "kinetail COMMAND --help" for a command's options.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		return cmdRun(rest, stderr)
	case "check":
		return cmdCheck(rest, stdout, stderr)
	case "test":
		return cmdTest(rest, stdin, stdout, stderr)
	case "replay":
		return cmdReplay(rest, stdout, stderr)
	case "status":
		return cmdStatus(rest, stdout, stderr)
	case "convert":
		return cmdConvert(rest, stdout, stderr)
	case "version", "--version":
		if commit != "" {
			fmt.Fprintf(stdout, "kinetail %s (commit %s)\n", buildVersion(), commit)
		} else {
			fmt.Fprintln(stdout, "kinetail", buildVersion())
		}
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "kinetail: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// flags parses a subcommand's flags; ok is false when the command should
// exit with code (0 for --help).
func flags(name, summary string, args []string, stderr io.Writer, define func(*flag.FlagSet)) (code int, ok bool) {
	_, code, ok = flagsArgs(name, "[options]", summary, args, 0, stderr, define)
	return code, ok
}

// flagsArgs is flags for a command that takes up to maxArgs arguments after
// its options, which it returns.
func flagsArgs(name, synopsis, summary string, args []string, maxArgs int, stderr io.Writer, define func(*flag.FlagSet)) (rest []string, code int, ok bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: kinetail %s %s\n\n%s\n\nOptions:\n", name, synopsis, summary)
		fs.PrintDefaults()
	}
	define(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0, false
		}
		return nil, 2, false
	}
	if fs.NArg() > maxArgs {
		fmt.Fprintf(stderr, "kinetail %s: unexpected argument %q\n", name, fs.Arg(maxArgs))
		return nil, 2, false
	}
	return fs.Args(), 0, true
}

func cmdRun(args []string, stderr io.Writer) int {
	var path, logFormat, logLevel, cpuProfile, memProfile string
	code, ok := flags("run", "Follows the configured files and sends their lines until SIGTERM or SIGINT,\nthen delivers what is in flight (up to agent.shutdown_timeout) and saves the checkpoint.", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&path, "c", "/etc/kinetail/kinetail.yaml", "configuration `file`")
		fs.StringVar(&logFormat, "log-format", "text", "log format: text or json")
		fs.StringVar(&logLevel, "log-level", "", "override agent.log_level: debug, info, warn or error")
		fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to `file` (for performance work)")
		fs.StringVar(&memProfile, "memprofile", "", "write an allocation profile to `file` on exit (for performance work)")
	})
	if !ok {
		return code
	}
	reload, stopHangups := hangups()
	defer stopHangups()
	// A Go program that does not handle SIGPIPE dies of it, silently (exit
	// 141), when it writes to a closed pipe on stdout or stderr: the stdout
	// destination piped into `head -1`. Handled, the write fails with
	// EPIPE instead, the destination reports it and the agent shuts down
	// in order, saving only what was written. Notify is what os/signal
	// documents for this; the signals themselves need no handling.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)
	cfg, aj, err := loadValidated(path)
	if err != nil {
		fmt.Fprintf(stderr, "kinetail: %v\n", err)
		return 1
	}
	level := new(slog.LevelVar)
	log, err := newLogger(stderr, logFormat, level)
	if err != nil {
		fmt.Fprintf(stderr, "kinetail: %v\n", err)
		return 2
	}
	// Load reads the configuration again for a reload; from an
	// agent.json it also sets again what the file gives the AWS SDK.
	load := func() (*config.Config, error) {
		cfg, aj, err := loadValidated(path)
		if err == nil && aj != nil {
			setAgentEnv(aj)
		}
		return cfg, err
	}
	// What a configuration sets for the whole process, at start and at
	// each reload.
	apply := func(cfg *config.Config) {
		lv := logLevel
		if lv == "" {
			lv = cfg.Agent.LogLevel
		}
		if err := level.UnmarshalText([]byte(lv)); err != nil {
			log.Error("log level unchanged", "err", err)
		}
		if os.Getenv("GOMEMLIMIT") == "" {
			// The collector works harder as the heap nears the agent's
			// memory limit instead of letting it grow (GOMEMLIMIT wins).
			debug.SetMemoryLimit(agent.RuntimeLimit(int64(cfg.Agent.MemoryLimit)))
		}
	}
	if err := level.UnmarshalText([]byte(cmp.Or(logLevel, cfg.Agent.LogLevel))); err != nil {
		fmt.Fprintf(stderr, "kinetail: log level %q: want debug, info, warn or error\n", cmp.Or(logLevel, cfg.Agent.LogLevel))
		return 2
	}
	if aj != nil {
		// Said once, at start: not again at each reload.
		logAgentNotes(log, aj)
		setAgentEnv(aj)
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "kinetail: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "kinetail: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	if memProfile != "" {
		defer writeHeapProfile(memProfile, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var current agentStatus
	defer logStatusOnSignal(ctx, &current, log)()
	err = agent.Serve(ctx, cfg, reload, agent.ServeOptions{
		Starting: func(a *agent.Agent, cfg *config.Config) {
			current.a.Store(a)
			// The metrics port is the agent's own to report: it binds
			// it right after.
			preflight.Log(ctx, log, preflight.Check(ctx, cfg, preflight.Options{}))
		},
		Log:     log,
		Version: buildVersion(),
		Load:    load,
		Apply:   apply,
		Notify:  sdnotify.New(),
	})
	if err != nil {
		log.Error("stopped with an error", "err", err)
		return 1
	}
	return 0
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	var path string
	code, ok := flags("check", "Validates a configuration file and prints its flows and destinations.\nExits 1 and lists every problem (file:line:column: reason) if it is invalid,\nif the checkpoint file's directory cannot be created or written, or if\nanother program uses agent.metrics.listen. Warns about globs whose directory\ndoes not exist and files this user cannot read.", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&path, "c", "/etc/kinetail/kinetail.yaml", "configuration `file`")
	})
	if !ok {
		return code
	}
	cfg, aj, err := loadValidated(path)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	// Last, as it creates the checkpoint directory: only for a valid
	// configuration.
	findings := preflight.Check(context.Background(), cfg, preflight.Options{Listen: true})
	for _, f := range findings {
		fmt.Fprintln(stderr, f)
	}
	if preflight.Errors(findings) {
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK\n\n", path)
	if aj != nil {
		printAgentNotes(stdout, aj)
	}
	fmt.Fprint(stdout, cfg.Summary())
	return 0
}

func newLogger(w io.Writer, format string, level slog.Leveler) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// writeHeapProfile writes the allocations since start (and what is live) to
// path, after a collection so that the live figures are current.
func writeHeapProfile(path string, stderr io.Writer) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(stderr, "kinetail: %v\n", err)
		return
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		fmt.Fprintf(stderr, "kinetail: %v\n", err)
	}
}
