//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// deaggregate decodes Kinesis records with awslabs' own KPL decoder, as a
// consumer would.
func deaggregate(t *testing.T, recs []kinesistest.Record) []kinesistest.UserRecord {
	t.Helper()
	in := make([]kinesistest.KinesisRecord, len(recs))
	for i, r := range recs {
		in[i] = kinesistest.KinesisRecord{Data: r.Data, PartitionKey: r.PartitionKey}
	}
	users, err := kinesistest.Deaggregate(t.Context(), in, false)
	if err != nil {
		t.Fatal(err)
	}
	return users
}

// Routing rules, a templated stream with a fallback, KPL aggregation
// (decoded by awslabs' decoder), shard-aware pacing and a file
// destination, through the real agent and a real Kinesis API server.
func TestRoutingAndAggregation(t *testing.T) {
	srv := kinesistest.StartServer(t)
	ctx := ctxTimeout(t, 3*time.Minute)
	for name, shards := range map[string]int{"rt-events": 1, "rt-errors": 2, "rt-svc-a": 1, "rt-svc-b": 1} {
		if err := srv.CreateStream(ctx, name, shards); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	logFile := filepath.Join(dir, "app.log")
	archive := filepath.Join(dir, "archive.jsonl")
	cfg := fmt.Sprintf(`agent:
  checkpoint_file: %[1]s/state/checkpoints.json
  checkpoint_interval: 200ms
  shutdown_timeout: 20s
  log_level: debug # record-chosen stream names are logged at debug only
  metrics: {listen: "127.0.0.1:0"}
destinations:
  events:
    type: kinesis
    stream: rt-events
    region: us-east-1
    endpoint: %[2]s
    partition_key: "%%{user}"
    aggregation: {enabled: true, max_bytes: 2KiB}
    batch: {max_age: 100ms}
  errors:
    type: kinesis
    stream: rt-errors
    region: us-east-1
    endpoint: %[2]s
    aggregation: {enabled: true}
    shard_aware: {enabled: true}
    batch: {max_age: 100ms}
  per-service:
    type: kinesis
    stream: "rt-svc-%%{service}"
    fallback: events
    region: us-east-1
    endpoint: %[2]s
    aggregation: {enabled: true}
    batch: {max_age: 100ms}
  archive:
    type: file
    path: %[1]s/archive.jsonl
flows:
  - name: app
    paths: ["%[1]s/app.log"]
    initial_position: start_of_file
    transforms:
      - json: {}
    destination: events
    routes:
      - to: [archive]
        continue: true
      - when: {field: level, equals: error}
        to: [errors]
        continue: true
      - when: {field: service, exists: true}
        to: [per-service]
`, dir, srv.Endpoint())
	path := filepath.Join(dir, "kinetail.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	agent := startAgent(t, path)

	// 2,000 lines: every 10th an error; services a, b, zz (no stream) or
	// none; users u0..u6.
	want := map[string][]string{} // stream → lines
	var all []string
	var buf bytes.Buffer
	for i := range 2000 {
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
			want["rt-errors"] = append(want["rt-errors"], line)
		}
		switch svc {
		case "a", "b":
			want["rt-svc-"+svc] = append(want["rt-svc-"+svc], line)
		default: // no stream rt-svc-zz: the fallback; no service: the default
			want["rt-events"] = append(want["rt-events"], line)
		}
	}
	if err := os.WriteFile(logFile, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	got := map[string][]kinesistest.UserRecord{}
	counts := func() string {
		var b strings.Builder
		for stream, lines := range want {
			fmt.Fprintf(&b, "%s: %d of %d; ", stream, len(got[stream]), len(lines))
		}
		return b.String()
	}
	defer func() {
		if t.Failed() {
			t.Logf("stored: %s", counts())
		}
	}()
	eventually(t, 90*time.Second, "every stream to hold its records", func() bool {
		done := true
		for stream, lines := range want {
			recs, err := srv.ReadAll(ctx, stream)
			if err != nil {
				t.Fatal(err)
			}
			users := deaggregate(t, recs)
			got[stream] = users
			if len(users) < len(lines) {
				done = false
			}
		}
		return done
	})
	agent.stop()

	for stream, lines := range want {
		var gotLines []string
		for _, u := range got[stream] {
			gotLines = append(gotLines, string(u.Data))
		}
		slices.Sort(gotLines)
		wantSorted := slices.Sorted(slices.Values(lines))
		if !slices.Equal(gotLines, wantSorted) {
			t.Errorf("stream %s: %d records, want %d (first got %q)", stream, len(gotLines), len(wantSorted), first(gotLines))
		}
	}
	// Aggregation happened: fewer Kinesis records than user records.
	recs, _ := srv.ReadAll(ctx, "rt-events")
	if len(recs) >= len(want["rt-events"]) {
		t.Errorf("rt-events holds %d Kinesis records for %d user records: nothing was aggregated", len(recs), len(want["rt-events"]))
	}
	// The partition key template: every user record of rt-events carries
	// the key of its user (each aggregate holds one user's records).
	for _, u := range got["rt-events"] {
		var v struct{ User string }
		json.Unmarshal(u.Data, &v)
		if u.PartitionKey != v.User {
			t.Fatalf("record %s has partition key %q, want %q", u.Data, u.PartitionKey, v.User)
		}
	}

	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	archived := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	slices.Sort(archived)
	if !slices.Equal(archived, slices.Sorted(slices.Values(all))) {
		t.Errorf("archive holds %d lines, want %d", len(archived), len(all))
	}
	if !strings.Contains(agent.log.String(), `templated stream does not exist`) {
		t.Errorf("no log line about the missing stream rt-svc-zz")
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
