// Writing PutRecords request bodies in CBOR, with their exact length known
// first.

package sink

import (
	"encoding/binary"
	"slices"
	"unicode/utf8"
)

// The PutRecords request in CBOR (RFC 8949), as AWS maps its JSON
// protocols to CBOR (Content-Type application/x-amz-cbor-1.1, the same
// X-Amz-Target): the same members, with blobs as byte strings instead of
// base64 text.
//
//	{"StreamName": "s", "Records": [{"Data": h'..', "PartitionKey": "k", "ExplicitHashKey": "h"}, ...]}
//
// Every container has a definite length and every integer the shortest
// head, so the body's size is known exactly before it is written. Record
// data is copied as it is: no base64, a third fewer bytes to send, hash
// and encrypt than in JSON.
const (
	cborContentType = "application/x-amz-cbor-1.1"

	// Initial bytes' major types (RFC 8949 §3.1), shifted in place.
	cborUint  = 0 << 5
	cborBytes = 2 << 5
	cborText  = 3 << 5
	cborArray = 4 << 5
	cborMap   = 5 << 5
	cborTag   = 6 << 5
	cborOther = 7 << 5 // simple values, floats and break

	cborIndefinite = 31 // additional information of an indefinite length
	cborBreak      = cborOther | cborIndefinite
	cborNull       = cborOther | 22
	cborUndefined  = cborOther | 23

	// Members' names, each a text string with its head.
	cborStreamName   = "\x6aStreamName"
	cborStreamARN    = "\x69StreamARN"
	cborRecords      = "\x67Records"
	cborData         = "\x64Data"
	cborPartitionKey = "\x6cPartitionKey"
	cborHashKey      = "\x6fExplicitHashKey"
	// cborDerivedKey is the head of a derived partition key's text.
	cborDerivedKey = cborText | derivedKeyLen
)

// cborHeadLen is the length of the head of an item with argument n.
func cborHeadLen(n int) int {
	switch {
	case n < 24:
		return 1
	case n <= 0xff:
		return 2
	case n <= 0xffff:
		return 3
	case uint64(n) <= 0xffffffff:
		return 5
	}
	return 9
}

// appendCBORHead appends the head of an item of major type major (already
// shifted) with argument n, in its shortest form.
func appendCBORHead(dst []byte, major byte, n int) []byte {
	switch u := uint64(n); {
	case u < 24:
		return append(dst, major|byte(u))
	case u <= 0xff:
		return append(dst, major|24, byte(u))
	case u <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, major|25), uint16(u))
	case u <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(dst, major|26), uint32(u))
	default:
		return binary.BigEndian.AppendUint64(append(dst, major|27), u)
	}
}

// cborTextBytes is the length of the UTF-8 text a text string holds for s:
// a CBOR text string must be valid UTF-8, so each byte that is not is
// replaced by U+FFFD, as the JSON encoder does. Keys and stream names so
// reach the service the same in both protocols.
func cborTextBytes(s string) int {
	if utf8.ValidString(s) {
		return len(s)
	}
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			n += utf8.RuneLen(utf8.RuneError)
		} else {
			n += size
		}
		i += size
	}
	return n
}

// cborTextLen is the encoded length of s as a text string.
func cborTextLen(s string) int {
	n := cborTextBytes(s)
	return cborHeadLen(n) + n
}

// appendCBORText appends s as a text string.
func appendCBORText(dst []byte, s string) []byte {
	n := cborTextBytes(s)
	dst = appendCBORHead(dst, cborText, n)
	if n == len(s) {
		return append(dst, s...)
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// putRecordsCBORLen is the exact length of the body appendPutRecordsCBOR
// writes for entries, so the buffer grows at most once per request.
func putRecordsCBORLen(stream string, byARN bool, entries []entry) int {
	n := 1 + len(cborStreamName) // the map's head
	if byARN {
		n = 1 + len(cborStreamARN)
	}
	n += cborTextLen(stream) + len(cborRecords) + cborHeadLen(len(entries))
	for i := range entries {
		e := &entries[i]
		data := e.dataLen()
		n += 1 + len(cborData) + cborHeadLen(data) + data + len(cborPartitionKey)
		if e.key == "" {
			n += 1 + derivedKeyLen
		} else {
			n += cborTextLen(e.key)
		}
		if e.hash != "" {
			n += len(cborHashKey) + cborTextLen(e.hash)
		}
	}
	return n
}

// appendPutRecordsCBOR appends the CBOR body of a PutRecords call for
// entries to dst and returns it, like appendPutRecordsBody does in JSON:
// entries without a partition key get one from ks, written straight into
// the body, and packed entries are built by b (which may be nil when there
// are none).
func appendPutRecordsCBOR(dst []byte, stream string, byARN bool, entries []entry, ks *keySource, b *builder) []byte {
	dst = slices.Grow(dst, putRecordsCBORLen(stream, byARN, entries))
	dst = append(dst, cborMap|2)
	if byARN {
		dst = append(dst, cborStreamARN...)
	} else {
		dst = append(dst, cborStreamName...)
	}
	dst = appendCBORText(dst, stream)
	dst = append(dst, cborRecords...)
	dst = appendCBORHead(dst, cborArray, len(entries))
	for i := range entries {
		e := &entries[i]
		if e.hash == "" {
			dst = append(dst, cborMap|2)
		} else {
			dst = append(dst, cborMap|3)
		}
		dst = append(dst, cborData...)
		data := b.aggregate(e)
		dst = appendCBORHead(dst, cborBytes, len(data))
		dst = append(dst, data...)
		dst = append(dst, cborPartitionKey...)
		if e.key == "" {
			dst = append(dst, cborDerivedKey)
			dst = append(dst, "0123456789abcdef"...)
			ks.put(dst[len(dst)-derivedKeyLen:], e.data)
		} else {
			dst = appendCBORText(dst, e.key)
		}
		if e.hash != "" {
			dst = append(dst, cborHashKey...)
			dst = appendCBORText(dst, e.hash)
		}
	}
	return dst
}
