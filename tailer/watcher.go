package tailer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/fsnotify/fsnotify"
)

// watcher turns fsnotify events on the scanned directories into hints: a
// write to a followed file wakes its reader, anything else asks for a rescan
// soon. It never decides what is followed; when fsnotify fails (no inotify,
// watch limit, queue overflow) the periodic rescan and the readers' polling
// still find everything, only later.
type watcher struct {
	fsw *fsnotify.Watcher // nil when fsnotify is unavailable
	log *slog.Logger
	// watched are the watched directories, each with the number of its
	// watch: another number is another watch (see watchID).
	watched map[string]uint64
	adds    uint64
	// lost is set when the kernel dropped events: until the next scan
	// looks at every file, some writes were told to no one.
	lost atomic.Bool
	// wake is called for a write to path; it reports whether a reader
	// follows that path.
	wake func(path string) bool
	// match reports whether a path is one the flow would follow, so
	// busy unrelated files in a watched directory cause no rescans.
	match func(path string) bool
	// soon receives a value when a rescan should happen soon.
	soon chan struct{}
	// add starts watching a directory (fsw.Add; a test seam).
	add func(dir string) error

	// dropped are watched directories that were removed or renamed: the
	// kernel ended their watches, so setDirs must add them again when
	// they are re-created.
	mu      sync.Mutex
	dropped []string

	addFailLogged bool
	errLogged     bool
}

func newWatcher(log *slog.Logger, wake, match func(string) bool, add func(string) error) *watcher {
	w := &watcher{
		log:     log,
		watched: make(map[string]uint64),
		wake:    wake,
		match:   match,
		soon:    make(chan struct{}, 1),
		add:     add,
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		log.Warn("file events unavailable, relying on rescans", "err", err)
		return w
	}
	w.fsw = fsw
	if w.add == nil {
		w.add = fsw.Add
	}
	return w
}

// setDirs makes the watched set equal to dirs. It is called from the scan
// loop only. When it adds a watch it asks for another rescan: whatever was
// created in that directory between the scan and the watch has no event.
func (w *watcher) setDirs(dirs []string) {
	if w.fsw == nil {
		return
	}
	added := false
	defer func() {
		if added {
			w.rescanSoon()
		}
	}()
	w.mu.Lock()
	for _, d := range w.dropped {
		delete(w.watched, d)
	}
	w.dropped = w.dropped[:0]
	w.mu.Unlock()
	want := make(map[string]struct{}, len(dirs))
	for _, d := range dirs {
		want[d] = struct{}{}
		if _, ok := w.watched[d]; ok {
			continue
		}
		if err := w.add(d); err != nil {
			// Typically ENOSPC: the inotify watch limit. Rescans
			// and the readers' polling find everything, later.
			if !w.addFailLogged {
				w.addFailLogged = true
				w.log.Warn("cannot watch directory, relying on rescans (logged once)", "dir", d, "err", err)
			}
			continue
		}
		w.adds++
		w.watched[d] = w.adds
		added = true
	}
	for d := range w.watched {
		if _, ok := want[d]; !ok {
			// Fails harmlessly when the directory is already gone.
			_ = w.fsw.Remove(d)
			delete(w.watched, d)
		}
	}
}

// watchID returns the number of the watch on dir, 0 when it is not
// watched. Like setDirs, it is called from the scan loop only.
func (w *watcher) watchID(dir string) uint64 { return w.watched[dir] }

func (w *watcher) rescanSoon() {
	select {
	case w.soon <- struct{}{}:
	default:
	}
}

// run forwards events until ctx is done.
func (w *watcher) run(ctx context.Context) {
	if w.fsw == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Write {
				if !w.wake(ev.Name) && w.match(ev.Name) {
					w.rescanSoon() // a file we do not follow yet
				}
				continue
			}
			if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Write) {
				w.wake(ev.Name)
			}
			if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				w.mu.Lock()
				w.dropped = append(w.dropped, ev.Name)
				w.mu.Unlock()
			}
			w.rescanSoon()
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.lost.Store(true)
			if !w.errLogged {
				w.errLogged = true
				w.log.Warn("file events lost, relying on rescans (logged once)", "err", err,
					"overflow", errors.Is(err, fsnotify.ErrEventOverflow))
			}
			w.rescanSoon()
		}
	}
}

func (w *watcher) close() {
	if w.fsw != nil {
		_ = w.fsw.Close()
	}
}
