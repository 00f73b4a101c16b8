package agent

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/internal/testfs"
)

// reloadConfig is a stream destination and a file one, a flow to each, and
// extra flows (YAML list items) at the end.
func reloadConfig(t *testing.T, dir, endpoint, file, exclude, extra string) *config.Config {
	t.Helper()
	awsTestEnv(t)
	text := fmt.Sprintf(`agent:
  checkpoint_file: %[1]s/state/cp.json
  checkpoint_interval: 50ms
  shutdown_timeout: 5s
destinations:
  out:
    type: kinesis
    stream: s
    region: us-east-1
    endpoint: %[2]s
    batch: {max_age: 20ms}
    retry: {initial_backoff: 10ms, max_backoff: 100ms}
  copy: {type: file, path: %[1]s/%[3]s}
flows:
  - name: f
    paths: ["%[1]s/logs/*.log"]
    initial_position: start_of_file
    destination: out
  - name: g
    paths: ["%[1]s/other/*.log"]
    exclude: [%[4]q]
    initial_position: start_of_file
    destination: copy
%[5]s`, dir, endpoint, file, exclude, extra)
	cfg, err := config.Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func appendLines(t *testing.T, path, prefix string, from, to int) {
	t.Helper()
	if err := testfs.AppendFile(path, testfs.Lines(prefix, from, to), true); err != nil {
		t.Fatal(err)
	}
}

func fileLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		lines = append(lines, sc.Text())
	}
	return lines
}

// A reload that changes one flow and its destination leaves the other flow
// and destination running untouched (the same flow, tailer and sink, no
// file read again), stops the changed ones after what they had in flight
// is delivered, and starts the new ones from the acknowledged offsets:
// every line arrives once, before the reload in the old file, after it in
// the new one.
func TestReloadInPlace(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 5})
	dir := t.TempDir()
	for _, d := range []string{"logs", "other"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fpath, gpath := filepath.Join(dir, "logs", "a.log"), filepath.Join(dir, "other", "b.log")
	appendLines(t, fpath, "f", 0, 1000)
	appendLines(t, gpath, "g", 0, 1000)

	ctx := context.Background()
	a, stop := runAgent(t, reloadConfig(t, dir, fs.URL(), "copy1.jsonl", "*.gz", ""))
	waitFor(t, "the first lines", func() bool {
		return len(fs.Stored()) == 1000 && len(fileLines(t, filepath.Join(dir, "copy1.jsonl"))) == 1000
	})
	flows, dests := a.lists()
	kept, keptTail, keptSink := flows[0], flows[0].tail, dests[0].fixed
	oldCopy := dests[1]

	// g's exclusion and its destination's file change; f and out do not.
	appendLines(t, fpath, "f", 1000, 2000)
	appendLines(t, gpath, "g", 1000, 2000)
	ch, err := a.Reload(ctx, reloadConfig(t, dir, fs.URL(), "copy2.jsonl", "*.xz", ""))
	if err != nil {
		t.Fatal(err)
	}
	want := Changes{Stopped: []string{"g"}, Started: []string{"g"}, Kept: []string{"f"}, Closed: []string{"copy"}, Opened: []string{"copy"}}
	if fmt.Sprint(ch) != fmt.Sprint(want) {
		t.Errorf("changes = %+v, want %+v", ch, want)
	}
	flows, dests = a.lists()
	if flows[0] != kept || flows[0].tail != keptTail || dests[0].fixed != keptSink {
		t.Error("the unchanged flow or destination was replaced")
	}
	if flows[1].cfg.Exclude[0] != "*.xz" || dests[1] == oldCopy {
		t.Error("the changed flow or destination was not replaced")
	}
	select {
	case <-oldCopy.fixed.done:
	default:
		t.Error("the replaced destination's sink still runs")
	}
	appendLines(t, fpath, "f", 2000, 3000)
	appendLines(t, gpath, "g", 2000, 3000)
	copies := func() []string {
		return append(fileLines(t, filepath.Join(dir, "copy1.jsonl")), fileLines(t, filepath.Join(dir, "copy2.jsonl"))...)
	}
	waitFor(t, "every line", func() bool { return len(fs.Stored()) >= 3000 && len(copies()) >= 3000 })
	stop()

	if n := kept.tail.Stats().LinesRead; n != 3000 {
		t.Errorf("the unchanged flow read %d lines, want 3000: it read some again", n)
	}
	var stored []string
	for _, r := range fs.Stored() {
		stored = append(stored, string(r.Data))
	}
	checkOnce(t, "stream", stored, "f", 3000)
	checkOnce(t, "files", copies(), "g", 3000)
	if n := len(fileLines(t, filepath.Join(dir, "copy2.jsonl"))); n < 1000 {
		t.Errorf("the new destination got %d lines, want at least the 1000 written after the reload", n)
	}
}

// checkOnce fails unless got holds prefix-0 to prefix-(n-1) once each.
func checkOnce(t *testing.T, where string, got []string, prefix string, n int) {
	t.Helper()
	seen := make(map[string]int, len(got))
	for _, g := range got {
		seen[g]++
	}
	for i := range n {
		k := fmt.Sprintf("%s-%d", prefix, i)
		if c := seen[k]; c != 1 {
			t.Errorf("%s: %s arrived %d times, want once", where, k, c)
			return
		}
	}
	if len(got) != n {
		t.Errorf("%s: %d records, want %d", where, len(got), n)
	}
}

// A reload whose flows do not fit in the memory limit is refused before
// anything stops; one that adds a flow shrinks the running flows' budgets to
// the new share instead of restarting them.
func TestReloadShares(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 6})
	dir := t.TempDir()
	ctx := context.Background()
	a, stop := runAgent(t, reloadConfig(t, dir, fs.URL(), "copy.jsonl", "*.gz", ""))
	defer stop()
	flows, dests := a.lists()
	before := flows[0].budget.size
	if in := dests[0].mem.Input(); in != before {
		t.Errorf("destination out: input memory %d, want flow f's budget %d", in, before)
	}

	var many strings.Builder
	for i := range 40 {
		fmt.Fprintf(&many, "  - {name: x%d, paths: [\"%s/x%d/*.log\"], destination: out}\n", i, dir, i)
	}
	_, err := a.Reload(ctx, reloadConfig(t, dir, fs.URL(), "copy.jsonl", "*.gz", many.String()))
	if err == nil || !strings.Contains(err.Error(), "memory_limit") {
		t.Fatalf("reload with 42 flows: err = %v, want the memory limit refused", err)
	}
	if now, _ := a.lists(); !slices.Equal(now, flows) || now[0].budget.size != before {
		t.Fatal("a refused reload changed the running flows")
	}

	ch, err := a.Reload(ctx, reloadConfig(t, dir, fs.URL(), "copy.jsonl", "*.gz",
		fmt.Sprintf("  - {name: h, paths: [\"%s/h/*.log\"], destination: out}\n", dir)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ch.Kept, []string{"f", "g"}) || !slices.Equal(ch.Started, []string{"h"}) || len(ch.Stopped)+len(ch.Closed)+len(ch.Opened) != 0 {
		t.Errorf("changes = %+v, want f and g kept and h started", ch)
	}
	now, nowDests := a.lists()
	if now[0] != flows[0] || now[0].budget.size >= before {
		t.Errorf("budget of the kept flow: %d, was %d; want it shrunk to a third of the flows' memory", now[0].budget.size, before)
	}
	// The kept destination's sink sizes its requests to the new budgets.
	if in, want := nowDests[0].mem.Input(), min(now[0].budget.size, now[2].budget.size); nowDests[0] != dests[0] || in != want {
		t.Errorf("destination out: input memory %d, want the flows' budget %d", in, want)
	}
	waitFor(t, "the new flow to run", func() bool { return now[2].running.Load() })
}

// The files a flow follows take their memory from its budget, and the
// destination it sends to sizes its requests to what is left for lines:
// told when the files came, not only at a build or a reload.
func TestFollowedFilesShrinkInputs(t *testing.T) {
	const files = 300
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 7})
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range files {
		if err := os.WriteFile(filepath.Join(logs, fmt.Sprintf("f%03d.log", i)), []byte("a line\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, stop := runAgent(t, reloadConfig(t, dir, fs.URL(), "copy.jsonl", "*.gz", ""))
	defer stop()
	flows, dests := a.lists()
	b := flows[0].budget
	want := b.size - files*fileBytes
	waitFor(t, fmt.Sprintf("the destination told what %d files leave of the flow's budget of %d: %d", files, b.size, want), func() bool {
		return b.lines() == want && dests[0].mem.Input() == want
	})
}
