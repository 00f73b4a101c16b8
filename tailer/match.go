package tailer

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"os"
	"slices"
)

// This file owns matching files with generations: looking at a file's first
// bytes and the bytes before an offset, and deciding which known or
// followed generation it holds.

// candidate is a file the planner looks at.
type candidate struct {
	path   string
	key    devIno
	fi     os.FileInfo
	inGlob bool
	origin string // the followed path whose generations it may hold
	near   bool   // found in a directory searched only for saved generations
	prefix []byte // the first bytes (decompressed), once probed
	probed bool
	err    error // cannot be opened or decompressed
	g      *gen  // the known generation it holds
	short  bool  // g's copy, shorter than g's offset: nothing more of g
	held   bool  // a copy of a generation being read, or of one it holds
	// incomplete: a compressed copy still being written; looked at again
	incomplete bool
	f          file // a compressed copy opened at its offset, for the start
}

func (c *candidate) compressed() bool { return compressedName(c.path) }

// probe reads a candidate's first bytes (decompressed for a compressed
// copy).
func (p *planner) probe(c *candidate) {
	if c.probed {
		return
	}
	c.probed = true
	f, _, _, err := p.t.openAt(c.path, c.key)
	if err != nil {
		p.openFailed(c, err)
		return
	}
	defer f.Close()
	buf := make([]byte, FingerprintSize)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		c.err = err
		return
	}
	c.prefix = buf[:n]
}

// openFailed records why c could not be opened to be looked at; a file
// that may not be read is not one that is gone.
func (p *planner) openFailed(c *candidate, err error) {
	c.err = err
	if errors.Is(err, os.ErrPermission) {
		p.blocked[c.key] = true
	}
}

// holds reports whether c holds generation g up to its offset: the same
// first bytes, at least that many bytes, and the bytes before the offset
// hash to its marker (when known). A copy shorter than the offset that
// holds g up to one of its recent batch ends is a copy made while g was
// read (logrotate's copytruncate, with lines written between its copy and
// its truncation): short is set, and it holds nothing g still needs. A
// compressed copy that holds g is kept open for its start.
func (p *planner) holds(c *candidate, g *gen) (ok, short bool) {
	id, off := g.pos.ID, g.pos.Offset
	if c.probed {
		if c.err != nil {
			return false, false
		}
		if n := id.FingerprintLen; n > len(c.prefix) || fnv1a(c.prefix[:n]) != id.Fingerprint {
			return false, false
		}
		if off == 0 {
			return true, false
		}
	}
	f, _, _, err := p.t.openAt(c.path, c.key)
	if err != nil {
		if !c.probed {
			c.probed = true
			p.openFailed(c, err)
		}
		return false, false
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	if !c.probed {
		// A file at a known generation's inode (every file at a
		// restart) is checked through a pooled buffer: its first bytes
		// are kept (probe) only when it must be compared by content,
		// not ten thousand kilobytes for a whole scan.
		if same, err := prefixMatches(f, id); err != nil || !same {
			return false, false
		}
		if off == 0 {
			return true, false
		}
	}
	m, err := readMarker(f, off)
	switch {
	case err == nil && (g.pos.Marker == 0 || m == g.pos.Marker):
		if c.compressed() {
			if c.f != nil {
				c.f.Close()
			}
			c.f, keep = f, true
		}
		return true, false
	case err == nil:
		return false, false // the bytes before the offset differ
	}
	if u, ok := f.(*unpacked); ok && !u.ended() {
		// Shorter than the offset because it is still being written
		// (logrotate compressing): not a short copy. Looked at again.
		c.incomplete = true
		return false, false
	}
	for i := len(g.marks) - 1; i >= 0; i-- {
		mk := g.marks[i]
		if mk.end > off || mk.end == 0 {
			continue
		}
		if m, err := readMarker(f, mk.end); err == nil && m == mk.marker {
			return true, true
		}
	}
	return false, false
}

// sameStart reports whether two candidates' first bytes agree as far as
// both have them, as two copies of one generation's bytes do.
func (p *planner) sameStart(a, b *candidate) bool {
	p.probe(a)
	p.probe(b)
	if a.err != nil || b.err != nil {
		return true // cannot tell: as before, a copy
	}
	n := min(len(a.prefix), len(b.prefix))
	return bytes.Equal(a.prefix[:n], b.prefix[:n])
}

// claim records that c holds g (up to its offset, or all of c when short).
func (p *planner) claim(c *candidate, g *gen, short bool) {
	c.g, c.short = g, short
	p.claims[g] = c
	if c.near {
		p.learn[dirOf(c.path)] = c.origin
	}
}

// matchKnown matches candidates with known generations: by inode first,
// then by content, uncompressed files before compressed ones.
func (p *planner) matchKnown() {
	t := p.t
	if len(t.known.byKey) == 0 {
		return
	}
	order := slices.Clone(p.cands)
	slices.SortStableFunc(order, func(a, b *candidate) int {
		return cmp.Compare(b2i(a.compressed()), b2i(b.compressed()))
	})
	for _, c := range order {
		if c.compressed() {
			continue
		}
		for _, g := range newestFirst(t.known.byKey[c.key]) {
			if p.claims[g] != nil {
				continue
			}
			if g.pos.ID.FingerprintLen == 0 && c.path != g.pos.Path && c.path != g.origin() {
				continue // an empty file's inode reused elsewhere is not it
			}
			if ok, short := p.holds(c, g); ok {
				p.claim(c, g, short)
				break
			}
		}
	}
	for _, c := range order {
		if c.g != nil {
			continue
		}
		p.probe(c)
		if c.err != nil {
			continue
		}
		for _, g := range t.known.withPrefix(c.prefix) {
			ok, short := p.holds(c, g)
			if !ok {
				continue
			}
			if w := p.claims[g]; w != nil {
				if !p.sameStart(c, w) {
					// Only g's first few bytes are known and both begin
					// with them, but they differ after: c is another
					// file whose lines start alike, not a copy.
					continue
				}
				c.held = true // another copy of a generation found already
				break
			}
			p.claim(c, g, short)
			break
		}
	}
}

// matchActive marks candidates that are copies of generations being read.
func (p *planner) matchActive() {
	active := newRegistry()
	wake := make(map[*gen]*reader)
	p.t.mu.RLock()
	for _, r := range p.t.readers {
		if pub := r.pub.Load(); pub != nil && pub.id.FingerprintLen > 0 {
			g := &gen{pos: Position{Path: r.name(), Origin: r.src.Path, ID: pub.id, Offset: pub.end, Marker: pub.marker}}
			active.add(g)
			wake[g] = r
		}
	}
	p.t.mu.RUnlock()
	if len(active.lens) == 0 {
		return
	}
	for _, c := range p.cands {
		if c.g != nil || c.held {
			continue
		}
		p.probe(c)
		if c.err != nil {
			continue
		}
		// The same first bytes are enough: a copy made while the
		// generation is read may be shorter or longer than what was
		// handed on. Its reader finds its own file truncated and the next
		// plan decides, on the generation's offset, what the copy holds.
		for _, g := range active.withPrefix(c.prefix) {
			if len(c.prefix) > g.pos.ID.FingerprintLen && p.t.stillHolds(wake[g], g) {
				// Only the generation's first few bytes are known (its
				// file was small), the candidate holds more, and the
				// generation's file still holds all it handed on: a
				// file that merely begins the same (lines that all
				// start alike), not a copy. Read as a copy it would
				// never be read.
				continue
			}
			c.held = true
			wake[g].wake()
			p.t.log.Debug("file is a copy of a file being read; not read again", "path", c.path, "of", g.pos.Path)
			break
		}
	}
}

// stillHolds reports whether r's file still holds what its generation g
// was identified by and handed on (it was not truncated, as copytruncate
// does after its copy). A parked reader's file is not looked at: false.
func (t *Tailer) stillHolds(r *reader, g *gen) bool {
	t.mu.RLock()
	f := r.f
	t.mu.RUnlock()
	if f == nil {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Size() >= max(g.pos.Offset, int64(g.pos.ID.FingerprintLen))
}

// newestFirst orders the known generations of one inode: the newest is
// the likeliest to be what the file holds now.
func newestFirst(gs []*gen) []*gen {
	gs = slices.Clone(gs)
	slices.SortStableFunc(gs, func(a, b *gen) int { return b.pos.MTime.Compare(a.pos.MTime) })
	return gs
}
