package checkpoint

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/kinetail/kinetail/tailer"
)

// Saver writes a Tracker's entries to a Store: every interval when they
// changed, soon when asked, and once more at the end. Sync lets a reader
// wait until what it announced is durable.
type Saver struct {
	store    *Store
	tracker  *Tracker
	interval time.Duration
	log      *slog.Logger
	status   saveStatus // for Status, under mu
	soon     chan struct{}

	mu      sync.Mutex // serialises saves
	saved   uint64     // tracker version last written
	savedCh chan struct{}
	failing bool
	// took is how long the last save that wrote took (Run's only).
	took time.Duration

	// Seen, if set, returns when the followed paths were last looked at
	// (the start of the last scan of every flow): what appeared since has
	// no entry yet, so the checkpoint must not claim a later time. Set it
	// before Run.
	Seen func() time.Time
}

// NewSaver returns a Saver of tracker's entries to store.
func NewSaver(store *Store, tracker *Tracker, interval time.Duration, log *slog.Logger) *Saver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Saver{store: store, tracker: tracker, interval: interval, log: log,
		soon: make(chan struct{}, 1), savedCh: make(chan struct{})}
}

// Run saves every interval, and when asked by Soon or Sync, until ctx is
// done. A failing save is logged once, kept as it was on disk, and retried.
func (s *Saver) Run(ctx context.Context) {
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	pause := time.NewTimer(0)
	defer pause.Stop()
	wait := func(d time.Duration) bool {
		pause.Reset(d)
		select {
		case <-ctx.Done():
			return false
		case <-pause.C:
			return true
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.soon:
			if !s.gather(wait) {
				return
			}
		}
		began := time.Now()
		wrote, err := s.save()
		if wrote {
			s.took = time.Since(began)
		}
		if err != nil {
			if !s.failing {
				s.log.Error("saving checkpoint failed; keeping the previous one and retrying", "err", err)
			}
			s.failing = true
			continue
		}
		if s.failing {
			s.log.Info("saving checkpoint works again")
			s.failing = false
		}
	}
}

// gather waits, after an ask for a save, while more asks come: a start
// that opens thousands of files asks for saves all the time, and each
// save writes every entry. It waits in steps of the last save's time, for
// at most eight of them (and a second: a slow disk's fsync), and saves
// after a step in which nobody asked. Ten thousand files with a backlog
// at a first start spent 14% of the agent's CPU saving when every save
// waited twice its time, and 20% more CPU per line in all than at eight
// times. Once nobody asks, waiting on only makes the readers that asked
// wait: ten thousand files of 50 KB, whose first batches waited for their
// save holding the flow's budget, were read at 80 k lines a second with
// a fixed wait of eight times (the tailer now waits before reading).
// wait sleeps for a step and reports false when the saver is to stop;
// gather then reports false too.
func (s *Saver) gather(wait func(time.Duration) bool) bool {
	step := max(s.took, time.Millisecond)
	left := min(8*s.took, time.Second)
	for left > 0 {
		d := min(step, left)
		if !wait(d) {
			return false
		}
		left -= d
		select {
		case <-s.soon: // asked again during the step: wait on
		default:
			return true
		}
	}
	return true
}

// Save writes the entries if they changed since the last save.
func (s *Saver) Save() error {
	_, err := s.save()
	return err
}

// save is Save, and whether it wrote.
func (s *Saver) save() (wrote bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() { s.status.record(wrote, err) }()
	s.tracker.Expire()
	v := s.tracker.Version()
	if v == s.saved {
		return false, nil
	}
	var seen time.Time
	if s.Seen != nil {
		seen = s.Seen()
	}
	if err := s.store.Save(s.tracker.Snapshot(), seen); err != nil {
		return true, err
	}
	s.saved = v
	close(s.savedCh)
	s.savedCh = make(chan struct{})
	return true, nil
}

// Soon asks for a save before the next tick; requests made while one is
// pending are one.
func (s *Saver) Soon() {
	select {
	case s.soon <- struct{}{}:
	default:
	}
}

// Sync returns once a save covers every generation announced to the tracker
// (Open, Widen) when it was called, or when ctx is done. Progress made
// since the last save does not make it wait: a thousand files starting at
// once each wait for a save of their own opening only, not for one save
// after another of everybody's acknowledgements. While saves fail it waits
// (and reading waits with it: the lines stay in their files).
func (s *Saver) Sync(ctx context.Context) error {
	want := s.tracker.Announced()
	for {
		s.mu.Lock()
		done, ch := s.saved >= want, s.savedCh
		s.mu.Unlock()
		if done {
			return nil
		}
		s.Soon()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Hooks connects a tailer to the tracker, and its Sync to this Saver. An
// opened generation is saved soon, not only at the next tick: if kinetail
// is killed before a new one is saved and its file rotated meanwhile, a
// restart would not know the path and would not look for its rotated files
// (and until the agent's first save, a restart is a first start, which
// reads no rotated file); where a known one is read from now (a rotated
// copy) is what a restart looks at first. Requests made while a save runs
// are one: a start that opens thousands of files makes a few saves of them
// all.
func (s *Saver) Hooks() tailer.Hooks {
	t := s.tracker
	return tailer.Hooks{
		OnOpen: func(src *tailer.Source, o tailer.Opened) {
			t.Open(src, o)
			s.Soon()
		},
		OnRename: t.Rename,
		OnWiden:  t.Widen,
		OnClose:  t.Close,
		OnLost:   t.Lost,
		Sync:     s.Sync,
	}
}
