// Writing PutRecords request bodies in JSON, with their exact length known
// first.

package sink

import (
	"encoding/base64"
	"slices"

	"github.com/kinetail/kinetail/transform"
)

// Fixed parts of a PutRecords request body, in the Kinesis JSON 1.1
// protocol:
//
//	{"StreamName":"s","Records":[{"Data":"<base64>","PartitionKey":"k","ExplicitHashKey":"h"},...]}
//
// ExplicitHashKey only when the entry has one.
const (
	bodyByName       = `{"StreamName":`
	bodyByARN        = `{"StreamARN":`
	bodyRecords      = `,"Records":[`
	bodyData         = `{"Data":"`
	bodyPartitionKey = `","PartitionKey":`
	bodyHashKey      = `,"ExplicitHashKey":`
	bodyEnd          = `]}`
)

// putRecordsBodyLen is the exact length of the body appendPutRecordsBody
// writes for entries, so the buffer grows at most once per request.
func putRecordsBodyLen(stream string, byARN bool, entries []entry) int {
	n := len(bodyByName)
	if byARN {
		n = len(bodyByARN)
	}
	n += transform.JSONStringLen([]byte(stream)) + len(bodyRecords) + len(bodyEnd)
	if len(entries) > 0 {
		n += len(entries) - 1 // commas
	}
	for i := range entries {
		e := &entries[i]
		n += len(bodyData) + base64.StdEncoding.EncodedLen(e.dataLen()) + len(bodyPartitionKey) + 1 // closing brace
		if e.key == "" {
			n += derivedKeyLen + 2
		} else {
			n += transform.JSONStringLen([]byte(e.key))
		}
		if e.hash != "" {
			n += len(bodyHashKey) + transform.JSONStringLen([]byte(e.hash))
		}
	}
	return n
}

// appendPutRecordsBody appends the body of a PutRecords call for entries
// to dst and returns it. Entries without a partition key get one from ks,
// written straight into the body; packed entries are built by b (which may
// be nil when there are none).
func appendPutRecordsBody(dst []byte, stream string, byARN bool, entries []entry, ks *keySource, b *builder) []byte {
	dst = slices.Grow(dst, putRecordsBodyLen(stream, byARN, entries))
	if byARN {
		dst = append(dst, bodyByARN...)
	} else {
		dst = append(dst, bodyByName...)
	}
	dst = transform.AppendJSONString(dst, []byte(stream))
	dst = append(dst, bodyRecords...)
	for i := range entries {
		e := &entries[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, bodyData...)
		dst = base64.StdEncoding.AppendEncode(dst, b.aggregate(e))
		dst = append(dst, bodyPartitionKey...)
		if e.key == "" {
			dst = append(dst, `"0123456789abcdef"`...)
			end := len(dst) - 1
			ks.put(dst[end-derivedKeyLen:end], e.data)
		} else {
			dst = transform.AppendJSONString(dst, []byte(e.key))
		}
		if e.hash != "" {
			dst = append(dst, bodyHashKey...)
			dst = transform.AppendJSONString(dst, []byte(e.hash))
		}
		dst = append(dst, '}')
	}
	return append(dst, bodyEnd...)
}
