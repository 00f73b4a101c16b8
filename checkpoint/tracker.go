package checkpoint

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/kinetail/kinetail/internal/ack"
	"github.com/kinetail/kinetail/tailer"
)

// Tracker follows the acknowledgement of the ranges handed on for every
// Source and keeps the entries loaded at start for files not (yet) seen
// again. It is safe for concurrent use.
//
// State is kept per Source. Several Sources can share one identity (flow,
// device, inode): a file reopened after a read error continues where the
// previous Source stopped, and a truncated file starts again at 0 as a new
// Source. Snapshot writes one entry per identity:
//   - continuation (the newest Source opened at or past the older ones'
//     offsets): the lowest offset of any Source with ranges still in flight,
//     else the newest Source's; so the saved offset never runs ahead of an
//     unacknowledged line;
//   - truncation (the newest Source opened below an older one's offset): the
//     newest Source's, since the older content is no longer in that file. An
//     older Source that the tailer re-identified as the rotated copy (through
//     Rename) has the copy's identity and is saved on its own.
type Tracker struct {
	mu      sync.Mutex
	now     func() time.Time
	ttl     time.Duration
	seq     uint64
	sources map[*tailer.Source]*state
	carried []Entry // loaded entries not claimed by an open file
	version uint64  // bumped on every change, so unchanged snapshots are not written
}

type state struct {
	seq     uint64 // creation order among states
	flow    string
	path    string
	id      tailer.FileID
	start   int64 // offset the Source was opened at; -1 when not announced
	acked   int64 // -1 until something is known to be acknowledged
	marker  uint64
	updated time.Time
	queue   []*span // in emission order; the head is the oldest unacknowledged range
	closed  bool
}

type span struct {
	end    int64
	marker uint64
	done   bool
}

type identity struct {
	flow       string
	dev, inode uint64
}

func (s *state) key() identity { return identity{s.flow, s.id.Dev, s.id.Inode} }

// NewTracker starts from entries loaded from a Store. Entries not claimed by
// an open file are kept until they are older than ttl.
func NewTracker(loaded []Entry, ttl time.Duration) *Tracker {
	return &Tracker{
		now:     time.Now,
		ttl:     ttl,
		sources: make(map[*tailer.Source]*state),
		carried: append([]Entry(nil), loaded...),
	}
}

// Open records that src is being read from offset: a file opened at its end
// (initial_position end_of_file) or resumed is checkpointed there before any
// line is read. It also retires the carried entry of the same file, keeping
// its marker when reading resumes exactly there.
func (t *Tracker) Open(src *tailer.Source, path string, id tailer.FileID, offset int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.version++
	t.seq++
	s := &state{seq: t.seq, flow: src.Flow, path: path, id: id, start: offset, acked: offset, updated: t.now()}
	if old := t.sources[src]; old != nil {
		// Announced twice: keep what is in flight.
		s.seq, s.queue, s.acked, s.marker = old.seq, old.queue, old.acked, old.marker
	}
	t.sources[src] = s
	kept := t.carried[:0]
	for _, e := range t.carried {
		if e.Flow == src.Flow && e.ID.Dev == id.Dev && e.ID.Inode == id.Inode {
			if e.Offset == offset && s.marker == 0 {
				s.marker = e.Marker
			}
			continue
		}
		kept = append(kept, e)
	}
	t.carried = kept
}

// Rename updates where src was last seen and its identity: a widened
// fingerprint, or the rotated copy the rest of a truncated file was read
// from.
func (t *Tracker) Rename(src *tailer.Source, path string, id tailer.FileID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.sources[src]; s != nil {
		s.path, s.id = path, id
		t.version++
	}
}

// Close marks src as no longer read. Its state stays (batches sent before
// the close may still be on their way to Begin) until every range is
// acknowledged and the TTL has passed.
func (t *Tracker) Close(src *tailer.Source) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.sources[src]; s != nil {
		s.closed = true
		s.updated = t.now()
		t.version++
	}
}

// Begin registers the next range of src, ending at end, and returns the
// group whose completion acknowledges it. marker is the batch's Marker (a
// hash of the bytes just before end), saved with the offset so a resume can
// tell a file rewritten in place from the one that was read. Ranges must be
// begun in the order the tailer emitted them; release (if not nil) runs
// after the range is recorded as acknowledged.
func (t *Tracker) Begin(src *tailer.Source, end int64, marker uint64, release func()) *ack.Group {
	sp := &span{end: end, marker: marker}
	t.mu.Lock()
	s := t.sources[src]
	if s == nil {
		// A Source that was not announced with Open: track it from this
		// range on (nothing before it is known to be acknowledged).
		t.seq++
		s = &state{seq: t.seq, flow: src.Flow, path: src.Path, id: src.ID, start: -1, acked: -1, updated: t.now()}
		t.sources[src] = s
	}
	s.queue = append(s.queue, sp)
	t.mu.Unlock()
	return ack.New(func() {
		t.done(s, sp)
		if release != nil {
			release()
		}
	})
}

func (t *Tracker) done(s *state, sp *span) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sp.done = true
	n := 0
	for n < len(s.queue) && s.queue[n].done {
		s.acked, s.marker = s.queue[n].end, s.queue[n].marker
		n++
	}
	if n > 0 {
		// Shift rather than reslice so the backing array does not grow forever.
		m := copy(s.queue, s.queue[n:])
		clear(s.queue[m:])
		s.queue = s.queue[:m]
		s.updated = t.now()
		t.version++
	}
}

// Version changes whenever a snapshot would differ.
func (t *Tracker) Version() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.version
}

// Snapshot returns the entries to persist: one per file identity with an
// acknowledged offset (see Tracker), and carried entries younger than the
// TTL. Closed Sources whose ranges are all acknowledged and that are older
// than the TTL are forgotten.
func (t *Tracker) Snapshot() []Entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	groups := make(map[identity][]*state, len(t.sources))
	for src, s := range t.sources {
		if s.closed && len(s.queue) == 0 && t.ttl > 0 && now.Sub(s.updated) > t.ttl {
			delete(t.sources, src)
			t.version++
			continue
		}
		groups[s.key()] = append(groups[s.key()], s)
	}
	out := make([]Entry, 0, len(groups)+len(t.carried))
	entry := func(s *state) Entry {
		return Entry{Flow: s.flow, Path: s.path, ID: s.id, Offset: s.acked, Marker: s.marker, Updated: s.updated}
	}
	for _, g := range groups {
		s := pick(g)
		if s != nil && s.acked >= 0 {
			out = append(out, entry(s))
		}
		// A generation truncated away (copytruncate) while lines of it
		// were still in flight keeps its own entry: after a crash its
		// rest is read from the rotated copy, found by its fingerprint.
		for _, o := range truncatedPending(g) {
			if o != s {
				out = append(out, entry(o))
			}
		}
	}
	kept := t.carried[:0]
	for _, e := range t.carried {
		if t.ttl > 0 && now.Sub(e.Updated) > t.ttl {
			t.version++
			continue
		}
		kept = append(kept, e)
		out = append(out, e)
	}
	t.carried = kept
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Flow, b.Flow), cmp.Compare(a.Path, b.Path), cmp.Compare(a.ID.Inode, b.ID.Inode))
	})
	return out
}

// pick chooses the state whose offset is saved for one identity.
func pick(g []*state) *state {
	newest := g[0]
	for _, s := range g[1:] {
		if s.seq > newest.seq {
			newest = s
		}
	}
	res := newest
	for _, s := range g {
		if s == newest || newest.start >= 0 && s.acked > newest.start {
			continue // truncated away: that content is not in this file any more
		}
		if len(s.queue) > 0 && (res.acked < 0 || s.acked < res.acked) {
			res = s
		}
	}
	return res
}

// truncatedPending returns the states of g whose content was truncated
// away by a newer generation of the same file while some of their lines
// were not yet acknowledged.
func truncatedPending(g []*state) []*state {
	var newest *state
	for _, s := range g {
		if newest == nil || s.seq > newest.seq {
			newest = s
		}
	}
	var out []*state
	for _, s := range g {
		if s != newest && newest.start >= 0 && s.acked > newest.start && len(s.queue) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// Offset reports the acknowledged offset of src (for tests and status).
func (t *Tracker) Offset(src *tailer.Source) (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sources[src]
	if s == nil || s.acked < 0 {
		return 0, false
	}
	return s.acked, true
}
