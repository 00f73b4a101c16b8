package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/transform"
)

// The apache workload's lines are all valid combined log lines to the
// agent's combined_apache parser, and as varied as a web server's.
func TestApacheLines(t *testing.T) {
	dir := t.TempDir()
	d := dataset{format: formatApache, files: 2, dirs: 1, lines: 20_000}
	size, err := generate(dir, d)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := transform.New([]*config.Transform{{LogToJSON: &config.LogToJSON{Format: "combined_apache"}}})
	if err != nil {
		t.Fatal(err)
	}
	var (
		n, total, shortest, longest int
		out                         []byte
		values                      = map[string]map[string]bool{}
	)
	for _, name := range d.paths() {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Bytes()
			n++
			total += len(line) + 1
			if shortest == 0 || len(line) < shortest {
				shortest = len(line)
			}
			longest = max(longest, len(line))
			out, _ = chain.Append(out[:0], line)
			var rec map[string]any
			if err := json.Unmarshal(out, &rec); err != nil {
				t.Fatalf("record %s of %q is not JSON: %v", out, line, err)
			}
			if _, wrapped := rec["raw"]; wrapped {
				t.Fatalf("combined_apache rejected %q: %s", line, out)
			}
			if req, ok := rec["request"].(string); ok {
				method, _, _ := strings.Cut(req, " ")
				rec["method"] = method
			}
			if v, ok := rec["bytes"]; ok && v == nil {
				rec["bytes"] = "null" // "-" is written as null
			}
			for _, k := range []string{"method", "response", "bytes", "agent", "host"} {
				if values[k] == nil {
					values[k] = map[string]bool{}
				}
				if v, ok := rec[k].(string); ok {
					values[k][v] = true
				}
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if int64(n) != d.lines || int64(total) != size {
		t.Fatalf("%d lines, %d bytes; generate said %d, %d", n, total, d.lines, size)
	}
	if s := chain.Stats(); s.Invalid != 0 || s.Records != uint64(d.lines) {
		t.Errorf("chain stats %+v: want every line a record", s)
	}
	if avg := total / n; avg < 150 || avg > 300 || shortest < 60 || longest > 500 {
		t.Errorf("lines of %d to %d bytes, %d on average; want 150-300 on average", shortest, longest, avg)
	}
	for k, min := range map[string]int{"method": 5, "response": 10, "agent": 10, "host": 10000} {
		if len(values[k]) < min {
			t.Errorf("%d distinct %s values, want at least %d", len(values[k]), k, min)
		}
	}
	if !values["bytes"]["null"] {
		t.Error(`no line has "-" for its size`)
	}
	ipv6 := false
	for h := range values["host"] {
		ipv6 = ipv6 || bytes.Contains([]byte(h), []byte("::"))
	}
	if !ipv6 {
		t.Error("no client has an IPv6 address")
	}
}
