package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/internal/promtest"
	"github.com/kinetail/kinetail/internal/testfs"
	"github.com/kinetail/kinetail/metrics"
)

// The counters served while the agent runs are the stages' own: what the
// server stored, what the file holds; bytes behind is 0 once caught up and
// grows while the destination is down.
func TestAgentMetrics(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 5, FailEntryRate: 0.1})
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	var content []byte
	for i := range 3000 {
		content = fmt.Appendf(content, "line-%d\n", i)
	}
	path := filepath.Join(dir, "logs", "a.log")
	os.WriteFile(path, content, 0o644)
	cfg := newConfig(t, dir, fs.URL(), "")
	cfg.Agent.Metrics.PerFile = true

	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a.Version = "test-1"
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitFor(t, "the metrics listener", func() bool { return a.MetricsAddr() != nil })
	addr := a.MetricsAddr().String()

	const flow, dest = `{flow="f"}`, `{destination="out",stream="s"}`
	waitFor(t, "3000 records", func() bool { return promtest.Scrape(t, addr)["kinetail_records_sent_total"+dest] == 3000 })
	waitFor(t, "caught up", func() bool { return promtest.Scrape(t, addr)["kinetail_bytes_behind"+flow] == 0 })
	m := promtest.Scrape(t, addr)
	c := fs.Counts()
	for name, want := range map[string]float64{
		"kinetail_lines_read_total" + flow:           3000,
		"kinetail_read_bytes_total" + flow:           float64(len(content)),
		"kinetail_records_emitted_total" + flow:      3000,
		"kinetail_bytes_in_flight" + flow:            0,
		"kinetail_files_followed" + flow:             1,
		"kinetail_flow_running" + flow:               1,
		"kinetail_sent_bytes_total" + dest:           float64(len(content) - 3000), // without newlines
		"kinetail_record_send_attempts_total" + dest: float64(c.Entries),
		"kinetail_failed_entries_total" + dest:       float64(c.FailedEntries),
		`kinetail_partial_failures_total{code="ProvisionedThroughputExceededException",destination="out",kind="throttled",stream="s"}`: float64(c.FailedEntries),
		`kinetail_file_bytes_behind{flow="f",path="` + path + `"}`:                                                                     0,
		// The server also answered the start-up check of the stream.
		"kinetail_request_duration_seconds" + dest + "_count": float64(c.Requests - 1),
		`kinetail_build_info{version="test-1"}`:               1,
		"kinetail_healthy":                                    1,
		"kinetail_checkpoint_last_save_failed":                0,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	// The new file's first batch waited for a save of its opening.
	if got := m["kinetail_checkpoint_saves_total"]; got < 1 {
		t.Errorf("kinetail_checkpoint_saves_total = %v after lines were sent, want at least 1", got)
	}
	requests := 0.0
	for _, o := range []string{metrics.OutcomeOK, metrics.OutcomePartial, metrics.OutcomeFailed, metrics.OutcomeThrottled, metrics.OutcomeError} {
		requests += m[`kinetail_requests_total{destination="out",outcome="`+o+`",stream="s"}`]
	}
	if requests != float64(c.Requests-1) {
		t.Errorf("kinetail_requests_total adds up to %v, the server answered %d PutRecords", requests, c.Requests-1)
	}
	if c.FailedEntries == 0 {
		t.Error("the server failed no entries: the failure counters were not exercised")
	}

	// An outage: what is written now waits in the file, and is behind.
	fs.SetDown(true)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	more := []byte("during-outage-1\nduring-outage-2\n")
	f.Write(more)
	f.Close()
	waitFor(t, "bytes behind during the outage", func() bool {
		return promtest.Scrape(t, addr)["kinetail_bytes_behind"+flow] == float64(len(more))
	})
	waitFor(t, "an unacknowledged record's age", func() bool {
		return promtest.Scrape(t, addr)["kinetail_oldest_unacked_age_seconds"+flow] > 0
	})

	// /status says the same, and names the file.
	resp, err := http.Get("http://" + addr + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var st metrics.Status
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Flows) != 1 || len(st.Flows[0].Files) != 1 {
		t.Fatalf("/status flows: %+v", st.Flows)
	}
	file := st.Flows[0].Files[0]
	if file.Path != path || file.Offset != int64(len(content)) || file.Size != int64(len(content)+len(more)) ||
		file.BytesBehind != int64(len(more)) || file.State != metrics.FileReading {
		t.Errorf("/status file: %+v", file)
	}
	if d := st.Destinations; len(d) != 1 || d[0].LastError == "" || d[0].RecordsSent != 3000 {
		t.Errorf("/status destinations: %+v", d)
	}

	fs.SetDown(false)
	waitFor(t, "caught up after the outage", func() bool { return promtest.Scrape(t, addr)["kinetail_bytes_behind"+flow] == 0 })
	if got := promtest.Scrape(t, addr)["kinetail_records_sent_total"+dest]; got != 3002 {
		t.Errorf("records sent = %v after the outage, want 3002", got)
	}

	resp, err = http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz = %d %s", resp.StatusCode, body)
	}
}

// The periodic stats line has real key=value attributes (here JSON
// fields), with the totals since the previous line.
func TestAgentStatsLine(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{})
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	var content []byte
	for i := range 500 {
		content = fmt.Appendf(content, "line-%d\n", i)
	}
	os.WriteFile(filepath.Join(dir, "logs", "a.log"), content, 0o644)
	cfg := newConfig(t, dir, fs.URL(), "")
	cfg.Agent.StatsInterval = config.Duration(100 * time.Millisecond)

	var logs testfs.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	type stats struct {
		Msg         string
		Interval    *int64 // nanoseconds
		LinesRead   *int64 `json:"lines_read"`
		RecordsSent *int64 `json:"records_sent"`
		BytesBehind *int64 `json:"bytes_behind"`
		Retries     *int64
		Errors      *int64
	}
	var lines []stats
	waitFor(t, "stats lines adding up to every line", func() bool {
		lines = lines[:0]
		var read, sent int64
		for _, l := range strings.Split(logs.String(), "\n") {
			var s stats
			if json.Unmarshal([]byte(l), &s) != nil || s.Msg != "stats" {
				continue
			}
			if s.Interval == nil || s.LinesRead == nil || s.RecordsSent == nil || s.BytesBehind == nil || s.Retries == nil || s.Errors == nil {
				t.Fatalf("stats line without its fields: %s", l)
			}
			read, sent = read+*s.LinesRead, sent+*s.RecordsSent
			lines = append(lines, s)
		}
		return read == 500 && sent == 500 && *lines[len(lines)-1].BytesBehind == 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, s := range lines {
		if *s.Interval != int64(100*time.Millisecond) || *s.Errors != 0 || *s.Retries != 0 {
			t.Errorf("stats line: interval %d, errors %d, retries %d", *s.Interval, *s.Errors, *s.Retries)
		}
	}
}
