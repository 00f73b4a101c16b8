package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/kinetail/kinetail/sink"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// sampleStatus is an agent with one flow and one Kinesis destination.
func sampleStatus() *Status {
	return &Status{
		Version: "v1.2.3", Started: t0, Time: t0.Add(90 * time.Second),
		Checkpoint: Checkpoint{File: "/var/lib/kinetail/cp.json", LastSaved: t0.Add(89 * time.Second), SaveFailures: 2, Saves: 40},
		Flows: []Flow{{
			Name: "web", Running: true, LinesRead: 1000, BytesRead: 64000, Records: 990, Filtered: 4, Header: 1,
			InvalidDropped: 2, InvalidPassed: 2, InvalidWrapped: 1, OpenErrors: 3, CopyTruncateLostBytes: 17,
			FilesOpen: 2, FilesIdle: 1, BytesBehind: 300, MaxFileBytesBehind: 200, BytesInFlight: 120,
			OldestUnacked: t0.Add(80 * time.Second),
			Files: []File{
				{Path: "/var/log/a.log", Offset: 800, Size: 1000, BytesBehind: 200, State: FileReading},
				{Path: "/var/log/b.log", Offset: 50, Size: 150, BytesBehind: 100, State: FileReading},
			},
		}},
		Destinations: []Destination{{
			Name: "events", Type: "kinesis", Stream: "app-events", Requests: 12, RecordSendAttempts: 1100,
			RecordsSent: 985, ServiceRecordsSent: 985, BytesSent: 63000, FailedEntries: 115, Throttles: 115, Retries: 115,
			PayloadUnits: 985, DroppedRetries: 1, Queued: 7, RequestsInFlight: 1,
			LastError: "ProvisionedThroughputExceededException: Rate exceeded", LastErrorTime: t0.Add(60 * time.Second),
		}},
	}
}

func newTestMetrics(s func() *Status, perFile bool) *Metrics {
	m := New(Options{Snapshot: func(bool) *Status { return s() }, PerFile: perFile})
	m.now = func() time.Time { return t0.Add(90 * time.Second) }
	return m
}

func gather(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := make(map[string]*dto.MetricFamily)
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// value returns the value of the series of name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no series %s%v", name, want)
	return 0
}

func TestCollector(t *testing.T) {
	m := newTestMetrics(sampleStatus, false)
	fams := gather(t, m)
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"kinetail_lines_read_total", []string{"flow", "web"}, 1000},
		{"kinetail_read_bytes_total", []string{"flow", "web"}, 64000},
		{"kinetail_records_emitted_total", []string{"flow", "web"}, 990},
		{"kinetail_records_filtered_total", []string{"flow", "web"}, 4},
		{"kinetail_parse_failures_total", []string{"flow", "web", "action", "drop"}, 2},
		{"kinetail_parse_failures_total", []string{"flow", "web", "action", "wrap"}, 1},
		{"kinetail_file_errors_total", []string{"flow", "web", "op", "open"}, 3},
		{"kinetail_copytruncate_lost_bytes_total", []string{"flow", "web"}, 17},
		{"kinetail_files_open", []string{"flow", "web"}, 2},
		{"kinetail_files_followed", []string{"flow", "web"}, 3},
		{"kinetail_bytes_behind", []string{"flow", "web"}, 300},
		{"kinetail_file_bytes_behind_max", []string{"flow", "web"}, 200},
		{"kinetail_bytes_in_flight", []string{"flow", "web"}, 120},
		{"kinetail_oldest_unacked_age_seconds", []string{"flow", "web"}, 10},
		{"kinetail_flow_running", []string{"flow", "web"}, 1},
		{"kinetail_record_send_attempts_total", []string{"destination", "events", "stream", "app-events"}, 1100},
		{"kinetail_records_sent_total", []string{"destination", "events", "stream", "app-events"}, 985},
		{"kinetail_sent_bytes_total", []string{"destination", "events"}, 63000},
		{"kinetail_failed_entries_total", []string{"destination", "events"}, 115},
		{"kinetail_records_dropped_total", []string{"destination", "events", "reason", "retries_exhausted"}, 1},
		{"kinetail_records_dropped_total", []string{"destination", "events", "reason", "too_large"}, 0},
		{"kinetail_queued_records", []string{"destination", "events"}, 7},
		{"kinetail_requests_in_flight", []string{"destination", "events"}, 1},
		{"kinetail_checkpoint_age_seconds", nil, 1},
		{"kinetail_checkpoint_last_save_failed", nil, 0},
		{"kinetail_checkpoint_save_failures_total", nil, 2},
		{"kinetail_checkpoint_saves_total", nil, 40},
		{"kinetail_healthy", nil, 1},
		{"kinetail_build_info", []string{"version", "v1.2.3"}, 1},
	}
	for _, tt := range tests {
		if got := value(t, fams, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if _, ok := fams["kinetail_file_bytes_behind"]; ok {
		t.Error("kinetail_file_bytes_behind is there without per_file")
	}
	// Every name follows the conventions: counters end in _total.
	for name, f := range fams {
		if !strings.HasPrefix(name, "kinetail_") {
			continue
		}
		if (f.GetType() == dto.MetricType_COUNTER) != strings.HasSuffix(name, "_total") {
			t.Errorf("%s is a %v", name, f.GetType())
		}
	}
	problems, err := testutil.CollectAndLint(m.collectorForLint())
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestCollectorPerFile(t *testing.T) {
	fams := gather(t, newTestMetrics(sampleStatus, true))
	if got := value(t, fams, "kinetail_file_bytes_behind", "flow", "web", "path", "/var/log/a.log"); got != 200 {
		t.Errorf("a.log is %v behind, want 200", got)
	}
	if got := value(t, fams, "kinetail_file_bytes_behind", "path", "/var/log/b.log"); got != 100 {
		t.Errorf("b.log is %v behind, want 100", got)
	}
}

// An answer cannot grow the error-code series without bound: past
// maxCodes distinct codes the rest count as "other".
func TestRequestMetricsBoundCodes(t *testing.T) {
	m := newTestMetrics(sampleStatus, false)
	obs := m.Requests("events", "app-events")
	for i := range 100 {
		obs.ObserveRequest(&sink.RequestResult{Records: 1, Failed: 1,
			Codes: []sink.EntryCode{{Code: fmt.Sprintf("Junk%d", i), Kind: "internal", Entries: 1}}})
	}
	series := gather(t, m)["kinetail_partial_failures_total"].GetMetric()
	if len(series) != maxCodes+1 {
		t.Errorf("%d series of partial failures, want %d and other", len(series), maxCodes)
	}
	if got := value(t, gather(t, m), "kinetail_partial_failures_total", "code", "other"); got != 100-maxCodes {
		t.Errorf("other = %v, want %d", got, 100-maxCodes)
	}
}

func TestRequestMetrics(t *testing.T) {
	m := newTestMetrics(sampleStatus, false)
	obs := m.Requests("events", "app-events")
	for _, r := range []sink.RequestResult{
		{Latency: 20 * time.Millisecond, Records: 500, Bytes: 64 << 10, Stored: 500},
		{Latency: 30 * time.Millisecond, Records: 500, Bytes: 64 << 10, Stored: 400, ThrottledEntries: 90, Refused: 4, Failed: 6,
			Codes: []sink.EntryCode{{Code: "ProvisionedThroughputExceededException", Kind: "throttled", Entries: 80}, {Code: "KMSThrottlingException", Kind: "throttled", Entries: 10},
				{Code: "KMSAccessDeniedException", Kind: "refused", Entries: 4}, {Code: "InternalFailure", Kind: "internal", Entries: 6}}},
		{Latency: 40 * time.Millisecond, Records: 100, Bytes: 8 << 10, ThrottledEntries: 100,
			Codes: []sink.EntryCode{{Code: "ProvisionedThroughputExceededException", Kind: "throttled", Entries: 100}}},
		{Latency: time.Second, Records: 100, Bytes: 8 << 10, Err: errors.New("500"), Throttled: false},
		{Latency: time.Second, Records: 100, Bytes: 8 << 10, Err: errors.New("throttled"), Throttled: true},
	} {
		obs.ObserveRequest(&r)
	}
	fams := gather(t, m)
	for outcome, want := range map[string]float64{OutcomeOK: 1, OutcomePartial: 1, OutcomeFailed: 1, OutcomeError: 1, OutcomeThrottled: 1} {
		if got := value(t, fams, "kinetail_requests_total", "destination", "events", "outcome", outcome); got != want {
			t.Errorf("requests{outcome=%s} = %v, want %v", outcome, got, want)
		}
	}
	for code, want := range map[string]float64{"ProvisionedThroughputExceededException": 180, "KMSThrottlingException": 10,
		"KMSAccessDeniedException": 4, "InternalFailure": 6} {
		if got := value(t, fams, "kinetail_partial_failures_total", "code", code); got != want {
			t.Errorf("partial_failures{code=%s} = %v, want %v", code, got, want)
		}
	}
	byKind := map[string]float64{}
	for _, m := range fams["kinetail_partial_failures_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "kind" {
				byKind[l.GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	if want := map[string]float64{"throttled": 190, "refused": 4, "internal": 6}; !maps.Equal(byKind, want) {
		t.Errorf("partial failures by kind = %v, want %v", byKind, want)
	}
	if got := value(t, fams, "kinetail_request_duration_seconds", "destination", "events"); got != 5 {
		t.Errorf("%v latencies observed, want 5", got)
	}
	h := fams["kinetail_request_records"].GetMetric()[0].GetHistogram()
	if h.GetSampleSum() != 1300 {
		t.Errorf("request records sum %v, want 1300", h.GetSampleSum())
	}
}

func TestStatusCheck(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Status)
		want   []string
	}{
		{"all well", func(*Status) {}, nil},
		{"a flow stopped", func(s *Status) { s.Flows[0].Running = false }, []string{`flow "web" is not running`}},
		{"checkpoint save failing", func(s *Status) { s.Checkpoint.LastError = "disk full" },
			[]string{"last checkpoint save failed: disk full"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sampleStatus()
			tt.change(s)
			s.Check()
			if s.Healthy != (tt.want == nil) || strings.Join(s.Problems, "|") != strings.Join(tt.want, "|") {
				t.Errorf("healthy %v, problems %q; want %q", s.Healthy, s.Problems, tt.want)
			}
		})
	}
}

func TestRates(t *testing.T) {
	var r rates
	r.window = time.Minute
	at := func(sec int, sent, attempts, stored int64) *Status {
		return &Status{Started: t0, Time: t0.Add(time.Duration(sec) * time.Second), Destinations: []Destination{
			{Name: "d", RecordsSent: sent, RecordSendAttempts: attempts, ServiceRecordsSent: stored}}}
	}
	// No sample yet: since start.
	s := at(10, 100, 100, 100)
	r.fill(s)
	if d := s.Destinations[0]; d.RecordsPerSecond != 10 || d.ErrorRate != 0 {
		t.Errorf("since start: %v/s, error rate %v; want 10/s, 0", d.RecordsPerSecond, d.ErrorRate)
	}
	for sec := 0; sec <= 120; sec += 10 {
		// 50 records/s until 60s, then 20/s with a quarter of attempts failing.
		sent := int64(50 * min(sec, 60))
		attempts := sent
		if sec > 60 {
			sent += int64(20 * (sec - 60))
			attempts += int64(80 * (sec - 60) / 3)
		}
		r.add(at(sec, sent, attempts, sent))
	}
	s = at(120, 3000+1200, 3000+1600, 3000+1200)
	r.fill(s)
	if d := s.Destinations[0]; d.RecordsPerSecond != 20 || d.ErrorRate != 0.25 {
		t.Errorf("over the last minute: %v/s, error rate %v; want 20/s, 0.25", d.RecordsPerSecond, d.ErrorRate)
	}
	if n := len(r.samples); n > 8 {
		t.Errorf("%d samples kept for a minute sampled every 10s", n)
	}
}

func TestServer(t *testing.T) {
	healthy := true
	m := newTestMetrics(func() *Status {
		s := sampleStatus()
		if !healthy {
			s.Checkpoint.LastError = "disk full"
		}
		return s
	}, false)
	srv, err := Listen("127.0.0.1:0", m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	base := "http://" + srv.Addr().String()
	get := func(path, accept string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
	}

	code, ctype, body := get("/metrics", "")
	if code != 200 || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("/metrics: %d %s", code, ctype)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not in the text format: %v", err)
	}
	if f := fams["kinetail_lines_read_total"]; f == nil || f.GetMetric()[0].GetCounter().GetValue() != 1000 {
		t.Errorf("kinetail_lines_read_total: %v", f)
	}
	code, ctype, body = get("/metrics", "application/openmetrics-text; version=1.0.0")
	if code != 200 || !strings.HasPrefix(ctype, "application/openmetrics-text") || !strings.HasSuffix(body, "# EOF\n") ||
		!strings.Contains(body, "kinetail_lines_read_total{flow=\"web\"} 1000") {
		t.Errorf("OpenMetrics: %d %s\n%s", code, ctype, body)
	}

	if code, _, body := get("/healthz", ""); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	code, ctype, body = get("/status", "")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); code != 200 || ctype != "application/json" || err != nil {
		t.Fatalf("/status: %d %s %v\n%s", code, ctype, err, body)
	}
	if !st.Healthy || len(st.Flows) != 1 || len(st.Flows[0].Files) != 2 || st.Destinations[0].LastError == "" {
		t.Errorf("/status = %+v", st)
	}
	// One line unless ?pretty: then indented, the same document.
	if strings.Count(body, "\n") != 1 {
		t.Errorf("/status is not compact: %d lines", strings.Count(body, "\n"))
	}
	code, _, pretty := get("/status?pretty", "")
	var again Status
	if err := json.Unmarshal([]byte(pretty), &again); code != 200 || err != nil || !strings.Contains(pretty, "\n  \"") {
		t.Errorf("/status?pretty: %d %v\n%s", code, err, pretty)
	}
	if !reflect.DeepEqual(again, st) {
		t.Errorf("/status?pretty = %+v, want %+v", again, st)
	}

	healthy = false
	if code, _, body := get("/healthz", ""); code != 503 || body != "last checkpoint save failed: disk full\n" {
		t.Errorf("/healthz with a failing save = %d %q, want 503 and the reason", code, body)
	}
	if code, _, _ := get("/nope", ""); code != 404 {
		t.Errorf("/nope = %d", code)
	}
}

func TestListenInUse(t *testing.T) {
	m := newTestMetrics(sampleStatus, false)
	a, err := Listen("127.0.0.1:0", m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.ln.Close()
	if _, err := Listen(a.Addr().String(), m, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a second listener on the same address did not fail")
	}
}

func TestWriteTable(t *testing.T) {
	s := sampleStatus()
	s.Check()
	var r rates
	r.window = time.Minute
	r.fill(s)
	var b bytes.Buffer
	if err := WriteTable(&b, s); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"kinetail v1.2.3, up 1m30s, healthy",
		"checkpoint /var/lib/kinetail/cp.json: saved 1s ago",
		"flow web (running): 1000 lines read, 990 records, 300 bytes behind, 120 in flight, oldest unacknowledged: 10s ago",
		"LOST: 17 bytes in copytruncate windows",
		"  /var/log/a.log  800     1000  200     reading",
		"events       app-events  10.9       10.5%   985   7       30s ago: ProvisionedThroughputExceededException: Rate exceeded",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// collectorForLint returns the agent collector alone, for testutil's
// linter (the Go and process collectors are not ours).
func (m *Metrics) collectorForLint() *collector {
	return newCollector(m.opts.Snapshot, m.opts.PerFile, func() time.Time { return m.now() })
}
