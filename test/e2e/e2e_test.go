//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kinetail/kinetail/checkpoint"
	"github.com/kinetail/kinetail/internal/kinesistest"
)

// Lines from several files in two directories, rotated (rename + create)
// while kinetail runs, all reach a real Kinesis API server exactly once, and
// the CSV transform produces the expected JSON.
func TestRotationIntoKinesisLocal(t *testing.T) {
	srv := kinesistest.StartServer(t)
	ctx := ctxTimeout(t, 3*time.Minute)
	const stream = "e2e-rotation"
	if err := srv.CreateStream(ctx, stream, 2); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{"a", "b/nested"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	files := []string{
		filepath.Join(dir, "a", "one.log"),
		filepath.Join(dir, "a", "two.log"),
		filepath.Join(dir, "b", "nested", "three.log"),
	}
	csvFile := filepath.Join(dir, "b", "web.csv")
	// Lines already there before the first start are read: start_of_file.
	appendLines(t, files[0], "one", 0, 100)
	cfg := writeConfig(t, dir, srv.Endpoint(), stream, fmt.Sprintf(`  - name: raw
    paths: ["%[1]s/a/*.log", "%[1]s/b/**/*.log"]
    initial_position: start_of_file
    destination: out
  - name: csv
    paths: ["%[1]s/b/*.csv"]
    initial_position: start_of_file
    transforms:
      - csv_to_json: {fields: [id, method, status]}
    destination: out
`, dir))
	agent := startAgent(t, cfg)

	want := map[string]bool{}
	for i := 0; i < 100; i++ {
		want[fmt.Sprintf("one-%d", i)] = true
	}
	csvWant := 0
	for round := 0; round < 4; round++ {
		for i, f := range files {
			prefix := []string{"one", "two", "three"}[i]
			from := 100 + round*200
			appendLines(t, f, prefix, from, from+200)
			for j := from; j < from+200; j++ {
				want[fmt.Sprintf("%s-%d", prefix, j)] = true
			}
		}
		cf, _ := os.OpenFile(csvFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		for j := 0; j < 50; j++ {
			fmt.Fprintf(cf, "csv-%d-%d,GET,200\n", round, j)
			csvWant++
		}
		cf.Close()
		time.Sleep(300 * time.Millisecond)
		// Rotate: rename away (out of the globs) and start a new file.
		for _, f := range files {
			if err := os.Rename(f, fmt.Sprintf("%s.%d", f, round)); err != nil {
				t.Fatal(err)
			}
		}
	}
	total := len(want) + csvWant
	recs, err := srv.WaitForCount(ctx, stream, total)
	if err != nil {
		t.Fatalf("read back %d of %d records: %v", len(recs), total, err)
	}
	agent.stop()
	// Give anything that would arrive twice a chance to show up.
	recs, err = srv.ReadAll(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	csvSeen := 0
	for _, r := range recs {
		if r.Data[0] == '{' {
			var v struct{ ID, Method, Status string }
			if err := json.Unmarshal(r.Data, &v); err != nil || v.Method != "GET" || v.Status != "200" {
				t.Fatalf("csv record %q: %v", r.Data, err)
			}
			seen[v.ID]++
			csvSeen++
			continue
		}
		seen[string(r.Data)]++
	}
	for k := range want {
		if seen[k] != 1 {
			t.Errorf("line %q arrived %d times, want once", k, seen[k])
		}
	}
	if csvSeen != csvWant {
		t.Errorf("csv records = %d, want %d", csvSeen, csvWant)
	}
	if len(recs) != total {
		t.Errorf("stream holds %d records, want exactly %d (a clean run sends nothing twice)", len(recs), total)
	}
}

// SIGKILL in the middle of a run, then a restart: every line arrives, and
// the only lines sent twice are those past the checkpoint at the moment of
// the kill (in flight).
func TestCrashRestartLosesNothing(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 1, Latency: 2 * time.Millisecond})
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	cfg := writeConfig(t, dir, fs.URL(), "crash", fmt.Sprintf(`  - name: app
    paths: ["%s/*.log"]
    initial_position: start_of_file
    destination: out
`, dir))
	const perRound, rounds = 3000, 4
	beyond := map[string]bool{} // lines past the checkpoint at some kill
	for round := 0; round < rounds; round++ {
		agent := startAgent(t, cfg)
		appendLines(t, log, "line", round*perRound, (round+1)*perRound)
		// Kill while records are still arriving.
		target := (round*perRound + perRound/2)
		eventually(t, 60*time.Second, "half of the round to arrive", func() bool {
			return len(fs.Stored()) >= target || agent.exited()
		})
		agent.kill()
		cp := readCheckpoint(t, filepath.Join(dir, "state", "checkpoints.json"))
		for _, k := range linesPast(t, log, cp) {
			beyond[k] = true
		}
	}
	agent := startAgent(t, cfg)
	total := rounds * perRound
	eventually(t, 90*time.Second, "every line to arrive", func() bool {
		return len(uniq(fs.Stored())) >= total
	})
	agent.stop()
	seen := countKeys(fs.Stored(), func(r kinesistest.StoredRecord) []byte { return r.Data })
	dups := 0
	for i := 0; i < total; i++ {
		k := fmt.Sprintf("line-%d", i)
		switch n := seen[k]; {
		case n == 0:
			t.Errorf("%s lost", k)
		case n > 1:
			dups += n - 1
			if !beyond[k] {
				t.Errorf("%s sent %d times although it was checkpointed before every kill", k, n)
			}
		}
	}
	t.Logf("%d lines, %d kills, %d duplicates (all past the checkpoint at a kill)", total, rounds, dups)
}

// Throttled entries, 500s and a 3-second outage: every line arrives and no
// entry the server accepted is sent again.
func TestFaultsLoseNothingAndResendOnlyFailures(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 7, FailEntryRate: 0.3, Error500Rate: 0.2})
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	cfg := writeConfig(t, dir, fs.URL(), "faults", fmt.Sprintf(`  - name: app
    paths: ["%s/*.log"]
    initial_position: start_of_file
    destination: out
`, dir))
	agent := startAgent(t, cfg)
	appendLines(t, log, "line", 0, 5000)
	eventually(t, 60*time.Second, "first records", func() bool { return len(fs.Stored()) > 1000 })
	fs.SetDown(true)
	appendLines(t, log, "line", 5000, 10000)
	time.Sleep(3 * time.Second)
	fs.SetDown(false)
	eventually(t, 90*time.Second, "every line", func() bool { return len(fs.Stored()) >= 10000 })
	agent.stop()
	seen := countKeys(fs.Stored(), func(r kinesistest.StoredRecord) []byte { return r.Data })
	for i := 0; i < 10000; i++ {
		if n := seen[fmt.Sprintf("line-%d", i)]; n != 1 {
			t.Errorf("line-%d stored %d times, want exactly once", i, n)
		}
	}
	c := fs.Counts()
	if c.FailedEntries == 0 || c.Errors500 == 0 || c.DownRejected == 0 {
		t.Fatalf("faults were not exercised: %+v", c)
	}
	t.Logf("server counts: %+v", c)
}

func readCheckpoint(t *testing.T, path string) []checkpoint.Entry {
	t.Helper()
	s, err := checkpoint.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close() // the next agent takes the lock
	res, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	return res.Entries
}

// linesPast returns the lines of path that start at or after its
// checkpointed offset (all of them if it has none).
func linesPast(t *testing.T, path string, cp []checkpoint.Entry) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var off int64
	for _, e := range cp {
		if e.Path == path {
			off = e.Offset
		}
	}
	var out []string
	start := 0
	for i, c := range data {
		if c == '\n' {
			if int64(start) >= off {
				out = append(out, string(data[start:i]))
			}
			start = i + 1
		}
	}
	return out
}

func uniq(recs []kinesistest.StoredRecord) map[string]bool {
	m := make(map[string]bool, len(recs))
	for _, r := range recs {
		m[string(r.Data)] = true
	}
	return m
}
