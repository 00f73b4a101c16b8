// A token bucket, the pacer's building block.

package sink

import (
	"math"
	"time"
)

// tokenBucket paces one quantity (bytes or records) sent to one shard. It
// holds at most burst tokens and gains rate of them per second. Time is
// passed in, so the owner decides the clock and tests need no sleeps; it
// starts no goroutines and is not safe for concurrent use.
//
// A request larger than burst could never be covered. It is let through
// when the bucket is full and leaves the bucket in debt, so later
// requests wait until the excess has been paid back: a 1 MiB record on a
// shard paced at 1 MiB/s still goes, and the average rate still holds.
type tokenBucket struct {
	rate   float64 // tokens per second; <= 0 means no limit
	burst  float64
	tokens float64 // negative while in debt
	last   time.Time
}

// tokenSlack absorbs floating-point error, so that a request tried at the
// time readyAt gave is let through.
const tokenSlack = 1e-9

// newTokenBucket returns a full bucket. A rate <= 0 means no limit.
func newTokenBucket(ratePerSec, burst float64, now time.Time) tokenBucket {
	return tokenBucket{rate: ratePerSec, burst: burst, tokens: burst, last: now}
}

// refill adds the tokens earned since the last call. A clock that goes
// backwards earns nothing.
func (b *tokenBucket) refill(now time.Time) {
	if !now.After(b.last) {
		return
	}
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
}

// need is how many tokens must be present before n can be taken.
func (b *tokenBucket) need(n float64) float64 { return min(n, b.burst) }

// allow takes n tokens and reports true if they are there (or, for n
// above burst, if the bucket is full); otherwise it takes nothing.
func (b *tokenBucket) allow(n float64, now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	b.refill(now)
	if b.tokens+tokenSlack < b.need(n) {
		return false
	}
	b.tokens -= n
	return true
}

// take takes n tokens whether or not they are there, going into debt if
// needed.
func (b *tokenBucket) take(n float64, now time.Time) {
	if b.rate <= 0 {
		return
	}
	b.refill(now)
	b.tokens -= n
}

// readyAt returns when allow(n) will succeed if nothing else is taken
// meanwhile: now if it would already.
func (b *tokenBucket) readyAt(n float64, now time.Time) time.Time {
	if b.rate <= 0 {
		return now
	}
	b.refill(now)
	missing := b.need(n) - b.tokens
	if missing <= tokenSlack {
		return now
	}
	// Tokens accrue from b.last, which is after now only if the clock
	// went backwards. Round up, so that the bucket has the tokens at the
	// returned time.
	from := now
	if b.last.After(now) {
		from = b.last
	}
	wait := math.Ceil(missing / b.rate * float64(time.Second))
	if wait >= math.MaxInt64 {
		return from.Add(math.MaxInt64)
	}
	return from.Add(time.Duration(wait))
}
