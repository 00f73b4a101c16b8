//go:build e2e

package e2e

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kinetail/kinetail/checkpoint"
	"github.com/kinetail/kinetail/internal/kinesistest"
)

// waitFor is how long a scene waits for kinetail to reach a state or to
// deliver lines: generous, as the machine may be busy, and never part of
// what is asserted.
const waitFor = 30 * time.Second

// stopMode is how a scene stops kinetail before it acts on the files.
type stopMode struct {
	name string
	kill bool // SIGKILL; otherwise SIGTERM, which drains and saves
}

var (
	stopKill  = stopMode{name: "kill", kill: true}
	stopTerm  = stopMode{name: "term"}
	bothStops = []stopMode{stopKill, stopTerm}
)

// scene is one subtest's world: a fault server, a directory with logs/ and
// state/, a configuration, the kinetail runs so far and the lines written.
type scene struct {
	t     *testing.T
	mode  stopMode
	dir   string
	srv   *kinesistest.FaultServer
	cfg   string
	agent *agentProc   // the current run
	runs  []*agentProc // every run, for the failure report
	lines map[string]int
	live  []string // files waited for with follow
	// past is the number of lines that were past the saved checkpoint when
	// kinetail was killed: the most a restart may send again.
	past int
}

// flowSpec is the one flow of a scene.
type flowSpec struct {
	paths    []string // relative to the scene's directory (globs allowed)
	exclude  []string // patterns, as written in the configuration
	position string   // initial_position
	extra    string   // more flow keys, each line indented by four spaces
}

// runStopped runs body once per stop mode, as subtests named stop=<mode>,
// each with its own fault server and directory.
func runStopped(t *testing.T, modes []stopMode, body func(s *scene)) {
	t.Helper()
	for _, m := range modes {
		t.Run("stop="+m.name, func(t *testing.T) {
			body(newScene(t, m))
		})
	}
}

// newScene makes a scene for t whose stops are of mode m.
func newScene(t *testing.T, m stopMode) *scene {
	s := &scene{
		t:     t,
		mode:  m,
		dir:   t.TempDir(),
		srv:   kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 1}),
		lines: map[string]int{},
	}
	mkdirs(t, s.dir, "logs", "state")
	t.Cleanup(s.report)
	return s
}

// path returns the absolute path of rel under the scene's directory.
func (s *scene) path(rel string) string { return filepath.Join(s.dir, rel) }

// configure writes the configuration with f as its only flow.
func (s *scene) configure(f flowSpec) {
	s.t.Helper()
	var b strings.Builder
	b.WriteString("  - name: app\n    paths: [")
	for i, p := range f.paths {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", s.path(p))
	}
	b.WriteString("]\n")
	if len(f.exclude) > 0 {
		b.WriteString("    exclude: [")
		for i, p := range f.exclude {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", p)
		}
		b.WriteString("]\n")
	}
	fmt.Fprintf(&b, "    initial_position: %s\n", f.position)
	b.WriteString(f.extra)
	b.WriteString("    destination: out\n")
	s.cfg = writeConfig(s.t, s.dir, s.srv.URL(), "stopped", b.String())
}

// agentOption replaces the value of a key of the configuration's agent
// section (which writeConfig writes).
func (s *scene) agentOption(key, value string) {
	s.t.Helper()
	data, err := os.ReadFile(s.cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(key) + `: .*$`)
	if !re.Match(data) {
		s.t.Fatalf("the configuration has no agent option %s", key)
	}
	data = re.ReplaceAll(data, []byte("  "+key+": "+value))
	if err := os.WriteFile(s.cfg, data, 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// start starts kinetail.
func (s *scene) start() {
	s.t.Helper()
	s.agent = startQuiet(s.t, s.cfg)
	s.runs = append(s.runs, s.agent)
}

// follow waits until kinetail follows the file at path (its debug line
// "following file") and its checkpoint file names the file: from then on a
// stop of either kind leaves a checkpoint for it.
func (s *scene) follow(path string) {
	s.t.Helper()
	s.live = append(s.live, path)
	a := s.agent
	s.waitAgent(fmt.Sprintf("kinetail to follow %s", path), func() bool {
		return following(a.log.String(), path)
	})
	s.waitAgent(fmt.Sprintf("the checkpoint file to name %s", filepath.Base(path)), func() bool {
		return s.checkpointNames(filepath.Base(path))
	})
}

// following reports whether a kinetail log says it follows path. The text
// handler quotes a path with spaces or invalid UTF-8.
func following(log, path string) bool {
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, `msg="following file"`) {
			continue
		}
		if strings.Contains(l, " path="+path+" ") || strings.Contains(l, " path="+strconv.Quote(path)+" ") {
			return true
		}
	}
	return false
}

// checkpointNames reports whether the checkpoint file mentions name.
func (s *scene) checkpointNames(name string) bool {
	data, err := os.ReadFile(s.path("state/checkpoints.json"))
	return err == nil && bytes.Contains(data, []byte(name))
}

// waitAgent polls cond while the current run is alive; it fails at once if
// kinetail exits.
func (s *scene) waitAgent(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if s.agent.exited() {
			s.t.Fatalf("kinetail exited (%v) while waiting for %s", s.agent.err, what)
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out after %s waiting for %s", waitFor, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// write appends n lines named name to path (creating it), numbered on from
// the lines of that name written before.
func (s *scene) write(path, name string, n int) {
	s.t.Helper()
	var b []byte
	for i := range n {
		b = appendLine(b, name, s.lines[name]+i)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.t.Fatal(err)
	}
	s.lines[name] += n
}

// waitStored waits until every line written so far is stored; it fails
// the test with what is missing and where those lines are on disk.
func (s *scene) waitStored() tally {
	s.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		c := check(s.srv.Stored(), s.lines)
		if c.missing == 0 {
			return c
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("after %s: %s\n%s\nfirst missing lines are in:\n%s",
				waitFor, c, strings.Join(c.samples, "\n"), s.where(c.samples))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// where says which files hold the first line of each "missing" sample:
// locate's answer, and the gzip files that hold it once decompressed.
func (s *scene) where(samples []string) string {
	var b strings.Builder
	b.WriteString(locate(s.dir, samples))
	filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(path, ".gz") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return nil
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil
		}
		data, err := io.ReadAll(zr)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(s.dir, path)
		for _, sm := range samples {
			rest, ok := strings.CutPrefix(sm, "missing ")
			if !ok {
				continue
			}
			first, _, _ := strings.Cut(rest, "..")
			i := bytes.Index(data, []byte(first+linePad+"\n"))
			if i >= 0 && (i == 0 || data[i-1] == '\n') {
				fmt.Fprintf(&b, "  %s: %s@%d (decompressed, size %d)\n", first, rel, i, len(data))
			}
		}
		return nil
	})
	return b.String()
}

// rotate runs logrotate once.
func (s *scene) rotate(lr *logrotate) {
	s.t.Helper()
	if err := lr.run(); err != nil {
		s.t.Fatal(err)
	}
}

// rotator writes a logrotate configuration that applies directives to
// target; $DIR in directives is the scene's directory.
func (s *scene) rotator(target, directives string) *logrotate {
	s.t.Helper()
	return newLogrotate(s.t, s.dir, "logrotate", fmt.Sprintf("%s {\n%s\nmissingok\n}\n",
		target, strings.ReplaceAll(directives, "$DIR", s.dir)))
}

// stop stops the current run the scene's way. A kill notes how many lines
// were past the checkpoint; a SIGTERM must end with exit code 0.
func (s *scene) stop() {
	s.t.Helper()
	if s.mode.kill {
		s.agent.kill()
		s.past = s.pastCheckpoint()
		return
	}
	s.term()
}

// term sends SIGTERM and waits; an exit code other than 0 is an error.
func (s *scene) term() {
	s.t.Helper()
	a := s.agent
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(60 * time.Second):
		s.t.Fatal("kinetail did not exit within 60s of SIGTERM")
	}
	if a.err != nil {
		s.t.Errorf("after SIGTERM kinetail exited with %v, want exit code 0", a.err)
	}
}

// pastCheckpoint counts the lines at or after the saved offset in every
// file the checkpoint names and every uncompressed file next to a followed
// one whose name starts with its name (site.log, site.log.1, ...); a file
// without an entry counts whole.
func (s *scene) pastCheckpoint() int {
	s.t.Helper()
	var entries []checkpoint.Entry
	// Read the file as it is, without taking the agent's lock.
	if data, err := os.ReadFile(s.path("state/checkpoints.json")); err == nil {
		if entries, _, err = checkpoint.Decode(data); err != nil {
			s.t.Logf("checkpoint at the kill: %v", err)
		}
	}
	paths := map[string]bool{}
	for _, e := range entries {
		paths[e.Path] = true
	}
	for _, l := range s.live {
		des, _ := os.ReadDir(filepath.Dir(l))
		for _, de := range des {
			if de.Type().IsRegular() && strings.HasPrefix(de.Name(), filepath.Base(l)) && !strings.HasSuffix(de.Name(), ".gz") {
				paths[filepath.Join(filepath.Dir(l), de.Name())] = true
			}
		}
	}
	n := 0
	for p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		off := int64(-1)
		for _, e := range entries {
			if e.Path == p && e.Offset <= int64(len(data)) && (off < 0 || e.Offset < off) {
				off = e.Offset
			}
		}
		off = max(off, 0)
		n += bytes.Count(data[off:], []byte{'\n'})
	}
	return n
}

// maxDups is how many duplicates the scene allows: none after SIGTERM,
// which saves what was acknowledged; after SIGKILL, the lines past the
// checkpoint at the kill.
func (s *scene) maxDups() int {
	if s.mode.kill {
		return s.past
	}
	return 0
}

// finish waits until every written line is stored and nothing more
// arrives, stops kinetail with SIGTERM and checks what was stored: no line
// missing, no unknown record (gzip bytes, lines never written or written
// before the first start at end_of_file), and at most maxDups duplicates.
func (s *scene) finish(maxDups int) tally {
	s.t.Helper()
	s.waitStored()
	s.settle()
	s.term()
	c := check(s.srv.Stored(), s.lines)
	s.t.Logf("%s (duplicates allowed: %d)", c, maxDups)
	switch {
	case c.missing != 0 || c.unknown != 0:
		s.t.Errorf("%s\n%s\nfirst missing lines are in:\n%s", c, strings.Join(c.samples, "\n"), s.where(c.samples))
	case c.gzip != 0:
		s.t.Errorf("%d records hold gzip bytes: a compressed copy was sent as it is", c.gzip)
	}
	if c.dups > maxDups {
		s.t.Errorf("%d duplicates, want at most %d: %s", c.dups, maxDups, duplicated(s.srv.Stored()))
	}
	return c
}

// settle waits until the server has stored nothing new for a second, so
// that records sent late (a copy found at the next rescan) are counted.
func (s *scene) settle() {
	n, since := len(s.srv.Stored()), time.Now()
	deadline := time.Now().Add(waitFor)
	for time.Since(since) < time.Second && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if m := len(s.srv.Stored()); m != n {
			n, since = m, time.Now()
		}
	}
}

// report logs, for a failed scene, the files and what each run logged at
// level INFO and above.
func (s *scene) report() {
	if !s.t.Failed() {
		return
	}
	s.t.Logf("files at the end:\n%s", listTree(s.dir))
	if cp, err := os.ReadFile(s.path("state/checkpoints.json")); err == nil {
		s.t.Logf("checkpoint file at the end:\n%s", cp)
	}
	for i, a := range s.runs {
		var lines []string
		for _, l := range strings.Split(a.log.String(), "\n") {
			if l != "" && !strings.Contains(l, "level=DEBUG") {
				lines = append(lines, l)
			}
		}
		s.t.Logf("run %d (%s), INFO and above:\n%s", i+1, exitOf(a), tail(strings.Join(lines, "\n"), 40))
	}
}

// exitOf describes how a run ended.
func exitOf(a *agentProc) string {
	if !a.exited() {
		return "running"
	}
	var ee *exec.ExitError
	if errors.As(a.err, &ee) {
		return ee.String()
	}
	if a.err != nil {
		return a.err.Error()
	}
	return "exit status 0"
}
