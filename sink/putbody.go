package sink

import (
	"encoding/base64"
	"slices"
	"unicode/utf8"
)

// Fixed parts of a PutRecords request body, in the Kinesis JSON 1.1
// protocol:
//
//	{"StreamName":"s","Records":[{"Data":"<base64>","PartitionKey":"k"},...]}
const (
	bodyByName       = `{"StreamName":`
	bodyByARN        = `{"StreamARN":`
	bodyRecords      = `,"Records":[`
	bodyData         = `{"Data":"`
	bodyPartitionKey = `","PartitionKey":`
	bodyEnd          = `]}`
)

// putRecordsBodyLen is the exact length of the body appendPutRecordsBody
// writes for entries, so the buffer grows at most once per request.
func putRecordsBodyLen(stream string, byARN bool, entries []entry) int {
	n := len(bodyByName)
	if byARN {
		n = len(bodyByARN)
	}
	n += jsonStringLen(stream) + len(bodyRecords) + len(bodyEnd)
	if len(entries) > 0 {
		n += len(entries) - 1 // commas
	}
	for i := range entries {
		e := &entries[i]
		n += len(bodyData) + base64.StdEncoding.EncodedLen(len(e.data)) + len(bodyPartitionKey) + 1 // closing brace
		if e.key == "" {
			n += derivedKeyLen + 2
		} else {
			n += jsonStringLen(e.key)
		}
	}
	return n
}

// appendPutRecordsBody appends the body of a PutRecords call for entries
// to dst and returns it. Entries without a partition key get one from ks,
// written straight into the body.
func appendPutRecordsBody(dst []byte, stream string, byARN bool, entries []entry, ks *keySource) []byte {
	dst = slices.Grow(dst, putRecordsBodyLen(stream, byARN, entries))
	if byARN {
		dst = append(dst, bodyByARN...)
	} else {
		dst = append(dst, bodyByName...)
	}
	dst = appendJSONString(dst, stream)
	dst = append(dst, bodyRecords...)
	for i := range entries {
		e := &entries[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, bodyData...)
		dst = base64.StdEncoding.AppendEncode(dst, e.data)
		dst = append(dst, bodyPartitionKey...)
		if e.key == "" {
			dst = append(dst, `"0123456789abcdef"`...)
			end := len(dst) - 1
			ks.put(dst[end-derivedKeyLen:end], e.data)
		} else {
			dst = appendJSONString(dst, e.key)
		}
		dst = append(dst, '}')
	}
	return append(dst, bodyEnd...)
}

// appendJSONString appends s as a JSON string. Bytes that are not valid
// UTF-8 become U+FFFD, as encoding/json does, so the body stays valid JSON
// whatever the key's source.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonStringLen is len(appendJSONString(nil, s)).
func jsonStringLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c >= 0x20 && c != '"' && c != '\\':
				n++
			case c == '"', c == '\\', c == '\n', c == '\r', c == '\t':
				n += 2
			default:
				n += 6
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			n += 6
			i++
			continue
		}
		n += size
		i += size
	}
	return n
}
