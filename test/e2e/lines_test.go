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
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/internal/kpl"
	"github.com/kinetail/kinetail/internal/testfs"
)

// linePad makes lines about as long as a short access-log line, so files
// grow at a realistic pace and offsets are not all tiny.
const linePad = " GET /api/v1/items?page=2 200 1432 0.012 Mozilla/5.0"

// appendLine appends the text of line n of the file called name: the
// number identifies the line, the pad makes it realistic. Names contain
// neither '-' nor ' '.
func appendLine(b []byte, name string, n int) []byte {
	b = append(b, name...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, linePad...)
	return append(b, '\n')
}

// parseLine is the inverse of appendLine (without the newline).
func parseLine(data []byte) (name string, n int, ok bool) {
	s, ok := strings.CutSuffix(string(data), linePad)
	if !ok {
		return "", 0, false
	}
	i := strings.LastIndexByte(s, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil || n < 0 || strconv.Itoa(n) != s[i+1:] {
		return "", 0, false
	}
	return s[:i], n, true
}

// tally is what a checker found in the stored records.
type tally struct {
	written int
	stored  int
	missing int      // written lines never stored
	dups    int      // stores beyond the first of a line
	unknown int      // records that are no written line (garbage, partial, gzip bytes)
	gzip    int      // records holding the gzip magic number
	samples []string // a few missing and unknown lines, for the failure message
}

func (c tally) String() string {
	return fmt.Sprintf("written %d, stored %d, missing %d, duplicates %d, unknown %d",
		c.written, c.stored, c.missing, c.dups, c.unknown)
}

// check compares stored records with written, which maps a file's name to
// the number of lines written to it (numbered from 0).
func check(recs []kinesistest.StoredRecord, written map[string]int) tally {
	c := tally{stored: len(recs)}
	seen := make(map[string][]uint32, len(written))
	for name, n := range written {
		seen[name] = make([]uint32, n)
		c.written += n
	}
	var users []kinesistest.StoredRecord
	for _, r := range recs {
		if !kpl.IsAggregated(r.Data) {
			users = append(users, r)
			continue
		}
		inner, err := kpl.Decode(r.Data)
		if err != nil {
			users = append(users, r) // counted as unknown below
			continue
		}
		for _, u := range inner {
			users = append(users, kinesistest.StoredRecord{Stream: r.Stream, PartitionKey: u.PartitionKey, Data: u.Data})
		}
	}
	c.stored = len(users)
	for _, r := range users {
		name, n, ok := parseLine(r.Data)
		if ok && n < len(seen[name]) {
			seen[name][n]++
			continue
		}
		c.unknown++
		if bytes.Contains(r.Data, []byte{0x1f, 0x8b}) {
			c.gzip++
		}
		if len(c.samples) < 10 {
			s := string(r.Data)
			if len(s) > 80 {
				s = s[:80] + "..."
			}
			c.samples = append(c.samples, fmt.Sprintf("unknown record %q", s))
		}
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		first := -1 // start of the current run of missing lines
		for i, k := range seen[name] {
			switch {
			case k == 0 && first < 0:
				first = i
			case k > 0 && first >= 0:
				c.samples = appendMissing(c.samples, name, first, i-1)
				first = -1
			}
			if k == 0 {
				c.missing++
			} else {
				c.dups += int(k) - 1
			}
		}
		if first >= 0 {
			c.samples = appendMissing(c.samples, name, first, len(seen[name])-1)
		}
	}
	return c
}

func appendMissing(samples []string, name string, first, last int) []string {
	if len(samples) >= 20 {
		return samples
	}
	return append(samples, fmt.Sprintf("missing %s-%d..%d", name, first, last))
}

// locate says which files under dir hold the first line of each "missing"
// sample, and at which offset: evidence of where the reader lost track.
func locate(dir string, samples []string) string {
	if dir == "" {
		return "  (not searched)\n"
	}
	var b strings.Builder
	for _, s := range samples {
		rest, ok := strings.CutPrefix(s, "missing ")
		if !ok {
			continue
		}
		first, _, _ := strings.Cut(rest, "..")
		want := []byte(first + linePad + "\n")
		fmt.Fprintf(&b, "  %s:", first)
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			if strings.HasSuffix(path, ".gz") {
				// Rotated and compressed: look in what it holds.
				zr, err := gzip.NewReader(bytes.NewReader(data))
				if err != nil {
					return nil
				}
				if data, err = io.ReadAll(zr); err != nil {
					return nil
				}
			}
			if i := bytes.Index(data, want); i >= 0 && (i == 0 || data[i-1] == '\n') {
				rel, _ := filepath.Rel(dir, path)
				fmt.Fprintf(&b, " %s@%d(size %d)", rel, i, len(data))
			}
			return nil
		})
		b.WriteByte('\n')
	}
	return b.String()
}

// waitAll polls the server until every written line is stored and returns
// the last tally; it fails the test with samples of what is missing and
// where under dir the missing lines are.
func waitAll(t *testing.T, srv *kinesistest.FaultServer, written map[string]int, timeout time.Duration, dir string) tally {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c := check(srv.Stored(), written)
		if c.missing == 0 {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s\n%s\nfirst missing lines are in:\n%s",
				timeout, c, strings.Join(c.samples, "\n"), locate(dir, c.samples))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// lineWriter appends numbered lines to files at a steady rate. Each tick
// it opens every file, appends a batch of lines with one write and closes
// it again, as many programs with O_APPEND logs do: after a rename
// rotation the next batch goes to the new file at the path. It does not
// create files: a path that is missing for a moment (between logrotate's
// rename and create) is retried on the next tick, so the writer never
// races logrotate's create.
type lineWriter struct {
	paths   []string
	names   []string
	perTick int

	mu      sync.Mutex // held while writing a batch; pause takes it
	written []int
	errs    []error
	stop    chan struct{}
	done    chan struct{}
}

// startWriter starts writing perTick lines to each path every tick. The
// name of a file's lines is its base name without extension, prefixed
// with the parent directory's name when several paths share a base name.
func startWriter(t *testing.T, paths []string, perTick int, tick time.Duration) *lineWriter {
	t.Helper()
	w := &lineWriter{
		paths:   paths,
		names:   make([]string, len(paths)),
		perTick: perTick,
		written: make([]int, len(paths)),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	for i, p := range paths {
		w.names[i] = lineName(p)
	}
	go w.run(tick)
	t.Cleanup(w.close)
	return w
}

// lineName names the lines of the file at path: "<dir><base>" without
// extension or punctuation, so it is unique per file within a test.
func lineName(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' || r == '.' || r == '/' {
			return -1
		}
		return r
	}, filepath.Base(filepath.Dir(path))+base)
}

func (w *lineWriter) run(tick time.Duration) {
	defer close(w.done)
	tk := time.NewTicker(tick)
	defer tk.Stop()
	var buf []byte
	for {
		select {
		case <-w.stop:
			return
		case <-tk.C:
		}
		w.mu.Lock()
		for i, p := range w.paths {
			buf = buf[:0]
			for j := 0; j < w.perTick; j++ {
				buf = appendLine(buf, w.names[i], w.written[i]+j)
			}
			if err := testfs.AppendFile(p, buf, false); err != nil {
				if !errors.Is(err, fs.ErrNotExist) && len(w.errs) < 10 {
					w.errs = append(w.errs, err)
				}
				continue
			}
			w.written[i] += w.perTick
		}
		w.mu.Unlock()
	}
}

// pause stops writing after the batch in progress; resume continues.
func (w *lineWriter) pause()  { w.mu.Lock() }
func (w *lineWriter) resume() { w.mu.Unlock() }

// close stops the writer and waits for it; it may be called twice.
func (w *lineWriter) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// finish stops the writer, fails the test on write errors and returns the
// number of lines written per name.
func (w *lineWriter) finish(t *testing.T) map[string]int {
	t.Helper()
	w.close()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, err := range w.errs {
		t.Errorf("writer: %v", err)
	}
	out := make(map[string]int, len(w.names))
	for i, name := range w.names {
		out[name] = w.written[i]
	}
	return out
}

// logrotate runs Debian's logrotate with a configuration and state file of
// its own in the test's directory.
type logrotate struct {
	bin, conf, state string
}

// newLogrotate writes the configuration body to dir/name.conf. logrotate
// must be installed: a test that needs it fails without it rather than
// skipping.
func newLogrotate(t *testing.T, dir, name, body string) *logrotate {
	t.Helper()
	bin, err := exec.LookPath("logrotate")
	if err != nil {
		// Debian installs it in /usr/sbin, outside most users' PATH.
		if _, serr := os.Stat("/usr/sbin/logrotate"); serr != nil {
			t.Fatalf("logrotate is required (apt-get install logrotate): %v", err)
		}
		bin = "/usr/sbin/logrotate"
	}
	l := &logrotate{
		bin:   bin,
		conf:  filepath.Join(dir, name+".conf"),
		state: filepath.Join(dir, name+".state"),
	}
	if err := os.WriteFile(l.conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

// run forces one rotation of every file in the configuration.
func (l *logrotate) run() error {
	out, err := exec.Command(l.bin, "-f", "-s", l.state, l.conf).CombinedOutput()
	if err != nil {
		return fmt.Errorf("logrotate -f -s %s %s: %w\n%s", l.state, l.conf, err, out)
	}
	return nil
}

// keepState saves what a run starts from, next to its log: the checkpoint
// file, and every file under dir with its inode and size, so a lost line
// can be followed from run to run.
func keepState(t *testing.T, dir, prefix string) {
	t.Helper()
	if cp, err := os.ReadFile(filepath.Join(dir, "state", "checkpoints.json")); err == nil {
		if err := os.WriteFile(prefix+".checkpoints.json", cp, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		if fi, err := e.Info(); err == nil {
			fmt.Fprintf(&b, "%s inode %d size %d\n", strings.TrimPrefix(p, dir+"/"), fi.Sys().(*syscall.Stat_t).Ino, fi.Size())
		}
		return nil
	})
	if err := os.WriteFile(prefix+".files", []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runs numbers the kept logs of startQuiet.
var runs int

// problems returns the warning and error lines of a kinetail log.
func problems(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") || strings.Contains(l, "panic") {
			out = append(out, l)
		}
	}
	return out
}

// mkdirs creates directories under dir.
func mkdirs(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(dir, n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// touch creates empty files.
func touch(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
