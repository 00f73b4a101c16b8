package sink

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"
)

// What a request's outcome does to the next ones: entries that failed are
// queued again in front either way; the dispatcher pauses (moves its gate)
// only when nothing got through or something needs the operator, never for
// a partly throttled request, so a stream that accepts a tenth of what is
// sent gets a tenth of full speed.
func TestDispatcherBacksOffOnlyWhenNothingGetsThrough(t *testing.T) {
	tests := []struct {
		name      string
		r         request
		wantPause bool
	}{
		{"partly throttled", request{answered: true, stored: 9, throttled: 1}, false},
		{"partly failed, transient", request{answered: true, stored: 5}, false},
		{"all throttled", request{answered: true, stored: 0, throttled: 1}, true},
		{"partly refused for the operator", request{answered: true, stored: 9, refused: 1}, true},
		{"request failed", request{err: errors.New("connection reset")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := newSettings(testDestination("http://127.0.0.1:9"), "")
			k := &Stream{set: set, rng: rand.New(rand.NewPCG(1, 2)), log: slog.New(slog.DiscardHandler), put: &putClient{}}
			now := time.Now()
			d := &dispatcher{k: k, start: now, q: newQueue(set.limits(), nil)}
			r := tt.r
			r.entries = []entry{{data: []byte("failed"), size: 6 + derivedKeyLen}}
			r.sentAt = now
			d.handle(&r, now)
			if paused := d.gate.After(now); paused != tt.wantPause {
				t.Errorf("paused = %v (gate %v after the answer), want %v", paused, d.gate.Sub(now), tt.wantPause)
			}
			if d.q.len() != 1 {
				t.Fatalf("%d entries queued again, want the failed one", d.q.len())
			}
			if got := d.q.take(nil, now.Add(time.Hour)); len(got) != 1 || got[0].attempts != 1 {
				t.Errorf("requeued %+v, want the failed entry with one attempt", got)
			}
		})
	}
}
