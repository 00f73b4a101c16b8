package tailer

import (
	"slices"
	"time"
)

// gen is a generation the Tailer knows but does not read now: a Position
// from the checkpoint not found yet, or a generation whose reader ended
// (drained after a rotation, moved out of the globs, failed, or found
// truncated). When its bytes show up again, in the same file or in a copy,
// reading goes on from pos.Offset instead of starting over.
type gen struct {
	pos Position
	// src is the Source to go on with; nil for a Position, which gets a
	// new Source with the Position's identity when it is read.
	src *Source
	// loc is the file the generation was last read from (zero for a
	// Position): after copytruncate that is the copy, not ID's inode.
	loc devIno
	// ended is when its reader ended; zero for a Position.
	ended time.Time
	// size is the largest size its file was seen at, when known: a copy
	// shorter than that misses the bytes written between logrotate's copy
	// and its truncation.
	size int64
	// found is set once a Position's bytes (or a truncated generation's
	// rest) were found; until then they are looked for again, then
	// reported lost.
	found bool
	// tries counts the searches that did not find a Position.
	tries int
	// truncated is set when its reader ended because the file was
	// truncated: its rest is looked for in a copy like a Position's.
	truncated bool
	// marks are the ends and markers of its last batches (oldest first),
	// which tell a copy shorter than Offset (see planner.holds).
	marks []mark
}

// mark is a batch end and its marker.
type mark struct {
	end    int64
	marker uint64
}

// origin returns the followed path the generation was written at.
func (g *gen) origin() string {
	if g.pos.Origin != "" {
		return g.pos.Origin
	}
	return g.pos.Path
}

// fpKey indexes generations by their fingerprint.
type fpKey struct {
	n  int
	fp uint64
}

// registry holds the gens, indexed by inode (their own and the file they
// were last read from), by fingerprint and by origin. Only the Run
// goroutine uses it; readers that end hand their gen over through
// Tailer.ended.
type registry struct {
	byKey    map[devIno][]*gen
	byFP     map[fpKey][]*gen
	lens     []int // the fingerprint lengths in byFP, ascending
	byOrigin map[string][]*gen
}

func newRegistry() *registry {
	return &registry{
		byKey:    make(map[devIno][]*gen),
		byFP:     make(map[fpKey][]*gen),
		byOrigin: make(map[string][]*gen),
	}
}

func (r *registry) add(g *gen) {
	k := g.pos.ID.key()
	r.byKey[k] = append(r.byKey[k], g)
	if g.loc != (devIno{}) && g.loc != k {
		r.byKey[g.loc] = append(r.byKey[g.loc], g)
	}
	if n := g.pos.ID.FingerprintLen; n > 0 {
		fk := fpKey{n, g.pos.ID.Fingerprint}
		r.byFP[fk] = append(r.byFP[fk], g)
		if i, ok := slices.BinarySearch(r.lens, n); !ok {
			r.lens = slices.Insert(r.lens, i, n)
		}
	}
	o := g.origin()
	r.byOrigin[o] = append(r.byOrigin[o], g)
}

func (r *registry) remove(g *gen) {
	drop := func(m map[devIno][]*gen, k devIno) {
		if s := slices.DeleteFunc(m[k], func(x *gen) bool { return x == g }); len(s) > 0 {
			m[k] = s
		} else {
			delete(m, k)
		}
	}
	drop(r.byKey, g.pos.ID.key())
	if g.loc != (devIno{}) {
		drop(r.byKey, g.loc)
	}
	if n := g.pos.ID.FingerprintLen; n > 0 {
		fk := fpKey{n, g.pos.ID.Fingerprint}
		if s := slices.DeleteFunc(r.byFP[fk], func(x *gen) bool { return x == g }); len(s) > 0 {
			r.byFP[fk] = s
		} else {
			delete(r.byFP, fk)
		}
	}
	o := g.origin()
	if s := slices.DeleteFunc(r.byOrigin[o], func(x *gen) bool { return x == g }); len(s) > 0 {
		r.byOrigin[o] = s
	} else {
		delete(r.byOrigin, o)
	}
	// A map keeps the room of its largest size: a restart resumes the
	// checkpoint's ten thousand generations and empties them, and they
	// would hold megabytes for the tailer's life.
	if len(r.byKey) == 0 && len(r.byFP) == 0 && len(r.byOrigin) == 0 {
		*r = *newRegistry()
	}
}

// withPrefix returns the gens whose fingerprint hashes a prefix of p (the
// first bytes of a file), longest fingerprints first.
func (r *registry) withPrefix(p []byte) []*gen {
	var out []*gen
	h, at := uint64(fnvOffset), 0
	hashes := make([]uint64, 0, len(r.lens))
	for _, n := range r.lens {
		if n > len(p) {
			break
		}
		h = fnvMore(h, p[at:n])
		at = n
		hashes = append(hashes, h)
	}
	for i := len(hashes) - 1; i >= 0; i-- {
		out = append(out, r.byFP[fpKey{r.lens[i], hashes[i]}]...)
	}
	return out
}

// expire forgets ended generations older than ttl.
func (r *registry) expire(now time.Time, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	var old []*gen
	for _, gs := range r.byOrigin {
		for _, g := range gs {
			if !g.ended.IsZero() && now.Sub(g.ended) > ttl {
				old = append(old, g)
			}
		}
	}
	for _, g := range old {
		r.remove(g)
	}
}

// unfinished reports whether a generation of file k may still have bytes
// to read: a file holding only generations read to their end (drained,
// or found complete) need not be looked at again.
func (r *registry) unfinished(k devIno) bool {
	for _, g := range r.byKey[k] {
		if !g.pos.Closed {
			return true
		}
	}
	return false
}

// newest returns the latest MTime of the generations written at origin.
func (r *registry) newest(origin string) time.Time {
	var t time.Time
	for _, g := range r.byOrigin[origin] {
		if g.pos.MTime.After(t) {
			t = g.pos.MTime
		}
	}
	return t
}
