// Partition keys: derived ones (random or from the data) and explicit ones,
// made valid.

package sink

import (
	"math/rand/v2"
	"strings"
	"unicode/utf8"

	"github.com/kinetail/kinetail/internal/awslimits"
)

// derivedKeyLen is the length of a partition key the sink makes up: 64 bits
// in hex.
const derivedKeyLen = 16

const hexDigits = "0123456789abcdef"

// putHex64 writes v as 16 lower-case hex digits into dst[:16].
func putHex64(dst []byte, v uint64) {
	_ = dst[derivedKeyLen-1]
	for i := derivedKeyLen - 1; i >= 0; i-- {
		dst[i] = hexDigits[v&0xf]
		v >>= 4
	}
}

// fnv64a is the 64-bit FNV-1a hash: cheap, and the same data always lands
// on the same shard.
func fnv64a(b []byte) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for _, c := range b {
		h ^= uint64(c)
		h *= prime
	}
	return h
}

// explicitKey returns the key to send for a record's own partition key.
// Kinesis refuses a whole request if one key is longer than 256 characters,
// so a longer key is replaced by its hash: records with the same key still
// share a shard, and nothing is lost. Invalid UTF-8 is replaced first, as
// the JSON body would carry it, so the key's length here is its length
// there.
func explicitKey(key string) string {
	if !utf8.ValidString(key) {
		key = strings.ToValidUTF8(key, "\uFFFD")
	}
	if len(key) <= awslimits.KinesisMaxPartitionKeyRunes || utf8.RuneCountInString(key) <= awslimits.KinesisMaxPartitionKeyRunes {
		return key
	}
	var b [derivedKeyLen]byte
	putHex64(b[:], fnv64a([]byte(key)))
	return string(b[:])
}

// keySource derives partition keys for records without one. Each worker
// has its own, so no lock is needed.
type keySource struct {
	deterministic bool
	rng           *rand.PCG
}

// put writes the derived key for data into dst[:16].
func (s *keySource) put(dst []byte, data []byte) {
	if s.deterministic {
		putHex64(dst, fnv64a(data))
		return
	}
	putHex64(dst, s.rng.Uint64())
}
