package tailer

import (
	"os"
	"slices"
	"strings"
	"time"
)

// seen is what the Tailer knows of a path: the file there and, for a file
// whose descriptor is released, its size and modification time then (size
// < 0: not compared, a reader with a descriptor sees changes itself).
type seen struct {
	key  devIno
	size int64
	mod  time.Time
}

// op is what happened to a file between two scans.
type op int

const (
	appeared op = iota + 1 // a file not known at any path
	gone                   // a known file is at no path any more
	renamed                // a known file is at another path
	changed                // a known file's size or modification time changed
)

func (o op) String() string {
	switch o {
	case appeared:
		return "appeared"
	case gone:
		return "gone"
	case renamed:
		return "renamed"
	case changed:
		return "changed"
	}
	return "unknown"
}

// event is one difference between two scans. Path is where the file is now
// (for gone: where it was), From where it was before a rename.
type event struct {
	Op   op
	Path string
	From string
	Key  devIno
	Info os.FileInfo // the file now; nil for gone
}

// diff compares the previous view of the globs with a new scan, by file
// identity: a path holding another file than before is the old file gone
// (or renamed) and a new one appeared, as a rename rotation looks. A file
// linked at several paths counts at the smallest one. It is a pure
// function: deciding what the events mean is the Tailer's.
func diff(prev map[string]seen, cur map[string]os.FileInfo) []event {
	var d differ
	return d.diff(prev, cur)
}

// differ is diff with its maps kept from one scan to the next: a scan of
// ten thousand idle files allocated them anew every time.
type differ struct {
	at, was map[devIno]string
}

// diff is the function diff.
func (d *differ) diff(prev map[string]seen, cur map[string]os.FileInfo) []event {
	if evs, ok := samePaths(len(prev), func(p string) (seen, bool) { s, ok := prev[p]; return s, ok }, cur); ok {
		return evs
	}
	if d.at == nil {
		d.at, d.was = make(map[devIno]string, len(cur)), make(map[devIno]string, len(prev))
	}
	at, was := d.at, d.was
	clear(at)
	clear(was)
	for p, fi := range cur {
		k, ok := keyOf(fi)
		if !ok {
			continue
		}
		if q, dup := at[k]; !dup || p < q {
			at[k] = p
		}
	}
	for p, s := range prev {
		if q, dup := was[s.key]; !dup || p < q {
			was[s.key] = p
		}
	}
	var evs []event // none, mostly: not kept, nor the FileInfos they hold
	for k, p := range at {
		fi := cur[p]
		from, known := was[k]
		switch {
		case !known:
			evs = append(evs, event{Op: appeared, Path: p, Key: k, Info: fi})
		case from != p:
			evs = append(evs, event{Op: renamed, Path: p, From: from, Key: k, Info: fi})
		default:
			if s := prev[p]; s.size >= 0 && (s.size != fi.Size() || !s.mod.Equal(fi.ModTime())) {
				evs = append(evs, event{Op: changed, Path: p, Key: k, Info: fi})
			}
		}
	}
	for k, p := range was {
		if _, ok := at[k]; !ok {
			evs = append(evs, event{Op: gone, Path: p, Key: k})
		}
	}
	// A stable order: what left first, then renames, then new files by
	// path, so logs and opening order do not depend on map iteration.
	slices.SortFunc(evs, func(a, b event) int {
		if a.Op != b.Op {
			return rank(a.Op) - rank(b.Op)
		}
		return strings.Compare(a.Path, b.Path)
	})
	return evs
}

// samePaths is diff when every path holds the file it held before, as in
// most scans: one lookup per path, where diff proper builds two maps of
// identities (a third of a rescan of ten thousand idle files). The n paths
// seen before are looked up with prev. It reports false when a file
// appeared, went or moved.
func samePaths(n int, prev func(path string) (seen, bool), cur map[string]os.FileInfo) ([]event, bool) {
	if n != len(cur) {
		return nil, false
	}
	var evs []event
	for p, fi := range cur {
		s, was := prev(p)
		k, ok := keyOf(fi)
		if !was || !ok || k != s.key {
			return nil, false
		}
		// A file linked at several paths is looked at at each: the
		// Tailer's handling of a change is the same once or twice.
		if s.size >= 0 && (s.size != fi.Size() || !s.mod.Equal(fi.ModTime())) {
			evs = append(evs, event{Op: changed, Path: p, Key: k, Info: fi})
		}
	}
	slices.SortFunc(evs, func(a, b event) int { return strings.Compare(a.Path, b.Path) })
	return evs, true
}

func rank(o op) int {
	switch o {
	case gone:
		return 0
	case renamed:
		return 1
	case changed:
		return 2
	}
	return 3
}
