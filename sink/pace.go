// Pacing one shard's lane within its bytes and records per second (shard-
// aware mode).

package sink

import "time"

// pacer keeps one shard within its write limits: bytes (data and
// partition key) and records per second.
type pacer struct {
	bytes, records tokenBucket
	burst, rburst  float64 // a second's worth of bytes and of records
}

// paceHeadroom is the share of a shard's limits the pacer uses, and
// paceBurst how many seconds' worth it lets go at once. The service counts
// a request when it arrives, we when we send it: with requests in flight
// for different times, a pacer as generous as the shard (a second's worth
// at once, the full rate) is refused now and then. A smaller burst and a
// little headroom absorb that.
const (
	paceHeadroom = 0.97
	paceBurst    = 0.5
)

func newPacer(bytesPerSecond, recordsPerSecond int, now time.Time) *pacer {
	b, r := paceHeadroom*float64(bytesPerSecond), paceHeadroom*float64(recordsPerSecond)
	return &pacer{
		bytes:   newTokenBucket(b, paceBurst*b, now),
		records: newTokenBucket(r, max(paceBurst*r, 1), now),
		burst:   paceBurst * b, rburst: max(paceBurst*r, 1),
	}
}

// allow takes the tokens for one record of size bytes if both buckets
// have them (a record larger than a bucket waits for it to be full, then
// goes into debt: see tokenBucket). A nil pacer allows everything.
func (p *pacer) allow(size int, now time.Time) bool {
	if p == nil {
		return true
	}
	if p.bytes.readyAt(float64(size), now).After(now) || p.records.readyAt(1, now).After(now) {
		return false
	}
	p.bytes.take(float64(size), now)
	p.records.take(1, now)
	return true
}

// readyAt is when a record of size bytes will be allowed.
func (p *pacer) readyAt(size int, now time.Time) time.Time {
	if p == nil {
		return now
	}
	a, b := p.bytes.readyAt(float64(size), now), p.records.readyAt(1, now)
	if b.After(a) {
		return b
	}
	return a
}

// throttled drains the buckets after the service refused records for this
// shard: our model of its capacity was too generous (other writers, a
// smaller shard), so the lane waits a moment.
func (p *pacer) throttled(now time.Time) {
	if p == nil {
		return
	}
	p.bytes.take(p.burst/4, now)
	p.records.take(p.rburst/4, now)
}
