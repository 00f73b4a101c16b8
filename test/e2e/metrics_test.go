//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/internal/promtest"
)

// listening matches the line where the agent says where /metrics is.
var listening = regexp.MustCompile(`msg="serving /metrics, /healthz and /status" listen=(127\.0\.0\.1:\d+)`)

// metricsAddr waits for the agent to serve /metrics (on a port of its
// choosing, 127.0.0.1:0) and returns the address.
func metricsAddr(t *testing.T, p *agentProc) string {
	t.Helper()
	var addr string
	eventually(t, 30*time.Second, "the metrics listener", func() bool {
		m := listening.FindStringSubmatch(p.log.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	return addr
}

// The counters /metrics serves during a run match what kinesis-local
// stored, bytes behind is 0 once caught up, and `kinetail status` shows the
// files.
func TestMetricsMatchKinesisLocal(t *testing.T) {
	srv := kinesistest.StartServer(t)
	ctx := ctxTimeout(t, 3*time.Minute)
	const stream = "e2e-metrics"
	if err := srv.CreateStream(ctx, stream, 2); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	appendLines(t, a, "a", 0, 1500)
	cfg := writeConfig(t, dir, srv.Endpoint(), stream, fmt.Sprintf(`  - name: app
    paths: ["%s/*.log"]
    initial_position: start_of_file
    destination: out
`, dir))
	// The counts are compared with what kinesis-local holds: a request it
	// answers after the timeout (a loaded machine) would be stored twice,
	// as it may be by the service, which is not what this test is about.
	editConfig(t, cfg, "request: 3s", "request: 60s")
	agent := startAgent(t, cfg)
	addr := metricsAddr(t, agent)

	// Written while the agent runs, and scraped meanwhile.
	for i := range 10 {
		appendLines(t, b, "b", i*100, (i+1)*100)
		promtest.Scrape(t, addr)
		time.Sleep(50 * time.Millisecond)
	}
	const total = 2500
	const app, out = `{flow="app"}`, `{destination="out",stream="e2e-metrics"}`
	eventually(t, 60*time.Second, "every record counted as sent", func() bool {
		return promtest.Scrape(t, addr)["kinetail_records_sent_total"+out] == total
	})
	eventually(t, 30*time.Second, "caught up", func() bool { return promtest.Scrape(t, addr)["kinetail_bytes_behind"+app] == 0 })
	recs, err := srv.ReadAll(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	var bytes int
	for _, r := range recs {
		bytes += len(r.Data)
	}
	m := promtest.Scrape(t, addr)
	fa, _ := os.Stat(a)
	fb, _ := os.Stat(b)
	for name, want := range map[string]float64{
		"kinetail_records_sent_total" + out:         float64(len(recs)),
		"kinetail_sent_bytes_total" + out:           float64(bytes),
		"kinetail_lines_read_total" + app:           total,
		"kinetail_read_bytes_total" + app:           float64(fa.Size() + fb.Size()),
		"kinetail_bytes_in_flight" + app:            0,
		"kinetail_files_followed" + app:             2,
		"kinetail_oldest_unacked_age_seconds" + app: 0,
		"kinetail_flow_running" + app:               1,
		"kinetail_healthy":                          1,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("%s = %v (present: %v), want %v", name, got, ok, want)
		}
	}
	if len(recs) != total {
		t.Errorf("kinesis-local holds %d records, want %d", len(recs), total)
	}

	// The status table, from the running agent.
	cmd := exec.Command(binary, "status", "-c", cfg, "-addr", addr)
	outText, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kinetail status: %v\n%s", err, outText)
	}
	for _, want := range []string{"healthy", "flow app (running): 2500 lines read", a, b, "reading", "out          e2e-metrics"} {
		if !strings.Contains(string(outText), want) {
			t.Errorf("kinetail status lacks %q:\n%s", want, outText)
		}
	}
	agent.stop()

	// Stopped: status shows the checkpoint instead, saying so.
	outText, err = exec.Command(binary, "status", "-c", cfg, "-addr", addr).CombinedOutput()
	if err != nil || !strings.Contains(string(outText), "no agent answers") || !strings.Contains(string(outText), a) {
		t.Errorf("kinetail status with the agent stopped: %v\n%s", err, outText)
	}
}

// During an outage the bytes written wait in the file and show as behind;
// once the destination is back they are sent and it falls to 0.
func TestMetricsBytesBehindDuringOutage(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{})
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendLines(t, log, "before", 0, 1000)
	cfg := writeConfig(t, dir, fs.URL(), "s", fmt.Sprintf(`  - name: app
    paths: ["%s"]
    initial_position: start_of_file
    destination: out
`, log))
	agent := startAgent(t, cfg)
	addr := metricsAddr(t, agent)
	const app, out = `{flow="app"}`, `{destination="out",stream="s"}`
	eventually(t, 30*time.Second, "caught up", func() bool {
		m := promtest.Scrape(t, addr)
		return m["kinetail_records_sent_total"+out] == 1000 && m["kinetail_bytes_behind"+app] == 0
	})

	fs.SetDown(true)
	before, _ := os.Stat(log)
	appendLines(t, log, "during", 0, 500)
	after, _ := os.Stat(log)
	written := float64(after.Size() - before.Size())
	eventually(t, 30*time.Second, "the outage's bytes behind", func() bool {
		m := promtest.Scrape(t, addr)
		return m["kinetail_bytes_behind"+app] == written && m["kinetail_oldest_unacked_age_seconds"+app] > 0
	})
	m := promtest.Scrape(t, addr)
	if m["kinetail_records_sent_total"+out] != 1000 || m[`kinetail_requests_total{destination="out",outcome="error",stream="s"}`] == 0 {
		t.Errorf("during the outage: %v records sent, %v failed requests", m["kinetail_records_sent_total"+out],
			m[`kinetail_requests_total{destination="out",outcome="error",stream="s"}`])
	}
	// An outage is not unhealthy: the agent waits and retries.
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz during an outage = %d %s", resp.StatusCode, body)
	}

	fs.SetDown(false)
	eventually(t, 60*time.Second, "caught up after the outage", func() bool {
		m := promtest.Scrape(t, addr)
		return m["kinetail_bytes_behind"+app] == 0 && m["kinetail_records_sent_total"+out] == 1500
	})
	agent.stop()
	if n := len(fs.Stored()); n != 1500 {
		t.Errorf("the server stored %d records, want 1500", n)
	}
}
