package checkpoint

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kinetail/kinetail/internal/ack"
	"github.com/kinetail/kinetail/tailer"
)

// Tracker follows the acknowledgement of the ranges handed on for every
// Source (one generation of a followed file) and keeps the entries loaded
// at start for generations not (yet) seen again. It is safe for concurrent
// use.
//
// Each Source has one entry: the offset up to which every range was
// acknowledged (a low-watermark), where its bytes are now, and what the
// tailer needs to find it again after a restart. A Source whose reader
// ended and that the tailer later reads on (from a rotated copy, after a
// read error) is the same Source, so its state, ranges in flight included,
// carries over.
type Tracker struct {
	mu      sync.Mutex
	now     func() time.Time
	ttl     time.Duration
	sources map[*tailer.Source]*state
	// carried are the loaded entries not claimed by an open Source, by
	// the Source that would claim them: at a restart with thousands of
	// files, each Open finds its own at once.
	carried map[carriedKey][]Entry
	version uint64 // bumped on every change, so unchanged snapshots are not written
	// announced is the version of the last Open or Widen: what a reader's
	// Sync waits for (see Saver.Sync). Acknowledgements do not move it,
	// so a file's first batch does not wait for a save of the others'
	// progress.
	announced uint64
	// sorted is the saving order of the sources and carried entries,
	// kept while none came or went and nothing that orders them changed
	// (ordered counts those changes): an idle agent's save does not sort
	// ten thousand entries again (a quarter of its time).
	sorted   []orderRef
	sortedAt uint64
	ordered  uint64
}

// orderRef is a source or a carried entry, in sorted.
type orderRef struct {
	s *state
	e *Entry
}

type carriedKey struct {
	flow, origin string
	id           tailer.FileID
}

type state struct {
	flow    string
	origin  string
	path    string
	id      tailer.FileID
	acked   int64 // -1 until something is known to be acknowledged
	read    int64 // end of the last range handed on
	marker  uint64
	mtime   time.Time
	updated time.Time
	queue   []*span // in emission order; the head is the oldest unacknowledged range
	closed  bool    // no reader on it now
	done    bool    // read to its end and let go (or lost): nothing to look for
}

type span struct {
	end    int64
	marker uint64
	done   bool
	begun  time.Time // when it was handed on: the age of the oldest unacknowledged record
}

// NewTracker starts from entries loaded from a Store. Entries not claimed by
// an open Source are kept until they are older than ttl.
func NewTracker(loaded []Entry, ttl time.Duration) *Tracker {
	t := &Tracker{
		now:     time.Now,
		ttl:     ttl,
		sources: make(map[*tailer.Source]*state),
		carried: make(map[carriedKey][]Entry, len(loaded)),
	}
	for _, e := range loaded {
		k := carriedKey{e.Flow, e.Origin, e.ID}
		t.carried[k] = append(t.carried[k], e)
	}
	return t
}

// Positions returns the carried entries of flow as the tailer's resume
// points.
func (t *Tracker) Positions(flow string) []tailer.Position {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, es := range t.carried {
		if k.flow == flow {
			n += len(es)
		}
	}
	if n == 0 {
		return nil
	}
	entries := make([]Entry, 0, n)
	for k, es := range t.carried {
		if k.flow == flow {
			entries = append(entries, es...)
		}
	}
	sortEntries(entries)
	out := make([]tailer.Position, 0, n)
	for _, e := range entries {
		out = append(out, tailer.Position{Path: e.Path, Origin: e.Origin, ID: e.ID, Offset: e.Offset,
			Marker: e.Marker, Read: e.Read, MTime: e.MTime, Closed: e.Closed})
	}
	return out
}

// Open records that src is being read from o.Offset: a generation opened at
// its end (initial_position end_of_file) or resumed is checkpointed there
// before any line is read. A Source opened again keeps its ranges in flight.
// Opening the Source of a loaded entry retires that entry.
func (t *Tracker) Open(src *tailer.Source, o tailer.Opened) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.version++
	t.ordered++ // its path, identity and time, and the carried entries
	s := t.sources[src]
	if s == nil {
		s = &state{flow: src.Flow, origin: src.Path, acked: o.Offset, read: o.Offset}
		t.sources[src] = s
	}
	s.path, s.id, s.mtime, s.updated = o.Path, o.ID, o.MTime, t.now()
	s.closed, s.done = false, false
	k := carriedKey{src.Flow, src.Path, src.ID}
	for _, e := range t.carried[k] {
		if e.Offset == s.acked && s.marker == 0 {
			s.marker = e.Marker
		}
	}
	delete(t.carried, k)
	t.announced = t.version
}

// Rename records where src's bytes are now: renamed within the globs, or
// in the rotated copy its rest is read from.
func (t *Tracker) Rename(src *tailer.Source, path string) {
	t.update(src, func(s *state) { s.path = path; t.ordered++ })
}

// Widen records src's fingerprint once it covers more of the file.
func (t *Tracker) Widen(src *tailer.Source, id tailer.FileID) {
	t.update(src, func(s *state) {
		s.id = id
		t.ordered++
		t.announced = t.version + 1 // the version update sets after f
	})
}

// Close records that no reader reads src now. Its state stays: batches sent
// before the close may still be on their way to Begin, and after a restart
// its entry lets the tailer find its rest. finished says it was read to its
// end and let go (drained after a rotation).
func (t *Tracker) Close(src *tailer.Source, finished bool) {
	t.update(src, func(s *state) {
		s.closed, s.done = true, finished
		s.updated = t.now()
	})
}

// Lost records what the tailer reported lost (a loaded entry found
// nowhere, or a Source whose rest is in no file) as Closed: not looked for
// after a restart, and not reported again, but still known until the TTL.
func (t *Tracker) Lost(p tailer.Position, src *tailer.Source) {
	if src != nil {
		t.update(src, func(s *state) { s.done = true })
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, es := range t.carried {
		for i, e := range es {
			if e.ID == p.ID && e.Offset == p.Offset && e.Path == p.Path {
				es[i].Closed = true
				t.version++
			}
		}
	}
}

func (t *Tracker) update(src *tailer.Source, f func(*state)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.sources[src]; s != nil {
		f(s)
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
	sp := &span{end: end, marker: marker, begun: t.now()}
	t.mu.Lock()
	s := t.sources[src]
	if s == nil {
		// A Source that was not announced with Open: track it from this
		// range on (nothing before it is known to be acknowledged).
		s = &state{flow: src.Flow, origin: src.Path, path: src.Path, id: src.ID, acked: -1, updated: t.now()}
		t.sources[src] = s
		t.ordered++
	}
	s.queue = append(s.queue, sp)
	s.read = max(s.read, end)
	t.version++
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

// Announced is the Version of the last Open or Widen: a snapshot of that
// version or later holds every generation announced so far.
func (t *Tracker) Announced() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.announced
}

// Snapshot returns the entries to persist: one per Source with an
// acknowledged offset, and the carried entries. It changes nothing.
func (t *Tracker) Snapshot() []Entry {
	t.mu.Lock()
	if t.sorted != nil && t.sortedAt == t.ordered {
		out := make([]Entry, 0, len(t.sorted))
		for _, r := range t.sorted {
			if r.s == nil {
				out = append(out, *r.e)
			} else if e, ok := r.s.entry(); ok {
				out = append(out, e)
			}
		}
		t.mu.Unlock()
		return out
	}
	at := t.ordered
	n := len(t.sources)
	for _, es := range t.carried {
		n += len(es)
	}
	// Every source is ordered, saved or not: one whose first range is
	// acknowledged later is saved in its place without a sort.
	all := make([]Entry, 0, n)
	refs := make([]orderRef, 0, n)
	saved := make([]bool, 0, n)
	for _, s := range t.sources {
		e, ok := s.entry()
		if !ok {
			e = Entry{Flow: s.flow, Origin: s.origin, Path: s.path, ID: s.id, MTime: s.mtime}
		}
		all, refs, saved = append(all, e), append(refs, orderRef{s: s}), append(saved, ok)
	}
	for _, es := range t.carried {
		for i := range es {
			all, refs, saved = append(all, es[i]), append(refs, orderRef{e: &es[i]}), append(saved, true)
		}
	}
	// Sorted once acknowledgements may go on: ten thousand entries take
	// milliseconds.
	t.mu.Unlock()
	idx := sortOrder(all)
	sorted := make([]orderRef, len(idx))
	keep := make([]bool, len(idx))
	for p, i := range idx {
		sorted[p], keep[p] = refs[i], saved[i]
	}
	// The entries are put in order where they are, and the saved ones
	// kept: a second slice of them all would be 1.7 MB more for each
	// save of 10,000 entries, and a restart makes a save of them after
	// another while its readers open.
	permute(all, idx)
	out := all[:0]
	for p := range all {
		if keep[p] {
			out = append(out, all[p])
		}
	}
	clear(all[len(out):])
	t.mu.Lock()
	if t.ordered == at {
		t.sorted, t.sortedAt = sorted, at
	}
	t.mu.Unlock()
	return out
}

// entry is what is saved of s; none until something is acknowledged.
func (s *state) entry() (Entry, bool) {
	if s.acked < 0 {
		return Entry{}, false
	}
	return Entry{Flow: s.flow, Path: s.path, Origin: s.origin, ID: s.id, Offset: s.acked,
		Marker: s.marker, Read: max(s.read, s.acked), MTime: s.mtime, Closed: s.done && len(s.queue) == 0,
		Updated: s.updated}, true
}

// compareEntries orders entries as they are saved: by flow, then by
// followed path, oldest generation first.
func compareEntries(a, b *Entry) int {
	if c := strings.Compare(a.Flow, b.Flow); c != 0 {
		return c
	}
	if c := strings.Compare(a.Origin, b.Origin); c != 0 {
		return c
	}
	if c := a.MTime.Compare(b.MTime); c != 0 {
		return c
	}
	if c := strings.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	return cmp.Compare(a.ID.Inode, b.ID.Inode)
}

// sortEntries sorts es as compareEntries orders them. It sorts indexes and
// then moves each entry once: sorting the entries themselves moved structs
// of 168 bytes at every swap, a third of a save's time.
func sortEntries(es []Entry) { permute(es, sortOrder(es)) }

// permute puts es in the order idx gives, in place: entry p becomes the
// old es[idx[p]]. It uses idx up.
func permute(es []Entry, idx []int32) {
	// Follow each cycle of the permutation once, marking what is done.
	for i := range es {
		if idx[i] < 0 {
			continue
		}
		first, j := es[i], i
		for {
			k := int(idx[j])
			idx[j] = -1
			if k == i {
				es[j] = first
				break
			}
			es[j] = es[k]
			j = k
		}
	}
}

// sortOrder returns the indexes of es in the order compareEntries gives.
func sortOrder(es []Entry) []int32 {
	idx := make([]int32, len(es))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return compareEntries(&es[a], &es[b]) })
	return idx
}

// Expire forgets Sources that no reader reads, with every range
// acknowledged, and carried entries, once they are older than the TTL.
func (t *Tracker) Expire() {
	if t.ttl <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for src, s := range t.sources {
		if s.closed && len(s.queue) == 0 && now.Sub(s.updated) > t.ttl {
			delete(t.sources, src)
			t.version++
			t.ordered++
		}
	}
	for k, es := range t.carried {
		n := len(es)
		es = slices.DeleteFunc(es, func(e Entry) bool { return now.Sub(e.Updated) > t.ttl })
		switch {
		case len(es) == 0:
			delete(t.carried, k)
		case len(es) != n:
			t.carried[k] = es
		}
		if len(es) != n {
			t.version++
			t.ordered++
		}
	}
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

// Pending reports how many ranges of flow's Sources are handed on and not
// acknowledged yet.
func (t *Tracker) Pending(flow string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, s := range t.sources {
		if s.flow == flow {
			n += len(s.queue)
		}
	}
	return n
}

// Retire turns the Sources of flow into carried entries, as a save and a
// restart would: a flow started again under the same name (a reload that
// changed it) resumes each generation from its acknowledged offset with
// Positions. Ranges still unacknowledged stay out of the entries, and
// their acknowledgements, if they come, change nothing: those lines are
// read again.
func (t *Tracker) Retire(flow string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for src, s := range t.sources {
		if s.flow != flow {
			continue
		}
		delete(t.sources, src)
		t.version++
		t.ordered++
		e, ok := s.entry()
		if !ok {
			continue
		}
		k := carriedKey{e.Flow, e.Origin, e.ID}
		t.carried[k] = append(t.carried[k], e)
	}
}
