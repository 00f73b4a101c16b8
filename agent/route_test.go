package agent

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/internal/kpl"
	"github.com/kinetail/kinetail/internal/testfs"
)

// TestRoutesTemplatesAndFallback runs the agent against the fault server:
// routing rules with continue, a templated stream whose missing streams
// fall back, a partition key template, aggregation, dead letters and a
// file destination. Every line must end where the rules say, once.
func TestRoutesTemplatesAndFallback(t *testing.T) {
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{
		Seed: 4, FailEntryRate: 0.1,
		Streams: []string{"events", "errors", "svc-a", "svc-b", "errors-archive"},
	})
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	awsTestEnv(t)
	yaml := fmt.Sprintf(`agent:
  checkpoint_file: %[1]s/state/cp.json
  checkpoint_interval: 50ms
  shutdown_timeout: 10s
  metrics: {listen: "127.0.0.1:0"}
defaults: &k
  type: kinesis
  region: us-east-1
  endpoint: %[2]s
  batch: {max_age: 20ms}
  retry: {initial_backoff: 5ms, max_backoff: 50ms}
destinations:
  events: {<<: *k, stream: events, partition_key: "%%{user}", aggregation: {enabled: true}}
  errors: {<<: *k, stream: errors}
  per-service: {<<: *k, stream: "svc-%%{service}", fallback: events}
  archive: {type: file, path: %[1]s/archive.jsonl}
  errors-fh:
    type: firehose
    delivery_stream: errors-archive
    region: us-east-1
    endpoint: %[2]s
    aggregation: {enabled: true}
    batch: {max_age: 20ms}
    retry: {initial_backoff: 5ms, max_backoff: 50ms}
flows:
  - name: f
    paths: ["%[1]s/logs/*.log"]
    initial_position: start_of_file
    transforms: [json]
    destination: events
    routes:
      - to: [archive]
        continue: true
      - when: {field: level, equals: error}
        to: [errors, errors-fh]
        continue: true
      - when: {field: service, exists: true}
        to: [per-service]
`, dir, srv.URL())
	yaml = strings.Replace(yaml, "defaults: &k", "x-defaults: &k", 1)
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	var all []string
	var buf bytes.Buffer
	for i := range 400 {
		level := "info"
		if i%10 == 0 {
			level = "error"
		}
		svc := []string{"a", "b", "zz", ""}[i%4]
		line := fmt.Sprintf(`{"n":%d,"level":"%s","user":"u%d"`, i, level, i%7)
		if svc != "" {
			line += fmt.Sprintf(`,"service":"%s"`, svc)
		}
		line += "}"
		buf.WriteString(line + "\n")
		all = append(all, line)
		if level == "error" {
			want["errors"] = append(want["errors"], line)
		}
		if svc == "a" || svc == "b" {
			want["svc-"+svc] = append(want["svc-"+svc], line)
		} else {
			want["events"] = append(want["events"], line)
		}
	}
	os.WriteFile(filepath.Join(dir, "logs", "app.log"), buf.Bytes(), 0o644)

	var logs testfs.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	// Names chosen by records are logged at DEBUG only.
	a, err := New(ctx, cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	got := func() map[string][]string {
		out := map[string][]string{}
		for _, r := range srv.Stored() {
			if !kpl.IsAggregated(r.Data) {
				out[r.Stream] = append(out[r.Stream], string(r.Data))
				continue
			}
			recs, err := kpl.Decode(r.Data)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range recs {
				out[r.Stream] = append(out[r.Stream], string(u.Data))
			}
		}
		return out
	}
	firehoseLines := func() []string {
		var out []string
		for _, r := range srv.FirehoseStored() {
			for l := range strings.Lines(string(r.Data)) {
				out = append(out, strings.TrimSuffix(l, "\n"))
			}
		}
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		g := got()
		g["errors-archive"] = firehoseLines()
		if len(g["events"]) >= len(want["events"]) && len(g["errors"]) >= len(want["errors"]) && len(g["errors-archive"]) >= len(want["errors"]) &&
			len(g["svc-a"]) >= len(want["svc-a"]) && len(g["svc-b"]) >= len(want["svc-b"]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out: stored %d events, %d errors, %d svc-a, %d svc-b; log:\n%s",
				len(g["events"]), len(g["errors"]), len(g["svc-a"]), len(g["svc-b"]), logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	g := got()
	g["errors-archive"] = firehoseLines()
	want["errors-archive"] = slices.Clone(want["errors"])
	for stream, lines := range want {
		slices.Sort(lines)
		gs := g[stream]
		slices.Sort(gs)
		if !slices.Equal(gs, lines) {
			t.Errorf("stream %s holds %d records, want %d", stream, len(gs), len(lines))
		}
	}
	archived, _ := os.ReadFile(filepath.Join(dir, "archive.jsonl"))
	lines := strings.Split(strings.TrimSuffix(string(archived), "\n"), "\n")
	slices.Sort(lines)
	slices.Sort(all)
	if !slices.Equal(lines, all) {
		t.Errorf("archive holds %d lines, want %d", len(lines), len(all))
	}
	if !strings.Contains(logs.String(), "templated stream does not exist") {
		t.Errorf("the missing stream svc-zz was not reported:\n%s", logs.String())
	}
}
