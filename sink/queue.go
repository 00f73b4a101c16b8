package sink

import (
	"time"

	"github.com/kinetail/kinetail/internal/ack"
)

// entry is one record waiting to be stored.
type entry struct {
	data []byte
	key  string // explicit partition key; "" means derived when sent
	hash string // explicit hash key; "" means none
	ack  *ack.Group
	size int   // len(data) + partition key length: what counts against limits
	at   int64 // arrival, in nanoseconds since the sink started
	// attempts counts the requests this entry has failed in.
	attempts int
}

// queue holds the entries not in flight: retries first, in the order they
// failed, then new records in arrival order. It is owned by Run's goroutine.
type queue struct {
	retry, fresh []entry
	rhead, fhead int
	n, bytes     int
}

func (q *queue) len() int { return q.n }

func (q *queue) pushFresh(e entry) {
	q.fresh = append(q.fresh, e)
	q.n++
	q.bytes += e.size
}

func (q *queue) pushRetry(e entry) {
	q.retry = append(q.retry, e)
	q.n++
	q.bytes += e.size
}

// full reports whether the queue holds at least one complete request.
func (q *queue) full(maxRecords, maxBytes int) bool {
	return q.n >= maxRecords || q.bytes >= maxBytes
}

// readyAt returns when the queue's next request should be sent: now if it
// holds retries or a full request, else when its oldest new record reaches
// maxAge (start is the sink's start, the origin of entry.at). ok is false
// when the queue is empty.
func (q *queue) readyAt(start time.Time, maxRecords, maxBytes int, maxAge time.Duration) (at time.Time, ok bool) {
	switch {
	case q.n == 0:
		return time.Time{}, false
	case q.rhead < len(q.retry), q.full(maxRecords, maxBytes):
		return time.Time{}, true // the zero time is before any now
	}
	return start.Add(time.Duration(q.fresh[q.fhead].at) + maxAge), true
}

// take moves entries into dst until maxRecords or maxBytes would be
// exceeded, retries before new records, and returns dst.
func (q *queue) take(dst []entry, maxRecords, maxBytes int) []entry {
	size := 0
	for _, e := range dst {
		size += e.size
	}
	dst, size = q.takeFrom(&q.retry, &q.rhead, dst, size, maxRecords, maxBytes)
	dst, _ = q.takeFrom(&q.fresh, &q.fhead, dst, size, maxRecords, maxBytes)
	q.compact()
	return dst
}

func (q *queue) takeFrom(src *[]entry, head *int, dst []entry, size, maxRecords, maxBytes int) ([]entry, int) {
	s := *src
	h := *head
	for h < len(s) && len(dst) < maxRecords && size+s[h].size <= maxBytes {
		dst = append(dst, s[h])
		size += s[h].size
		q.n--
		q.bytes -= s[h].size
		s[h] = entry{} // drop references for the collector
		h++
	}
	*head = h
	return dst, size
}

// compact reclaims the consumed front of both slices so that a queue that
// is never fully drained does not grow.
func (q *queue) compact() {
	q.retry, q.rhead = compact(q.retry, q.rhead)
	q.fresh, q.fhead = compact(q.fresh, q.fhead)
}

func compact(s []entry, head int) ([]entry, int) {
	switch {
	case head == len(s):
		return s[:0], 0
	case head > 0 && head >= len(s)/2:
		n := copy(s, s[head:])
		clear(s[n:])
		return s[:n], 0
	}
	return s, head
}
