//go:build e2e

package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// Real logrotate, in each of its common modes, rotates two files while a
// writer appends to them and kinetail follows them: every written line
// arrives exactly once.
func TestLogrotateMatrix(t *testing.T) {
	cases := []struct {
		name string
		// glob and exclude are the flow's, relative to the test directory.
		glob, exclude string
		// directives go inside the logrotate block; $DIR is the test
		// directory.
		directives string
		// copytruncate cases pause the writer while logrotate runs:
		// lines written between its copy and its truncate are in neither
		// file, a window no reader can close.
		copytruncate bool
		rotations    int
		// every returns the pause before each rotation.
		every func(r *rand.Rand) time.Duration
		// whileStopped rotates while kinetail is stopped (SIGTERM), then
		// starts it again.
		whileStopped bool
	}{
		{name: "create renames and creates", glob: "logs/*.log",
			directives: "rotate 5\ncreate"},
		{name: "copytruncate copies and truncates in place", glob: "logs/*.log",
			directives: "rotate 5\ncopytruncate", copytruncate: true},
		{name: "delaycompress compresses the previous rotation", glob: "logs/*.log",
			directives: "rotate 5\ncreate\ncompress\ndelaycompress"},
		{name: "compress leaves gzip siblings in the glob that are never read",
			glob: "logs/*.log*", exclude: "*.gz",
			directives: "rotate 5\ncreate\ncompress"},
		{name: "dateext names rotated files by date", glob: "logs/*.log",
			directives: "rotate 5\ncreate\ndateext\ndateformat -%Y%m%d-%H%M%S",
			// One rotation per second at most: the dated name must be new.
			every: func(*rand.Rand) time.Duration { return 1100 * time.Millisecond }},
		{name: "olddir moves rotated files to another directory", glob: "logs/*.log",
			directives: "rotate 5\ncreate\nolddir $DIR/old"},
		{name: "rotate 0 deletes the old file", glob: "logs/*.log",
			directives: "rotate 0\ncreate"},
		{name: "several rotations per second", glob: "logs/*.log",
			directives: "rotate 20\ncreate", rotations: 10,
			every: func(r *rand.Rand) time.Duration { return time.Duration(100+r.IntN(101)) * time.Millisecond }},
		{name: "rotation while kinetail is stopped", glob: "logs/*.log",
			directives: "rotate 5\ncreate", rotations: 1, whileStopped: true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: int64(seed)})
			dir := t.TempDir()
			mkdirs(t, dir, "logs", "old", "state")
			files := []string{filepath.Join(dir, "logs", "app.log"), filepath.Join(dir, "logs", "web.log")}
			touch(t, files...)
			lr := newLogrotate(t, dir, "logrotate", fmt.Sprintf("%s/logs/*.log {\n%s\nmissingok\n}\n",
				dir, strings.ReplaceAll(tc.directives, "$DIR", dir)))
			flow := fmt.Sprintf("  - name: app\n    paths: [%q]\n    initial_position: start_of_file\n    destination: out\n",
				filepath.Join(dir, tc.glob))
			if tc.exclude != "" {
				flow += fmt.Sprintf("    exclude: [%q]\n", tc.exclude)
			}
			cfg := writeConfig(t, dir, srv.URL(), "rotation", flow)
			agent := startAgent(t, cfg)

			// 5 lines per file every 10 ms: 1,000 lines a second.
			w := startWriter(t, files, 5, 10*time.Millisecond)
			rotate := func() {
				t.Helper()
				if tc.copytruncate {
					w.pause()
					defer w.resume()
				}
				if err := lr.run(); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, 30*time.Second, "the first records", func() bool { return len(srv.Stored()) > 0 })

			if tc.whileStopped {
				agent.stop()
				time.Sleep(300 * time.Millisecond) // lines for the old file that nobody reads yet
				rotate()
				time.Sleep(300 * time.Millisecond) // and for the new one
				agent = startAgent(t, cfg)
			}
			rotations, every := tc.rotations, tc.every
			if rotations == 0 {
				rotations = 3
			}
			if every == nil {
				every = func(*rand.Rand) time.Duration { return 700 * time.Millisecond }
			}
			if !tc.whileStopped {
				for range rotations {
					time.Sleep(every(rng))
					rotate()
				}
			}
			time.Sleep(300 * time.Millisecond) // lines after the last rotation
			written := w.finish(t)

			waitAll(t, srv, written, 60*time.Second, dir)
			agent.stop()
			c := check(srv.Stored(), written)
			t.Logf("%d rotations: %s", rotations, c)
			if c.gzip != 0 {
				t.Errorf("%d records hold gzip data: a compressed sibling was read", c.gzip)
			}
			if c.missing != 0 || c.unknown != 0 {
				t.Errorf("%s\n%s", c, strings.Join(c.samples, "\n"))
			}
			if c.dups != 0 {
				t.Errorf("%d duplicates in a run without kills, want 0", c.dups)
			}
			if t.Failed() {
				t.Logf("files after the run:\n%s", listTree(dir))
			}
		})
	}
}

// listTree lists the regular files under dir with their sizes.
func listTree(dir string) string {
	var b strings.Builder
	filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(dir, path)
			fmt.Fprintf(&b, "  %s %d\n", rel, fi.Size())
		}
		return nil
	})
	return b.String()
}
