package checkpoint

import (
	"cmp"
	"slices"
	"time"

	"github.com/kinetail/kinetail/tailer"
)

// Progress is where one Source's delivery stands, for metrics and status.
type Progress struct {
	Flow string
	Path string // where its bytes are now
	ID   tailer.FileID
	// Acked is the offset up to which every line was acknowledged (-1
	// when nothing is known yet); Read is the end of what was handed on.
	Acked, Read int64
	// Oldest is when the oldest range not yet acknowledged was handed on;
	// zero when every range was.
	Oldest time.Time
	// Reading: a reader reads it now. Finished: it was read to its end
	// and let go (rotated away and drained, or lost).
	Reading, Finished bool
}

// Progress returns the state of every Source the tracker follows, sorted by
// flow and path. It takes the tracker's lock once, for a copy of a few
// fields per Source: it is meant for a scrape, not for every batch.
func (t *Tracker) Progress() []Progress {
	t.mu.Lock()
	out := make([]Progress, 0, len(t.sources))
	for _, s := range t.sources {
		p := Progress{Flow: s.flow, Path: s.path, ID: s.id, Acked: s.acked, Read: max(s.read, s.acked),
			Reading: !s.closed, Finished: s.done}
		for _, sp := range s.queue {
			if !sp.done {
				p.Oldest = sp.begun
				break
			}
		}
		out = append(out, p)
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Progress) int {
		return cmp.Or(cmp.Compare(a.Flow, b.Flow), cmp.Compare(a.Path, b.Path), cmp.Compare(a.ID.Inode, b.ID.Inode))
	})
	return out
}

// SaveStatus tells how the checkpoint's saves go.
type SaveStatus struct {
	// LastOK is when the entries on disk were last known to be current:
	// a save that wrote them, or found nothing changed. Zero before the
	// first save.
	LastOK   time.Time
	Err      error // of the last save; nil if it succeeded
	Failures int64 // failed saves since start
	Writes   int64 // saves that wrote the file since start
}

// saveStatus is a Saver's SaveStatus, kept under the Saver's mu.
type saveStatus SaveStatus

func (st *saveStatus) record(wrote bool, err error) {
	st.Err = err
	if err != nil {
		st.Failures++
		return
	}
	if wrote {
		st.Writes++
	}
	st.LastOK = time.Now()
}

// Status reports the last save's outcome. It waits for a save in progress.
func (s *Saver) Status() SaveStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SaveStatus(s.status)
}
