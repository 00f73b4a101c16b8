//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// TestCrashLoop SIGKILLs kinetail again and again at random moments while
// a writer appends, logrotate rotates (rename+create and copytruncate) and
// the destination throttles, fails and goes down. In some cycles kinetail
// stays down across one to three rotations. The seed also chooses KPL
// aggregation, compressed rotated files (with or without delaycompress) and
// a glob that matches rotated names too. A final clean run must deliver
// every written line; duplicates are counted and bounded.
//
// KINETAIL_SOAK_CYCLES sets the number of kills (default 30; `make soak`
// runs 300) and KINETAIL_SEED repeats a run.
func TestCrashLoop(t *testing.T) {
	cycles := envInt(t, "KINETAIL_SOAK_CYCLES", 30)
	seed := uint64(envInt(t, "KINETAIL_SEED", int(time.Now().UnixNano()&(1<<62-1))))
	crashLoop(t, seed, cycles)
}

// TestCrashLoopSeeds runs the crash loop again with seeds that lost lines
// before a fix, the default 30 kills each. The loop's timing differs from
// run to run, so a seed finds its loss only now and then: these did in
// about one run in three.
func TestCrashLoopSeeds(t *testing.T) {
	for _, seed := range []uint64{
		// A rotated name followed in its own right, moved and compressed
		// between its listing and its open (compress, delaycompress, a
		// glob over rotated names).
		1796638346484579198,
	} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { crashLoop(t, seed, 30) })
	}
}

func crashLoop(t *testing.T, seed uint64, cycles int) {
	t.Logf("seed %d (repeat with KINETAIL_SEED=%d), %d cycles", seed, seed, cycles)
	rng := rand.New(rand.NewPCG(seed, 1))
	began := time.Now()

	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{
		Seed: int64(seed), FailEntryRate: 0.2, Error500Rate: 0.05,
	})
	dir := t.TempDir()
	mkdirs(t, dir, "d1", "d2", "state")
	files := []string{
		filepath.Join(dir, "d1", "a.log"),
		filepath.Join(dir, "d1", "b.log"),
		filepath.Join(dir, "d2", "c.log"),
	}
	touch(t, files...)
	// The seed's bits choose the modes, so every mode is in a few seeds.
	compress, delay, rotGlob := seed&2 != 0, seed&4 != 0, seed&8 != 0
	glob := "*.log"
	exclude := ""
	if rotGlob {
		glob, exclude = "*.log*", `    exclude: ["*.gz"]`+"\n"
	}
	cfg := writeConfig(t, dir, srv.URL(), "crashloop", fmt.Sprintf(`  - name: app
    paths: [%q, %q]
%s    initial_position: start_of_file
    destination: out
`, filepath.Join(dir, "d1", glob), filepath.Join(dir, "d2", glob), exclude))
	t.Logf("modes: compress %v, delaycompress %v, glob over rotated names %v", compress, compress && delay, rotGlob)
	// Every other seed packs records into KPL aggregates, so acknowledging
	// the user records inside an aggregate is crash-tested too.
	if seed%2 == 1 {
		data, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.Replace(data, []byte("    batch: {max_age: 100ms}\n"),
			[]byte("    batch: {max_age: 100ms}\n    aggregation: {enabled: true, max_bytes: 4KiB}\n"), 1)
		if !bytes.Contains(data, []byte("aggregation:")) {
			t.Fatal("could not turn aggregation on in the configuration")
		}
		if err := os.WriteFile(cfg, data, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Logf("KPL aggregation on")
	}
	// Both modes number rotated files the same way (.1, .2, ...), so they
	// can be mixed. Rotated files are kept: deleting one that a stopped
	// agent has not read yet would be a loss no agent can prevent.
	globs := filepath.Join(dir, "d1", "*.log") + " " + filepath.Join(dir, "d2", "*.log")
	common := "rotate 1000\nmissingok\n"
	if compress {
		common += "compress\n"
		if delay {
			common += "delaycompress\n"
		}
	}
	create := newLogrotate(t, dir, "create", globs+" {\n"+common+"create\n}\n")
	copytruncate := newLogrotate(t, dir, "copytruncate", globs+" {\n"+common+"copytruncate\n}\n")

	// 7 lines per file every 10 ms: 2,100 lines a second.
	w := startWriter(t, files, 7, 10*time.Millisecond)

	// The rotator rotates about once a second; every few rotations the
	// destination goes down for a moment.
	var (
		bg      sync.WaitGroup
		stopBg  = make(chan struct{})
		bgMu    sync.Mutex
		bgErrs  []error
		rotated [2]int
	)
	bgRng := rand.New(rand.NewPCG(seed, 2))
	// rotate runs one rotation of either kind; the background rotator and
	// the cycles that keep kinetail down across rotations take turns.
	var rotMu sync.Mutex
	rotate := func(r *rand.Rand) {
		rotMu.Lock()
		defer rotMu.Unlock()
		var err error
		if r.IntN(2) == 0 {
			err = create.run()
			rotated[0]++
		} else {
			// Lines written between copy and truncate would be in
			// neither file: no reader can recover them.
			w.pause()
			err = copytruncate.run()
			w.resume()
			rotated[1]++
		}
		if err != nil {
			bgMu.Lock()
			bgErrs = append(bgErrs, err)
			bgMu.Unlock()
		}
	}
	bg.Go(func() {
		for {
			select {
			case <-stopBg:
				return
			case <-time.After(time.Duration(800+bgRng.IntN(400)) * time.Millisecond):
			}
			rotate(bgRng)
			if bgRng.IntN(3) == 0 {
				srv.SetDown(true)
				time.Sleep(time.Duration(200+bgRng.IntN(300)) * time.Millisecond)
				srv.SetDown(false)
			}
		}
	})
	stopBackground := sync.OnceFunc(func() {
		close(stopBg)
		bg.Wait()
		srv.SetDown(false)
	})
	t.Cleanup(stopBackground)

	var procs []*agentProc
	report := func() {
		t.Helper()
		seen := map[string]bool{}
		var lines []string
		for _, p := range procs {
			for _, l := range problems(p.log.String()) {
				if injected(l) {
					continue
				}
				// Drop the time so repeats across cycles collapse.
				if _, rest, ok := strings.Cut(l, " "); ok {
					l = rest
				}
				if !seen[l] && len(lines) < 40 {
					seen[l] = true
					lines = append(lines, l)
				}
			}
		}
		t.Logf("warnings and errors of all runs but the injected faults' (distinct, at most 40):\n%s",
			strings.Join(lines, "\n"))
		if n := len(procs); n > 0 {
			t.Logf("log of the last run:\n%s", tail(procs[n-1].log.String(), 80))
		}
		t.Logf("files after the run:\n%s", listTree(dir))
		if keep := os.Getenv("KINETAIL_E2E_LOGDIR"); keep != "" {
			// The files themselves, to find where lost lines are.
			if err := exec.Command("cp", "-a", dir, filepath.Join(keep, "files")).Run(); err != nil {
				t.Logf("keeping the files: %v", err)
			}
		}
	}

	downAcross := 0
	for cycle := range cycles {
		p := startQuiet(t, cfg)
		procs = append(procs, p)
		time.Sleep(time.Duration(100+rng.IntN(701)) * time.Millisecond)
		if p.exited() {
			report()
			t.Fatalf("cycle %d: kinetail exited by itself: %v\n%s", cycle, p.err, tail(p.log.String(), 40))
		}
		p.kill()
		if rng.IntN(4) == 0 {
			// Down across one to three rotations, with lines written
			// before, between and after them.
			n := 1 + rng.IntN(3)
			downAcross++
			for range n {
				time.Sleep(time.Duration(20+rng.IntN(150)) * time.Millisecond)
				rotate(rng)
			}
			time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
			continue
		}
		// Down for a moment, long enough for a rotation now and then.
		time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond)
	}
	stopBackground()
	written := w.finish(t)
	for _, err := range bgErrs {
		t.Errorf("rotator: %v", err)
	}
	t.Logf("%d kills (%d with kinetail down across rotations), %d create and %d copytruncate rotations, %d lines written in %s",
		cycles, downAcross, rotated[0], rotated[1], check(nil, written).written, time.Since(began).Round(time.Second))

	final := startQuiet(t, cfg)
	procs = append(procs, final)
	deadline := 90 * time.Second
	if cycles > 30 {
		deadline = 5 * time.Minute
	}
	var c tally
	func() {
		defer func() {
			if t.Failed() {
				report()
			}
		}()
		c = waitAll(t, srv, written, deadline, dir)
		final.stop()
	}()
	c = check(srv.Stored(), written)
	counts := srv.Counts()
	t.Logf("after the final run, %s in total: %s", time.Since(began).Round(time.Second), c)
	t.Logf("server: %+v", counts)
	if c.missing != 0 || c.unknown != 0 {
		report()
		t.Fatalf("%s\n%s\nfirst missing lines are in:\n%s", c, strings.Join(c.samples, "\n"), locate(dir, c.samples))
	}
	// A sanity bound only: each kill may resend everything read since the
	// last saved checkpoint (in flight, or acknowledged within the last
	// checkpoint_interval), and with a kill every few hundred milliseconds
	// that is a large share of what a run reads (30–55% seen). The exact
	// rule, duplicates only past the checkpoint at a kill, is asserted by
	// TestCrashRestartLosesNothing. Resending everything would exceed this.
	if limit := c.written; c.dups > limit {
		t.Errorf("%d duplicates, more than the %d lines written", c.dups, c.written)
	}
	if counts.FailedEntries == 0 || counts.Errors500 == 0 {
		t.Errorf("faults were not exercised: %+v", counts)
	}
}

// injected reports whether a log line is about a fault the server
// injected on purpose (throttling, 5xx, outages).
func injected(l string) bool {
	for _, m := range []string{
		`msg="entries throttled`, `msg="request throttled`, `msg="request failed, retrying"`,
		`msg="entries failed, retrying`, "destination check failed",
	} {
		if strings.Contains(l, m) {
			return true
		}
	}
	return false
}

// envInt reads a positive integer from the environment, or returns def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}
