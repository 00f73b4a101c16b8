package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kinetail/kinetail/config"
)

func TestGenerate(t *testing.T) {
	for _, lineLen := range []int{minLine, 100, 333} {
		dir := t.TempDir()
		const size = 200_000
		lines, err := generate(dir, size, lineLen)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(size / lineLen); lines != want {
			t.Errorf("line %d: %d lines, want %d", lineLen, lines, want)
		}
		var total int64
		seen := map[string]bool{}
		for _, name := range benchFiles {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
			if err != nil {
				t.Fatalf("%s is not CSV: %v", name, err)
			}
			for i, l := range strings.SplitAfter(string(data), "\n") {
				if l == "" {
					continue
				}
				if len(l) != lineLen {
					t.Fatalf("%s line %d is %d bytes, want %d: %q", name, i+1, len(l), lineLen, l)
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
		if total != lines {
			t.Errorf("line %d: files hold %d lines, generate said %d", lineLen, total, lines)
		}
	}
}

func TestGenerateRejects(t *testing.T) {
	for _, tt := range []struct {
		size    int64
		lineLen int
	}{
		{1_000_000, minLine - 1}, // too short for the fields
		{300, 100},               // fewer lines than files
	} {
		if _, err := generate(t.TempDir(), tt.size, tt.lineLen); err == nil {
			t.Errorf("generate(%d, %d) succeeded", tt.size, tt.lineLen)
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

func TestConfigYAML(t *testing.T) {
	work := `/tmp/a dir with "quotes"`
	var cfg struct {
		Agent struct {
			CheckpointFile string `yaml:"checkpoint_file"`
		}
		Destinations map[string]struct {
			Type, Stream, Region, Endpoint string
		}
		Flows []struct {
			Name        string
			Paths       []string
			Destination string
		}
	}
	for _, agg := range []int{0, 51200} {
		c, err := config.Parse("bench.yaml", []byte(configYAML(work, "https://127.0.0.1:1234", agg)))
		if err != nil {
			t.Fatalf("aggregate %d: the agent refuses the configuration: %v", agg, err)
		}
		if a := c.Destinations["bench"].Aggregation; a.Enabled != (agg > 0) || (agg > 0 && int(a.MaxBytes) != agg) {
			t.Errorf("aggregate %d: aggregation = %+v", agg, a)
		}
	}
	if err := yaml.Unmarshal([]byte(configYAML(work, "https://127.0.0.1:1234", 0)), &cfg); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(work, "state", "checkpoints.json"); cfg.Agent.CheckpointFile != want {
		t.Errorf("checkpoint_file = %q, want %q", cfg.Agent.CheckpointFile, want)
	}
	d := cfg.Destinations["bench"]
	if d.Type != "kinesis" || d.Stream != "bench" || d.Endpoint != "https://127.0.0.1:1234" {
		t.Errorf("destination = %+v", d)
	}
	if len(cfg.Flows) != 1 || cfg.Flows[0].Destination != "bench" || len(cfg.Flows[0].Paths) != 1 {
		t.Fatalf("flows = %+v", cfg.Flows)
	}
	// The glob matches exactly the generated files.
	dir := t.TempDir()
	if _, err := generate(dir, 10_000, 100); err != nil {
		t.Fatal(err)
	}
	var fl struct{ Flows []struct{ Paths []string } }
	if err := yaml.Unmarshal([]byte(configYAML(dir, "x", 0)), &fl); err != nil {
		t.Fatal(err)
	}
	matches, err := filepath.Glob(fl.Flows[0].Paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(matches) != len(benchFiles) {
		t.Errorf("glob %s matches %v, want the %d generated files", fl.Flows[0].Paths[0], matches, len(benchFiles))
	}
}
