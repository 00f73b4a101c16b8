package benchaccept

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"time"
)

// The small part of CBOR (RFC 8949) the Kinesis CBOR protocol needs: a
// decoder that walks items in place without building values, and an
// encoder that appends items to a byte slice. Both take definite and
// indefinite lengths; the encoder writes definite ones only.

// CBOR major types (RFC 8949, section 3.1).
const (
	cborUint   = 0
	cborNegInt = 1
	cborBytes  = 2
	cborText   = 3
	cborArray  = 4
	cborMap    = 5
	cborTag    = 6
	cborSimple = 7 // false, true, null, undefined, floats, break
)

const (
	cborIndefinite = 31   // additional information: indefinite length, or break
	cborBreak      = 0xFF // ends an indefinite-length item
	cborMaxDepth   = 32   // nesting the decoder follows before it gives up
	// cborEpochTag marks a number of seconds since the epoch (RFC 8949,
	// 3.4.2): how the protocol sends timestamps.
	cborEpochTag = 1
)

var errCBOR = errors.New("malformed CBOR")

// cborDecoder reads the CBOR items of b from offset i.
type cborDecoder struct {
	b []byte
	i int
}

// head reads an item's initial byte and argument. For byte and text
// strings, arrays and maps, indef reports an indefinite length (arg is
// then 0); for major type 7 it reports a break. The argument of a float is
// its bits.
func (d *cborDecoder) head() (major byte, arg uint64, indef bool, err error) {
	if d.i >= len(d.b) {
		return 0, 0, false, errCBOR
	}
	c := d.b[d.i]
	d.i++
	major, info := c>>5, c&0x1F
	switch {
	case info < 24:
		return major, uint64(info), false, nil
	case info == cborIndefinite:
		switch major {
		case cborBytes, cborText, cborArray, cborMap, cborSimple:
			return major, 0, true, nil
		}
		return 0, 0, false, errCBOR
	case info > 27: // 28-30 are reserved
		return 0, 0, false, errCBOR
	}
	n := 1 << (info - 24) // 1, 2, 4 or 8 bytes follow
	if len(d.b)-d.i < n {
		return 0, 0, false, errCBOR
	}
	p := d.b[d.i : d.i+n]
	d.i += n
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
}

// more reports whether another element of a container follows. n holds
// the elements left of a definite-length container (pairs count twice for
// a map), and is counted down; an indefinite one ends at a break, which
// more consumes.
func (d *cborDecoder) more(n *uint64, indef bool) (bool, error) {
	if indef {
		if d.i >= len(d.b) {
			return false, errCBOR
		}
		if d.b[d.i] == cborBreak {
			d.i++
			return false, nil
		}
		return true, nil
	}
	if *n == 0 {
		return false, nil
	}
	*n--
	return true, nil
}

// container checks a definite container's length against the bytes left
// (each element takes at least one), so a forged length cannot make a
// reader loop for long, and returns the number of elements to read.
func (d *cborDecoder) container(major byte, arg uint64, indef bool) (uint64, error) {
	if indef {
		return 0, nil
	}
	if major == cborMap {
		if arg > math.MaxUint64/2 {
			return 0, errCBOR
		}
		arg *= 2
	}
	if arg > uint64(len(d.b)-d.i) {
		return 0, errCBOR
	}
	return arg, nil
}

// str returns the contents of a byte or text string whose head was just
// read. A definite string points into b; the chunks of an indefinite one
// are appended to scratch, which is returned grown.
func (d *cborDecoder) str(major byte, arg uint64, indef bool, scratch []byte) (val, grown []byte, err error) {
	if !indef {
		if arg > uint64(len(d.b)-d.i) {
			return nil, scratch, errCBOR
		}
		v := d.b[d.i : d.i+int(arg)]
		d.i += int(arg)
		return v, scratch, nil
	}
	start := len(scratch)
	for {
		if d.i >= len(d.b) {
			return nil, scratch, errCBOR
		}
		if d.b[d.i] == cborBreak {
			d.i++
			return scratch[start:], scratch, nil
		}
		// Each chunk is a definite string of the same major type.
		m, n, ind, err := d.head()
		if err != nil || m != major || ind || n > uint64(len(d.b)-d.i) {
			return nil, scratch, errCBOR
		}
		scratch = append(scratch, d.b[d.i:d.i+int(n)]...)
		d.i += int(n)
	}
}

// skip steps over one whole item.
func (d *cborDecoder) skip(depth int) error {
	if depth > cborMaxDepth {
		return errCBOR
	}
	major, arg, indef, err := d.head()
	if err != nil {
		return err
	}
	switch major {
	case cborBytes, cborText:
		_, _, err = d.str(major, arg, indef, nil)
		return err
	case cborArray, cborMap:
		n, err := d.container(major, arg, indef)
		if err != nil {
			return err
		}
		for {
			ok, err := d.more(&n, indef)
			if err != nil || !ok {
				return err
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
		}
	case cborTag:
		return d.skip(depth + 1)
	case cborSimple:
		if indef {
			return errCBOR // a break outside an indefinite container
		}
	}
	return nil // integers, simple values and floats are all head
}

// text reads a text string (a map key, a partition key); indefinite
// strings are assembled in scratch.
func (d *cborDecoder) text(scratch []byte) (val, grown []byte, err error) {
	major, arg, indef, err := d.head()
	if err != nil {
		return nil, scratch, err
	}
	if major != cborText {
		return nil, scratch, errCBOR
	}
	return d.str(major, arg, indef, scratch)
}

// appendCBORHead appends an item's initial byte and argument in the
// shortest form.
func appendCBORHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= math.MaxUint8:
		return append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

func appendCBORText(b []byte, s string) []byte {
	return append(appendCBORHead(b, cborText, uint64(len(s))), s...)
}

// appendCBORValue appends v, one of the types the canned answers are made
// of: strings, integers, booleans, nil, times (epoch seconds with tag 1),
// and slices and string-keyed maps of these. Map keys are written in
// sorted order, so an answer's bytes do not change from call to call.
func appendCBORValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, cborSimple<<5|22)
	case bool:
		if v {
			return append(b, cborSimple<<5|21)
		}
		return append(b, cborSimple<<5|20)
	case string:
		return appendCBORText(b, v)
	case []byte:
		return append(appendCBORHead(b, cborBytes, uint64(len(v))), v...)
	case int:
		return appendCBORInt(b, int64(v))
	case int64:
		return appendCBORInt(b, v)
	case uint64:
		return appendCBORHead(b, cborUint, v)
	case time.Time:
		return appendCBORInt(appendCBORHead(b, cborTag, cborEpochTag), v.Unix())
	case []string:
		b = appendCBORHead(b, cborArray, uint64(len(v)))
		for _, s := range v {
			b = appendCBORText(b, s)
		}
		return b
	case []any:
		b = appendCBORHead(b, cborArray, uint64(len(v)))
		for _, e := range v {
			b = appendCBORValue(b, e)
		}
		return b
	case map[string]string:
		b = appendCBORHead(b, cborMap, uint64(len(v)))
		for _, k := range sortedKeys(v) {
			b = appendCBORText(appendCBORText(b, k), v[k])
		}
		return b
	case map[string]any:
		b = appendCBORHead(b, cborMap, uint64(len(v)))
		for _, k := range sortedKeys(v) {
			b = appendCBORValue(appendCBORText(b, k), v[k])
		}
		return b
	}
	panic("benchaccept: no CBOR encoding for this type") // only the fixed answers use it
}

func appendCBORInt(b []byte, v int64) []byte {
	if v < 0 {
		return appendCBORHead(b, cborNegInt, uint64(-(v + 1)))
	}
	return appendCBORHead(b, cborUint, uint64(v))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
