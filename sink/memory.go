// The memory budget sinks share, and what a request costs in it.

package sink

import (
	"sync/atomic"
	"unsafe"

	"github.com/kinetail/kinetail/config"
)

// A sink's memory is bounded by Options.Memory, which the sinks of one
// destination share (a stream template may start many). The records' data is not
// in it: the flows' budgets hold that until the records are acknowledged.
// What a sink holds of its own is per request: the body it writes (base64
// makes JSON bodies a third larger than their data), the answer, and for
// aggregates the list of the user records packed in them. The dispatcher
// sends a request only if the requests in flight and it fit in the budget
// (each sink may always have one), and keeps no more idle requests, with their
// buffers, than the budget lets it send at once.

const (
	entryBytes        = int64(unsafe.Sizeof(entry{}))
	requestFixedBytes = 64<<10 + writeBufferBytes + gatherBytes // the answer, headers, the entries slice, its connection's write buffer and gathered TLS records
	entryBodyBytes    = 64                                      // an entry's JSON or CBOR beyond its data and keys
)

// cost is what a request of entries holds beyond the records' data.
func (s *settings) cost(entries []entry) int64 {
	n := requestFixedBytes + int64(len(entries))*entryBytes
	for i := range entries {
		e := &entries[i]
		n += s.proto.bodyBytes(int64(e.size)) + entryBodyBytes + int64(len(e.hash))
		n += int64(len(e.parts)) * entryBytes
	}
	return n
}

// fullCost is the cost of the largest request the settings allow, before
// any is seen.
func (s *settings) fullCost() int64 {
	return requestFixedBytes + s.proto.bodyBytes(int64(s.maxBytes)) + int64(s.maxRecords)*(entryBytes+entryBodyBytes)
}

// fitMemory makes one request fit in memory bytes: a budget smaller than
// a full request makes requests smaller (never below one record of
// max_record_bytes, see MinMemory).
func (s *settings) fitMemory(memory int64) {
	s.memory = memory
	if memory <= 0 {
		return
	}
	for s.maxBytes > s.maxRecordBytes && s.fullCost() > memory {
		s.maxBytes = max(s.maxRecordBytes, s.maxBytes*3/4)
	}
}

// MinMemory is the smallest Options.Memory a sink for d works in: one
// request holding one record of max_record_bytes.
func MinMemory(d *config.Destination) int64 {
	s := newSettings(d, "")
	s.maxBytes, s.maxRecords = s.maxRecordBytes, 1
	return s.fullCost()
}

// Memory is a memory budget in bytes that sinks share (Options.Memory).
// The sinks' dispatchers add what their requests hold while they are in
// flight; each checks before it sends, so they may together overshoot by
// one request each at most.
type Memory struct {
	limit atomic.Int64 // changed by SetLimit when a reload changes the shares
	used  atomic.Int64
	input atomic.Int64 // see SetInput; 0 is unknown
	// held are the bytes of the records the sinks hold, queued and in
	// flight (see dispatcher.publish).
	held atomic.Int64
}

// NewMemory returns a budget of limit bytes; limit must be at least
// MinMemory for each destination that uses it.
func NewMemory(limit int64) *Memory {
	m := &Memory{}
	m.limit.Store(limit)
	return m
}

// SetLimit changes the budget, for a reload that changes how many
// destinations share the agent's limit. Requests are sized when a sink is
// built, so a smaller budget makes the running sinks send fewer at once,
// not smaller ones.
func (m *Memory) SetLimit(limit int64) { m.limit.Store(limit) }

// SetInput tells the sinks how much memory the records of each of their
// inputs may take, queued and in flight, until they are acknowledged (a
// flow's budget, or its part for this destination). A queue that waited
// for a request's max_bytes would otherwise wait for batch.max_age each
// time the input's memory is used up before that: the input stops until
// records in flight are acknowledged, and those in flight and queued
// cannot make a full request. A full request is then smaller (see
// dispatcher.fullBytes).
func (m *Memory) SetInput(n int64) { m.input.Store(n) }

// Input is what SetInput set: 0 if nothing, or m is nil.
func (m *Memory) Input() int64 {
	if m == nil {
		return 0
	}
	return m.input.Load()
}

func (m *Memory) addHeld(n int64) {
	if m != nil {
		m.held.Add(n)
	}
}

func (m *Memory) heldBytes() int64 {
	if m == nil {
		return 0
	}
	return m.held.Load()
}

// Limit is the budget in bytes.
func (m *Memory) Limit() int64 { return m.limit.Load() }

// fits reports whether n more bytes fit in the budget (nil: unbounded).
func (m *Memory) fits(n int64) bool { return m == nil || m.used.Load()+n <= m.limit.Load() }

func (m *Memory) add(n int64) {
	if m != nil {
		m.used.Add(n)
	}
}
