// Tests of the queue: taking within limits, order, readiness, paced lanes.

package sink

import (
	"strconv"
	"testing"
	"time"
)

func entries(prefix string, n, size int) []entry {
	es := make([]entry, n)
	for i := range es {
		es[i] = entry{data: []byte(prefix + strconv.Itoa(i)), size: size}
	}
	return es
}

// sameEntries returns n entries of the same data and partition key.
func sameEntries(n int, data []byte, key string) []entry {
	es := make([]entry, n)
	for i := range es {
		es[i] = entry{data: data, key: key}
	}
	return es
}

func names(es []entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = string(e.data)
	}
	return out
}

func testLimits(maxRecords, maxBytes int) limits {
	return limits{maxRecords: maxRecords, maxBytes: maxBytes, maxAge: time.Second, queueRecords: maxRecords, maxPacked: maxBytes}
}

func TestQueueTake(t *testing.T) {
	tests := []struct {
		name                 string
		fresh, retry         int
		size                 int
		maxRecords, maxBytes int
		want                 []string
		left                 int
	}{
		{"stops at max records", 5, 0, 10, 3, 1000, []string{"f0", "f1", "f2"}, 2},
		{"stops before max bytes would be exceeded", 5, 0, 10, 100, 35, []string{"f0", "f1", "f2"}, 2},
		{"takes exactly max bytes", 5, 0, 10, 100, 30, []string{"f0", "f1", "f2"}, 2},
		{"retries go first", 2, 2, 10, 3, 1000, []string{"r0", "r1", "f0"}, 1},
		{"takes everything that fits", 2, 1, 10, 10, 1000, []string{"r0", "f0", "f1"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueue(testLimits(tt.maxRecords, tt.maxBytes), nil)
			for _, e := range entries("f", tt.fresh, tt.size) {
				q.pushFresh(0, e)
			}
			for _, e := range entries("r", tt.retry, tt.size) {
				q.pushRetry(0, e)
			}
			got := names(q.take(nil, time.Now()))
			if len(got) != len(tt.want) {
				t.Fatalf("took %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("took %v, want %v", got, tt.want)
				}
			}
			if q.len() != tt.left || q.bytes != tt.left*tt.size {
				t.Errorf("left %d entries, %d bytes; want %d, %d", q.len(), q.bytes, tt.left, tt.left*tt.size)
			}
		})
	}
}

func TestQueueDrainsInOrderAndStaysSmall(t *testing.T) {
	q := newQueue(testLimits(5, 1<<20), nil)
	next, want := 0, 0
	// Push 7 and take 5 at a time, so the queue is never empty: it must not
	// keep growing its backing array.
	for range 1000 {
		for range 7 {
			q.pushFresh(0, entry{data: []byte(strconv.Itoa(next)), size: 1})
			next++
		}
		for _, e := range q.take(nil, time.Now()) {
			if string(e.data) != strconv.Itoa(want) {
				t.Fatalf("took %s, want %d", e.data, want)
			}
			want++
		}
		if q.len() > 2000 {
			break
		}
	}
	if c := cap(q.lanes[0].fresh); c > 8*q.len()+64 {
		t.Errorf("backing array has capacity %d for %d queued entries", c, q.len())
	}
}

func TestQueueReadyAt(t *testing.T) {
	start := time.Unix(1000, 0)
	tests := []struct {
		name    string
		setup   func(q *queue)
		closing bool
		wantOK  bool
		want    time.Time
	}{
		{"empty queue is never ready", func(q *queue) {}, false, false, time.Time{}},
		{"a partial batch waits for max age of its oldest record", func(q *queue) {
			q.pushFresh(0, entry{size: 1, at: int64(2 * time.Second)})
			q.pushFresh(0, entry{size: 1, at: int64(3 * time.Second)})
		}, false, true, start.Add(3 * time.Second)},
		{"a closing sink sends a partial batch now", func(q *queue) {
			q.pushFresh(0, entry{size: 1, at: int64(2 * time.Second)})
		}, true, true, time.Time{}},
		{"a full batch is ready now", func(q *queue) {
			for range 3 {
				q.pushFresh(0, entry{size: 1, at: int64(time.Hour)})
			}
		}, false, true, time.Time{}},
		{"a full byte budget is ready now", func(q *queue) {
			q.pushFresh(0, entry{size: 100, at: int64(time.Hour)})
		}, false, true, time.Time{}},
		{"retries are ready now", func(q *queue) {
			q.pushRetry(0, entry{size: 1, at: int64(time.Hour)})
		}, false, true, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueue(testLimits(3, 100), nil)
			tt.setup(q)
			got, ok := q.readyAt(start, start, tt.closing)
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Errorf("readyAt = (%v, %v), want (%v, %v)", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestQueuePacedLanes: a paced lane gives no more than its tokens, and
// readyAt says when it has them again.
func TestQueuePacedLanes(t *testing.T) {
	now := time.Unix(1000, 0)
	q := newQueue(testLimits(500, 1<<20), nil)
	// 8 records a second with headroom, half a second at once: 3 now,
	// the next in ~15ms.
	q.lanes = []lane{{pace: newPacer(1000, 8, now)}, {pace: newPacer(1000, 1000, now)}}
	for i := range 5 {
		q.pushFresh(0, entry{data: []byte("a" + strconv.Itoa(i)), size: 10})
		q.pushFresh(1, entry{data: []byte("b" + strconv.Itoa(i)), size: 10})
	}
	got := names(q.take(nil, now))
	if len(got) != 8 {
		t.Fatalf("took %v, want 3 from lane a and 5 from lane b", got)
	}
	at, ok := q.readyAt(now, now, true)
	if !ok || !at.After(now) || at.After(now.Add(100*time.Millisecond)) {
		t.Errorf("readyAt = %v (%v), want within 100ms from now", at.Sub(now), ok)
	}
	if got := q.take(nil, now); len(got) != 0 {
		t.Errorf("took %v before the lane had tokens", names(got))
	}
	if got := names(q.take(nil, now.Add(time.Second))); len(got) != 2 {
		t.Errorf("a second later took %v, want 2", got)
	}
}
