package metrics

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kinetail/kinetail/sink"
)

// SnapshotFunc returns the agent's state now. With files false it may leave
// out each flow's Files and what needs them (bytes behind), which cost a
// stat per file: rates and health need only counters.
type SnapshotFunc func(files bool) *Status

// Options configure Metrics.
type Options struct {
	Snapshot SnapshotFunc
	// PerFile adds kinetail_file_bytes_behind, a series per file.
	PerFile bool
	// RateWindow is how far back records/s and the error rate of /status
	// look; 0 means a minute.
	RateWindow time.Duration
}

// Metrics owns a private Prometheus registry (no global state: two agents
// in one process, as in tests, do not share series) and the handlers of
// /metrics, /healthz and /status.
type Metrics struct {
	opts     Options
	reg      *prometheus.Registry
	now      func() time.Time
	requests *requestVecs
	rates    rates
}

// New returns Metrics reading the agent's state through o.Snapshot.
func New(o Options) *Metrics {
	if o.RateWindow <= 0 {
		o.RateWindow = time.Minute
	}
	m := &Metrics{opts: o, reg: prometheus.NewRegistry(), now: time.Now}
	m.rates.window = o.RateWindow
	m.requests = newRequestVecs()
	m.reg.MustRegister(
		newCollector(o.Snapshot, o.PerFile, func() time.Time { return m.now() }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.requests.register(m.reg)
	return m
}

// Registry is where the metrics are; tests gather from it.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Requests returns the observer of one sink's requests: it counts them by
// outcome and times them. Calls with the same names share series.
func (m *Metrics) Requests(destination, stream string) sink.RequestObserver {
	return m.requests.bind(destination, stream)
}

// Status returns a snapshot with its health checked and its rates filled.
func (m *Metrics) Status() *Status {
	s := m.opts.Snapshot(true)
	s.Check()
	m.rates.fill(s)
	return s
}

// Sample records the destinations' counters for the rates of /status.
func (m *Metrics) Sample() {
	m.rates.add(m.opts.Snapshot(false))
}

// Handler serves /metrics, /healthz and /status.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		// A failing collector must not hide the others.
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		s := m.opts.Snapshot(false)
		s.Check()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !s.Healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(strings.Join(s.Problems, "\n") + "\n"))
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		// Compact unless asked: indenting took more CPU than the rest of
		// an answer listing ten thousand files (0.34 of 0.81 s for five).
		if r.URL.Query().Has("pretty") {
			enc.SetIndent("", "  ")
		}
		enc.Encode(m.Status())
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<html><body><h1>kinetail</h1><ul><li><a href="metrics">metrics</a></li><li><a href="healthz">healthz</a></li><li><a href="status">status</a></li></ul></body></html>` + "\n"))
	})
	return mux
}

// rates keeps samples of the destinations' counters over a window, so
// /status can say records/s and the error rate of the last minute.
type rates struct {
	mu      sync.Mutex
	window  time.Duration
	samples []sample // oldest first
}

type sample struct {
	t      time.Time
	counts map[string]counts
}

type counts struct{ sent, attempts, stored, writeErrors int64 }

func countsOf(d *Destination) counts {
	return counts{sent: d.RecordsSent, attempts: d.RecordSendAttempts, stored: d.ServiceRecordsSent, writeErrors: d.WriteErrors}
}

func (r *rates) add(s *Status) {
	smp := sample{t: s.Time, counts: make(map[string]counts, len(s.Destinations))}
	for i := range s.Destinations {
		smp.counts[s.Destinations[i].Key()] = countsOf(&s.Destinations[i])
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, smp)
	// Keep one sample at least a window old, for a full window.
	n := 0
	for n+1 < len(r.samples) && s.Time.Sub(r.samples[n+1].t) >= r.window {
		n++
	}
	r.samples = append(r.samples[:0], r.samples[n:]...)
}

// fill sets the rates of s's destinations over the window, or since start
// for a destination that no sample knows.
func (r *rates) fill(s *Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range s.Destinations {
		d := &s.Destinations[i]
		now := countsOf(d)
		var then counts
		since := s.Started
		for _, smp := range r.samples {
			if c, ok := smp.counts[d.Key()]; ok && s.Time.Sub(smp.t) > 0 {
				then, since = c, smp.t
				break
			}
		}
		secs := s.Time.Sub(since).Seconds()
		if secs <= 0 {
			continue
		}
		d.RecordsPerSecond = float64(now.sent-then.sent) / secs
		if attempts := now.attempts - then.attempts; attempts > 0 {
			d.ErrorRate = float64(attempts-(now.stored-then.stored)) / float64(attempts)
		} else if errs := now.writeErrors - then.writeErrors; errs > 0 {
			d.ErrorRate = float64(errs) / float64(errs+now.sent-then.sent)
		}
		d.ErrorRate = min(max(d.ErrorRate, 0), 1)
	}
}
