// Shard-aware mode and key lanes: which lane an entry goes to, and following
// the stream's shard map.

package sink

import (
	"context"
	"time"
)

// Shard-aware mode: the dispatcher keeps one lane per open shard. A record
// goes to the lane of the shard its keys hash to; records without a key
// take turns over the shards. Each lane is paced to the shard's limits,
// and its aggregates carry the shard's explicit hash key, so they land
// where they were paced for.

// laneFor picks e's lane when it is queued. In shard-aware mode it also
// pins e to that shard: a keyless record gets the shard's explicit hash
// key, a deterministic one its derived key now.
func (d *dispatcher) laneFor(e *entry) int {
	m := d.shards
	if m == nil {
		return d.keyLane(e)
	}
	if e.hash == "" && e.key == "" {
		if d.ks.deterministic {
			var b [derivedKeyLen]byte
			d.ks.put(b[:], e.data)
			e.key = string(b[:])
		} else {
			d.rr = (d.rr + 1) % len(m.shards)
			e.hash = d.q.lanes[d.rr].hash
			return d.rr
		}
	}
	return d.laneOf(e)
}

// laneOf is the lane of an entry whose keys are set.
func (d *dispatcher) laneOf(e *entry) int {
	m := d.shards
	if m == nil {
		return d.keyLane(e)
	}
	if e.hash != "" {
		if h, err := parseHashKey(e.hash); err == nil {
			return m.lookup(h)
		}
	}
	if e.key == "" {
		// Not pinned (queued before the map was known): any lane will do.
		d.rr = (d.rr + 1) % len(m.shards)
		return d.rr
	}
	return m.lookup(hashKeyOf(e.key))
}

// maxKeyLanes bounds the lanes kept for partition keys.
const maxKeyLanes = 256

// keyLane is the lane of e without a shard map. When records are packed
// into KPL aggregates, records with a key of their own get a lane per key
// (up to maxKeyLanes, then they share the first), so that interleaved keys
// still share aggregates, each with its own key, in per-key order.
func (d *dispatcher) keyLane(e *entry) int {
	if e.key == "" || e.hash != "" || d.keyLanes == nil {
		return 0
	}
	if i, ok := d.keyLanes[e.key]; ok {
		return i
	}
	if len(d.q.lanes) >= maxKeyLanes {
		return 0
	}
	i := len(d.q.lanes)
	d.q.lanes = append(d.q.lanes, lane{})
	d.keyLanes[e.key] = i
	return i
}

// setShards switches to a new shard map: one paced lane per open shard,
// and every queued entry moved to the lane it now belongs to.
func (d *dispatcher) setShards(m *shardMap, now time.Time) {
	if m == nil || len(m.shards) == 0 {
		return
	}
	if d.shards != nil && sameShards(d.shards, m) {
		return
	}
	d.k.watch.shards.Store(int64(len(m.shards)))
	retry, fresh := d.q.drain()
	set := &d.k.set
	d.shards, d.keyLanes = m, nil
	d.q.lanes = make([]lane, len(m.shards))
	for i := range d.q.lanes {
		d.q.lanes[i] = lane{
			pace: newPacer(set.shardBytes, set.shardRecords, now),
			hash: m.explicitHashKey(i),
		}
	}
	d.q.next, d.rr = 0, 0
	for i := range retry {
		d.q.pushRetry(d.laneOf(&retry[i]), retry[i])
	}
	for i := range fresh {
		d.q.pushFresh(d.laneFor(&fresh[i]), fresh[i])
	}
	d.k.log.Info("shard map in use", "shards", len(m.shards))
}

func sameShards(a, b *shardMap) bool {
	if len(a.shards) != len(b.shards) {
		return false
	}
	for i := range a.shards {
		if a.shards[i] != b.shards[i] {
			return false
		}
	}
	return true
}

// minRelist is how soon after a listing the dispatcher's request for
// another one (throttling: perhaps the stream was resharded) is honoured,
// unless the refresh interval is shorter still.
const minRelist = 10 * time.Second

// followShards lists the stream's shards after wait and then every refresh
// interval, or sooner when asked on relist, and sends each map to the
// dispatcher. Failures are logged once (failing says the last listing
// failed) and retried sooner.
func (k *Stream) followShards(ctx context.Context, out chan *shardMap, relist <-chan struct{}, wait time.Duration, failing bool) {
	last := time.Now()
	for {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-relist:
			timer.Stop()
			if d := time.Until(last.Add(min(minRelist, k.set.shardRefresh/4))); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
		}
		last = time.Now()
		lctx, cancel := context.WithTimeout(ctx, k.set.request)
		m, err := listShards(lctx, k.sdk, k.set.stream, k.set.streamARN)
		cancel()
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			if !failing {
				k.log.Error("cannot list the stream's shards; sending without shard pacing until it works", "err", err)
			}
			failing = true
			wait = min(max(2*wait, time.Second), k.set.shardRefresh)
			continue
		default:
			if failing {
				k.log.Info("listing shards works again", "shards", len(m.shards))
			}
			failing = false
			wait = k.set.shardRefresh
		}
		select {
		case <-out: // drop a map the dispatcher has not taken yet
		default:
		}
		out <- m
	}
}
