// 128-bit hash keys: a partition key's MD5, and ExplicitHashKey in decimal,
// for shard-aware mode.

package sink

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"math/bits"
	"unsafe"
)

// hashKey is a position in a stream's 128-bit hash key space, big-endian.
// Kinesis maps a record to the shard whose range holds the MD5 of its
// partition key, or its explicit hash key when one is given.
type hashKey [16]byte

// maxHashKeyDigits is the length of 2^128-1 in decimal.
const maxHashKeyDigits = 39

var errHashKey = errors.New("sink: hash key is not a decimal integer in [0, 2^128-1]")

// hashKeyOf returns the hash key Kinesis derives from a partition key: the
// MD5 of its UTF-8 bytes. It does not allocate.
func hashKeyOf(partitionKey string) hashKey {
	// md5.Sum only reads its input, so it may read the string's bytes in
	// place; a []byte conversion would allocate for keys over 32 bytes.
	return hashKey(md5.Sum(unsafe.Slice(unsafe.StringData(partitionKey), len(partitionKey))))
}

// parseHashKey parses a hash key the way the API writes it: decimal digits
// without sign, spaces or leading zeros, at most 2^128-1.
func parseHashKey(s string) (hashKey, error) {
	if len(s) == 0 || len(s) > maxHashKeyDigits || (s[0] == '0' && len(s) > 1) {
		return hashKey{}, errHashKey
	}
	var hi, lo uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return hashKey{}, errHashKey
		}
		// (hi, lo) = (hi, lo)*10 + digit, refusing any carry out of 128 bits.
		carry, l := bits.Mul64(lo, 10)
		ov, h := bits.Mul64(hi, 10)
		h, c1 := bits.Add64(h, carry, 0)
		l, c2 := bits.Add64(l, uint64(c-'0'), 0)
		h, c3 := bits.Add64(h, c2, 0)
		if ov != 0 || c1 != 0 || c3 != 0 {
			return hashKey{}, errHashKey
		}
		hi, lo = h, l
	}
	return newHashKey(hi, lo), nil
}

func newHashKey(hi, lo uint64) hashKey {
	var h hashKey
	binary.BigEndian.PutUint64(h[:8], hi)
	binary.BigEndian.PutUint64(h[8:], lo)
	return h
}

func (h hashKey) halves() (hi, lo uint64) {
	return binary.BigEndian.Uint64(h[:8]), binary.BigEndian.Uint64(h[8:])
}

// String returns h in decimal, as the API's ExplicitHashKey and
// HashKeyRange fields carry it.
func (h hashKey) String() string {
	hi, lo := h.halves()
	var buf [maxHashKeyDigits]byte
	i := len(buf)
	// Divide by 10^19, the largest power of ten in a uint64, so each step
	// yields 19 digits with plain uint64 arithmetic.
	const chunk = 10_000_000_000_000_000_000
	for {
		var r uint64
		if hi != 0 {
			var q uint64
			q, r = hi/chunk, hi%chunk
			hi = q
		}
		lo, r = bits.Div64(r, lo, chunk)
		last := hi == 0 && lo == 0
		for d := 0; d < 19 && (r != 0 || !last); d++ {
			i--
			buf[i] = byte('0' + r%10)
			r /= 10
		}
		if last {
			break
		}
	}
	if i == len(buf) {
		return "0"
	}
	return string(buf[i:])
}

// cmp returns -1, 0 or +1 as h is less than, equal to or greater than o.
func (h hashKey) cmp(o hashKey) int {
	hh, hl := h.halves()
	oh, ol := o.halves()
	switch {
	case hh < oh:
		return -1
	case hh > oh:
		return 1
	case hl < ol:
		return -1
	case hl > ol:
		return 1
	}
	return 0
}

// next returns h+1 and false, or 0 and true when h is the largest key.
func (h hashKey) next() (hashKey, bool) {
	hi, lo := h.halves()
	lo, c := bits.Add64(lo, 1, 0)
	hi, c = bits.Add64(hi, 0, c)
	return newHashKey(hi, lo), c != 0
}
