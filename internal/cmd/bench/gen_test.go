package main

import (
	"bytes"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinetail/kinetail/config"
)

func TestGenerate(t *testing.T) {
	for _, d := range []dataset{
		{format: formatCSV, files: 1, dirs: 1, lines: 2000, lineLen: minLine},
		{format: formatCSV, files: 4, dirs: 2, lines: 2003, lineLen: 100},
		{format: formatCSV, files: 30, dirs: 3, lines: 600, lineLen: 333},
	} {
		dir := t.TempDir()
		size, err := generate(dir, d)
		if err != nil {
			t.Fatal(err)
		}
		if want := d.lines * int64(d.lineLen); size != want {
			t.Errorf("%s: %d bytes, want %d", d.key(), size, want)
		}
		var total int64
		seen := map[string]bool{}
		for i, name := range d.paths() {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
			if err != nil {
				t.Fatalf("%s is not CSV: %v", name, err)
			}
			if int64(len(recs)) != d.linesIn(i) {
				t.Errorf("%s holds %d lines, want %d", name, len(recs), d.linesIn(i))
			}
			for i, l := range strings.SplitAfter(string(data), "\n") {
				if l == "" {
					continue
				}
				if len(l) != d.lineLen {
					t.Fatalf("%s line %d is %d bytes, want %d: %q", name, i+1, len(l), d.lineLen, l)
				}
				if seen[l] {
					t.Fatalf("%s line %d repeats an earlier line: %q", name, i+1, l)
				}
				seen[l] = true
			}
			for i, r := range recs {
				if len(r) != 6 {
					t.Fatalf("%s line %d has %d fields, want 6: %q", name, i+1, len(r), r)
				}
				if _, err := time.Parse(time.RFC3339Nano, r[0]); err != nil {
					t.Fatalf("%s line %d: time %q: %v", name, i+1, r[0], err)
				}
			}
			total += int64(len(recs))
		}
		if total != d.lines {
			t.Errorf("%s: files hold %d lines, want %d", d.key(), total, d.lines)
		}
		// The glob of the configuration matches exactly the generated
		// files, in the directories asked for.
		matches, err := filepath.Glob(filepath.Join(dir, "logs", "*", "*.log"))
		if err != nil {
			t.Fatal(err)
		}
		dirs := map[string]bool{}
		for _, m := range matches {
			dirs[filepath.Dir(m)] = true
		}
		if len(matches) != d.files || len(dirs) != d.dirs {
			t.Errorf("%s: the glob matches %d files in %d directories, want %d in %d", d.key(), len(matches), len(dirs), d.files, d.dirs)
		}
	}
}

func TestGenerateRejects(t *testing.T) {
	for _, d := range []dataset{
		{format: formatCSV, files: 1, dirs: 1, lines: 100, lineLen: minLine - 1}, // too short for the fields
		{format: formatCSV, files: 4, dirs: 2, lines: 3, lineLen: 100},           // fewer lines than files
		{format: formatCSV, files: 2, dirs: 3, lines: 10, lineLen: 100},          // more directories than files
		{format: "xml", files: 1, dirs: 1, lines: 10},
	} {
		if _, err := generate(t.TempDir(), d); err == nil {
			t.Errorf("generate(%+v) succeeded", d)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1GB", 1e9, true},
		{"1GiB", 1 << 30, true},
		{"250MB", 250e6, true},
		{"1.5 KiB", 1536, true},
		{"4096", 4096, true},
		{"10B", 10, true},
		{"", 0, false},
		{"-1GB", 0, false},
		{"1TB", 0, false},
		{"GB", 0, false},
	} {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// Every workload's configuration is one the agent accepts, with the
// dataset, transforms, aggregation, -agent and -dest snippets where they
// belong.
func TestConfigYAML(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.workloads = strings.Join(workloadNames, ",")
	ws, err := workloads(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != len(workloadNames) {
		t.Fatalf("%d workloads, want %d", len(ws), len(workloadNames))
	}
	state, data := `/tmp/a dir with "quotes"`, "/srv/data"
	dest := []string{"max_in_flight: 8", "batch:\n  max_records: 250\n  max_age: 2s\n"}
	agent := []string{"memory_limit: 48MiB", "max_open_files: 100"}
	for _, w := range ws {
		c, err := config.Parse("bench.yaml", []byte(configYAML(w, state, data, "https://127.0.0.1:1234", agent, dest)))
		if err != nil {
			t.Fatalf("%s: the agent refuses the configuration: %v", w.name, err)
		}
		if want := filepath.Join(state, "checkpoints.json"); c.Agent.CheckpointFile != want {
			t.Errorf("%s: checkpoint_file = %q, want %q", w.name, c.Agent.CheckpointFile, want)
		}
		d := c.Destinations["bench"]
		if d == nil || d.Type != "kinesis" || d.Stream != "bench" || d.Endpoint != "https://127.0.0.1:1234" {
			t.Fatalf("%s: destination = %+v", w.name, d)
		}
		if a := d.Aggregation; a.Enabled != (w.aggregate > 0) || (w.aggregate > 0 && int(a.MaxBytes) != w.aggregate) {
			t.Errorf("%s: aggregation = %+v, want %d", w.name, a, w.aggregate)
		}
		if d.MaxInFlight != 8 || d.Batch.MaxRecords != 250 || time.Duration(d.Batch.MaxAge) != 2*time.Second {
			t.Errorf("%s: -dest snippets not applied: max_in_flight %d, batch %+v", w.name, d.MaxInFlight, d.Batch)
		}
		if c.Agent.MemoryLimit != 48*config.MiB || c.Agent.MaxOpenFiles != 100 {
			t.Errorf("%s: -agent snippets not applied: memory_limit %v, max_open_files %d", w.name, c.Agent.MemoryLimit, c.Agent.MaxOpenFiles)
		}
		if len(c.Flows) != 1 || c.Flows[0].Destination != "bench" || len(c.Flows[0].Transforms) != len(w.transforms) ||
			!slices.Equal(c.Flows[0].Paths, []string{filepath.Join(data, "logs", "*", "*.log")}) {
			t.Errorf("%s: flows = %+v", w.name, c.Flows[0])
		}
	}
	o.workloads = "raw,nonesuch"
	if _, err := workloads(o); err == nil {
		t.Error("an unknown workload was accepted")
	}
}
