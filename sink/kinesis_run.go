package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/kinetail/kinetail/internal/ack"
)

// request is one PutRecords call and its outcome. Requests are reused: the
// slices keep their capacity from one call to the next.
type request struct {
	entries []entry
	sentAt  time.Time

	// Outcome, filled by the worker. After a call that got an answer,
	// entries holds only the entries that failed.
	err       error
	answered  bool // the service answered; entries are the failed ones
	stored    int
	throttled int    // failed entries that were throttled
	fatal     int    // failed entries that need the operator (KMS access...)
	code, msg string // of the first failed entry, for the log
}

// reset clears the outcome and drops references to sent data.
func (r *request) reset() {
	clear(r.entries)
	r.entries = r.entries[:0]
	r.err, r.answered = nil, false
	r.stored, r.throttled, r.fatal = 0, 0, 0
	r.code, r.msg = "", ""
}

// worker sends requests until work is closed. done has room for every
// request that can be in flight, so a worker never blocks on it. Each
// worker has its own key source and buffers, so no lock is needed.
func (k *Kinesis) worker(ctx context.Context, ks *keySource, work <-chan *request, done chan<- *request) {
	var bufs putBuffers
	for r := range work {
		if ctx.Err() == nil {
			k.send(ctx, ks, &bufs, r)
		} else {
			r.err = ctx.Err()
		}
		done <- r
	}
}

// send makes one PutRecords call, acknowledges what was stored, and leaves
// the entries to retry in r.entries.
func (k *Kinesis) send(ctx context.Context, ks *keySource, b *putBuffers, r *request) {
	b.body = appendPutRecordsBody(b.body[:0], k.set.stream, k.set.streamARN, r.entries, ks)
	k.stats.requests.Add(1)
	k.stats.recordsSent.Add(int64(len(r.entries)))

	cctx, cancel := context.WithTimeout(ctx, k.set.request)
	err := k.put.put(cctx, b)
	cancel()
	res := &b.res
	if err == nil && len(res.status) != len(r.entries) {
		// Which entries were stored is unknown: resend all of them, a
		// duplicate is better than a loss.
		err = errors.New("answered with a different number of records than sent")
	}
	if err != nil {
		r.err = fmt.Errorf("PutRecords to %s: %w", k.put.endpoint(), err)
		return
	}
	r.answered = true
	r.code, r.msg = res.code, res.msg

	var (
		run     *ack.Group // ack group of the current run of stored entries
		runN    int
		failed  int
		bytes   int64
		units   int64
		stored  int
		summary = func() {
			if runN > 0 {
				run.Done(runN)
			}
			run, runN = nil, 0
		}
	)
	for i, st := range res.status {
		e := r.entries[i]
		if st != entryStored {
			switch st {
			case entryThrottled:
				r.throttled++
			case entryFatal:
				r.fatal++
			}
			r.entries[failed] = e
			failed++
			continue
		}
		stored++
		bytes += int64(len(e.data))
		// e.size is the data plus the partition key sent.
		units += int64((e.size + payloadUnitBytes - 1) / payloadUnitBytes)
		if e.ack == nil {
			continue
		}
		// Consecutive records usually share a group (they came from one
		// batch): acknowledge them with one call.
		if e.ack != run {
			summary()
			run = e.ack
		}
		runN++
	}
	summary()
	clear(r.entries[failed:])
	r.entries = r.entries[:failed]
	r.stored = stored

	k.stats.recordsStored.Add(int64(stored))
	k.stats.bytesStored.Add(bytes)
	k.stats.payloadUnits.Add(units)
	k.stats.failedEntries.Add(int64(failed))
	k.stats.throttled.Add(int64(r.throttled))
}

// Run sends the batches read from in until in is closed and every record is
// stored, then returns nil. If ctx is cancelled first it returns ctx.Err()
// at once; records not stored by then are not acknowledged. Run reads from
// in only while fewer than a request's worth of records wait to be sent, so
// a slow or unreachable stream stops the flow upstream.
func (k *Kinesis) Run(ctx context.Context, in <-chan Batch) error {
	n := k.set.maxInFlight
	work := make(chan *request, n)
	done := make(chan *request, n)
	var wg sync.WaitGroup
	for range n {
		ks := &keySource{
			deterministic: k.set.keyMode == KeyDeterministic,
			rng:           rand.NewPCG(k.rng.Uint64(), k.rng.Uint64()),
		}
		wg.Go(func() { k.worker(ctx, ks, work, done) })
	}
	defer func() {
		close(work)
		wg.Wait()
	}()

	d := &dispatcher{k: k, start: time.Now(), work: work, free: make([]*request, 0, n)}
	return d.loop(ctx, in, done)
}

// dispatcher is the state of Run's goroutine: the queue of waiting entries,
// the requests in flight, and the backoff gate.
type dispatcher struct {
	k     *Kinesis
	start time.Time
	q     queue
	work  chan<- *request
	free  []*request

	inFlight int
	// gate is the earliest time the next request may be sent; it is moved
	// forward after failures.
	gate time.Time
	// failures counts consecutive failed waves of requests; it sets the
	// backoff and is reset by any request that stores something.
	failures int
	// lastFail is when the last failure was handled. Requests sent before
	// it failed in the same wave (they were in flight together) and do not
	// raise the backoff again.
	lastFail time.Time
	logs     rateLog
}

func (d *dispatcher) loop(ctx context.Context, in <-chan Batch, done <-chan *request) error {
	set := &d.k.set
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	closing := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := time.Now()
		for d.inFlight < set.maxInFlight && !now.Before(d.gate) {
			at, ok := d.q.readyAt(d.start, set.maxRecords, set.maxBytes, set.maxAge)
			if !ok || (!closing && now.Before(at)) {
				break
			}
			d.dispatch(now)
		}
		if closing && d.q.len() == 0 && d.inFlight == 0 {
			return nil
		}

		var inCh <-chan Batch
		if !closing && !d.q.full(set.maxRecords, set.maxBytes) {
			inCh = in
		}
		var wake <-chan time.Time
		if d.inFlight < set.maxInFlight {
			if at, ok := d.q.readyAt(d.start, set.maxRecords, set.maxBytes, set.maxAge); ok {
				if closing || at.Before(d.gate) {
					at = d.gate
				}
				timer.Reset(max(at.Sub(now), 0))
				wake = timer.C
			}
		}

		select {
		case b, ok := <-inCh:
			if !ok {
				closing = true
				continue
			}
			d.enqueue(b, now)
		case r := <-done:
			d.inFlight--
			d.handle(r, time.Now())
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
		if wake != nil {
			timer.Stop()
		}
	}
}

// dispatch hands the next request to a worker.
func (d *dispatcher) dispatch(now time.Time) {
	var r *request
	if n := len(d.free); n > 0 {
		r, d.free = d.free[n-1], d.free[:n-1]
	} else {
		r = &request{entries: make([]entry, 0, d.k.set.maxRecords)}
	}
	r.entries = d.q.take(r.entries[:0], d.k.set.maxRecords, d.k.set.maxBytes)
	r.sentAt = now
	d.inFlight++
	d.work <- r // never blocks: work has room for maxInFlight requests
}

// enqueue adds a batch's records to the queue. Records too large to ever be
// stored are acknowledged at once and counted, so they cannot hold back the
// checkpoint.
func (d *dispatcher) enqueue(b Batch, now time.Time) {
	at := int64(now.Sub(d.start))
	for i := range b.Records {
		rec := &b.Records[i]
		key := rec.PartitionKey
		keyLen := derivedKeyLen
		if key != "" {
			key = explicitKey(key)
			keyLen = len(key)
		}
		size := len(rec.Data) + keyLen
		if size > d.k.set.maxRecordBytes {
			d.reject(rec, size, now)
			continue
		}
		d.q.pushFresh(entry{data: rec.Data, key: key, ack: rec.Ack, size: size, at: at})
	}
}

func (d *dispatcher) reject(rec *Record, size int, now time.Time) {
	d.k.stats.rejected.Add(1)
	if rec.Ack != nil {
		rec.Ack.Done(1)
	}
	if ok, n := d.logs.allow(logRejected, now); ok {
		d.k.log.Warn("record too large for Kinesis, dropped",
			"bytes", size, "max_record_bytes", d.k.set.maxRecordBytes, "more_since_last_log", n)
	}
}

// handle takes a request back from a worker: it requeues what failed and
// sets the backoff.
func (d *dispatcher) handle(r *request, now time.Time) {
	defer func() {
		r.reset()
		d.free = append(d.free, r)
	}()
	set := &d.k.set
	switch {
	case r.err != nil:
		retryable, throttled := classify(r.err)
		d.k.stats.requestErrors.Add(1)
		if throttled {
			d.k.stats.throttled.Add(1)
		}
		delay := set.maxBackoff
		if retryable {
			delay = backoff(d.k.rng, d.failed(r, now), set.initialBackoff, set.maxBackoff)
		} else {
			d.failed(r, now)
		}
		d.delay(now, delay)
		d.logRequestError(r.err, retryable, throttled, len(r.entries), now)
	case len(r.entries) == 0:
		d.succeeded(now)
		return
	case r.stored == 0:
		// Nothing got through: as bad as a failed request.
		attempt := d.failed(r, now)
		delay := backoff(d.k.rng, attempt, set.initialBackoff, set.maxBackoff)
		if r.fatal == len(r.entries) {
			delay = set.maxBackoff
		}
		d.delay(now, delay)
		d.logEntryErrors(r, now)
	default:
		// Some entries were stored: the stream works, but the failed ones
		// (usually throttled shards) wait a short jittered moment.
		d.succeeded(now)
		d.delay(now, backoff(d.k.rng, 1, set.initialBackoff, set.maxBackoff))
		d.logEntryErrors(r, now)
	}
	d.requeue(r, now)
}

// failed records a failed wave and returns the backoff attempt number.
func (d *dispatcher) failed(r *request, now time.Time) int {
	if d.failures == 0 || !r.sentAt.Before(d.lastFail) {
		d.failures++
	}
	d.lastFail = now
	return d.failures
}

func (d *dispatcher) succeeded(now time.Time) {
	if d.failures > 0 && !d.lastFail.IsZero() {
		d.k.log.Info("kinesis requests succeed again", "failed_waves", d.failures, "after", now.Sub(d.lastFail).Round(time.Millisecond))
	}
	d.failures = 0
}

func (d *dispatcher) delay(now time.Time, delay time.Duration) {
	if t := now.Add(delay); t.After(d.gate) {
		d.gate = t
	}
}

// requeue puts r's failed entries back at the front of the line, or gives
// them up after max_attempts.
func (d *dispatcher) requeue(r *request, now time.Time) {
	retried := 0
	for _, e := range r.entries {
		e.attempts++
		if limit := d.k.set.maxAttempts; limit > 0 && e.attempts >= limit {
			d.k.stats.dropped.Add(1)
			if e.ack != nil {
				e.ack.Done(1)
			}
			if ok, n := d.logs.allow(logDropped, now); ok {
				d.k.log.Error("record dropped after retry.max_attempts", "attempts", e.attempts, "more_since_last_log", n)
			}
			continue
		}
		d.q.pushRetry(e)
		retried++
	}
	d.k.stats.retries.Add(int64(retried))
}

func (d *dispatcher) logRequestError(err error, retryable, throttled bool, records int, now time.Time) {
	kind, level, msg := logRequestError, slog.LevelWarn, "kinesis request failed, retrying"
	switch {
	case throttled:
		kind, msg = logThrottled, "kinesis request throttled, backing off"
	case !retryable:
		kind, level, msg = logNeedsOperator, slog.LevelError,
			"kinesis request refused; retrying at max backoff until fixed (nothing is dropped)"
	}
	if ok, n := d.logs.allow(kind, now); ok {
		d.k.log.Log(context.Background(), level, msg,
			"err", err, "records", records, "failed_waves", d.failures, "more_since_last_log", n)
	}
}

func (d *dispatcher) logEntryErrors(r *request, now time.Time) {
	kind, level, msg := logEntryError, slog.LevelWarn, "kinesis entries failed, retrying them"
	switch {
	case r.fatal > 0:
		kind, level, msg = logNeedsOperator, slog.LevelError,
			"kinesis entries refused; retrying at max backoff until fixed (nothing is dropped)"
	case r.throttled == len(r.entries):
		kind, msg = logThrottled, "kinesis entries throttled, backing off"
	}
	if ok, n := d.logs.allow(kind, now); ok {
		d.k.log.Log(context.Background(), level, msg,
			"failed", len(r.entries), "stored", r.stored, "throttled", r.throttled,
			"code", r.code, "message", r.msg, "more_since_last_log", n)
	}
}
