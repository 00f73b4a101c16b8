// Tests of the request observer and the gauges.

package sink

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// recorder is a RequestObserver that keeps totals.
type recorder struct {
	mu                                                                    sync.Mutex
	requests, errors, throttledCalls                                      int
	records, errRecords, stored, throttled, refused, failed, bytes, zeroT int
}

func (r *recorder) ObserveRequest(res *RequestResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	r.records += res.Records
	r.bytes += res.Bytes
	if res.Latency <= 0 {
		r.zeroT++
	}
	if res.Err != nil {
		r.errors++
		r.errRecords += res.Records
		if res.Throttled {
			r.throttledCalls++
		}
		return
	}
	r.stored += res.Stored
	r.throttled += res.ThrottledEntries
	r.refused += res.Refused
	r.failed += res.Failed
}

// The observer sees every request the server answered or failed, with the
// entries each stored and the ones that failed; State keeps the last error.
func TestStreamObserver(t *testing.T) {
	t.Parallel()
	const n = 3000
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{
		Seed: 9, FailEntryRate: 0.2, Error500Rate: 0.1, Streams: []string{testStream},
	})
	d := testDestination(srv.URL())
	d.Batch.MaxRecords = 100
	rec := &recorder{}
	k, err := NewKinesis(context.Background(), d, Options{
		Logger:      slog.New(slog.DiscardHandler),
		Rand:        rand.New(rand.NewPCG(7, 11)),
		credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
		Observer:    rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := k.State(); s.LastError != "" || !s.LastErrorAt.IsZero() {
		t.Fatalf("state before any request: %+v", s)
	}
	acks := newAckCounter(n)
	runAll(t, k, acks.batches(0, n, 50, 0), 60*time.Second)

	c := srv.Counts()
	st := k.Stats()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.requests != c.Requests || int64(rec.requests) != st.Requests {
		t.Errorf("observed %d requests; the server saw %d, the sink counted %d", rec.requests, c.Requests, st.Requests)
	}
	if rec.errors != c.Errors500 || rec.errors == 0 {
		t.Errorf("observed %d failed requests, the server answered %d with 500", rec.errors, c.Errors500)
	}
	// The server counts no entries of a request it answers with a 500.
	if rec.records-rec.errRecords != c.Entries {
		t.Errorf("observed %d entries answered, the server read %d", rec.records-rec.errRecords, c.Entries)
	}
	if rec.stored != n {
		t.Errorf("observed %d entries stored, want %d", rec.stored, n)
	}
	if got := rec.throttled + rec.refused + rec.failed; got != c.FailedEntries || rec.throttled != c.FailedEntries {
		t.Errorf("observed failed entries: %d throttled, %d refused, %d other; the server failed %d (all throttling)",
			rec.throttled, rec.refused, rec.failed, c.FailedEntries)
	}
	if int64(rec.records) != st.RecordsSent {
		t.Errorf("observed %d entries sent, the sink counted %d", rec.records, st.RecordsSent)
	}
	if rec.bytes == 0 || rec.zeroT != 0 {
		t.Errorf("observed %d body bytes, %d requests without a latency", rec.bytes, rec.zeroT)
	}
	if s := k.State(); s.LastError == "" || s.LastErrorAt.IsZero() || s.Queued != 0 || s.InFlight != 0 {
		t.Errorf("state after a run with faults: %+v; want a last error, nothing queued or in flight", s)
	}
}
