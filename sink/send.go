// The workers: each writes a request's body, makes the call through the
// put client, acknowledges what was stored and leaves the rest for the
// dispatcher.

package sink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kinetail/kinetail/internal/ack"
	"github.com/kinetail/kinetail/internal/redact"
)

// putter is what the workers need of the put client (putClient, or a fake
// in tests): one call, and where calls go, for messages.
type putter interface {
	// put sends the body in b.body and reads a 200 answer into b.res. Any
	// other answer is an *apiError; a failure to get one is returned as
	// is. It is called by several workers at once, each with its own b.
	put(ctx context.Context, b *putBuffers) error
	// endpoint is the URL calls go to, without credentials.
	endpoint() string
}

// request is one PutRecords (or PutRecordBatch) call and its outcome.
// Requests are reused: the slices keep their capacity from one call to the
// next.
type request struct {
	entries []entry
	sentAt  time.Time
	cost    int64      // in the sink's memory budget while in flight (see memory.go)
	held    int64      // the queue's bytes it took (see dispatcher.publish)
	bufs    putBuffers // its body and answer; a request keeps them for the next
	// spare are the parts lists of the packed records it stored, kept
	// for the next packed records like its buffers (queue.clone).
	spare [][]entry

	// took is the call's latency, filled by the worker (for metrics).
	took time.Duration

	// Outcome, filled by the worker. After a call that got an answer,
	// entries holds only the entries that failed.
	err       error
	answered  bool // the service answered; entries are the failed ones
	stored    int
	throttled int    // failed entries that were throttled
	refused   int    // failed entries that need the operator (KMS access...)
	code, msg string // of the first failed entry, for the log
	byCode    []EntryCode
}

// reset clears the outcome and drops references to sent data.
func (r *request) reset() {
	clear(r.entries)
	r.entries = r.entries[:0]
	r.err, r.answered = nil, false
	r.stored, r.throttled, r.refused = 0, 0, 0
	r.code, r.msg = "", ""
	r.byCode = r.byCode[:0]
}

// worker sends requests until work is closed. done has room for every
// request that can be in flight, so a worker never blocks on it. Each
// worker has its own key source, and each request its buffers, so no lock
// is needed.
func (k *Stream) worker(ctx context.Context, ks *keySource, work <-chan *request, done chan<- *request) {
	for r := range work {
		if ctx.Err() == nil {
			k.send(ctx, ks, &r.bufs, r)
		} else {
			r.err = ctx.Err()
		}
		done <- r
	}
}

// send makes one call, acknowledges what was stored, and leaves the
// entries to retry in r.entries.
func (k *Stream) send(ctx context.Context, ks *keySource, b *putBuffers, r *request) {
	proto := k.set.proto
	b.body = proto.appendBody(b.body[:0], k.set.stream, k.set.streamARN, r.entries, ks, &b.packed)
	k.stats.requests.Add(1)
	k.stats.recordsSent.Add(int64(len(r.entries)))

	cctx, cancel := context.WithTimeout(ctx, k.set.request)
	start := time.Now()
	err := k.put.put(cctx, b)
	r.took = time.Since(start)
	cancel()
	res := &b.res
	if err == nil && len(res.status) != len(r.entries) {
		// Which entries were stored is unknown: resend all of them, a
		// duplicate is better than a loss.
		err = errors.New("answered with a different number of records than sent")
	}
	if err != nil {
		// The HTTP client's errors quote the URL, user name included.
		r.err = fmt.Errorf("%s to %s: %w", proto.operation, k.put.endpoint(), redact.Error(err))
		return
	}
	r.answered = true
	r.code, r.msg = res.code, res.msg
	r.byCode = append(r.byCode[:0], res.byCode...)

	var (
		acks    acker
		failed  int
		bytes   int64
		units   int64
		stored  int
		records int
		aggs    int // aggregates (or packed Firehose records) stored
		packed  int // user records in them
	)
	for i, st := range res.status {
		e := r.entries[i]
		if st != noFailure {
			switch st {
			case failThrottled:
				r.throttled++
			case failRefused:
				r.refused++
			}
			r.entries[failed] = e
			failed++
			continue
		}
		stored++
		// e.size is the data plus the partition key sent. Firehose bills
		// ingested bytes instead.
		if unit := proto.payloadUnit; unit > 0 {
			units += int64((e.size + unit - 1) / unit)
		}
		if e.parts != nil {
			aggs++
			packed += len(e.parts)
		}
		for u := range e.users {
			records++
			bytes += int64(len(u.data))
			acks.add(u.ack)
		}
		if e.parts != nil && len(r.spare) < cap(r.entries) {
			// No more than it may send: retried records stored bring
			// lists of other requests.
			clear(e.parts)
			r.spare = append(r.spare, e.parts[:0])
		}
	}
	acks.flush()
	clear(r.entries[failed:])
	r.entries = r.entries[:failed]
	r.stored = stored

	k.stats.serviceRecords.Add(int64(stored))
	k.stats.recordsStored.Add(int64(records))
	k.stats.bytesStored.Add(bytes)
	k.stats.payloadUnits.Add(units)
	k.stats.failedEntries.Add(int64(failed))
	k.stats.throttled.Add(int64(r.throttled))
	if aggs > 0 {
		k.watch.aggregates.Add(int64(aggs))
		k.watch.packed.Add(int64(packed))
	}
}

// acker acknowledges records, one call per run of records that share a
// group (consecutive records usually came from one batch).
type acker struct {
	run *ack.Group
	n   int
}

func (a *acker) add(g *ack.Group) {
	if g == nil {
		return
	}
	if g != a.run {
		a.flush()
		a.run = g
	}
	a.n++
}

func (a *acker) flush() {
	if a.n > 0 {
		a.run.Done(a.n)
	}
	a.run, a.n = nil, 0
}
