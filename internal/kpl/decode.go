package kpl

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

var (
	// ErrNotAggregated means the data does not start with the magic bytes
	// or is too short to hold an aggregate: it is a plain Kinesis record.
	ErrNotAggregated = errors.New("kpl: not an aggregated record")
	// ErrCorrupt means the data looks like an aggregate but its digest,
	// protobuf encoding or table indexes are wrong.
	ErrCorrupt = errors.New("kpl: corrupt aggregated record")
)

// Record is one decoded user record.
type Record struct {
	PartitionKey    string
	ExplicitHashKey string // empty if the record has none
	Data            []byte
}

// IsAggregated reports whether data starts with the magic bytes and is long
// enough to hold the digest after them.
func IsAggregated(data []byte) bool {
	return len(data) >= MagicLen+DigestLen && [MagicLen]byte(data[:MagicLen]) == magic
}

// Decode checks the magic and the digest of an aggregated record and
// returns its user records in order. Their Data fields alias data.
// Input that is not an aggregate gives an error wrapping ErrNotAggregated.
// Decode is strict: a bad digest, malformed protobuf, a wrong wire type for
// a known field, a missing required field or a table index out of range
// give an error wrapping ErrCorrupt. Unknown fields are skipped, as
// protobuf requires.
func Decode(data []byte) ([]Record, error) {
	if !IsAggregated(data) {
		return nil, ErrNotAggregated
	}
	msg := data[MagicLen : len(data)-DigestLen]
	if sum := md5.Sum(msg); !bytes.Equal(sum[:], data[len(data)-DigestLen:]) {
		return nil, fmt.Errorf("%w: MD5 digest does not match the message", ErrCorrupt)
	}

	// The tables may follow the records on the wire, so a first pass reads
	// the tables and counts the records, and a second decodes them.
	var partitionKeys, hashKeys []string
	count := 0
	err := walk(msg, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num < 1 || num > 3 {
			return nil
		}
		if typ != protowire.BytesType {
			return fmt.Errorf("AggregatedRecord field %d has wire type %d, want bytes", num, typ)
		}
		switch num {
		case 1:
			partitionKeys = append(partitionKeys, string(v))
		case 2:
			hashKeys = append(hashKeys, string(v))
		case 3:
			count++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}

	recs := make([]Record, 0, count)
	err = walk(msg, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
		if num != 3 {
			return nil
		}
		r, err := decodeRecord(v, partitionKeys, hashKeys)
		if err != nil {
			return fmt.Errorf("record %d: %w", len(recs), err)
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return recs, nil
}

// decodeRecord decodes one Record message and resolves its indexes.
func decodeRecord(msg []byte, partitionKeys, hashKeys []string) (Record, error) {
	var (
		pkIndex, ehkIndex uint64
		havePK, haveEHK   bool
		haveData          bool
		data              []byte
	)
	err := walk(msg, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		var want protowire.Type
		switch num {
		case 1, 2:
			want = protowire.VarintType
		case 3, 4:
			want = protowire.BytesType
		default:
			return nil
		}
		if typ != want {
			return fmt.Errorf("field %d has wire type %d, want %d", num, typ, want)
		}
		switch num {
		case 1:
			pkIndex, havePK = x, true
		case 2:
			ehkIndex, haveEHK = x, true
		case 3:
			data, haveData = v, true
		case 4:
			if err := checkTag(v); err != nil {
				return fmt.Errorf("tag: %w", err)
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return Record{}, err
	case !havePK:
		return Record{}, errors.New("missing required partition_key_index")
	case !haveData:
		return Record{}, errors.New("missing required data")
	case pkIndex >= uint64(len(partitionKeys)):
		return Record{}, fmt.Errorf("partition_key_index %d out of range: the table has %d keys", pkIndex, len(partitionKeys))
	case haveEHK && ehkIndex >= uint64(len(hashKeys)):
		return Record{}, fmt.Errorf("explicit_hash_key_index %d out of range: the table has %d keys", ehkIndex, len(hashKeys))
	}
	r := Record{PartitionKey: partitionKeys[pkIndex], Data: data}
	if haveEHK {
		r.ExplicitHashKey = hashKeys[ehkIndex]
	}
	return r, nil
}

// checkTag checks that a Tag message is well formed. Tags are not returned:
// kinetail writes none, and consumers of its records do not read them.
func checkTag(msg []byte) error {
	haveKey := false
	err := walk(msg, func(num protowire.Number, typ protowire.Type, _ []byte, _ uint64) error {
		if num != 1 && num != 2 {
			return nil
		}
		if typ != protowire.BytesType {
			return fmt.Errorf("field %d has wire type %d, want bytes", num, typ)
		}
		haveKey = haveKey || num == 1
		return nil
	})
	if err != nil {
		return err
	}
	if !haveKey {
		return errors.New("missing required key")
	}
	return nil
}

// walk calls fn for every field of a message in wire order: with the
// value in x for a varint field, with the contents in v for a
// length-delimited one, and with the raw value in v for other types.
func walk(msg []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return fmt.Errorf("field key: %w", protowire.ParseError(n))
		}
		msg = msg[n:]
		var (
			v []byte
			x uint64
		)
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(msg)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(msg)
		default:
			n = protowire.ConsumeFieldValue(num, typ, msg)
			if n >= 0 {
				v = msg[:n]
			}
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		msg = msg[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}
