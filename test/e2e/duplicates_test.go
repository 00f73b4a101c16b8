//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Events that change nothing in a file's content must not make kinetail
// send its lines twice, and two agents must never share a checkpoint.

// A directory that is unreadable for a few seconds is not a rotation: the
// open file goes on, nothing is read again, and the log says why the
// directory could not be listed. As root, chmod 000 stops nobody, so the
// agent then runs as the user nobody.
func TestStoppedNoDuplicatesUnreadableDirectory(t *testing.T) {
	s := newScene(t, stopTerm)
	logs := s.path("logs")
	x := filepath.Join(logs, "x.log")
	touch(t, x)
	s.configure(flowSpec{paths: []string{"logs/*.log"}, position: "start_of_file"})
	t.Cleanup(func() { os.Chmod(logs, 0o755) })
	bin, cred := binary, (*syscall.Credential)(nil)
	if os.Geteuid() == 0 {
		bin, cred = asNobody(t, s)
	}
	s.agent = launch(t, s.cfg, launchOpts{bin: bin, cred: cred, quiet: true})
	s.runs = append(s.runs, s.agent)
	s.follow(x)
	s.write(x, "x", 100)
	s.waitStored()

	if err := os.Chmod(logs, 0); err != nil {
		t.Fatal(err)
	}
	// At least 3 s, and until kinetail has tried to list the directory
	// and said so (a rescan or a directory event), 30 s at most.
	locked := time.Now()
	for time.Since(locked) < 3*time.Second ||
		!hasProblem(s.agent.log.String(), "permission") && time.Since(locked) < waitFor {
		time.Sleep(100 * time.Millisecond)
	}
	if err := os.Chmod(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	s.write(x, "x", 100)
	log := s.agent.log.String()
	s.finish(0)

	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "rotated away or deleted") && strings.Contains(l, x) {
			t.Errorf("an unreadable directory was taken for a rotation: %s", l)
		}
	}
	if !hasProblem(log, "permission") {
		t.Errorf("no warning mentions the permission problem; warnings and errors:\n%s",
			strings.Join(problems(log), "\n"))
	}
}

// hasProblem reports whether a WARN or ERROR line of log contains word, in
// any case.
func hasProblem(log, word string) bool {
	return slices.ContainsFunc(problems(log), func(l string) bool {
		return strings.Contains(strings.ToLower(l), strings.ToLower(word))
	})
}

// asNobody prepares the scene for a kinetail running as nobody (65534): a
// copy of the binary it can execute, a configuration it can read, a state
// directory it owns and directories it can enter.
func asNobody(t *testing.T, s *scene) (string, *syscall.Credential) {
	t.Helper()
	const nobody = 65534
	// t.TempDir's parent is private to the test's user.
	for _, d := range []string{filepath.Dir(s.dir), s.dir, s.path("logs")} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(s.path("state"), nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(s.cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := s.path("kinetail")
	src, err := os.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin, &syscall.Credential{Uid: nobody, Gid: nobody}
}

// A file moved out of the globs and back again is the same file: its lines
// are sent once.
func TestStoppedNoDuplicatesMovedOutAndBack(t *testing.T) {
	s := newScene(t, stopTerm)
	x := s.path("logs/x.log")
	tmp := s.path("logs/x.tmp")
	touch(t, x)
	s.configure(flowSpec{paths: []string{"logs/*.log"}, position: "start_of_file"})
	s.start()
	s.follow(x)
	s.write(x, "x", 100)
	s.waitStored()
	if err := os.Rename(x, tmp); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := os.Rename(tmp, x); err != nil {
		t.Fatal(err)
	}
	s.write(x, "x", 100)
	s.finish(0)
}

// A line has the same record_id whether it is read from the live file or,
// after a copytruncate while kinetail was stopped, from the copy: a
// consumer that drops repeats by id drops the second delivery.
func TestStoppedRecordIDSameFromCopy(t *testing.T) {
	runStopped(t, []stopMode{stopKill}, func(s *scene) {
		site := s.path("logs/site.log")
		s.write(site, "site", 100)
		lr := s.rotator(site, "rotate 5\ncopytruncate")
		// The whole line becomes the field "line", and the id is added.
		s.configure(flowSpec{paths: []string{"logs/site.log"}, position: "start_of_file",
			extra: "    transforms:\n      - regex: {pattern: '^(?P<line>.*)$'}\n      - fields: {record_id: id}\n"})
		// Saved when the file is opened, and not again before the kill:
		// every line is past the checkpoint and is read again.
		s.agentOption("checkpoint_interval", "1h")
		s.start()
		s.follow(site)
		waitIDs(s, func(ids map[string][]string) bool { return len(ids) >= 100 })
		s.stop()
		if s.past == 0 {
			s.t.Fatal("no line was past the checkpoint at the kill: nothing will be read again to compare ids")
		}
		s.rotate(lr)
		s.start()
		ids := waitIDs(s, func(ids map[string][]string) bool {
			twice := 0
			for _, v := range ids {
				if len(v) >= 2 {
					twice++
				}
			}
			return twice >= s.past
		})
		s.term()

		var differ, once []string
		for line, v := range ids {
			switch {
			case len(v) < 2:
				once = append(once, line)
			case slices.ContainsFunc(v, func(id string) bool { return id != v[0] }):
				differ = append(differ, fmt.Sprintf("%s: %v", line, v))
			}
		}
		slices.Sort(differ)
		slices.Sort(once)
		s.t.Logf("%d lines, %d past the checkpoint at the kill, %d read once, %d with different ids",
			len(ids), s.past, len(once), len(differ))
		if len(ids) != 100 {
			s.t.Errorf("%d distinct lines stored, want 100", len(ids))
		}
		if len(once) > 100-s.past {
			s.t.Errorf("%d lines were not read again after the kill (want at most %d), e.g. %s",
				len(once), 100-s.past, strings.Join(once[:min(5, len(once))], "; "))
		}
		if len(differ) > 0 {
			s.t.Errorf("%d lines came with different record ids, e.g.\n%s", len(differ),
				strings.Join(differ[:min(5, len(differ))], "\n"))
		}
	})
}

// waitIDs polls the stored records, JSON objects {"line":…,"id":…}, until
// done holds for the ids of each line, and returns them.
func waitIDs(s *scene, done func(map[string][]string) bool) map[string][]string {
	s.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		ids := map[string][]string{}
		for _, r := range s.srv.Stored() {
			var v struct{ Line, ID string }
			if err := json.Unmarshal(r.Data, &v); err != nil || v.Line == "" || v.ID == "" {
				s.t.Fatalf("record %q is not {line, id}: %v", r.Data, err)
			}
			ids[v.Line] = append(ids[v.Line], v.ID)
		}
		if done(ids) {
			return ids
		}
		if time.Now().After(deadline) {
			twice := 0
			for _, v := range ids {
				if len(v) >= 2 {
					twice++
				}
			}
			s.t.Fatalf("timed out after %s: %d records of %d distinct lines, %d lines stored twice or more (want %d)",
				waitFor, len(s.srv.Stored()), len(ids), twice, s.past)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// One agent per checkpoint file: a second kinetail that would use the same
// checkpoint file refuses to start, says which file and which process
// holds it, and the first one goes on.
func TestStoppedOneAgentPerCheckpoint(t *testing.T) {
	cases := []struct {
		name string
		// second returns the configuration of the second kinetail.
		second func(s *scene) string
	}{
		{name: "the same configuration", second: func(s *scene) string { return s.cfg }},
		{name: "another flow with the same checkpoint file", second: func(s *scene) string {
			dir := s.t.TempDir()
			mkdirs(s.t, dir, "logs")
			touch(s.t, filepath.Join(dir, "logs", "y.log"))
			cfg := writeConfig(s.t, dir, s.srv.URL(), "stopped", fmt.Sprintf(
				"  - name: other\n    paths: [%q]\n    initial_position: start_of_file\n    destination: out\n",
				filepath.Join(dir, "logs", "*.log")))
			data, err := os.ReadFile(cfg)
			if err != nil {
				s.t.Fatal(err)
			}
			data = []byte(strings.Replace(string(data), filepath.Join(dir, "state", "checkpoints.json"),
				s.path("state/checkpoints.json"), 1))
			if err := os.WriteFile(cfg, data, 0o600); err != nil {
				s.t.Fatal(err)
			}
			return cfg
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newScene(t, stopTerm)
			x := s.path("logs/x.log")
			touch(t, x)
			s.configure(flowSpec{paths: []string{"logs/*.log"}, position: "start_of_file"})
			s.start()
			s.follow(x)

			second := startQuiet(t, tc.second(s))
			s.runs = append(s.runs, second)
			started := time.Now()
			for !second.exited() && time.Since(started) < 10*time.Second {
				time.Sleep(50 * time.Millisecond)
			}
			switch out := second.log.String(); {
			case !second.exited():
				t.Errorf("a second kinetail with the same checkpoint file still runs 10s after its start")
				second.kill()
			case second.err == nil:
				t.Errorf("a second kinetail with the same checkpoint file exited with status 0, want non-zero")
			default:
				cp, pid := s.path("state/checkpoints.json"), strconv.Itoa(s.agent.cmd.Process.Pid)
				if !strings.Contains(out, cp) || !strings.Contains(out, pid) {
					t.Errorf("the second kinetail's output does not name the checkpoint file %s and the first kinetail's pid %s:\n%s",
						cp, pid, tail(out, 10))
				}
			}
			if s.agent.exited() {
				t.Fatalf("the first kinetail exited (%s)", exitOf(s.agent))
			}
			s.write(x, "x", 100)
			s.finish(0)
		})
	}
}
