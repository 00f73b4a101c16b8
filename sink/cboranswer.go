// Reading put answers and error answers in CBOR, without building values.

package sink

import (
	"encoding/binary"
	"errors"
)

// Answers in CBOR carry the members of the JSON answer (see parse):
//
//	{"FailedRecordCount": 1, "Records": [{"SequenceNumber": "..", "ShardId": ".."}, {"ErrorCode": "..", "ErrorMessage": ".."}], "EncryptionType": "NONE"}
//
// and errors {"__type": "..", "message": ".."}. The reader accepts any
// well-formed CBOR (definite or indefinite lengths, tags, floats, members
// in any order, null for an absent string) and decodes only the members the
// sink needs; the rest is skipped without being copied.

var errMalformedCBOR = errors.New("malformed CBOR")

// maxCBORDepth bounds the nesting skip follows: answers nest four levels,
// and no input can make the reader recurse without end.
const maxCBORDepth = 32

// isCBOR reports whether an answer body is CBOR rather than JSON: every
// answer is a map, which in CBOR starts with a byte of major type 5, and in
// JSON with '{' (or white space), which CBOR reads as a text string.
func isCBOR(b []byte) bool { return len(b) > 0 && b[0]&0xe0 == cborMap }

// cborReader reads CBOR from b without building values.
type cborReader struct {
	b []byte
	i int
}

// head reads an item's initial byte and argument. For an indefinite length
// indef is true and arg 0; for major type 7, arg is the simple value or the
// float's bits.
func (r *cborReader) head() (major byte, arg uint64, indef bool, err error) {
	if r.i >= len(r.b) {
		return 0, 0, false, errMalformedCBOR
	}
	c := r.b[r.i]
	r.i++
	major, info := c&0xe0, c&0x1f
	switch {
	case info < 24:
		return major, uint64(info), false, nil
	case info <= 27:
		n := 1 << (info - 24)
		if len(r.b)-r.i < n {
			return 0, 0, false, errMalformedCBOR
		}
		p := r.b[r.i : r.i+n]
		r.i += n
		switch n {
		case 1:
			arg = uint64(p[0])
		case 2:
			arg = uint64(binary.BigEndian.Uint16(p))
		case 4:
			arg = uint64(binary.BigEndian.Uint32(p))
		default:
			arg = binary.BigEndian.Uint64(p)
		}
		return major, arg, false, nil
	case info == cborIndefinite:
		switch major {
		case cborBytes, cborText, cborArray, cborMap, cborOther:
			return major, 0, true, nil
		}
	}
	return 0, 0, false, errMalformedCBOR
}

// atBreak consumes a break byte if one is next.
func (r *cborReader) atBreak() bool {
	if r.i < len(r.b) && r.b[r.i] == cborBreak {
		r.i++
		return true
	}
	return false
}

// count reads the head of a container of major type want and returns its
// number of items (pairs for a map), or -1 for an indefinite length.
func (r *cborReader) count(want byte) (int, error) {
	major, n, indef, err := r.head()
	switch {
	case err != nil:
		return 0, err
	case major != want:
		return 0, errMalformedCBOR
	case indef:
		return -1, nil
	case n > uint64(len(r.b)-r.i):
		// Every item takes at least a byte: a longer count is a lie, and
		// could not be looped over.
		return 0, errMalformedCBOR
	}
	return int(n), nil
}

// items calls item for each element of a container whose count n was read
// by count: n times, or until a break for an indefinite length.
func (r *cborReader) items(n int, item func() error) error {
	for i := 0; n < 0 || i < n; i++ {
		if n < 0 && r.atBreak() {
			return nil
		}
		if err := item(); err != nil {
			return err
		}
	}
	return nil
}

// mapOf reads a map, calling member with each text key (valid until the
// next call) positioned before the member's value, which member must
// consume. Members with other keys are skipped.
func (r *cborReader) mapOf(member func(key []byte) error, scratch *[]byte) error {
	n, err := r.count(cborMap)
	if err != nil {
		return err
	}
	return r.items(n, func() error {
		if r.i < len(r.b) && r.b[r.i]&0xe0 != cborText {
			if err := r.skip(0); err != nil {
				return err
			}
			return r.skip(0)
		}
		key, err := r.text(scratch)
		if err != nil {
			return err
		}
		return member(key)
	})
}

// arrayOf reads an array, calling elem positioned before each element.
func (r *cborReader) arrayOf(elem func() error) error {
	n, err := r.count(cborArray)
	if err != nil {
		return err
	}
	return r.items(n, elem)
}

// text reads a text string. A definite one is returned in place; the
// chunks of an indefinite one are joined in scratch.
func (r *cborReader) text(scratch *[]byte) ([]byte, error) {
	major, n, indef, err := r.head()
	switch {
	case err != nil:
		return nil, err
	case major != cborText:
		return nil, errMalformedCBOR
	case !indef:
		return r.take(n)
	}
	*scratch = (*scratch)[:0]
	for !r.atBreak() {
		major, n, indef, err := r.head()
		if err != nil || major != cborText || indef {
			return nil, errMalformedCBOR
		}
		chunk, err := r.take(n)
		if err != nil {
			return nil, err
		}
		*scratch = append(*scratch, chunk...)
	}
	return *scratch, nil
}

// nullableText reads a text string, or null or undefined as nil.
func (r *cborReader) nullableText(scratch *[]byte) ([]byte, error) {
	if r.i < len(r.b) && (r.b[r.i] == cborNull || r.b[r.i] == cborUndefined) {
		r.i++
		return nil, nil
	}
	return r.text(scratch)
}

// take returns the next n bytes.
func (r *cborReader) take(n uint64) ([]byte, error) {
	if n > uint64(len(r.b)-r.i) {
		return nil, errMalformedCBOR
	}
	p := r.b[r.i : r.i+int(n)]
	r.i += int(n)
	return p, nil
}

// uint reads an unsigned integer.
func (r *cborReader) uint() (int, error) {
	major, n, _, err := r.head()
	if err != nil || major != cborUint || n > 1<<40 {
		return 0, errMalformedCBOR
	}
	return int(n), nil
}

// skip skips one item of any kind, depth containers deep.
func (r *cborReader) skip(depth int) error {
	if depth > maxCBORDepth {
		return errMalformedCBOR
	}
	major, n, indef, err := r.head()
	for err == nil && major == cborTag {
		major, n, indef, err = r.head() // the tagged item
	}
	if err != nil {
		return err
	}
	switch major {
	case cborBytes, cborText:
		if !indef {
			_, err := r.take(n)
			return err
		}
		for !r.atBreak() {
			cm, cn, cindef, err := r.head()
			if err != nil || cm != major || cindef {
				return errMalformedCBOR
			}
			if _, err := r.take(cn); err != nil {
				return err
			}
		}
		return nil
	case cborArray, cborMap:
		items := -1
		if !indef {
			if n > uint64(len(r.b)-r.i) {
				return errMalformedCBOR
			}
			items = int(n)
			if major == cborMap {
				items *= 2
			}
		}
		for i := 0; items < 0 || i < items; i++ {
			if items < 0 && r.atBreak() {
				return nil
			}
			if err := r.skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case cborOther:
		if indef {
			return errMalformedCBOR // a break where no item may end
		}
	}
	return nil // integers, simple values, floats: head() read them
}

// parseCBOR is parse for an answer in CBOR.
func (a *putAnswer) parseCBOR(p *protocol, b []byte) error {
	count, records := p.countMember, p.recordsMember
	r := cborReader{b: b}
	sawCount := false
	err := r.mapOf(func(key []byte) error {
		switch {
		case string(key) == count:
			n, err := r.uint()
			a.failed, sawCount = n, true
			return err
		case string(key) == records:
			a.status = a.status[:0]
			return r.arrayOf(func() error { return a.cborEntry(&r) })
		}
		return r.skip(0)
	}, &a.scratch)
	if err != nil {
		return err
	}
	if r.i != len(b) {
		return errMalformedCBOR
	}
	return a.check(sawCount, count)
}

// cborEntry reads one element of Records.
func (a *putAnswer) cborEntry(r *cborReader) error {
	if r.storedEntry() {
		a.status = append(a.status, noFailure)
		return nil
	}
	var code, msg []byte
	var codeBuf, msgBuf []byte // only for indefinite-length strings, which are rare
	err := r.mapOf(func(key []byte) error {
		var err error
		switch string(key) {
		case "ErrorCode":
			code, err = r.nullableText(&codeBuf)
		case "ErrorMessage":
			msg, err = r.nullableText(&msgBuf)
		default:
			err = r.skip(1)
		}
		return err
	}, &a.scratch)
	if err != nil {
		return err
	}
	st := noFailure
	if code != nil {
		var str string
		str, st = a.classify(code)
		a.tally(str, st)
		if a.code == "" {
			a.code, a.msg = str, string(msg)
		}
	}
	a.status = append(a.status, st)
	return nil
}

// storedEntry reads an entry that is a map of definite text keys and values
// with no ErrorCode or ErrorMessage: a stored record's, which nearly every
// entry is, read here without a call per item. For any other entry it reads
// nothing and reports false, and cborEntry reads it in full.
func (r *cborReader) storedEntry() bool {
	b := r.b
	n, i, ok := shortHead(b, r.i, cborMap)
	if !ok {
		return false
	}
	for ; n > 0; n-- {
		var k, v int
		if k, i, ok = shortHead(b, i, cborText); !ok || k > len(b)-i {
			return false
		}
		if key := b[i : i+k]; string(key) == "ErrorCode" || string(key) == "ErrorMessage" {
			return false
		}
		i += k
		if v, i, ok = shortHead(b, i, cborText); !ok || v > len(b)-i {
			return false
		}
		i += v
	}
	r.i = i
	return true
}

// shortHead reads the head at b[i] of an item of major type want with a
// definite argument below 65,536, returning the argument and the offset
// after the head.
func shortHead(b []byte, i int, want byte) (arg, next int, ok bool) {
	if i >= len(b) || b[i]&0xe0 != want {
		return 0, i, false
	}
	switch info := int(b[i] & 0x1f); {
	case info < 24:
		return info, i + 1, true
	case info == 24 && i+1 < len(b):
		return int(b[i+1]), i + 2, true
	case info == 25 && i+2 < len(b):
		return int(binary.BigEndian.Uint16(b[i+1:])), i + 3, true
	}
	return 0, i, false
}

// cborErrorMembers returns an error answer's __type, code and message
// members, as parseErrorAnswer reads them from JSON.
func cborErrorMembers(body []byte) (typ, code, msg string) {
	r := cborReader{b: body}
	var scratch, vbuf []byte
	_ = r.mapOf(func(key []byte) error {
		isType, isCode, isMsg := string(key) == "__type", equalFoldASCII(key, "code"), equalFoldASCII(key, "message")
		if !isType && !isCode && !isMsg {
			return r.skip(0)
		}
		v, err := r.nullableText(&vbuf)
		if err != nil {
			return err
		}
		switch {
		case isType:
			typ = string(v)
		case isCode:
			code = string(v)
		default:
			msg = string(v)
		}
		return nil
	}, &scratch)
	return typ, code, msg
}

// equalFoldASCII reports whether b is s, ignoring ASCII case.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
