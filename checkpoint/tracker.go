package checkpoint

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/kinetail/kinetail/internal/ack"
	"github.com/kinetail/kinetail/tailer"
)

// Tracker follows the acknowledgement of the ranges handed on for every open
// file and keeps the entries loaded at start for files not (yet) seen again.
// It is safe for concurrent use.
//
// State is kept per file identity (flow, device, inode), not per Source: a
// file reopened after a read error, or restarted at 0 after a truncation, is
// a new Source of the same file, and its ranges queue behind those still in
// flight from the previous Source, so the saved offset never runs ahead of
// an unacknowledged line.
type Tracker struct {
	mu      sync.Mutex
	now     func() time.Time
	ttl     time.Duration
	files   map[fileKey]*file
	sources map[*tailer.Source]*file
	carried []Entry // loaded entries not claimed by an open file
	version uint64  // bumped on every change, so unchanged snapshots are not written
}

type fileKey struct {
	flow       string
	dev, inode uint64
}

type file struct {
	flow    string
	path    string
	id      tailer.FileID
	acked   int64
	updated time.Time
	queue   []*span // in emission order; the head is the oldest unacknowledged range
	owner   *tailer.Source
	closed  bool
}

type span struct {
	end  int64
	done bool
}

// NewTracker starts from entries loaded from a Store. Entries not claimed by
// an open file are kept until they are older than ttl.
func NewTracker(loaded []Entry, ttl time.Duration) *Tracker {
	return &Tracker{
		now:     time.Now,
		ttl:     ttl,
		files:   make(map[fileKey]*file),
		sources: make(map[*tailer.Source]*file),
		carried: append([]Entry(nil), loaded...),
	}
}

// Open records that src is being read from offset: a file opened at its end
// (initial_position end_of_file) or resumed is checkpointed there before any
// line is read. It also retires the carried entry of the same file.
func (t *Tracker) Open(src *tailer.Source, path string, id tailer.FileID, offset int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.version++
	k := fileKey{src.Flow, id.Dev, id.Inode}
	f := t.files[k]
	if f == nil {
		f = &file{flow: src.Flow}
		t.files[k] = f
	}
	if len(f.queue) == 0 {
		f.acked = offset
	}
	f.path, f.id, f.updated, f.closed, f.owner = path, id, t.now(), false, src
	t.sources[src] = f
	kept := t.carried[:0]
	for _, e := range t.carried {
		if e.Flow == src.Flow && e.ID.Dev == id.Dev && e.ID.Inode == id.Inode {
			continue
		}
		kept = append(kept, e)
	}
	t.carried = kept
}

// Rename updates where src was last seen, and its identity once its
// fingerprint has been widened.
func (t *Tracker) Rename(src *tailer.Source, path string, id tailer.FileID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.sources[src]; f != nil && f.owner == src {
		f.path, f.id = path, id
		t.version++
	}
}

// Close marks src as no longer read. Its entry stays until every range is
// acknowledged and then ages out with the TTL like a carried entry.
func (t *Tracker) Close(src *tailer.Source) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// The mapping stays: batches sent before the close may still be on
	// their way to Begin.
	f := t.sources[src]
	if f != nil && f.owner == src {
		f.closed = true
		f.updated = t.now()
		t.version++
	}
}

// Begin registers the next range of src, ending at end, and returns the
// group whose completion acknowledges it. Ranges must be begun in the order
// the tailer emitted them; release (if not nil) runs after the range is
// recorded as acknowledged.
func (t *Tracker) Begin(src *tailer.Source, end int64, release func()) *ack.Group {
	s := &span{end: end}
	t.mu.Lock()
	f := t.sources[src]
	if f == nil {
		// A source that was not announced with Open: track it from this
		// range on (nothing before it is known to be acknowledged).
		f = &file{flow: src.Flow, path: src.Path, id: src.ID, acked: -1, updated: t.now(), owner: src}
		t.sources[src] = f
		t.files[fileKey{src.Flow, src.ID.Dev, src.ID.Inode}] = f
	}
	f.queue = append(f.queue, s)
	t.mu.Unlock()
	return ack.New(func() {
		t.done(f, s)
		if release != nil {
			release()
		}
	})
}

func (t *Tracker) done(f *file, s *span) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.done = true
	n := 0
	for n < len(f.queue) && f.queue[n].done {
		f.acked = f.queue[n].end
		n++
	}
	if n > 0 {
		// Shift rather than reslice so the backing array does not grow forever.
		m := copy(f.queue, f.queue[n:])
		clear(f.queue[m:])
		f.queue = f.queue[:m]
		f.updated = t.now()
		t.version++
	}
}

// Version changes whenever a snapshot would differ.
func (t *Tracker) Version() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.version
}

// Snapshot returns the entries to persist: every file with an acknowledged
// offset, and carried entries younger than the TTL. Closed files whose ranges
// are all acknowledged and that are older than the TTL are forgotten.
func (t *Tracker) Snapshot() []Entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	out := make([]Entry, 0, len(t.files)+len(t.carried))
	for k, f := range t.files {
		if f.closed && len(f.queue) == 0 && t.ttl > 0 && now.Sub(f.updated) > t.ttl {
			delete(t.files, k)
			for src, g := range t.sources {
				if g == f {
					delete(t.sources, src)
				}
			}
			t.version++
			continue
		}
		if f.acked < 0 {
			continue
		}
		out = append(out, Entry{Flow: f.flow, Path: f.path, ID: f.id, Offset: f.acked, Updated: f.updated})
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

// Offset reports the acknowledged offset of src (for tests and status).
func (t *Tracker) Offset(src *tailer.Source) (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.sources[src]
	if f == nil || f.acked < 0 {
		return 0, false
	}
	return f.acked, true
}
