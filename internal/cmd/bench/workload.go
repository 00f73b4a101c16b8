package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A fault is what the acceptor does to the agent for the first part of a
// run: an outage or throttling. The run measures the agent's memory while
// it lasts and while the agent catches up after it.
type fault string

const (
	noFault       fault = ""
	faultOutage   fault = "outage"
	faultThrottle fault = "throttle"
)

// workload is one row of the summary: a dataset, what the agent does with
// it, and what the acceptor does to the agent.
type workload struct {
	name  string // for -workloads
	title string // for the table
	data  dataset
	// transforms are the flow's transform list items, YAML; none: lines are
	// sent as they are.
	transforms []string
	aggregate  int // KPL aggregates of up to this many bytes; 0: off
	fault      fault
	faultFor   time.Duration // how long the fault lasts, from the agent's start
	throttle   float64       // share of entries refused, with faultThrottle
	// distinct waits for every distinct line rather than for as many
	// lines as were written: after an outage, duplicates could make up
	// the count before the last lines arrive.
	distinct bool
}

// workloadNames are every workload, in the order they run; the default
// runs all but csv.
var workloadNames = []string{"raw", "apache", "aggregate", "files", "manyfiles", "outage", "throttle", "csv"}

const defaultWorkloads = "raw,apache,aggregate,files,manyfiles,outage,throttle"

// workloads returns the workloads -workloads names, in the order of
// workloadNames.
func workloads(o options) ([]workload, error) {
	csvLines := o.size / int64(o.line)
	one := dataset{format: formatCSV, files: 1, dirs: 1, lines: csvLines, lineLen: o.line}
	backlog := dataset{format: formatCSV, files: o.backlogFiles, dirs: dirsFor(o.backlogFiles),
		lines: o.backlogSize / int64(o.line), lineLen: o.line}
	// The lines of one file spread over n files in a few directories.
	inFiles := func(n int) workload {
		return workload{
			title: fmt.Sprintf("raw lines in %s files", thousands(float64(n))),
			data:  dataset{format: formatCSV, files: n, dirs: dirsFor(n), lines: csvLines, lineLen: o.line},
		}
	}
	all := map[string]workload{
		"raw": {title: "raw lines", data: one},
		"apache": {
			title:      "Apache combined → JSON",
			data:       dataset{format: formatApache, files: 1, dirs: 1, lines: o.apacheLines},
			transforms: []string{"log_to_json: {format: combined_apache}"},
		},
		"aggregate": {title: fmt.Sprintf("raw lines, KPL aggregates ≤ %d B", o.aggregate), data: one, aggregate: o.aggregate},
		"files":     inFiles(o.files),
		// Files whose own memory (readers, scan state, checkpoint
		// entries) is a good part of memory_limit.
		"manyfiles": inFiles(o.manyFiles),
		"outage": {
			title: fmt.Sprintf("%s files, acceptor down %s", thousands(float64(o.backlogFiles)), seconds(o.outage)),
			data:  backlog, fault: faultOutage, faultFor: o.outage, distinct: true,
		},
		"throttle": {
			title: fmt.Sprintf("%s files, %.0f%% throttled %s", thousands(float64(o.backlogFiles)), o.throttleRate*100, seconds(o.throttleFor)),
			data:  backlog, fault: faultThrottle, faultFor: o.throttleFor, throttle: o.throttleRate, distinct: true,
		},
		// The workload of the first figures in BENCHMARKS.md.
		"csv": {
			title:      "CSV → JSON, 4 files",
			data:       dataset{format: formatCSV, files: 4, dirs: 2, lines: csvLines, lineLen: o.line},
			transforms: []string{"csv_to_json: {fields: [time, host, method, path, status, bytes]}"},
		},
	}
	want := map[string]bool{}
	for _, n := range strings.Split(o.workloads, ",") {
		n = strings.TrimSpace(n)
		if _, ok := all[n]; !ok {
			return nil, fmt.Errorf("-workloads: no workload %q (have %s)", n, strings.Join(workloadNames, ", "))
		}
		want[n] = true
	}
	var ws []workload
	for _, n := range workloadNames {
		if want[n] {
			w := all[n]
			w.name = n
			w.distinct = w.distinct || o.distinct
			ws = append(ws, w)
		}
	}
	return ws, nil
}

// seconds formats d as 60 s or 0.5 s.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}

// dirsFor spreads files over a few directories: about 100 files each, at
// least 2 when there are several files.
func dirsFor(files int) int {
	return min(files, max(2, (files+99)/100))
}

// configYAML is the agent's configuration for w: one flow over the
// dataset in dataDir, into the acceptor's stream. agent and dest are YAML
// snippets added to the agent's settings (-agent) and the destination's
// (-dest).
func configYAML(w workload, stateDir, dataDir, endpoint string, agent, dest []string) string {
	q := strconv.Quote // a JSON string is a valid YAML scalar
	var b strings.Builder
	b.WriteString(`agent:
  checkpoint_file: ` + q(filepath.Join(stateDir, "checkpoints.json")) + `
  log_level: warn
  shutdown_timeout: 30s
  # Any free port: on the default one, a status request from another
  # program on this machine (a package test's kinetail status) cost the
  # idle agent a second of CPU for its 10,000 files.
  metrics: {listen: "127.0.0.1:0"}
`)
	indent(&b, "  ", agent)
	b.WriteString(`
destinations:
  bench:
    type: kinesis
    stream: bench
    region: us-east-1
    endpoint: ` + q(endpoint) + "\n")
	if w.aggregate > 0 {
		fmt.Fprintf(&b, "    aggregation: {enabled: true, max_bytes: %d}\n", w.aggregate)
	}
	indent(&b, "    ", dest)
	b.WriteString(`
flows:
  - name: ` + w.name + `
    paths: [` + q(filepath.Join(dataDir, "logs", "*", "*.log")) + `]
    initial_position: start_of_file
`)
	if len(w.transforms) > 0 {
		b.WriteString("    transforms:\n")
		for _, t := range w.transforms {
			b.WriteString("      - " + t + "\n")
		}
	}
	b.WriteString("    destination: bench\n")
	return b.String()
}

// indent writes each line of the YAML snippets to b with prefix before it.
func indent(b *strings.Builder, prefix string, snippets []string) {
	for _, s := range snippets {
		for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
			b.WriteString(prefix + l + "\n")
		}
	}
}
