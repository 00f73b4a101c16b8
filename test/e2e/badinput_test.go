//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// Invalid UTF-8, NUL bytes, a 5 MiB line, a binary file and unreadable
// paths: each has a defined, counted outcome and the agent keeps going.
func TestBadInput(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{})
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw")
	js := filepath.Join(dir, "json")
	os.MkdirAll(raw, 0o755)
	os.MkdirAll(js, 0o755)

	// Unreadable paths that match the glob: a dangling symlink and a
	// directory. Root can read any regular file, so these are the ways a
	// path fails to open whoever runs the test.
	os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(raw, "dangling.log"))
	os.Mkdir(filepath.Join(raw, "adir.log"), 0o755)

	cfg := writeConfig(t, dir, fs.URL(), "bad", fmt.Sprintf(`  - name: raw
    paths: ["%s/*.log"]
    initial_position: start_of_file
    destination: out
  - name: json
    paths: ["%s/*.log"]
    initial_position: start_of_file
    transforms: [{json: {on_error: wrap}}]
    destination: out
`, raw, js))
	agent := startAgent(t, cfg)

	invalid := []byte("bad-utf8 \xff\xfe tail \x00 nul")
	huge := bytes.Repeat([]byte("x"), 5<<20)
	var text bytes.Buffer
	text.Write(invalid)
	text.WriteByte('\n')
	text.Write(huge)
	text.WriteString("\nafter-huge\n")
	os.WriteFile(filepath.Join(raw, "text.log"), text.Bytes(), 0o644)

	// A binary file: random bytes; whatever lies between newlines is a line.
	rng := rand.New(rand.NewPCG(1, 2))
	bin := make([]byte, 256<<10)
	for i := range bin {
		bin[i] = byte(rng.UintN(256))
	}
	bin = append(bin, '\n')
	os.WriteFile(filepath.Join(raw, "binary.log"), bin, 0o644)
	var wantBinary [][]byte
	for _, l := range bytes.Split(bin[:len(bin)-1], []byte{'\n'}) {
		if len(l) > 0 { // empty records are not sent
			wantBinary = append(wantBinary, l)
		}
	}

	os.WriteFile(filepath.Join(js, "app.log"), []byte("{\"ok\": 1}\nnot json \xff\n{\"ok\": 2}\n"), 0o644)

	wantCount := 3 + len(wantBinary) + 3
	eventually(t, 60*time.Second, "all records", func() bool { return len(fs.Stored()) >= wantCount })
	time.Sleep(300 * time.Millisecond)
	if agent.exited() {
		t.Fatal("kinetail exited")
	}
	agent.stop()

	got := map[string]int{}
	var truncated []byte
	for _, r := range fs.Stored() {
		if len(r.Data) > 1<<20-2048 && bytes.Count(r.Data, []byte("x")) == len(r.Data) {
			truncated = r.Data
			continue
		}
		got[string(r.Data)]++
	}
	if got[string(invalid)] != 1 {
		t.Errorf("invalid UTF-8 / NUL line not passed through byte for byte")
	}
	if got["after-huge"] != 1 {
		t.Errorf("line after the 5 MiB line missing")
	}
	if want := 1<<20 - 1024; len(truncated) != want {
		t.Errorf("5 MiB line: sent %d bytes, want the first %d (max_line_bytes)", len(truncated), want)
	}
	for _, l := range wantBinary {
		if got[string(l)] != 1 {
			t.Errorf("binary segment of %d bytes arrived %d times", len(l), got[string(l)])
			break
		}
	}
	if got[`{"ok":1}`] != 1 || got[`{"ok":2}`] != 1 {
		t.Errorf("valid JSON lines not re-emitted compact: %v", keysWithPrefix(got, `{"ok"`))
	}
	wrapped := keysWithPrefix(got, `{"raw":`)
	if len(wrapped) != 1 || !strings.Contains(wrapped[0], `"error":`) || !strings.Contains(wrapped[0], "not json \uFFFD") {
		t.Errorf("invalid JSON line not wrapped with an error field: %q", wrapped)
	}
	log := agent.log.String()
	for _, want := range []string{"dangling.log", "truncated"} {
		if !strings.Contains(log, want) {
			t.Errorf("log does not mention %q", want)
		}
	}
}

// A missing stream is reported at start; records wait and arrive once the
// stream exists.
func TestMissingStreamReportedAndRecovered(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Streams: []string{"other"}})
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fs.URL(), "late-stream", fmt.Sprintf(`  - name: app
    paths: ["%s/*.log"]
    initial_position: start_of_file
    destination: out
`, dir))
	appendLines(t, filepath.Join(dir, "app.log"), "line", 0, 100)
	agent := startAgent(t, cfg)
	eventually(t, 30*time.Second, "a clear error about the stream at start", func() bool {
		log := agent.log.String()
		return strings.Contains(log, "destination check failed") && strings.Contains(log, "late-stream") &&
			strings.Contains(log, "not found")
	})
	if n := len(fs.Stored()); n != 0 {
		t.Fatalf("%d records stored in a missing stream", n)
	}
	fs.AddStream("late-stream")
	eventually(t, 30*time.Second, "records after the stream appears", func() bool { return len(fs.Stored()) >= 100 })
	agent.stop()
}

func keysWithPrefix(m map[string]int, p string) []string {
	var out []string
	for k := range m {
		if strings.HasPrefix(k, p) {
			out = append(out, k)
		}
	}
	return out
}
