package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinetail/kinetail/sink"
)

// Request outcomes, the values of kinetail_requests_total's outcome label.
const (
	OutcomeOK        = "ok"        // every entry stored
	OutcomePartial   = "partial"   // some entries stored, some failed
	OutcomeFailed    = "failed"    // answered, no entry stored
	OutcomeThrottled = "throttled" // the whole request was throttled
	OutcomeError     = "error"     // no answer, or an error answer
)

// requestVecs are the metrics updated as each request ends.
type requestVecs struct {
	requests *prometheus.CounterVec
	failed   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	records  *prometheus.HistogramVec
	bytes    *prometheus.HistogramVec
}

func newRequestVecs() *requestVecs {
	return &requestVecs{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinetail_requests_total",
			Help: "PutRecords or PutRecordBatch requests by outcome: ok, partial, failed (answered, nothing stored), throttled, error.",
		}, []string{"destination", "stream", "outcome"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinetail_partial_failures_total",
			Help: "Entries failed in answered requests, by the service's error code (ProvisionedThroughputExceededException, InternalFailure, KMS.AccessDeniedException, ...; \"other\" past " + strconv.Itoa(maxCodes) + " distinct codes) and its kind: throttled, refused (needs the operator: KMS access, unknown codes) or internal (the service's own, retried).",
		}, []string{"destination", "stream", "code", "kind"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kinetail_request_duration_seconds",
			Help:    "Latency of PutRecords or PutRecordBatch requests, from sending to the answer or the error.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12), // 5ms to 10s
		}, []string{"destination", "stream"}),
		records: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kinetail_request_records",
			Help:    "Records (service records) per request.",
			Buckets: []float64{1, 5, 10, 25, 50, 100, 250, 500},
		}, []string{"destination", "stream"}),
		bytes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kinetail_request_bytes",
			Help:    "Request body bytes per request.",
			Buckets: prometheus.ExponentialBuckets(1024, 4, 8), // 1KiB to 16MiB
		}, []string{"destination", "stream"}),
	}
}

func (v *requestVecs) register(r prometheus.Registerer) {
	r.MustRegister(v.requests, v.failed, v.latency, v.records, v.bytes)
}

// RequestMetrics counts and times one sink's requests; it implements
// sink.RequestObserver. The series are resolved once, so each request
// costs a few atomic adds.
type RequestMetrics struct {
	outcomes                map[string]prometheus.Counter
	latency, records, bytes prometheus.Observer
	// failed are the partial failures' series by code and kind, resolved
	// on first sight; ObserveRequest runs on one goroutine, the sink's.
	failed              map[codeKind]prometheus.Counter
	vec                 *prometheus.CounterVec
	destination, stream string
}

type codeKind struct{ code, kind string }

// maxCodes bounds the distinct error codes counted per stream: the
// service's are a handful, and an answer's codes must not be able to
// grow the series without bound.
const maxCodes = 16

func (v *requestVecs) bind(destination, stream string) *RequestMetrics {
	m := &RequestMetrics{outcomes: make(map[string]prometheus.Counter), failed: make(map[codeKind]prometheus.Counter),
		vec: v.failed, destination: destination, stream: stream}
	for _, o := range []string{OutcomeOK, OutcomePartial, OutcomeFailed, OutcomeThrottled, OutcomeError} {
		m.outcomes[o] = v.requests.WithLabelValues(destination, stream, o)
	}
	m.latency = v.latency.WithLabelValues(destination, stream)
	m.records = v.records.WithLabelValues(destination, stream)
	m.bytes = v.bytes.WithLabelValues(destination, stream)
	return m
}

// ObserveRequest implements sink.RequestObserver.
func (m *RequestMetrics) ObserveRequest(r *sink.RequestResult) {
	m.outcomes[Outcome(r)].Inc()
	m.latency.Observe(r.Latency.Seconds())
	m.records.Observe(float64(r.Records))
	m.bytes.Observe(float64(r.Bytes))
	for _, c := range r.Codes {
		m.failedCounter(c.Code, c.Kind).Add(float64(c.Entries))
	}
}

// failedCounter returns the series of code and kind, or of "other" once
// maxCodes distinct ones are counted.
func (m *RequestMetrics) failedCounter(code, kind string) prometheus.Counter {
	k := codeKind{code, kind}
	if c := m.failed[k]; c != nil {
		return c
	}
	if len(m.failed) >= maxCodes {
		k.code = "other"
		if c := m.failed[k]; c != nil {
			return c
		}
	}
	c := m.vec.WithLabelValues(m.destination, m.stream, k.code, k.kind)
	m.failed[k] = c
	return c
}

// Outcome classifies a request.
func Outcome(r *sink.RequestResult) string {
	switch {
	case r.Err != nil && r.Throttled:
		return OutcomeThrottled
	case r.Err != nil:
		return OutcomeError
	case r.Stored == r.Records:
		return OutcomeOK
	case r.Stored == 0:
		return OutcomeFailed
	}
	return OutcomePartial
}
