//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// A Kinesis Agent agent.json with two flows runs unchanged against
// kinesis-local: every line arrives once, in the stream of its flow,
// transformed as its dataProcessingOptions say (ADDBRACKETS; CSVTOJSON and
// ADDMETADATA with nested metadata); the lines that were in a
// file before the first start are sent only where initialPosition asks
// for them. (Its static credentials take the path the agent.json's keys
// take; kinesis-local accepts any keys, so which were used is not seen.)
func TestAgentJSONTwoFlows(t *testing.T) {
	srv := kinesistest.StartServer(t)
	ctx := ctxTimeout(t, 3*time.Minute)
	const rawStream, csvStream = "e2e-agentjson-raw", "e2e-agentjson-csv"
	for _, s := range []string{rawStream, csvStream} {
		if err := srv.CreateStream(ctx, s, 1); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	os.MkdirAll(filepath.Join(dir, "state"), 0o755)
	rawFile := filepath.Join(dir, "logs", "app.log")
	csvFile := filepath.Join(dir, "logs", "orders.csv")
	// Before the first start: START_OF_FILE sends these, END_OF_FILE not.
	appendLines(t, rawFile, "early", 0, 50)
	appendLines(t, csvFile, "skipped,x,0", 0, 20)

	agentJSON := fmt.Sprintf(`{
  // as a Kinesis Agent host has it, comments and all
  "cloudwatch.emitMetrics": "false",
  "kinesis.endpoint": %q,
  "kinesis.region": "us-east-1",
  "awsAccessKeyId": %q,
  "awsSecretAccessKey": %q,
  "checkpointFile": %q,
  "shutdownTimeoutMillis": "20000",
  "flows": [
    {
      "filePattern": %q,
      "kinesisStream": %q,
      "initialPosition": "START_OF_FILE",
      "maxBufferAgeMillis": 1000,
      "dataProcessingOptions": [{"optionName": "ADDBRACKETS"}]
    },
    {
      "filePattern": %q,
      "kinesisStream": %q,
      "partitionKeyOption": "DETERMINISTIC",
      "maxBufferAgeMillis": "1000",
      "dataProcessingOptions": [
        {"optionName": "CSVTOJSON", "customFieldNames": ["id", "item", "qty"]},
        {"optionName": "ADDMETADATA", "timestamp": "false", "metadata": {"host": "web-1", "build": {"n": 7, "canary": true}}}
      ]
    }
  ]
}
`, srv.Endpoint(), kinesistest.TestAccessKeyID, kinesistest.TestSecretAccessKey,
		filepath.Join(dir, "state", "checkpoints"),
		filepath.Join(dir, "logs", "*.log"), rawStream,
		filepath.Join(dir, "logs", "*.csv"), csvStream)
	cfg := filepath.Join(dir, "agent.json")
	if err := os.WriteFile(cfg, []byte(agentJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	agent := startAgent(t, cfg)
	eventually(t, 30*time.Second, "both flows following their files", func() bool {
		return strings.Count(agent.log.String(), `msg="following files"`) >= 2
	})
	if log := agent.log.String(); !strings.Contains(log, "configuration read as the Kinesis Agent's") ||
		!strings.Contains(log, "checkpoints a line only once every destination has stored it") {
		t.Errorf("the start log does not say the file was read as an agent.json, or what kinetail does differently:\n%s", tail(log, 30))
	}
	appendLines(t, rawFile, "late", 0, 500)
	f, err := os.OpenFile(csvFile, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		fmt.Fprintf(f, "order-%d,widget,%d\n", i, i%7)
	}
	f.Close()

	raw, err := srv.WaitForCount(ctx, rawStream, 550)
	if err != nil {
		t.Fatalf("raw stream: read back %d of 550 records: %v", len(raw), err)
	}
	csv, err := srv.WaitForCount(ctx, csvStream, 300)
	if err != nil {
		t.Fatalf("csv stream: read back %d of 300 records: %v", len(csv), err)
	}
	agent.stop()
	if raw, err = srv.ReadAll(ctx, rawStream); err != nil {
		t.Fatal(err)
	}
	if csv, err = srv.ReadAll(ctx, csvStream); err != nil {
		t.Fatal(err)
	}

	seen := map[string]int{}
	for _, r := range raw {
		seen[string(r.Data)]++
	}
	for _, prefix := range []struct {
		name string
		n    int
	}{{"early", 50}, {"late", 500}} {
		for i := 0; i < prefix.n; i++ {
			if k := fmt.Sprintf("{%s-%d}", prefix.name, i); seen[k] != 1 {
				t.Errorf("raw line %q (in ADDBRACKETS' braces) arrived %d times, want once", k, seen[k])
			}
		}
	}
	if len(raw) != 550 {
		t.Errorf("raw stream holds %d records, want 550", len(raw))
	}

	orders := map[string]int{}
	for _, r := range csv {
		var rec struct {
			Metadata struct {
				Host  string `json:"host"`
				Build struct {
					N      json.Number `json:"n"`
					Canary bool        `json:"canary"`
				} `json:"build"`
			} `json:"metadata"`
			Data string  `json:"data"`
			TS   *string `json:"ts"`
		}
		if err := json.Unmarshal(r.Data, &rec); err != nil || rec.Metadata.Host != "web-1" || rec.Metadata.Build.N != "7" ||
			!rec.Metadata.Build.Canary || rec.TS != nil {
			t.Fatalf("csv record %s: not ADDMETADATA's shape, nested metadata kept, without a timestamp (%v)", r.Data, err)
		}
		var row struct{ ID, Item, Qty string }
		if err := json.Unmarshal([]byte(rec.Data), &row); err != nil || row.Item != "widget" {
			t.Fatalf("csv record's data %q: not CSVTOJSON's object (%v)", rec.Data, err)
		}
		orders[row.ID]++
	}
	for i := 0; i < 300; i++ {
		if k := fmt.Sprintf("order-%d", i); orders[k] != 1 {
			t.Errorf("order %q arrived %d times, want once", k, orders[k])
		}
	}
	if len(csv) != 300 {
		t.Errorf("csv stream holds %d records, want 300 (the 20 lines there before the first start are not sent: END_OF_FILE)", len(csv))
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "kinetail-checkpoints.json")); err != nil {
		t.Errorf("kinetail's checkpoint beside the agent's checkpointFile: %v", err)
	}
}
