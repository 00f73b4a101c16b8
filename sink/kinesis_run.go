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
	"github.com/kinetail/kinetail/internal/redact"
)

// request is one PutRecords (or PutRecordBatch) call and its outcome.
// Requests are reused: the slices keep their capacity from one call to the
// next.
type request struct {
	entries []entry
	sentAt  time.Time
	cost    int64      // in the sink's memory budget while in flight (see memory.go)
	bufs    putBuffers // its body and answer; a request keeps them for the next

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
}

// reset clears the outcome and drops references to sent data.
func (r *request) reset() {
	clear(r.entries)
	r.entries = r.entries[:0]
	r.err, r.answered = nil, false
	r.stored, r.throttled, r.refused = 0, 0, 0
	r.code, r.msg = "", ""
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

// Run sends the batches read from in until in is closed and every record is
// stored, then returns nil. If ctx is cancelled first it returns ctx.Err()
// at once; records not stored by then are not acknowledged. Run reads from
// in only while less than a request's worth of records waits to be sent,
// so a slow or unreachable stream stops the flow upstream.
func (k *Stream) Run(ctx context.Context, in <-chan Batch) error {
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

	d := &dispatcher{k: k, start: time.Now(), work: work, free: make([]*request, 0, n), peak: k.set.fullCost()}
	d.ks = &keySource{deterministic: k.set.keyMode == KeyDeterministic, rng: rand.NewPCG(k.rng.Uint64(), k.rng.Uint64())}
	d.q = newQueue(k.set.limits(), k.set.proto.newPacker(k.set.aggregate, d.ks))
	d.comp = newCompressor(k.set.compression)
	if k.set.aggregate && k.set.proto.keyed {
		d.keyLanes = make(map[string]int)
	}
	var maps <-chan *shardMap
	if k.set.shardAware {
		// The first map is listed before anything is sent, so the first
		// requests are paced too; if that fails, sending starts unpaced
		// and the listing is retried.
		first := k.set.shardRefresh
		lctx, cancel := context.WithTimeout(ctx, k.set.request)
		m, err := listShards(lctx, k.sdk, k.set.stream, k.set.streamARN)
		cancel()
		if err != nil {
			k.log.Error("cannot list the stream's shards; sending without shard pacing until it works", "err", err)
			first = time.Second
		} else {
			d.setShards(m, time.Now())
		}
		ch := make(chan *shardMap, 1)
		mctx, stop := context.WithCancel(ctx)
		defer stop()
		relist := make(chan struct{}, 1)
		d.relist = relist
		wg.Go(func() { k.followShards(mctx, ch, relist, first, err != nil) })
		maps = ch
	}
	return d.loop(ctx, in, done, maps)
}

// dispatcher is the state of Run's goroutine: the queue of waiting entries,
// the requests in flight, and the backoff gate.
type dispatcher struct {
	k     *Stream
	start time.Time
	q     *queue
	ks    *keySource // keys of aggregates and shard-aware records
	comp  *compressor
	work  chan<- *request
	free  []*request

	shards *shardMap // shard-aware mode, once known
	// relist asks for the shard map again: a paced shard was throttled,
	// which happens when the stream was resharded (or others write too).
	relist chan<- struct{}
	// keyLanes maps partition keys to lanes when aggregating without a
	// shard map; nil when records are not aggregated by key.
	keyLanes map[string]int
	rr       int // round robin over shards for keyless records

	inFlight int
	// peak is what the next request is expected to hold: the largest
	// recent request's (see admits).
	peak int64
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

func (d *dispatcher) loop(ctx context.Context, in <-chan Batch, done <-chan *request, maps <-chan *shardMap) error {
	set := &d.k.set
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	closing := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		d.k.watch.depth(d.q.len(), d.inFlight)
		now := time.Now()
		for d.inFlight < set.maxInFlight && !now.Before(d.gate) && d.admits() {
			at, ok := d.q.readyAt(d.start, now, closing)
			if !ok || now.Before(at) || !d.dispatch(now) {
				break
			}
		}
		if closing && d.q.len() == 0 && d.inFlight == 0 {
			return nil
		}

		var inCh <-chan Batch
		if !closing && !d.q.full() && d.roomToQueue() {
			inCh = in
		}
		var wake <-chan time.Time
		if d.inFlight < set.maxInFlight && d.admits() {
			if at, ok := d.q.readyAt(d.start, now, closing); ok {
				timer.Reset(max(at.Sub(now), d.gate.Sub(now), time.Millisecond))
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
		case m := <-maps:
			d.setShards(m, time.Now())
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
		if wake != nil {
			timer.Stop()
		}
	}
}

// admits reports whether the memory budget lets one more request go: one
// always may, more only if they fit with those in flight (see memory.go).
func (d *dispatcher) admits() bool {
	return d.inFlight == 0 || d.k.mem.fits(d.peak)
}

// roomToQueue reports whether the entries queued and the requests in
// flight leave room in the memory budget for more input. Queued records'
// data is the flows'; their entries (and with aggregation there are up to
// a hundred requests' worth) are the sink's.
func (d *dispatcher) roomToQueue() bool {
	return d.q.n == 0 || d.k.mem.fits(int64(d.q.n)*entryBytes)
}

// dispatch hands the next request to a worker. It returns false when
// nothing could be taken (every lane waits for its pacing).
func (d *dispatcher) dispatch(now time.Time) bool {
	var r *request
	if n := len(d.free); n > 0 {
		r, d.free = d.free[n-1], d.free[:n-1]
	} else {
		r = &request{entries: make([]entry, 0, d.k.set.maxRecords)}
	}
	r.entries = d.q.take(r.entries[:0], now)
	if len(r.entries) == 0 {
		d.free = append(d.free, r)
		return false
	}
	r.sentAt = now
	r.cost = d.k.set.cost(r.entries)
	// The expected cost follows the requests: it falls slowly from the
	// largest seen, so a run of small requests lets more go at once and
	// a backlog's full ones soon stop that.
	d.peak = max(r.cost, d.peak-d.peak/8)
	d.k.mem.add(r.cost)
	d.inFlight++
	d.work <- r // never blocks: work has room for maxInFlight requests
	return true
}

// enqueue adds a batch's records to the queue. Records too large to ever be
// stored are given up at once (dead letter, or dropped and counted), so
// they cannot hold back the checkpoint.
func (d *dispatcher) enqueue(b Batch, now time.Time) {
	at := int64(now.Sub(d.start))
	set := &d.k.set
	for i := range b.Records {
		rec := &b.Records[i]
		e := entry{data: rec.Data, ack: rec.Ack, at: at, hash: rec.ExplicitHashKey}
		if d.comp != nil {
			e.data = d.comp.compress(e.data)
		}
		keyLen := derivedKeyLen
		if rec.PartitionKey != "" {
			e.key = explicitKey(rec.PartitionKey)
			keyLen = len(e.key)
		}
		e.size = len(e.data)
		if set.proto.keyed {
			e.size += keyLen
		}
		// The packer counts its suffix itself, when it packs.
		if n := e.size + set.proto.recordSuffix; n > set.maxRecordBytes {
			d.giveUp([]entry{e}, fmt.Sprintf("record of %d bytes exceeds max_record_bytes %d", n, set.maxRecordBytes), now, &d.k.stats.rejected)
			continue
		}
		d.q.pushFresh(d.laneFor(&e), e)
	}
}

// handle takes a request back from a worker: it requeues what failed and
// sets the backoff.
func (d *dispatcher) handle(r *request, now time.Time) {
	d.k.observe(r, now)
	d.k.mem.add(-r.cost)
	defer func() {
		r.reset()
		// Idle requests keep their buffers: only as many as could be
		// sent at once within the budget are kept.
		if d.k.set.memory == 0 || int64(len(d.free)+d.inFlight+1)*d.peak <= d.k.set.memory {
			d.free = append(d.free, r)
		}
	}()
	set := &d.k.set
	switch {
	case r.err != nil:
		f := set.proto.classify(r.err)
		d.k.stats.requestErrors.Add(1)
		if f == failThrottled {
			d.k.stats.throttled.Add(1)
		}
		attempt := d.failed(r, now)
		delay := set.maxBackoff
		if f != failRefused {
			delay = backoff(d.k.rng, attempt, set.initialBackoff, set.maxBackoff)
		}
		d.delay(now, delay)
		d.logRequestError(r.err, f, len(r.entries), now)
	case len(r.entries) == 0:
		d.succeeded(now)
		return
	case d.shards != nil && r.throttled == len(r.entries):
		// Shard-aware: only the throttled shards' lanes slow down (below).
		d.logEntryErrors(r, now)
	case r.stored == 0:
		// Nothing got through: as bad as a failed request.
		attempt := d.failed(r, now)
		delay := backoff(d.k.rng, attempt, set.initialBackoff, set.maxBackoff)
		if r.refused == len(r.entries) {
			delay = set.maxBackoff
		}
		d.delay(now, delay)
		d.logEntryErrors(r, now)
	case r.refused > 0:
		// Some entries were stored, and some refused for a reason only the
		// operator can fix (a KMS key): not at full speed.
		d.succeeded(now)
		d.delay(now, backoff(d.k.rng, 1, set.initialBackoff, set.maxBackoff))
		d.logEntryErrors(r, now)
	default:
		// Some entries were stored: the stream works, and what it
		// refused (throttled shards, mostly) goes first in the next
		// requests, without a pause: a stream that accepts a tenth of
		// what is sent stores a tenth of what is sent, not a tenth of a
		// request per backoff. Requests that store nothing back off
		// (above), and shard-aware mode paces each shard.
		d.succeeded(now)
		d.logEntryErrors(r, now)
	}
	if r.throttled > 0 && d.shards != nil {
		select {
		case d.relist <- struct{}{}:
		default:
		}
		for i := range r.entries {
			d.q.lanes[d.laneOf(&r.entries[i])].pace.throttled(now)
		}
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
		d.k.log.Info("requests succeed again", "failed_waves", d.failures, "after", now.Sub(d.lastFail).Round(time.Millisecond))
	}
	d.failures = 0
}

func (d *dispatcher) delay(now time.Time, delay time.Duration) {
	if t := now.Add(delay); t.After(d.gate) {
		d.gate = t
	}
}

// requeue puts r's failed entries back at the front of their lane, or gives
// them up after retry.max_attempts or retry.max_record_age.
func (d *dispatcher) requeue(r *request, now time.Time) {
	set := &d.k.set
	retried := 0
	age := int64(now.Sub(d.start)) - int64(set.maxRecordAge)
	reason := r.code
	if r.err != nil {
		reason = r.err.Error()
	} else if r.msg != "" {
		reason += ": " + r.msg
	}
	var giveUp []entry
	for _, e := range r.entries {
		e.attempts++
		if (set.maxAttempts > 0 && e.attempts >= set.maxAttempts) || (set.maxRecordAge > 0 && e.at < age) {
			giveUp = append(giveUp, e)
			continue
		}
		d.q.pushRetry(d.laneOf(&e), e)
		retried++
	}
	d.k.stats.retries.Add(int64(retried))
	if len(giveUp) > 0 {
		d.giveUp(giveUp, reason, now, &d.k.stats.dropped)
	}
}

// giveUp ends the delivery of entries: written to the dead-letter file
// (and counted as DeadLettered) when there is one, else dropped and counted
// in counter. Either way they are acknowledged, so they no longer hold
// back the checkpoint. If the dead-letter file cannot be written they are
// queued again instead: nothing is dropped because a disk failed.
func (d *dispatcher) giveUp(es []entry, reason string, now time.Time, counter *atomicCounter) {
	k := d.k
	if k.dead != nil {
		recs := make([]DeadRecord, 0, len(es))
		for i := range es {
			e := &es[i]
			for p := range e.users {
				recs = append(recs, DeadRecord{
					Time: now, Destination: k.name, Stream: k.set.stream, PartitionKey: p.key,
					ExplicitHashKey: p.hash, Data: p.data, Error: reason, Attempts: e.attempts,
				})
			}
		}
		if err := k.dead.Write(recs); err != nil {
			if ok, n := d.logs.allow(logNeedsOperator, now); ok {
				k.log.Error("cannot write the dead-letter file; keeping the records and retrying", "err", err, "records", len(recs), "more_since_last_log", n)
			}
			for _, e := range es {
				d.q.pushRetry(d.laneOf(&e), e)
			}
			return
		}
		k.stats.deadLettered.Add(int64(len(recs)))
		if ok, n := d.logs.allow(logDropped, now); ok {
			k.log.Warn("records given up and written to the dead-letter file", "records", len(recs), "file", k.set.deadLetter, "reason", reason, "more_since_last_log", n)
		}
	} else {
		users := 0
		for i := range es {
			users += es[i].records()
		}
		counter.Add(int64(users))
		if ok, n := d.logs.allow(logDropped, now); ok {
			k.log.Error("records given up and dropped (set dead_letter_file to keep them)", "records", users, "reason", reason, "more_since_last_log", n)
		}
	}
	var acks acker
	for i := range es {
		for u := range es[i].users {
			acks.add(u.ack)
		}
	}
	acks.flush()
}

func (d *dispatcher) logRequestError(err error, f failure, records int, now time.Time) {
	kind, level, msg := logRequestError, slog.LevelWarn, "request failed, retrying"
	switch f {
	case failThrottled:
		kind, msg = logThrottled, "request throttled, backing off"
	case failRefused:
		kind, level, msg = logNeedsOperator, slog.LevelError,
			"request refused; retrying at max backoff until fixed (nothing is dropped)"
	}
	if ok, n := d.logs.allow(kind, now); ok {
		d.k.log.Log(context.Background(), level, msg,
			"err", err, "records", records, "failed_waves", d.failures, "more_since_last_log", n)
	}
}

func (d *dispatcher) logEntryErrors(r *request, now time.Time) {
	kind, level, msg := logEntryError, slog.LevelWarn, "entries failed, retrying them"
	switch {
	case r.refused > 0:
		kind, level, msg = logNeedsOperator, slog.LevelError,
			"entries refused; retrying at max backoff until fixed (nothing is dropped)"
	case r.throttled == len(r.entries):
		kind, msg = logThrottled, "entries throttled, backing off"
	}
	if ok, n := d.logs.allow(kind, now); ok {
		d.k.log.Log(context.Background(), level, msg,
			"failed", len(r.entries), "stored", r.stored, "throttled", r.throttled,
			"code", r.code, "message", r.msg, "more_since_last_log", n)
	}
}
