// What a Stream shows about itself: the request observer for metrics,
// gauges, the last error.

package sink

import (
	"sync"
	"sync/atomic"
	"time"
)

// RequestResult is what one PutRecords or PutRecordBatch call did. After
// an answer, Stored + Throttled + Refused + Failed == Records.
type RequestResult struct {
	Latency time.Duration // of the call, from sending to the answer or the error
	Records int           // service records (entries) in the call
	Bytes   int           // the request body's bytes
	// Err is set when the call failed as a whole (no answer, or an error
	// answer); Throttled says the service asked to slow down.
	Err       error
	Throttled bool
	// The answer's entries: stored, and failed by kind: throttled
	// (ProvisionedThroughputExceededException, KMSThrottlingException),
	// refused for a reason the operator must fix (KMS access, unknown
	// codes), and other failures (InternalFailure, ServiceUnavailable).
	Stored, ThrottledEntries, Refused, Failed int
	// Codes are the answer's failed entries by error code; valid only
	// during ObserveRequest.
	Codes []EntryCode
}

// EntryCode is how many entries of one answer failed with one error code
// (ProvisionedThroughputExceededException, InternalFailure, ...), and
// what kind of failure the code is: throttled, refused or internal.
type EntryCode struct {
	Code, Kind string
	Entries    int
}

// RequestObserver is told about every request a Stream made, from the
// goroutine that runs the Stream: it must not block. Metrics count and
// time requests with it; it sees no record data.
type RequestObserver interface {
	ObserveRequest(*RequestResult)
}

// watch holds what a Stream shows about itself besides its counters:
// gauges, the last error, and the observer. It is written once per
// request or per batch, never per record.
type watch struct {
	obs                RequestObserver
	queued, inFlight   atomic.Int64
	shards             atomic.Int64
	aggregates, packed atomic.Int64
	mu                 sync.Mutex
	lastErr            string
	lastErrAt          time.Time
	result             RequestResult // reused: ObserveRequest must not keep it
}

// depth records the queue's length and the requests in flight.
func (w *watch) depth(queued, inFlight int) {
	w.queued.Store(int64(queued))
	w.inFlight.Store(int64(inFlight))
}

// observe reports request r, handed back by a worker, to the observer and
// keeps its error as the last one.
func (k *Stream) observe(r *request, now time.Time) {
	w := &k.watch
	res := &w.result
	*res = RequestResult{Latency: r.took, Bytes: len(r.bufs.body), Err: r.err}
	if r.err != nil {
		res.Records = len(r.entries)
		res.Throttled = k.set.proto.classify(r.err) == failThrottled
	} else {
		// An answered request's entries are the ones that failed.
		res.Records = r.stored + len(r.entries)
		res.Stored, res.ThrottledEntries, res.Refused = r.stored, r.throttled, r.refused
		res.Failed = len(r.entries) - r.throttled - r.refused
		res.Codes = r.byCode
	}
	switch {
	case r.err != nil:
		w.setLastErr(r.err.Error(), now)
	case len(r.entries) > 0:
		msg := r.code
		if r.msg != "" {
			msg += ": " + r.msg
		}
		w.setLastErr(msg, now)
	}
	if w.obs != nil {
		w.obs.ObserveRequest(res)
	}
}

func (w *watch) setLastErr(msg string, now time.Time) {
	w.mu.Lock()
	w.lastErr, w.lastErrAt = msg, now
	w.mu.Unlock()
}

// StreamState is what a Stream is doing now, beside its counters.
type StreamState struct {
	Queued     int64 // records (service records) waiting to be sent
	InFlight   int64 // requests sent and not answered
	Shards     int64 // shards known (shard-aware mode), 0 if none
	Aggregates int64 // aggregates (KPL, or packed Firehose records) stored
	Packed     int64 // user records in them
	// LastError is the last request's or entry's error and when it
	// happened; empty if none did.
	LastError   string
	LastErrorAt time.Time
}

// State returns the Stream's gauges and last error; it is safe to call at
// any time.
func (k *Stream) State() StreamState {
	w := &k.watch
	s := StreamState{Queued: w.queued.Load(), InFlight: w.inFlight.Load(), Shards: w.shards.Load(),
		Aggregates: w.aggregates.Load(), Packed: w.packed.Load()}
	w.mu.Lock()
	s.LastError, s.LastErrorAt = w.lastErr, w.lastErrAt
	w.mu.Unlock()
	return s
}

// Stream returns the name of the stream the sink sends to.
func (k *Stream) Stream() string { return k.set.stream }

// Firehose reports whether the sink sends to a Firehose delivery stream.
func (k *Stream) Firehose() bool { return k.set.proto.service == serviceFirehose }
