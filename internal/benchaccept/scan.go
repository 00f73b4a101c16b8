package benchaccept

import (
	"bytes"
	"encoding/base64"
	"errors"
	"hash/maphash"
	"unicode/utf16"
	"unicode/utf8"
)

// payloadUnit is the size Kinesis bills one PUT payload unit for: each
// record costs ceil((data + partition key) / 25 KiB) units.
const payloadUnit = 25 << 10

var (
	keyData         = []byte("Data")
	keyPartitionKey = []byte("PartitionKey")
	keyStreamName   = []byte("StreamName")
	keyStreamARN    = []byte("StreamARN")

	errSyntax = errors.New("malformed PutRecords body")
)

// putRecords is what one PutRecords body holds, in all its records.
type putRecords struct {
	stream      []byte // raw StreamName (or StreamARN) value; points into the body
	records     int64
	dataBytes   int64
	units       int64
	userRecords int64
	userBytes   int64 // data of the user records, when counting lines
}

// entry is what one record of a body holds: the acceptor stores some
// entries of a body and refuses others when it throttles.
type entry struct {
	dataBytes, units, userRecords, userBytes int64
	// hashEnd ends this entry's user records in scanner.hashes; they start
	// where the entry before it ended.
	hashEnd int
}

// scanner reads PutRecords bodies, in JSON (scan) or CBOR (scanCBOR), into
// totals and one entry per record. A scanner keeps its buffers between
// calls; it is not safe for concurrent use.
//
// The JSON scanner is not a JSON parser: it steps from string to string,
// treats a string followed by ':' as a key, and looks only at the string
// values of the keys it knows. Base64 and the keys it knows cannot contain
// an unescaped quote, so it never mistakes a value for a key.
type scanner struct {
	countLines bool
	// distinct hashes each user record into hashes (with seed), so the
	// acceptor can count distinct ones; it needs countLines.
	distinct bool
	seed     maphash.Seed
	visit    func([]byte) // s.hash, bound once rather than at each call

	scratch []byte // unescaped strings, CBOR chunks
	decoded []byte // decoded data, when counting lines
	entries []entry
	hashes  []uint64
	failed  []bool // by entry: refused by the acceptor (set by Acceptor.store)

	cur entry // the record being read
}

func newScanner(countLines, distinct bool, seed maphash.Seed) *scanner {
	s := &scanner{countLines: countLines || distinct, distinct: distinct, seed: seed}
	if distinct {
		s.visit = s.hash
	}
	return s
}

func (s *scanner) hash(rec []byte) { s.hashes = append(s.hashes, maphash.Bytes(s.seed, rec)) }

func (s *scanner) reset() {
	s.entries, s.hashes, s.cur = s.entries[:0], s.hashes[:0], entry{}
}

// data accounts for the decoded data of the current record.
func (s *scanner) data(d []byte) {
	if s.countLines {
		n, b := userRecords(d, s.visit)
		s.cur.userRecords, s.cur.userBytes = int64(n), int64(b)
	} else {
		s.cur.userRecords, s.cur.userBytes = 1, int64(len(d))
	}
}

// finish ends the current record, of dataLen bytes and a key of keyLen.
func (s *scanner) finish(p *putRecords, dataLen, keyLen int) {
	e := s.cur
	e.dataBytes = int64(dataLen)
	e.units = int64((dataLen + keyLen + payloadUnit - 1) / payloadUnit)
	e.hashEnd = len(s.hashes)
	s.entries = append(s.entries, e)
	s.cur = entry{}
	p.records++
	p.dataBytes += e.dataBytes
	p.units += e.units
	p.userRecords += e.userRecords
	p.userBytes += e.userBytes
}

func (s *scanner) scan(b []byte) (putRecords, error) {
	s.reset()
	var (
		p       putRecords
		dataLen = -1 // of the current record, until its partition key is seen
		keyLen  = -1
	)
	i := 0
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			break
		}
		start := i + q + 1
		end, esc := stringEnd(b, start)
		if end < 0 {
			return p, errSyntax
		}
		i = end + 1
		j := skipSpace(b, i)
		if j >= len(b) || b[j] != ':' {
			continue // a value we do not care about
		}
		j = skipSpace(b, j+1)
		if j >= len(b) || b[j] != '"' {
			i = j
			continue // a non-string value: the scan steps over it
		}
		key := b[start:end]
		if esc {
			key = nil // none of the keys we want has an escape
		}
		vstart := j + 1
		vend, vesc := stringEnd(b, vstart)
		if vend < 0 {
			return p, errSyntax
		}
		i = vend + 1
		val := b[vstart:vend]
		if vesc {
			var err error
			if s.scratch, err = unescape(s.scratch[:0], val); err != nil {
				return p, err
			}
			val = s.scratch
		}
		switch {
		case bytes.Equal(key, keyData):
			if dataLen >= 0 {
				return p, errSyntax // two Data values in one record
			}
			n, err := s.base64Data(val)
			if err != nil {
				return p, err
			}
			dataLen = n
			if keyLen >= 0 {
				s.finish(&p, dataLen, keyLen)
				dataLen, keyLen = -1, -1
			}
		case bytes.Equal(key, keyPartitionKey):
			if keyLen >= 0 {
				return p, errSyntax
			}
			keyLen = len(val)
			if dataLen >= 0 {
				s.finish(&p, dataLen, keyLen)
				dataLen, keyLen = -1, -1
			}
		case bytes.Equal(key, keyStreamName), bytes.Equal(key, keyStreamARN) && p.stream == nil:
			if vesc {
				return p, errSyntax // stream names have no characters to escape
			}
			p.stream = val
		}
	}
	if dataLen >= 0 || keyLen >= 0 {
		return p, errSyntax // a record without data or without a key
	}
	return p, nil
}

// base64Data accounts for one base64 Data value and returns its decoded
// length. The data is decoded only when its lines are counted: otherwise
// the length of the base64 says it.
func (s *scanner) base64Data(b64 []byte) (int, error) {
	n := len(b64)
	if n%4 != 0 {
		return 0, errSyntax
	}
	pad := 0
	for pad < 2 && pad < n && b64[n-1-pad] == '=' {
		pad++
	}
	size := n/4*3 - pad
	if !s.countLines {
		s.cur.userRecords, s.cur.userBytes = 1, int64(size)
		return size, nil
	}
	if cap(s.decoded) < size {
		s.decoded = make([]byte, size)
	}
	d, err := base64.StdEncoding.Decode(s.decoded[:size], b64)
	if err != nil {
		return 0, errSyntax
	}
	s.data(s.decoded[:d])
	return d, nil
}

// kplMagic starts every KPL aggregated record.
var kplMagic = []byte{0xF3, 0x89, 0x9A, 0xC2}

// userRecords counts the user records in one Kinesis record's data and
// their bytes: the inner records of a KPL aggregate, or else the lines of
// newline-joined records (a final newline does not start another record).
// visit, if not nil, is called with each user record (without its
// newline).
func userRecords(d []byte, visit func([]byte)) (n, bytes_ int) {
	if n, b, ok := kplRecords(d, visit); ok {
		return n, b
	}
	if len(d) == 0 {
		return 0, 0
	}
	if visit == nil {
		n = bytes.Count(d, []byte{'\n'})
		if d[len(d)-1] != '\n' {
			n++
		}
		return n, len(d)
	}
	for rest := d; len(rest) > 0; n++ {
		line, after, _ := bytes.Cut(rest, []byte{'\n'})
		visit(line)
		rest = after
	}
	return n, len(d)
}

// kplRecords counts the records (field 3) of a KPL aggregate and the bytes
// of their data (field 3 of each record): magic, an AggregatedRecord
// protobuf message, and a 16-byte MD5 of the message. It checks the
// framing only, not the digest. visit, if not nil, is called with each
// record's data once the whole aggregate is known to be well framed.
func kplRecords(d []byte, visit func([]byte)) (n, data int, ok bool) {
	if len(d) < len(kplMagic)+16 || !bytes.HasPrefix(d, kplMagic) {
		return 0, 0, false
	}
	m := d[len(kplMagic) : len(d)-16]
	each := func(fn func([]byte)) bool {
		return fields(m, func(field uint64, v []byte) bool {
			if field != 3 {
				return true
			}
			n++
			return fields(v, func(field uint64, v []byte) bool {
				if field == 3 {
					data += len(v)
					if fn != nil {
						fn(v)
					}
				}
				return true
			})
		})
	}
	if !each(nil) {
		return 0, 0, false
	}
	if visit != nil {
		n, data = 0, 0
		each(visit)
	}
	return n, data, true
}

// fields calls fn with each length-delimited field of the protobuf message
// m, and reports whether m is well framed and fn returned true for all.
func fields(m []byte, fn func(field uint64, v []byte) bool) bool {
	for len(m) > 0 {
		tag, k := uvarint(m)
		if k == 0 {
			return false
		}
		m = m[k:]
		switch tag & 7 {
		case 0: // varint
			if _, k = uvarint(m); k == 0 {
				return false
			}
			m = m[k:]
		case 1: // fixed64
			if len(m) < 8 {
				return false
			}
			m = m[8:]
		case 2: // length-delimited
			l, k := uvarint(m)
			if k == 0 || uint64(len(m)-k) < l {
				return false
			}
			if !fn(tag>>3, m[k:k+int(l)]) {
				return false
			}
			m = m[k+int(l):]
		case 5: // fixed32
			if len(m) < 4 {
				return false
			}
			m = m[4:]
		default:
			return false
		}
	}
	return true
}

// uvarint decodes a protobuf varint; k is 0 if b does not start with one.
func uvarint(b []byte) (v uint64, k int) {
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7F) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// stringEnd returns the index of the quote that closes the JSON string
// starting at b[start] (just after its opening quote), or -1, and whether
// the string holds escapes.
func stringEnd(b []byte, start int) (end int, escaped bool) {
	for i := start; ; {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return -1, false
		}
		j := i + q
		k := j
		for k > start && b[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 0 {
			return j, j > k || bytes.IndexByte(b[start:k], '\\') >= 0
		}
		i = j + 1 // an escaped quote
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// unescape appends the JSON string contents s, with escapes resolved, to dst.
func unescape(dst, s []byte) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(s) {
			return dst, errSyntax
		}
		switch s[i] {
		case '"', '\\', '/':
			dst = append(dst, s[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s[i+1:])
			if !ok {
				return dst, errSyntax
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					if r2, ok := hex4(s[i+3:]); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
							i += 6
						}
					}
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, errSyntax
		}
	}
	return dst, nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
