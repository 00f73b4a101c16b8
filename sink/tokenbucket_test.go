// Tests of the token bucket.

package sink

import (
	"math"
	"testing"
	"time"
)

func TestTokenBucket(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	type op struct {
		at     time.Time
		kind   string // allow, take or readyAt
		n      float64
		ok     bool      // allow's answer
		readyA time.Time // readyAt's answer
	}
	tests := []struct {
		name        string
		rate, burst float64
		ops         []op
	}{
		{"starts full and empties", 1000, 1000, []op{
			{at: t0, kind: "allow", n: 600, ok: true},
			{at: t0, kind: "allow", n: 400, ok: true},
			{at: t0, kind: "allow", n: 1, ok: false},
		}},
		{"a refused request takes nothing", 1000, 1000, []op{
			{at: t0, kind: "allow", n: 900, ok: true},
			{at: t0, kind: "allow", n: 200, ok: false},
			{at: t0, kind: "allow", n: 100, ok: true},
		}},
		{"refills with time", 1000, 1000, []op{
			{at: t0, kind: "allow", n: 1000, ok: true},
			{at: ms(100), kind: "allow", n: 101, ok: false},
			{at: ms(100), kind: "allow", n: 100, ok: true},
			{at: ms(100), kind: "allow", n: 1, ok: false},
		}},
		{"never holds more than burst", 1000, 500, []op{
			{at: ms(10_000), kind: "allow", n: 400, ok: true},
			{at: ms(10_000), kind: "allow", n: 101, ok: false},
			{at: ms(10_000), kind: "allow", n: 100, ok: true},
		}},
		{"readyAt is now when the tokens are there", 10, 10, []op{
			{at: ms(5), kind: "readyAt", n: 10, readyA: ms(5)},
		}},
		{"readyAt is when the missing tokens will have accrued", 1000, 1000, []op{
			{at: t0, kind: "allow", n: 1000, ok: true},
			{at: t0, kind: "readyAt", n: 250, readyA: ms(250)},
			{at: ms(249), kind: "allow", n: 250, ok: false},
			{at: ms(250), kind: "allow", n: 250, ok: true},
		}},
		{"take goes into debt and readyAt waits for it to be paid", 1000, 1000, []op{
			{at: t0, kind: "take", n: 3000},
			{at: t0, kind: "readyAt", n: 1, readyA: ms(2001)},
			{at: ms(2000), kind: "allow", n: 1, ok: false},
			{at: ms(2001), kind: "allow", n: 1, ok: true},
		}},
		{"more than burst is ready when the bucket is full", 1000, 1000, []op{
			{at: t0, kind: "allow", n: 500, ok: true},
			{at: t0, kind: "readyAt", n: 1500, readyA: ms(500)},
			{at: ms(499), kind: "allow", n: 1500, ok: false},
			{at: ms(500), kind: "allow", n: 1500, ok: true},
			{at: ms(500), kind: "readyAt", n: 1, readyA: ms(1001)},
		}},
		{"records: 1,000 a second", 1000, 1000, []op{
			{at: t0, kind: "allow", n: 1000, ok: true},
			{at: t0, kind: "readyAt", n: 1, readyA: t0.Add(time.Millisecond)},
			{at: t0.Add(999 * time.Microsecond), kind: "allow", n: 1, ok: false},
			{at: t0.Add(time.Millisecond), kind: "allow", n: 1, ok: true},
		}},
		{"a clock going backwards earns nothing", 1000, 1000, []op{
			{at: ms(1000), kind: "allow", n: 1000, ok: true},
			{at: ms(0), kind: "allow", n: 1, ok: false},
			{at: ms(0), kind: "readyAt", n: 10, readyA: ms(1010)},
			{at: ms(1010), kind: "allow", n: 10, ok: true},
		}},
		{"a rate of zero is no limit", 0, 0, []op{
			{at: t0, kind: "allow", n: 1e12, ok: true},
			{at: t0, kind: "take", n: 1e12},
			{at: t0, kind: "readyAt", n: 1e12, readyA: t0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTokenBucket(tt.rate, tt.burst, t0)
			for i, o := range tt.ops {
				switch o.kind {
				case "allow":
					if got := b.allow(o.n, o.at); got != o.ok {
						t.Errorf("op %d: allow(%g) at %v = %v, want %v", i, o.n, o.at.Sub(t0), got, o.ok)
					}
				case "take":
					b.take(o.n, o.at)
				case "readyAt":
					if got := b.readyAt(o.n, o.at); !got.Equal(o.readyA) {
						t.Errorf("op %d: readyAt(%g) at %v = %v, want %v", i, o.n, o.at.Sub(t0), got.Sub(t0), o.readyA.Sub(t0))
					}
				default:
					t.Fatalf("op %d: unknown kind %s", i, o.kind)
				}
			}
		})
	}
}

// Whatever the rates and sizes, a request tried at the time readyAt gave
// is let through, and one tried a little earlier (by a millionth of a
// token's worth, rounded up to nanoseconds) is not: readyAt wastes no time.
func TestTokenBucketReadyAtIsExact(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, rate := range []float64{1, 3, 7.5, 1000, 1 << 20, 1e9 / 7} {
		for _, n := range []float64{0.5, 1, 3, 333.3, 1000, 1 << 20, 5 << 20} {
			b := newTokenBucket(rate, rate, t0)
			now := t0
			for step := range 5 {
				at := b.readyAt(n, now)
				probe := b // a copy, to ask early
				early := at.Add(-time.Duration(math.Ceil(1e-6/rate*1e9)) - time.Nanosecond)
				if early.After(now) && probe.allow(n, early) {
					t.Fatalf("rate %g, n %g, step %d: allowed at %v, before readyAt %v", rate, n, step, early.Sub(t0), at.Sub(t0))
				}
				if !b.allow(n, at) {
					t.Fatalf("rate %g, n %g, step %d: refused at readyAt %v", rate, n, step, at.Sub(t0))
				}
				now = at
			}
		}
	}
}
