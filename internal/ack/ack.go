// Package ack counts outstanding deliveries of a group of records and runs a
// callback exactly once when the last one is acknowledged.
//
// A Group starts with one hold owned by its creator, so deliveries that finish
// while records are still being handed out cannot complete the group early.
// The creator adds one count per delivery it hands out, then calls Done(1) to
// release its hold.
package ack

import "sync/atomic"

// Group is safe for concurrent use.
type Group struct {
	n  atomic.Int64
	fn func()
}

// New returns a group holding one count; fn runs when the count reaches zero.
func New(fn func()) *Group {
	g := &Group{fn: fn}
	g.n.Store(1)
	return g
}

// Add registers n more outstanding deliveries.
func (g *Group) Add(n int) { g.n.Add(int64(n)) }

// Done acknowledges n deliveries.
func (g *Group) Done(n int) {
	switch v := g.n.Add(-int64(n)); {
	case v == 0:
		if g.fn != nil {
			g.fn()
		}
	case v < 0:
		panic("ack: Done called more often than Add")
	}
}

// Pending reports the outstanding count (for tests and status).
func (g *Group) Pending() int64 { return g.n.Load() }
