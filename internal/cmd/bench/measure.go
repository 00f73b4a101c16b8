package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kinetail/kinetail/internal/benchaccept"
)

// measure runs the agent on w until the acceptor has every line, then
// stops it. With a fault, the acceptor is down or throttling from the
// agent's start for w.faultFor, and the agent's peak memory is read at the
// fault's end and again once it has caught up.
func measure(ctx context.Context, o options, w workload, bin, cfgFile string, profiles []string, acc *acceptorProc, stderr io.Writer) (*result, error) {
	lines := w.data.lines
	args := append([]string{"run", "-c", cfgFile}, profiles...)
	if w.fault == faultOutage {
		if err := acc.SetDown(true); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(cfgFile)
	cmd.Env = childEnv(acc.caFile)
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
	fail := func(format string, a ...any) (*result, error) {
		kill()
		return nil, fmt.Errorf(format, a...)
	}

	stored := func(s benchaccept.Stats) int64 {
		if w.distinct {
			return s.Distinct
		}
		return s.UserRecords
	}
	var f *faultRun
	if w.fault != noFault {
		f = &faultRun{w: w, acc: acc, pid: cmd.Process.Pid, start: started}
	}

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(o.timeout + w.faultFor)
	defer deadline.Stop()
	last, err := acc.Stats()
	if err != nil {
		return fail("%w", err)
	}
	lastProgress := time.Now()
	for stored(last) < lines || f.active() {
		select {
		case <-ctx.Done():
			return fail("interrupted with %d of %d lines stored", stored(last), lines)
		case err := <-exited:
			return nil, fmt.Errorf("kinetail exited (%v) with %d of %d lines stored", err, stored(last), lines)
		case <-deadline.C:
			return fail("timeout after %v: %d of %d lines stored", o.timeout+w.faultFor, stored(last), lines)
		case now := <-tick.C:
			s, err := acc.Stats()
			if err != nil {
				return fail("%w", err)
			}
			if err := f.tick(now, s, stored(s), lines); err != nil {
				return fail("%w", err)
			}
			switch {
			case f.active() || stored(s) != stored(last):
				lastProgress = now
			case now.Sub(lastProgress) > o.stall:
				return fail("no progress for %v: %d of %d lines stored", o.stall, stored(s), lines)
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
			return fail("interrupted")
		case err := <-exited:
			return nil, fmt.Errorf("kinetail exited (%v) before it was stopped", err)
		case now := <-tick.C:
			s, err := acc.Stats()
			if err != nil {
				return fail("%w", err)
			}
			if err := f.tick(now, s, stored(s), lines); err != nil {
				return fail("%w", err)
			}
			if s.Records != last.Records {
				last, quiet = s, time.Now()
			}
		}
	}
	done := time.Now()
	afterPeak := f.afterPeak()

	// Stop the agent as its service manager would, and give it its
	// shutdown_timeout and some.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fail("stop kinetail: %w", err)
	}
	var exitErr error
	select {
	case exitErr = <-exited:
	case <-time.After(45 * time.Second):
		kill()
		exitErr = errors.New("still running 45s after SIGTERM; killed")
	}
	stopped := time.Now()

	final, err := acc.Stats()
	if err != nil {
		return nil, err
	}
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
		Throttled:    final.Throttled,
		Refused:      final.Refused,
		Wire:         wire(final),
	}
	if w.distinct {
		r.Distinct = final.Distinct
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSSMiB = float64(ru.Maxrss) / 1024 // Linux reports KiB
	}
	if f != nil {
		r.Fault = string(w.fault)
		r.FaultSeconds = f.end.Sub(f.start).Seconds()
		r.FaultPeakRSSMiB = f.peak
		r.AfterPeakRSSMiB = afterPeak
		r.FaultLines = f.stored
		if r.FaultSeconds > 0 {
			r.FaultLinesPerSec = float64(f.stored) / r.FaultSeconds
		}
		// The catch-up starts when the agent sends again: after an outage,
		// with the first request that arrived (none did while down), which
		// its backoff may hold back a while; after throttling, at once.
		resumed := f.end
		if w.fault == faultOutage && final.First.After(f.end) {
			resumed = final.First
			r.ResumeSeconds = final.First.Sub(f.end).Seconds()
		}
		if catchUp := final.Last.Sub(resumed).Seconds(); lines > f.stored && catchUp > 0 {
			r.CatchUpLinesPerSec = float64(lines-f.stored) / catchUp
		}
	}
	if exitErr != nil {
		r.ExitErr = exitErr.Error()
	}
	return r, nil
}

// wire names the protocol and HTTP version the agent used, from what the
// acceptor saw.
func wire(s benchaccept.Stats) string {
	name := func(n int64, all, none string) string {
		switch n {
		case 0:
			return none
		case s.Requests:
			return all
		}
		return all + " (" + thousands(float64(n)) + " of " + thousands(float64(s.Requests)) + ")"
	}
	return name(s.CBOR, "cbor", "json") + " " + name(s.HTTP2, "h2", "http/1.1")
}

// faultRun follows a fault through a run: it ends the fault when its time
// is up (or, when throttling, once every line is stored anyway), and reads
// the agent's peak memory during the fault and after it.
type faultRun struct {
	w     workload
	acc   *acceptorProc
	pid   int
	start time.Time // the agent's start, and the fault's

	end    time.Time // zero while the fault lasts
	peak   float64   // MiB: the agent's VmHWM when the fault ended
	stored int64     // lines stored when it ended
	// reset reports that the kernel's peak was reset at the end, so it
	// measures the catch-up alone; if not, maxAfter, the largest VmRSS
	// sampled since, stands in for it.
	reset    bool
	maxAfter float64
}

func (f *faultRun) active() bool { return f != nil && f.end.IsZero() }

func (f *faultRun) tick(now time.Time, s benchaccept.Stats, stored, lines int64) error {
	if f == nil {
		return nil
	}
	if !f.active() {
		if rss, _, err := memStatus(f.pid); err == nil {
			f.maxAfter = max(f.maxAfter, rss)
		}
		return nil
	}
	if now.Sub(f.start) < f.w.faultFor && (f.w.fault != faultThrottle || stored < lines) {
		return nil
	}
	_, peak, err := memStatus(f.pid)
	if err != nil {
		return err
	}
	f.peak, f.stored, f.end = peak, stored, now
	switch f.w.fault {
	case faultOutage:
		err = f.acc.SetDown(false)
	case faultThrottle:
		err = f.acc.SetThrottle(0)
	}
	f.reset = resetPeak(f.pid) == nil
	return err
}

// afterPeak returns the agent's peak memory since the fault ended, in MiB.
func (f *faultRun) afterPeak() float64 {
	if f == nil {
		return 0
	}
	if f.reset {
		if _, peak, err := memStatus(f.pid); err == nil {
			return peak
		}
	}
	return f.maxAfter
}
