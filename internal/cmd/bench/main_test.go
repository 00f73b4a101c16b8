package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kinetail/kinetail/internal/benchaccept"
)

// TestMain lets the test binary be the acceptor's child process too, as
// the bench's own binary is.
func TestMain(m *testing.M) {
	if os.Getenv(acceptorEnv) != "" {
		if err := serveAcceptor(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench acceptor:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The driver controls the child acceptor: its counts, outages and
// throttling, and gets its rusage when it stops.
func TestAcceptorProc(t *testing.T) {
	var log bytes.Buffer
	dir := t.TempDir()
	p, err := startAcceptor(benchaccept.Options{TLS: true, Stream: "bench", CountLines: true}, dir, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.url, "https://127.0.0.1:") || filepath.Dir(p.caFile) != dir {
		t.Errorf("URL %s, CA file %s: want https on loopback, the CA file in %s", p.url, p.caFile, dir)
	}
	if _, err := os.Stat(p.caFile); err != nil {
		t.Error(err)
	}
	s, err := p.Stats()
	if err != nil || s.Requests != 0 {
		t.Errorf("Stats = %+v, %v", s, err)
	}
	for _, f := range []func() error{
		func() error { return p.SetDown(true) },
		func() error { return p.SetDown(false) },
		func() error { return p.SetThrottle(0.5) },
		func() error { return p.SetThrottle(0) },
	} {
		if err := f(); err != nil {
			t.Error(err)
		}
	}
	if err := p.SetThrottle(2); err == nil {
		t.Error("throttle 2 was accepted")
	}
	if err := p.command("reboot"); err == nil {
		t.Error("an unknown command was accepted")
	}
	if _, err := p.Stats(); err != nil {
		t.Errorf("after refused commands: %v", err)
	}
	u, err := p.Close()
	if err != nil {
		t.Fatalf("%v\n%s", err, &log)
	}
	if u.PeakRSSMiB <= 0 {
		t.Errorf("usage %+v: want the child's peak RSS", u)
	}
}

// kinetailBin returns the agent binary: $KINETAIL_BIN, or one built from
// this tree.
func kinetailBin(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("KINETAIL_BIN"); bin != "" {
		return bin
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go tool to build kinetail with (or set KINETAIL_BIN): %v", err)
	}
	bin := filepath.Join(t.TempDir(), "kinetail")
	build := exec.Command(goTool, "build", "-o", bin, "github.com/kinetail/kinetail/cmd/agent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build kinetail: %v\n%s", err, out)
	}
	return bin
}

func TestRun(t *testing.T) {
	bin := kinetailBin(t)
	t.Run("a -dest the agent refuses stops the run before any logs are written", func(t *testing.T) {
		work := t.TempDir()
		var out, log bytes.Buffer
		err := run(t.Context(), []string{"-quick", "-bin", bin, "-work", work, "-dest", "no_such_setting: 1"}, &out, &log)
		if err == nil || !strings.Contains(err.Error(), "no_such_setting") {
			t.Errorf("err = %v, want the agent's complaint about no_such_setting", err)
		}
		if _, err := os.Stat(filepath.Join(work, "data")); !os.IsNotExist(err) {
			t.Errorf("logs were written: %v", err)
		}
	})
	t.Run("every workload, quick", func(t *testing.T) { testQuick(t, bin) })
}

// testQuick runs the whole harness with -quick sizes: every workload runs
// the real agent against the child acceptor, every line is stored (run
// fails otherwise), and each gets its figures and a row. No figure is
// judged.
func testQuick(t *testing.T, bin string) {
	var out, log bytes.Buffer
	err := run(t.Context(), []string{"-quick", "-bin", bin, "-work", t.TempDir(),
		"-workloads", strings.Join(workloadNames, ","), "-dest", "max_in_flight: 2"}, &out, &log)
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, &out, &log)
	}
	var results []result
	for _, l := range strings.Split(out.String(), "\n") {
		if j, ok := strings.CutPrefix(l, "RESULT "); ok {
			var r result
			if err := json.Unmarshal([]byte(j), &r); err != nil {
				t.Fatal(err)
			}
			results = append(results, r)
		}
	}
	if len(results) != len(workloadNames) {
		t.Fatalf("%d RESULT lines, want %d:\n%s", len(results), len(workloadNames), &out)
	}
	for i, r := range results {
		if r.Workload != workloadNames[i] {
			t.Errorf("result %d is %s, want %s", i, r.Workload, workloadNames[i])
		}
		if r.UserRecords < r.Lines || r.CPU <= 0 || r.AcceptorCPU <= 0 || r.PeakRSSMiB <= 0 || r.Wire != "cbor http/1.1" { // kinesis speaks CBOR by default
			t.Errorf("%s: %+v", r.Workload, r)
		}
		if !strings.Contains(out.String(), "| "+r.Workload+": ") {
			t.Errorf("no summary row for %s", r.Workload)
		}
		switch r.Workload {
		case "outage", "throttle":
			if r.Distinct != r.Lines || r.Fault != r.Workload || r.FaultPeakRSSMiB <= 0 || r.AfterPeakRSSMiB <= 0 {
				t.Errorf("%s: distinct %d of %d lines, fault %q, peaks %v and %v MiB", r.Workload, r.Distinct, r.Lines,
					r.Fault, r.FaultPeakRSSMiB, r.AfterPeakRSSMiB)
			}
		case "aggregate":
			if r.UsersPerRec <= 1 {
				t.Errorf("aggregate: %.1f user records per Kinesis record", r.UsersPerRec)
			}
		}
	}
	if r := results[slices.Index(workloadNames, "outage")]; r.FaultLines != 0 || r.Refused == 0 {
		t.Errorf("outage: %d lines stored and %d connections refused while down; want none stored, some refused", r.FaultLines, r.Refused)
	}
	if r := results[slices.Index(workloadNames, "throttle")]; r.Throttled == 0 {
		t.Error("throttle: no entry was throttled")
	}
}
