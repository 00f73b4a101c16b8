package sink

import "github.com/kinetail/kinetail/internal/kpl"

// kplPacker packs user records into KPL aggregated records. Every user
// record of an aggregate is sent with the aggregate's partition key (and
// explicit hash key), so a KCL consumer never drops one as belonging to
// another shard. Records with keys of their own share an aggregate only
// with neighbours that have the same keys, unless the lane sets the hash
// key (shard-aware mode), which decides the shard alone.
type kplPacker struct {
	b   kpl.Builder
	ks  *keySource // derives the key of an aggregate of keyless records
	buf [derivedKeyLen]byte
}

func (p *kplPacker) pack(src []entry, max int, hash string) (entry, int) {
	first := &src[0]
	key := first.key
	if key == "" {
		p.ks.put(p.buf[:], first.data)
		key = string(p.buf[:])
	}
	if hash == "" {
		hash = first.hash
	}
	p.b.Reset(key, hash)
	n := 0
	for n < len(src) {
		e := &src[n]
		if hash == first.hash && (e.key != first.key || e.hash != first.hash) {
			break // not shard-aware: only records with the same keys share
		}
		if p.b.SizeWith(len(e.data))+len(key) > max {
			break
		}
		p.b.Add(e.data)
		n++
	}
	if n <= 1 {
		// Alone (too large to share, or nothing to share with): sent as
		// it is, which every consumer reads.
		e := *first
		if e.hash == "" {
			e.hash = hash
		}
		return e, 1
	}
	data := p.b.AppendTo(make([]byte, 0, p.b.Size()))
	return entry{data: data, key: key, hash: hash, parts: cloneParts(src[:n]), size: len(data) + len(key), at: first.at}, n
}

// linePacker makes Firehose records: each user record followed by a
// newline, as the Kinesis Agent sends lines, and with aggregation several
// of them in one Firehose record.
type linePacker struct {
	aggregate bool
}

func (p *linePacker) pack(src []entry, max int, _ string) (entry, int) {
	size, n := len(src[0].data)+1, 1
	for p.aggregate && n < len(src) && size+len(src[n].data)+1 <= max {
		size += len(src[n].data) + 1
		n++
	}
	data := make([]byte, 0, size)
	for i := range n {
		data = append(data, src[i].data...)
		data = append(data, '\n')
	}
	e := entry{data: data, size: len(data), at: src[0].at}
	if n == 1 {
		e.ack = src[0].ack
		e.attempts = src[0].attempts
	} else {
		e.parts = cloneParts(src[:n])
	}
	return e, n
}
