// The queue of entries waiting to be sent, in lanes, and taking a request's
// worth from it.

package sink

import (
	"time"

	"github.com/kinetail/kinetail/internal/ack"
)

// entry is one record waiting to be stored: a user record, or a service
// record packed from several (an aggregate), which then keeps its user
// records in parts for acknowledgement and dead letters.
type entry struct {
	data []byte
	key  string // explicit partition key; "" means derived when sent
	hash string // explicit hash key; "" means none
	ack  *ack.Group
	// parts are the user records packed into data; nil for a user record.
	parts []entry
	size  int   // len(data) + partition key length: what counts against limits
	at    int64 // arrival, in nanoseconds since the sink started
	// attempts counts the requests this entry has failed in.
	attempts int
}

// records is the number of user records e carries.
func (e *entry) records() int {
	if e.parts != nil {
		return len(e.parts)
	}
	return 1
}

// users yields the user records e carries: e itself, or the records packed
// in it. Acknowledgements, stored bytes and dead letters are per user
// record; range over it rather than over parts.
func (e *entry) users(yield func(*entry) bool) {
	if e.parts == nil {
		yield(e)
		return
	}
	for i := range e.parts {
		if !yield(&e.parts[i]) {
			return
		}
	}
}

// lane is a queue of entries: the whole stream's, or in shard-aware mode
// one shard's. Retries go first, in the order they failed, then new
// records in arrival order.
type lane struct {
	retry, fresh []entry
	rhead, fhead int
	n, bytes     int
	// pace limits what is taken from the lane (shard-aware mode); nil
	// for none.
	pace *pacer
	// hash is the explicit hash key of the lane's aggregates (its shard's),
	// or "".
	hash string
}

// limits bound one request, and the queue.
type limits struct {
	maxRecords, maxBytes int // per request
	maxAge               time.Duration
	// queueRecords bounds the user records queued before input stops
	// being read: a request's worth, or more when records are packed.
	queueRecords int
	// maxPacked is the largest service record a packer may build.
	maxPacked int
}

// queue holds the entries not in flight, in lanes. It is owned by Run's
// goroutine.
type queue struct {
	lim   limits
	lanes []lane
	n     int // user records queued
	bytes int
	next  int // the lane the next take starts at, so lanes take turns
	// pack packs new records into service records; nil sends them as
	// they are.
	pack packer
	// fullBytes are the queued bytes that make a request worth sending
	// at once: lim.maxBytes, or fewer (see dispatcher.fullBytes).
	fullBytes int
	// spare are parts lists of stored packed records, for the next ones:
	// the dispatcher lends the queue those of the request it fills.
	spare [][]entry
}

func newQueue(lim limits, pk packer) *queue {
	return &queue{lim: lim, lanes: make([]lane, 1), pack: pk, fullBytes: lim.maxBytes}
}

func (q *queue) len() int { return q.n }

func (q *queue) pushFresh(l int, e entry) { q.push(&q.lanes[l], &q.lanes[l].fresh, e) }

func (q *queue) pushRetry(l int, e entry) { q.push(&q.lanes[l], &q.lanes[l].retry, e) }

func (q *queue) push(ln *lane, to *[]entry, e entry) {
	*to = append(*to, e)
	q.add(ln, e.records(), e.size)
}

// add adds n user records of b bytes to the counts (negative to remove).
func (q *queue) add(ln *lane, n, b int) {
	ln.n += n
	ln.bytes += b
	q.n += n
	q.bytes += b
}

// full reports whether the queue holds at least one complete request, so
// no more input should be read.
func (q *queue) full() bool {
	return q.n >= q.lim.queueRecords || q.bytes >= q.fullBytes
}

// readyAt returns when the next request should be sent: now (the zero
// time) if a lane holds retries, the queue a full request, or the sink is
// closing; else when the oldest new record of a lane reaches maxAge (start
// is the sink's start, the origin of entry.at). A paced lane is not ready
// before it has the tokens for its next entry. ok is false when the queue
// is empty.
func (q *queue) readyAt(start, now time.Time, closing bool) (at time.Time, ok bool) {
	if q.n == 0 {
		return time.Time{}, false
	}
	full := closing || q.full()
	for i := range q.lanes {
		ln := &q.lanes[i]
		if ln.n == 0 {
			continue
		}
		var t time.Time // ready now
		switch {
		case ln.rhead < len(ln.retry):
		case full:
		default:
			t = start.Add(time.Duration(ln.fresh[ln.fhead].at) + q.lim.maxAge)
		}
		if ln.pace != nil {
			if p := ln.pace.readyAt(q.nextSize(ln), now); p.After(t) {
				t = p
			}
		}
		if !ok || t.Before(at) {
			at, ok = t, true
		}
	}
	return at, ok
}

// nextSize is about the size of the next entry ln gives, for pacing: a
// packed record takes what is queued up to the packer's limit.
func (q *queue) nextSize(ln *lane) int {
	if ln.rhead < len(ln.retry) {
		return ln.retry[ln.rhead].size
	}
	if q.pack != nil {
		return min(ln.bytes, q.lim.maxPacked)
	}
	return ln.fresh[ln.fhead].size
}

// take moves entries into dst until the request's limits would be
// exceeded, and returns dst. Lanes take turns; each gives its retries
// first, then its new records (packed, when the queue packs), for as long
// as its pacing allows.
func (q *queue) take(dst []entry, now time.Time) []entry {
	size := 0
	for _, e := range dst {
		size += e.size
	}
	for k := range q.lanes {
		if len(dst) >= q.lim.maxRecords {
			break
		}
		i := (q.next + k) % len(q.lanes)
		dst, size = q.takeLane(i, dst, size, now)
	}
	q.next = (q.next + 1) % len(q.lanes)
	return dst
}

func (q *queue) takeLane(i int, dst []entry, size int, now time.Time) ([]entry, int) {
	ln := &q.lanes[i]
	for ln.rhead < len(ln.retry) && len(dst) < q.lim.maxRecords {
		e := ln.retry[ln.rhead]
		if size+e.size > q.lim.maxBytes || !ln.pace.allow(e.size, now) {
			return dst, size
		}
		ln.retry[ln.rhead] = entry{} // drop references for the collector
		ln.rhead++
		q.add(ln, -e.records(), -e.size)
		dst = append(dst, e)
		size += e.size
	}
	for ln.fhead < len(ln.fresh) && len(dst) < q.lim.maxRecords {
		src := ln.fresh[ln.fhead:]
		var e entry
		n := 1
		if q.pack != nil {
			e, n = q.pack.pack(src, q.lim.maxPacked, ln.hash)
		} else {
			e = src[0]
		}
		if size+e.size > q.lim.maxBytes || !ln.pace.allow(e.size, now) {
			// The packed record is built again next time: packing is
			// cheap next to a request, and this is rare.
			break
		}
		if e.parts != nil {
			e.parts = q.clone(e.parts)
		}
		b := 0
		for j := range n {
			b += src[j].size
		}
		clear(src[:n])
		ln.fhead += n
		q.add(ln, -n, -b)
		dst = append(dst, e)
		size += e.size
	}
	ln.compact()
	return dst, size
}

// drain removes and returns every queued entry (for a new shard map).
func (q *queue) drain() (retry, fresh []entry) {
	for i := range q.lanes {
		ln := &q.lanes[i]
		retry = append(retry, ln.retry[ln.rhead:]...)
		fresh = append(fresh, ln.fresh[ln.fhead:]...)
		*ln = lane{pace: ln.pace, hash: ln.hash}
	}
	q.n, q.bytes = 0, 0
	return retry, fresh
}

// compact reclaims the consumed front of both slices so that a lane that
// is never fully drained does not grow.
func (ln *lane) compact() {
	ln.retry, ln.rhead = compact(ln.retry, ln.rhead)
	ln.fresh, ln.fhead = compact(ln.fresh, ln.fhead)
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

// packer builds one service record from the front of src (never empty),
// at most max bytes with its partition key, and returns it with the number
// of entries it took (at least one). The parts of a packed record are
// src's: the queue copies them out of its storage when it takes it. hash, when set, is the explicit hash
// key every record of the lane is sent with.
type packer interface {
	pack(src []entry, max int, hash string) (entry, int)
}

// clone copies the packed entries out of the queue's storage, into a
// spare list if one has the room. An aggregate holds hundreds of entries:
// allocated for each, their lists were a third of what an aggregating
// agent allocated.
func (q *queue) clone(src []entry) []entry {
	for i := len(q.spare) - 1; i >= 0 && i >= len(q.spare)-4; i-- {
		if s := q.spare[i]; cap(s) >= len(src) {
			last := len(q.spare) - 1
			q.spare[i] = q.spare[last]
			q.spare[last] = nil
			q.spare = q.spare[:last]
			return append(s, src...)
		}
	}
	// Room for a little more: the next aggregate may take a few more
	// (shorter) records, and still fit the list.
	return append(make([]entry, 0, len(src)+len(src)/8), src...)
}
