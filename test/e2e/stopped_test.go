//go:build e2e

package e2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// What happens to lines written while kinetail is stopped: rotations,
// truncations and deletions it can only find out about at the next start.
// Each case stops kinetail with SIGKILL and, as a separate subtest, with
// SIGTERM; after the restart every line still on disk must arrive, and
// only lines past the checkpoint at a kill may arrive twice.

// A file copytruncated while kinetail is stopped: the lines it had not
// read are only in the copy, which the flow's glob does not name.
func TestStoppedCopytruncate(t *testing.T) {
	t.Run("a file last seen empty", func(t *testing.T) {
		runStopped(t, bothStops, func(s *scene) {
			site := s.path("logs/site.log")
			touch(s.t, site)
			lr := s.rotator(site, "rotate 5\ncopytruncate")
			s.configure(flowSpec{paths: []string{"logs/site.log"}, position: "end_of_file"})
			s.start()
			s.follow(site)
			s.stop()
			s.write(site, "site", 100)
			s.rotate(lr)
			s.start()
			s.finish(s.maxDups())
		})
	})
	// With a checkpoint interval of an hour, kinetail saves a file's
	// offset when it opens it and at a clean stop only: after SIGKILL the
	// offset of a file sent in full is still 0. (SIGTERM saves, so only
	// the kill makes this case.)
	t.Run("a file opened and sent but never saved", func(t *testing.T) {
		runStopped(t, []stopMode{stopKill}, func(s *scene) {
			site := s.path("logs/site.log")
			s.write(site, "site", 100)
			lr := s.rotator(site, "rotate 5\ncopytruncate")
			s.configure(flowSpec{paths: []string{"logs/site.log"}, position: "start_of_file"})
			s.agentOption("checkpoint_interval", "1h")
			s.start()
			s.follow(site)
			s.waitStored()
			s.stop()
			s.write(site, "site", 100)
			s.rotate(lr)
			s.start()
			s.finish(s.maxDups())
		})
	})
}

// rotationCase is a logrotate setup under which the live file is rotated
// several times while kinetail is stopped.
type rotationCase struct {
	name       string
	directives string        // inside the logrotate block; $DIR is the scene's directory
	rotations  int           // while stopped
	gap        time.Duration // before each rotation after the first (dateext needs new names)
	oldFiles   bool          // older generations exist before the first start
}

// Several rotations while kinetail is stopped, with a glob that names the
// live file only: each generation since the checkpoint must be read,
// oldest first.
func TestStoppedRotations(t *testing.T) {
	testRotationsWhileStopped(t, []rotationCase{
		{name: "create", directives: "rotate 5\ncreate", rotations: 2},
		{name: "dateext", directives: "rotate 5\ncreate\ndateext\ndateformat -%Y%m%d-%H%M%S",
			rotations: 2, gap: 1100 * time.Millisecond},
		{name: "olddir", directives: "rotate 5\ncreate\nolddir $DIR/old", rotations: 2},
		{name: "three rotations", directives: "rotate 5\ncreate", rotations: 3},
		// Rotated files that were there before the first start (at
		// end_of_file) are history kinetail never promised to send.
		{name: "a first start does not flood old files", directives: "rotate 5\ncreate",
			rotations: 2, oldFiles: true},
	})
}

// The unread rest of the generation kinetail was reading exists only in a
// compressed copy (site.log.1.gz, then site.log.2.gz; with delaycompress
// site.log.1, then site.log.2.gz): it must be read decompressed, and no
// record may hold gzip bytes.
func TestStoppedCompressed(t *testing.T) {
	testRotationsWhileStopped(t, []rotationCase{
		{name: "compress", directives: "rotate 5\ncreate\ncompress", rotations: 2},
		{name: "compress and delaycompress", directives: "rotate 5\ncreate\ncompress\ndelaycompress", rotations: 2},
	})
}

// testRotationsWhileStopped delivers 100 lines, stops kinetail, writes 50
// more lines, then rotates and writes 100 lines after each rotation, and
// starts kinetail again.
func testRotationsWhileStopped(t *testing.T, cases []rotationCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runStopped(t, bothStops, func(s *scene) {
				mkdirs(s.t, s.dir, "old")
				site := s.path("logs/site.log")
				touch(s.t, site)
				if tc.oldFiles {
					// Lines named "old" are not counted as written: any
					// of them that arrives is an unknown record.
					// They are old: last written hours before the
					// first start (file times within the same few
					// milliseconds cannot be ordered, and kinetail
					// reads such a tie rather than risk a loss).
					for i, p := range []string{site + ".2", site + ".1", site} {
						var b []byte
						for i := range 10 {
							b = appendLine(b, "old", i)
						}
						mustAppend(s.t, p, b)
						at := time.Now().Add(time.Duration(i-3) * time.Hour)
						if err := os.Chtimes(p, at, at); err != nil {
							s.t.Fatal(err)
						}
					}
				}
				lr := s.rotator(site, tc.directives)
				s.configure(flowSpec{paths: []string{"logs/site.log"}, position: "end_of_file"})
				s.start()
				s.follow(site)
				s.write(site, "site", 100)
				s.waitStored()
				s.stop()
				s.write(site, "site", 50)
				for i := range tc.rotations {
					if i > 0 {
						time.Sleep(tc.gap)
					}
					s.rotate(lr)
					s.write(site, "site", 100)
				}
				s.start()
				s.finish(s.maxDups())
			})
		})
	}
}

// A truncation that kinetail saw less than a second before it stopped,
// then a second copytruncate while it was stopped. The timing is the
// point: kinetail is stopped 0.3 s after the first logrotate returned.
// SIGTERM is the control.
func TestStoppedTruncationBeforeCrash(t *testing.T) {
	runStopped(t, bothStops, func(s *scene) {
		x := s.path("logs/x.log")
		touch(s.t, x)
		lr := s.rotator(x, "rotate 5\ncopytruncate")
		s.configure(flowSpec{paths: []string{"logs/x.log"}, position: "start_of_file"})
		s.start()
		s.follow(x)
		s.write(x, "x", 100)
		s.waitStored()
		s.rotate(lr)
		truncated := time.Now()
		s.write(x, "x", 100)
		s.waitStored()
		time.Sleep(time.Until(truncated.Add(300 * time.Millisecond)))
		s.t.Logf("stopping %s after the truncation", time.Since(truncated).Round(time.Millisecond))
		s.stop()
		s.write(x, "x", 100)
		s.rotate(lr)
		s.write(x, "x", 100)
		s.start()
		s.finish(s.maxDups())
	})
}

// A directory whose name is not valid UTF-8 (a byte 0xff): the path must
// survive the checkpoint file. logrotate is not trusted with the name, so
// the copytruncate is done by hand as logrotate does it.
func TestStoppedNonUTF8Directory(t *testing.T) {
	runStopped(t, bothStops, func(s *scene) {
		bad := s.path("logs/bad\xffdir")
		mkdirs(s.t, s.dir, filepath.Join("logs", "bad\xffdir"))
		x := filepath.Join(bad, "x.log")
		touch(s.t, x)
		s.configure(flowSpec{paths: []string{"logs/*/x.log"}, position: "start_of_file"})
		s.start()
		s.follow(x)
		s.write(x, "x", 100)
		s.waitStored()
		s.stop()
		s.write(x, "x", 100)
		copyTruncate(s.t, x, x+".1")
		s.start()
		s.finish(s.maxDups())
	})
}

// copyTruncate does what logrotate's copytruncate does: copy path to
// dst, then truncate path to 0 in place.
func copyTruncate(t *testing.T, path, dst string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
}

// The state directory deleted while kinetail runs: it must be created
// again at the next save, so that a stop leaves a checkpoint and lines
// written while stopped are sent after the restart, not skipped as on a
// first start at end_of_file.
func TestStoppedStateDirectoryDeleted(t *testing.T) {
	runStopped(t, bothStops, func(s *scene) {
		x := s.path("logs/x.log")
		touch(s.t, x)
		s.configure(flowSpec{paths: []string{"logs/x.log"}, position: "end_of_file"})
		s.start()
		s.follow(x)
		s.write(x, "x", 20)
		s.waitStored()
		if err := os.RemoveAll(s.path("state")); err != nil {
			s.t.Fatal(err)
		}
		s.write(x, "x", 100)
		s.waitStored()
		if !s.eventuallyNames(filepath.Base(x)) {
			s.t.Errorf("the checkpoint file was not written again within %s of deleting the state directory", waitFor)
		}
		s.stop()
		if !s.mode.kill {
			if _, err := os.Stat(s.path("state/checkpoints.json")); err != nil {
				s.t.Errorf("no checkpoint file after SIGTERM: %v", err)
			}
		}
		s.write(x, "x", 100)
		s.start()
		s.finish(s.maxDups())
	})
}

// eventuallyNames waits until the checkpoint file names name and reports
// whether it did in time.
func (s *scene) eventuallyNames(name string) bool {
	deadline := time.Now().Add(waitFor)
	for !s.checkpointNames(name) {
		if time.Now().After(deadline) || s.agent.exited() {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// A glob that also matches the rotated names (site.log*), with
// copytruncate: each copy is a new file in the glob holding lines already
// sent. Three rotations while kinetail runs must send nothing twice; then
// a stop, a rotation while stopped and a start.
func TestStoppedGlobMatchesCopies(t *testing.T) {
	runStopped(t, bothStops, func(s *scene) {
		site := s.path("logs/site.log")
		touch(s.t, site)
		lr := s.rotator(site, "rotate 5\ncopytruncate")
		s.configure(flowSpec{paths: []string{"logs/site.log*"}, exclude: []string{"*.gz"}, position: "start_of_file"})
		s.start()
		s.follow(site)

		// 2 lines every 10 ms. Lines written between logrotate's copy and
		// its truncation are in neither file, so the writer pauses.
		w := startWriter(s.t, []string{site}, 2, 10*time.Millisecond)
		for range 3 {
			time.Sleep(700 * time.Millisecond)
			w.pause()
			err := lr.run()
			w.resume()
			if err != nil {
				s.t.Fatal(err)
			}
		}
		time.Sleep(300 * time.Millisecond)
		for name, n := range w.finish(s.t) {
			s.lines[name] = n
		}
		s.waitStored()
		s.settle()
		running := check(s.srv.Stored(), s.lines)
		s.t.Logf("before the stop: %s", running)
		if running.dups != 0 {
			s.t.Errorf("%d duplicates while running (3 rotations, no stop), want 0: %s",
				running.dups, duplicated(s.srv.Stored()))
		}

		// Everything was stored and the checkpoint had a second to catch
		// up before the stop: a restart after either stop sends nothing
		// again, not even the copies the glob finds again under new names.
		name := lineName(site)
		s.stop()
		s.write(site, name, 50)
		s.rotate(lr)
		s.write(site, name, 50)
		s.start()
		s.finish(running.dups)
	})
}

// rotate 1 with three rotations while stopped: two generations are
// deleted before kinetail can read them. It must not crash, must send
// every line still on disk, and must warn about the bytes it could not
// read, naming the file.
func TestStoppedGenerationsDeleted(t *testing.T) {
	runStopped(t, bothStops, func(s *scene) {
		site := s.path("logs/site.log")
		touch(s.t, site)
		lr := s.rotator(site, "rotate 1\ncreate")
		s.configure(flowSpec{paths: []string{"logs/site.log"}, position: "end_of_file"})
		s.start()
		s.follow(site)
		s.write(site, "site", 100)
		s.waitStored()
		s.stop()
		// Generation A (lines 0-149) is read up to 100; B (150-249) is
		// written and rotated while stopped. Both are deleted by the
		// third rotation; C (250-349) is site.log.1 and D (350-449) the
		// live file.
		s.write(site, "site", 50)
		for range 3 {
			s.rotate(lr)
			s.write(site, "site", 100)
		}
		gone := make([]bool, s.lines["site"])
		for i := 100; i < 250; i++ {
			gone[i] = true
		}
		s.start()

		// Wait until every line still on disk is stored.
		var lost, late []int // lines missing that were deleted, and that were not
		deadline := time.Now().Add(waitFor)
		for {
			lost, late = lost[:0], late[:0]
			seen := storedCounts(s.srv.Stored())["site"]
			for i, g := range gone {
				switch {
				case seen[i] > 0:
				case g:
					lost = append(lost, i)
				default:
					late = append(late, i)
				}
			}
			if len(late) == 0 || s.agent.exited() || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if s.agent.exited() {
			s.t.Fatalf("kinetail exited by itself (%s)", exitOf(s.agent))
		}
		s.settle()
		log := s.agent.log.String()
		s.term()
		c := check(s.srv.Stored(), s.lines)
		s.t.Logf("%s; %d lines never arrived that were only in the deleted generations (site-100..249)", c, len(lost))
		if len(late) > 0 {
			s.t.Errorf("%d lines still on disk never arrived: %s\nthey are in:\n%s", len(late), ranges("site", late),
				s.where(missingSamples("site", late)))
		}
		if c.unknown != 0 {
			s.t.Errorf("%d unknown records: %s", c.unknown, strings.Join(c.samples, "\n"))
		}
		if c.dups > s.maxDups() {
			s.t.Errorf("%d duplicates, want at most %d", c.dups, s.maxDups())
		}
		if !slices.ContainsFunc(problems(log), func(l string) bool {
			return strings.Contains(l, "site.log") && strings.Contains(l, "bytes")
		}) {
			s.t.Errorf("no WARN or ERROR line names site.log and a byte count for the %d lines deleted unread; warnings and errors:\n%s",
				len(lost), strings.Join(problems(log), "\n"))
		}
	})
}

// storedCounts counts the stored records of each line, by name and number.
func storedCounts(recs []kinesistest.StoredRecord) map[string]map[int]int {
	m := map[string]map[int]int{}
	for _, r := range recs {
		name, n, ok := parseLine(r.Data)
		if !ok {
			continue
		}
		if m[name] == nil {
			m[name] = map[int]int{}
		}
		m[name][n]++
	}
	return m
}

// ranges writes sorted line numbers as name-a..b runs.
func ranges(name string, nums []int) string {
	var out []string
	for _, sp := range spans(nums) {
		out = append(out, name+"-"+sp)
	}
	return strings.Join(out, ", ")
}

// missingSamples turns sorted line numbers into the "missing name-a..b"
// samples that locate reads.
func missingSamples(name string, nums []int) []string {
	var out []string
	for _, sp := range spans(nums) {
		out = append(out, "missing "+name+"-"+sp)
	}
	return out
}

// spans writes sorted numbers as runs "a..b".
func spans(nums []int) []string {
	var out []string
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		out = append(out, fmt.Sprintf("%d..%d", nums[i], nums[j]))
		i = j + 1
	}
	return out
}

// duplicated names the lines stored more than once, as runs per name.
func duplicated(recs []kinesistest.StoredRecord) string {
	counts := storedCounts(recs)
	names := slices.Sorted(maps.Keys(counts))
	var out []string
	for _, name := range names {
		var nums []int
		for n, k := range counts[name] {
			if k > 1 {
				nums = append(nums, n)
			}
		}
		slices.Sort(nums)
		if len(nums) > 0 {
			out = append(out, ranges(name, nums))
		}
	}
	return strings.Join(out, "; ")
}

// TestFileCreatedWhileStopping: a file appears while kinetail stops (the
// flows have stopped reading, the shutdown waits for a slow destination's
// acknowledgements), and is rotated while kinetail is down. The checkpoint
// must not claim to have looked at the paths later than its last scan:
// after the restart the rotated generation, which no entry knows, is
// found by its time and read. (With the time of the final save instead,
// a shutdown longer than the two-second slack hid it for good.)
func TestFileCreatedWhileStopping(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 9})
	dir := t.TempDir()
	app, late := filepath.Join(dir, "app.log"), filepath.Join(dir, "late.log")
	appendLines(t, app, "app", 0, 10)
	flows := fmt.Sprintf("  - name: logs\n    paths: [\"%s/*.log\"]\n    initial_position: start_of_file\n    destination: out\n", dir)
	cfg := writeConfig(t, dir, fs.URL(), "stopping", flows)
	editConfig(t, cfg, "shutdown_timeout: 20s", "shutdown_timeout: 8s", "request: 3s", "request: 10s")
	agent := startAgent(t, cfg)
	eventually(t, 30*time.Second, "the first lines", func() bool { return len(uniq(fs.Stored())) >= 10 })

	// Slow: these are acknowledged 4 s after they are sent, during the
	// shutdown, so the checkpoint is saved once more at its end, well
	// after late.log was written.
	fs.SetOptions(kinesistest.FaultOptions{Latency: 4 * time.Second})
	appendLines(t, app, "app", 10, 15)
	time.Sleep(300 * time.Millisecond)
	agent.cmd.Process.Signal(syscall.SIGTERM)
	eventually(t, 30*time.Second, "the stop", func() bool {
		return strings.Contains(agent.log.String(), "stopping: no more reading")
	})
	appendLines(t, late, "late", 0, 20) // nobody reads now
	agent.stop()

	// While kinetail is down: late.log is rotated, a new one started.
	if err := os.Rename(late, late+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, late, "later", 0, 5)
	fs.SetOptions(kinesistest.FaultOptions{})
	agent = startAgent(t, cfg)
	// The new late.log is read at once; the rotated one with it, or never.
	eventually(t, 30*time.Second, "the new late.log", func() bool { return uniq(fs.Stored())["later-4"] })
	time.Sleep(time.Second)
	agent.stop()
	seen := countKeys(fs.Stored(), func(r kinesistest.StoredRecord) []byte { return r.Data })
	for prefix, n := range map[string]int{"app": 15, "late": 20, "later": 5} {
		for i := range n {
			if k := fmt.Sprintf("%s-%d", prefix, i); seen[k] == 0 {
				t.Errorf("%s lost (the rotated generation of a file that appeared while kinetail stopped)", k)
			}
		}
	}
}

// A file created while kinetail is stopped and rotated away by logrotate,
// twice, with nothing created in its place (nocreate, compress) before
// kinetail starts again: no checkpoint entry knows its path and nothing is
// at it at the restart, so only its rotated names tell of it.
func TestStoppedNewFileRotatedAway(t *testing.T) {
	runStopped(t, bothStops, func(s *scene) {
		app, late := s.path("logs/app.log"), s.path("logs/late.log")
		s.write(app, "app", 50)
		lr := s.rotator(late, "rotate 5\nnocreate\ncompress")
		s.configure(flowSpec{paths: []string{"logs/*.log"}, position: "start_of_file"})
		s.start()
		s.follow(app)
		s.waitStored()
		s.stop()
		s.write(late, "late", 100)
		s.rotate(lr)
		s.write(late, "late", 50)
		s.rotate(lr)
		if _, err := os.Stat(late); !os.IsNotExist(err) {
			t.Fatalf("late.log is still there after logrotate with nocreate: %v", err)
		}
		s.start()
		s.finish(s.maxDups())
	})
}

// A file the globs matched while every descriptor was taken waits for one
// without an entry in the checkpoint. If kinetail is killed then and the
// file is rotated while it is down, the restart must still read the
// rotated generation, though its last write is older than the last scan
// before the checkpoint: the checkpoint's time may not claim that the
// paths were looked at after a file that was only seen, and not opened.
func TestFileWaitingForDescriptorWhenKilled(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 5, Latency: 500 * time.Millisecond})
	dir := t.TempDir()
	const busy, perBusy = 16, 20000
	for i := range busy {
		p := filepath.Join(dir, fmt.Sprintf("busy%02d.log", i))
		appendLines(t, p, fmt.Sprintf("busy%02d", i), 0, perBusy)
		// A last line not finished: its reader, even once it read the
		// rest, holds its descriptor while it waits for the line's end
		// (a reader at its end gives its descriptor up to a waiting file
		// at once, and the slow destination did not always keep all
		// sixteen from their ends).
		mustAppend(t, p, []byte("unfinished"))
	}
	flows := fmt.Sprintf("  - name: logs\n    paths: [\"%s/*.log\"]\n    initial_position: start_of_file\n    rescan_interval: 300ms\n    partial_line_timeout: 1h\n    destination: out\n", dir)
	cfg := writeConfig(t, dir, fs.URL(), "waiting", flows)
	// Sixteen descriptors, all held by readers of busy files: the next
	// file waits for one.
	editConfig(t, cfg, "  shutdown_timeout: 20s\n", "  shutdown_timeout: 20s\n  max_open_files: 16\n")
	agent := startAgent(t, cfg)
	eventually(t, 30*time.Second, "busy lines stored", func() bool { return len(fs.Stored()) >= 1000 })
	waiting := filepath.Join(dir, "waiting.log")
	appendLines(t, waiting, "waiting", 0, 20)
	old := time.Now().Add(-time.Minute) // written well before any scan saw it
	if err := os.Chtimes(waiting, old, old); err != nil {
		t.Fatal(err)
	}
	// Scans see it, and checkpoints are saved (acknowledgements go on)
	// while it waits.
	saved := filepath.Join(dir, "state", "checkpoints.json")
	before, err := os.Stat(saved)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	after, err := os.Stat(saved)
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().After(before.ModTime()) {
		t.Fatal("setup: no checkpoint was saved while waiting.log waited")
	}
	for _, l := range strings.Split(agent.log.String(), "\n") {
		if strings.Contains(l, `msg="following file"`) && strings.Contains(l, " path="+waiting+" ") {
			t.Fatalf("setup: waiting.log got a descriptor before the kill: %s", l)
		}
	}
	agent.kill()

	// While kinetail is down: waiting.log is rotated, a new one started.
	if err := os.Rename(waiting, waiting+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, waiting, "later", 0, 5)
	// And the busy files' last lines finished: else their readers, once
	// at their ends again, would hold all sixteen descriptors until the
	// partial line timeout (an hour), and the rotated waiting.log, queued
	// behind them in one restart of two, would wait as long.
	for i := range busy {
		mustAppend(t, filepath.Join(dir, fmt.Sprintf("busy%02d.log", i)), []byte("\n"))
	}
	fs.SetOptions(kinesistest.FaultOptions{})
	agent = startAgent(t, cfg)
	eventually(t, 60*time.Second, "every line", func() bool {
		u := uniq(fs.Stored())
		return u["later-4"] && u[fmt.Sprintf("busy%02d-%d", busy-1, perBusy-1)] && len(u) >= busy*perBusy+5
	})
	time.Sleep(time.Second)
	agent.stop()
	seen := uniq(fs.Stored())
	for i := range 20 {
		if k := fmt.Sprintf("waiting-%d", i); !seen[k] {
			t.Errorf("%s lost (a file waiting for a descriptor when kinetail was killed, rotated while it was down)", k)
		}
	}
}
