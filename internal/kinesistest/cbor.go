package kinesistest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"
)

// A small CBOR (RFC 8949) decoder and encoder of its own, so that the fault
// server checks the sink's CBOR bodies without sharing any code with the
// sink's encoder. It covers what AWS's JSON-to-CBOR mapping uses: maps with
// text keys, arrays, text and byte strings, integers, floats, booleans,
// null, and tags (whose content is kept, the tag dropped).

// CBORContentType is the Content-Type of the Kinesis API in CBOR.
const CBORContentType = "application/x-amz-cbor-1.1"

// maxCBORNesting bounds how deep decoded values may nest.
const maxCBORNesting = 64

// DecodeCBOR decodes b, which must hold exactly one CBOR item, into Go
// values: map[string]any, []any, string, []byte, uint64 (major type 0),
// int64 (major type 1), float64, bool and nil (null and undefined). Text
// must be valid UTF-8 and map keys must be distinct text strings.
func DecodeCBOR(b []byte) (any, error) {
	d := cborDecoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if _, ok := v.(cborBreakMark); ok {
		return nil, errors.New("cbor: break outside an indefinite-length item")
	}
	if d.i != len(b) {
		return nil, fmt.Errorf("cbor: %d bytes after the item", len(b)-d.i)
	}
	return v, nil
}

type cborDecoder struct {
	b []byte
	i int
}

var errCBORShort = errors.New("cbor: unexpected end of input")

// cborBreakMark is returned by value for a break byte, which only
// indefinite-length items may contain.
type cborBreakMark struct{}

func (d *cborDecoder) byte() (byte, error) {
	if d.i >= len(d.b) {
		return 0, errCBORShort
	}
	c := d.b[d.i]
	d.i++
	return c, nil
}

// arg reads the argument of an initial byte whose low five bits are info;
// indef reports info 31.
func (d *cborDecoder) arg(info byte) (n uint64, indef bool, err error) {
	switch {
	case info < 24:
		return uint64(info), false, nil
	case info == 24, info == 25, info == 26, info == 27:
		size := 1 << (info - 24)
		if len(d.b)-d.i < size {
			return 0, false, errCBORShort
		}
		for _, c := range d.b[d.i : d.i+size] {
			n = n<<8 | uint64(c)
		}
		d.i += size
		return n, false, nil
	case info == 31:
		return 0, true, nil
	}
	return 0, false, fmt.Errorf("cbor: reserved additional information %d", info)
}

func (d *cborDecoder) value(depth int) (any, error) {
	if depth > maxCBORNesting {
		return nil, errors.New("cbor: nested too deeply")
	}
	c, err := d.byte()
	if err != nil {
		return nil, err
	}
	major, info := c>>5, c&31
	n, indef, err := d.arg(info)
	if err != nil {
		return nil, err
	}
	if indef && (major == 0 || major == 1 || major == 6) {
		return nil, fmt.Errorf("cbor: major type %d cannot have an indefinite length", major)
	}
	switch major {
	case 0:
		return n, nil
	case 1:
		if n > math.MaxInt64 {
			return nil, errors.New("cbor: negative integer out of range")
		}
		return -1 - int64(n), nil
	case 2, 3:
		var s []byte
		if indef {
			if s, err = d.chunks(major); err != nil {
				return nil, err
			}
		} else {
			if n > uint64(len(d.b)-d.i) {
				return nil, errCBORShort
			}
			s = slices.Clone(d.b[d.i : d.i+int(n)])
			d.i += int(n)
		}
		if major == 2 {
			if s == nil {
				s = []byte{}
			}
			return s, nil
		}
		if !utf8.Valid(s) {
			return nil, errors.New("cbor: text string is not valid UTF-8")
		}
		return string(s), nil
	case 4:
		var out []any
		for i := uint64(0); indef || i < n; i++ {
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if _, ok := v.(cborBreakMark); ok {
				if !indef {
					return nil, errors.New("cbor: break inside a definite-length array")
				}
				break
			}
			out = append(out, v)
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	case 5:
		out := map[string]any{}
		for i := uint64(0); indef || i < n; i++ {
			k, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if _, ok := k.(cborBreakMark); ok {
				if !indef {
					return nil, errors.New("cbor: break inside a definite-length map")
				}
				break
			}
			key, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("cbor: map key %v is not a text string", k)
			}
			if _, dup := out[key]; dup {
				return nil, fmt.Errorf("cbor: map key %q appears twice", key)
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if _, ok := v.(cborBreakMark); ok {
				return nil, fmt.Errorf("cbor: map key %q has no value", key)
			}
			out[key] = v
		}
		return out, nil
	case 6:
		// The tag's content; tags carry no meaning here.
		v, err := d.value(depth + 1)
		if _, ok := v.(cborBreakMark); ok {
			return nil, errors.New("cbor: tag of a break")
		}
		return v, err
	}
	// Major type 7.
	switch {
	case indef:
		return cborBreakMark{}, nil
	case info == 20:
		return false, nil
	case info == 21:
		return true, nil
	case info == 22, info == 23:
		return nil, nil
	case info == 25:
		return halfFloat(uint16(n)), nil
	case info == 26:
		return float64(math.Float32frombits(uint32(n))), nil
	case info == 27:
		return math.Float64frombits(n), nil
	}
	return nil, fmt.Errorf("cbor: unsupported simple value %d", n)
}

// chunks reads the chunks of an indefinite-length string of major type
// major, up to the break, and joins them.
func (d *cborDecoder) chunks(major byte) ([]byte, error) {
	out := []byte{}
	for {
		c, err := d.byte()
		if err != nil {
			return nil, err
		}
		if c == 0xff {
			return out, nil
		}
		n, indef, err := d.arg(c & 31)
		if err != nil {
			return nil, err
		}
		if c>>5 != major || indef {
			return nil, errors.New("cbor: bad chunk in an indefinite-length string")
		}
		if n > uint64(len(d.b)-d.i) {
			return nil, errCBORShort
		}
		out = append(out, d.b[d.i:d.i+int(n)]...)
		d.i += int(n)
	}
}

// halfFloat converts an IEEE 754 half-precision number.
func halfFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, frac := int(h>>10&0x1f), float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 31:
		if frac == 0 {
			return sign * math.Inf(1)
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1024+frac, exp-25)
}

// AppendCBOR appends v in CBOR: nil, bool, string, []byte, the integer
// types, float64, []any, and map[string]any (keys in sorted order, so the
// output is repeatable). Structures are not supported: build maps.
func AppendCBOR(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, 0xf6)
	case bool:
		if v {
			return append(dst, 0xf5)
		}
		return append(dst, 0xf4)
	case string:
		return append(cborHead(dst, 3, uint64(len(v))), v...)
	case []byte:
		return append(cborHead(dst, 2, uint64(len(v))), v...)
	case int:
		return appendCBORInt(dst, int64(v))
	case int64:
		return appendCBORInt(dst, v)
	case uint64:
		return cborHead(dst, 0, v)
	case float64:
		return binary.BigEndian.AppendUint64(append(dst, 0xfb), math.Float64bits(v))
	case []any:
		dst = cborHead(dst, 4, uint64(len(v)))
		for _, e := range v {
			dst = AppendCBOR(dst, e)
		}
		return dst
	case map[string]any:
		dst = cborHead(dst, 5, uint64(len(v)))
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			dst = AppendCBOR(dst, k)
			dst = AppendCBOR(dst, v[k])
		}
		return dst
	}
	panic(fmt.Sprintf("kinesistest: AppendCBOR of %T", v))
}

func appendCBORInt(dst []byte, v int64) []byte {
	if v < 0 {
		return cborHead(dst, 1, uint64(-1-v))
	}
	return cborHead(dst, 0, uint64(v))
}

// cborHead appends an initial byte of major type major with argument n.
func cborHead(dst []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(dst, m|byte(n))
	case n <= math.MaxUint8:
		return append(dst, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, m|27), n)
}
