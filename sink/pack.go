// Packing user records into service records: KPL aggregates for Kinesis,
// lines for Firehose.

package sink

import (
	"github.com/kinetail/kinetail/internal/kpl"
)

// Packing happens in two steps. The dispatcher decides which user records
// share a service record and computes its exact size (packer.pack), so
// requests respect their limits; the worker that sends the request writes
// the service record's bytes (builder.data) as it writes the request body,
// so the copying and the KPL digest run in parallel and allocate nothing.
// A packed entry has parts and no data of its own; a failed one is built
// again when it is resent.

// kplPacker groups user records into KPL aggregated records. Every user
// record of an aggregate is sent with the aggregate's partition key (and
// explicit hash key), so a KCL consumer never drops one as belonging to
// another shard. Records with keys of their own share an aggregate only
// with neighbours that have the same keys (the dispatcher gives each key
// its lane), unless the lane sets the hash key (shard-aware mode), which
// decides the shard alone.
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
	size := p.b.Size() + len(key)
	n := 0
	for n < len(src) {
		e := &src[n]
		if hash == first.hash && (e.key != first.key || e.hash != first.hash) {
			break // not shard-aware: only records with the same keys share
		}
		next := size + kpl.RecordOverhead(len(e.data), hash != "")
		if next > max {
			break
		}
		size = next
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
	return entry{key: key, hash: hash, parts: src[:n], size: size, at: first.at}, n
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
	return entry{parts: src[:n], size: size, at: src[0].at}, n
}

// builder writes packed entries' bytes for one worker, one entry at a
// time, while the request body is written: only one packed record is held
// at once, not the whole request's.
type builder struct {
	kpl kpl.Builder
	buf []byte
}

// aggregate returns what e sends to Kinesis: its own data, or for a packed
// entry its KPL aggregate, built into b's buffer and valid until the next
// call.
func (b *builder) aggregate(e *entry) []byte {
	if e.parts == nil {
		return e.data // inlined: most entries are not packed
	}
	return b.buildAggregate(e)
}

func (b *builder) buildAggregate(e *entry) []byte {
	b.buf = b.buf[:0]
	b.kpl.Reset(e.key, e.hash)
	for _, p := range e.parts {
		b.kpl.Add(p.data)
	}
	b.buf = b.kpl.AppendTo(b.buf)
	return b.buf
}

// lines returns what e sends to Firehose: its own data, or for a packed
// entry its records' lines, built into b's buffer and valid until the next
// call.
func (b *builder) lines(e *entry) []byte {
	if e.parts == nil {
		return e.data
	}
	b.buf = b.buf[:0]
	for _, p := range e.parts {
		b.buf = append(b.buf, p.data...)
		b.buf = append(b.buf, '\n')
	}
	return b.buf
}

// dataLen is the length of what e sends, known exactly without building
// it: a packed entry's size is its data plus its partition key.
func (e *entry) dataLen() int {
	if e.parts == nil {
		return len(e.data)
	}
	return e.size - len(e.key)
}
