// Stream.Run and its dispatcher: reading batches, queueing their records,
// and handing requests to the workers within the in-flight and memory
// limits.

package sink

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

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
	defer func() { d.k.mem.addHeld(-d.published) }()
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
	// inFlightBytes are the bytes of the entries in flight, and published
	// what publish last added to the Memory's count of them and those
	// queued.
	inFlightBytes, published int64
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
		d.publish()
		d.q.fullBytes = d.fullBytes()
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
			d.inFlightBytes -= r.held
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

// fullBytes is how many bytes make a full request: max_bytes, or less when
// the input's memory (Memory.SetInput) could not hold max_in_flight such
// requests in flight, one more queued, and the lines read meanwhile: its
// part of that memory. And when the records of all the destination's sinks
// (a stream template makes many) hold nearly all of it, whatever is queued
// is full: the input is about to stop until records are acknowledged, and
// no queue would fill more.
func (d *dispatcher) fullBytes() int {
	n := int64(d.k.set.maxBytes)
	if in := d.k.mem.Input(); in > 0 {
		part := max(in/int64(d.k.set.maxInFlight+2), 1)
		n = min(n, part)
		if d.k.mem.heldBytes() >= in-part {
			n = 1
		}
	}
	return int(n)
}

// publish adds what changed since its last call in the bytes this sink
// holds, queued and in flight, to its Memory's count of them (see
// fullBytes).
func (d *dispatcher) publish() {
	if n := int64(d.q.bytes) + d.inFlightBytes; n != d.published {
		d.k.mem.addHeld(n - d.published)
		d.published = n
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
	d.q.spare, r.spare = r.spare, nil
	queued := d.q.bytes
	r.entries = d.q.take(r.entries[:0], now)
	r.spare, d.q.spare = d.q.spare, nil
	if len(r.entries) == 0 {
		d.free = append(d.free, r)
		return false
	}
	r.sentAt = now
	r.cost = d.k.set.cost(r.entries)
	r.held = int64(queued - d.q.bytes) // what left the queue, as publish counts it
	d.inFlightBytes += r.held
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
	b.done()
}
