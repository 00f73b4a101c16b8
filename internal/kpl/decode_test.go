package kpl

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// Helpers that write protobuf fields, for messages no Builder would make.

func bytesField(num protowire.Number, v []byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func varintField(num protowire.Number, v uint64) []byte {
	b := protowire.AppendTag(nil, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func cat(parts ...[]byte) []byte { return slices.Concat(parts...) }

// record encodes a records field holding the given Record fields.
func record(fields ...[]byte) []byte { return bytesField(3, cat(fields...)) }

func pkTable(key string) []byte  { return bytesField(1, []byte(key)) }
func ehkTable(key string) []byte { return bytesField(2, []byte(key)) }
func pkIndex(i uint64) []byte    { return varintField(1, i) }
func ehkIndex(i uint64) []byte   { return varintField(2, i) }
func data(s string) []byte       { return bytesField(3, []byte(s)) }

func TestIsAggregated(t *testing.T) {
	agg := build("k", "", nil)
	tests := []struct {
		name string
		data []byte
		want bool
	}{
		{"nil", nil, false},
		{"magic only", magic[:], false},
		{"magic and a digest", agg[:MagicLen+DigestLen], true},
		{"one byte short of a digest", frame(nil)[:MagicLen+DigestLen-1], false},
		{"a built aggregate", agg, true},
		{"JSON", []byte(`{"message":"not aggregated at all"}`), false},
		{"three magic bytes", append([]byte{0xF3, 0x89, 0x9A, 0xC3}, agg[MagicLen:]...), false},
	}
	for _, tt := range tests {
		if got := IsAggregated(tt.data); got != tt.want {
			t.Errorf("%s: IsAggregated = %t, want %t", tt.name, got, tt.want)
		}
	}
}

// TestDecodeForeign decodes valid aggregates that kinetail does not write
// but other producers (the KPL itself) may: several keys per table,
// tables after records, unknown fields, tags.
func TestDecodeForeign(t *testing.T) {
	tests := []struct {
		name string
		msg  []byte
		want []Record
	}{
		{
			name: "several keys, as the KPL writes them",
			msg: cat(pkTable("a"), pkTable("b"), ehkTable("1"), ehkTable("2"),
				record(pkIndex(1), data("x")),
				record(pkIndex(0), ehkIndex(1), data("y")),
				record(pkIndex(1), ehkIndex(0), data(""))),
			want: []Record{
				{PartitionKey: "b", Data: []byte("x")},
				{PartitionKey: "a", ExplicitHashKey: "2", Data: []byte("y")},
				{PartitionKey: "b", ExplicitHashKey: "1", Data: []byte{}},
			},
		},
		{
			name: "tables after the records",
			msg:  cat(record(pkIndex(0), ehkIndex(0), data("x")), ehkTable("9"), pkTable("k")),
			want: []Record{{PartitionKey: "k", ExplicitHashKey: "9", Data: []byte("x")}},
		},
		{
			name: "fields of a record in any order",
			msg:  cat(pkTable("k"), record(data("x"), pkIndex(0))),
			want: []Record{{PartitionKey: "k", Data: []byte("x")}},
		},
		{
			name: "unknown fields of every wire type are skipped",
			msg: cat(
				varintField(9, 300),
				protowire.AppendFixed32(protowire.AppendTag(nil, 10, protowire.Fixed32Type), 1),
				protowire.AppendFixed64(protowire.AppendTag(nil, 11, protowire.Fixed64Type), 2),
				bytesField(12, []byte("junk")),
				protowire.AppendGroup(protowire.AppendTag(nil, 13, protowire.StartGroupType), 13, varintField(1, 5)),
				pkTable("k"),
				record(pkIndex(0), varintField(7, 1), bytesField(8, []byte("z")), data("x"))),
			want: []Record{{PartitionKey: "k", Data: []byte("x")}},
		},
		{
			name: "tags are checked and dropped",
			msg: cat(pkTable("k"), record(pkIndex(0), data("x"),
				bytesField(4, cat(bytesField(1, []byte("env")), bytesField(2, []byte("prod")))),
				bytesField(4, bytesField(1, []byte("bare"))))),
			want: []Record{{PartitionKey: "k", Data: []byte("x")}},
		},
		{
			name: "a repeated scalar field: the last one wins",
			msg:  cat(pkTable("a"), pkTable("b"), record(pkIndex(0), pkIndex(1), data("x"), data("y"))),
			want: []Record{{PartitionKey: "b", Data: []byte("y")}},
		},
		{
			name: "a hash key table without indexes leaves records without a hash key",
			msg:  cat(pkTable("k"), ehkTable("1"), record(pkIndex(0), data("x"))),
			want: []Record{{PartitionKey: "k", Data: []byte("x")}},
		},
		{
			name: "an empty message has no records",
			msg:  nil,
			want: []Record{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(frame(tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			if d := diffRecords(got, tt.want); d != "" {
				t.Fatal(d)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := build("k", "", [][]byte{[]byte("hello"), []byte("world")})
	flip := func(i int) []byte {
		b := slices.Clone(good)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name string
		data []byte
		want error  // ErrNotAggregated or ErrCorrupt
		msg  string // a part of the error text that names the problem
	}{
		{"empty input", nil, ErrNotAggregated, ""},
		{"a plain record", []byte(`{"message":"a plain JSON line, long enough"}`), ErrNotAggregated, ""},
		{"magic without room for a digest", good[:MagicLen+DigestLen-1], ErrNotAggregated, ""},
		{"a changed digest", flip(len(good) - 1), ErrCorrupt, "digest"},
		{"a changed message byte", flip(MagicLen + 5), ErrCorrupt, "digest"},
		{"a truncated aggregate", good[:len(good)-1], ErrCorrupt, "digest"},
		{"a message cut inside a field", frame(good[MagicLen : MagicLen+6]), ErrCorrupt, "field 3"},
		{"a truncated varint", frame([]byte{0x08, 0x80}), ErrCorrupt, "field 1"},
		{"a truncated key", frame([]byte{0x80}), ErrCorrupt, "field key"},
		{"field number 0", frame([]byte{0x02, 0x00}), ErrCorrupt, "field key"},
		{"an end group without a start", frame([]byte{0x0c}), ErrCorrupt, "field 1"},
		{"a length beyond the end", frame(cat(pkTable("k"), []byte{0x1a, 0x10, 0x08, 0x00})), ErrCorrupt, "field 3"},
		{"a varint partition key table", frame(varintField(1, 1)), ErrCorrupt, "field 1 has wire type 0"},
		{"a varint hash key table", frame(varintField(2, 1)), ErrCorrupt, "field 2 has wire type 0"},
		{"a varint record", frame(cat(pkTable("k"), varintField(3, 1))), ErrCorrupt, "field 3 has wire type 0"},
		{"no partition key table", frame(record(pkIndex(0), data("x"))), ErrCorrupt, "partition_key_index 0 out of range"},
		{"a partition key index out of range", frame(cat(pkTable("k"), record(pkIndex(1), data("x")))), ErrCorrupt, "partition_key_index 1 out of range"},
		{"a huge partition key index", frame(cat(pkTable("k"), record(pkIndex(1<<63), data("x")))), ErrCorrupt, "out of range"},
		{"a hash key index without a table", frame(cat(pkTable("k"), record(pkIndex(0), ehkIndex(0), data("x")))), ErrCorrupt, "explicit_hash_key_index 0 out of range"},
		{"a hash key index out of range", frame(cat(pkTable("k"), ehkTable("1"), record(pkIndex(0), ehkIndex(1), data("x")))), ErrCorrupt, "explicit_hash_key_index 1"},
		{"no partition key index", frame(cat(pkTable("k"), record(data("x")))), ErrCorrupt, "missing required partition_key_index"},
		{"no data", frame(cat(pkTable("k"), record(pkIndex(0)))), ErrCorrupt, "missing required data"},
		{"an index as bytes", frame(cat(pkTable("k"), record(bytesField(1, []byte{0}), data("x")))), ErrCorrupt, "field 1 has wire type 2"},
		{"data as a varint", frame(cat(pkTable("k"), record(pkIndex(0), varintField(3, 1)))), ErrCorrupt, "field 3 has wire type 0"},
		{"a malformed record", frame(cat(pkTable("k"), bytesField(3, []byte{0x08}))), ErrCorrupt, "record 0"},
		{"the second record is bad", frame(cat(pkTable("k"), record(pkIndex(0), data("x")), record(pkIndex(2), data("y")))), ErrCorrupt, "record 1"},
		{"a tag without its key", frame(cat(pkTable("k"), record(pkIndex(0), data("x"), bytesField(4, bytesField(2, []byte("v")))))), ErrCorrupt, "record 0: tag: missing required key"},
		{"a tag key as a varint", frame(cat(pkTable("k"), record(pkIndex(0), data("x"), bytesField(4, varintField(1, 1))))), ErrCorrupt, "tag: field 1 has wire type 0"},
		{"a malformed tag", frame(cat(pkTable("k"), record(pkIndex(0), data("x"), bytesField(4, []byte{0x0a, 0x05})))), ErrCorrupt, "tag: field 1: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := Decode(tt.data)
			if err == nil {
				t.Fatalf("Decode succeeded with %d records, want an error", len(recs))
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %q does not wrap %q", err, tt.want)
			}
			if recs != nil {
				t.Errorf("Decode returned %d records with its error", len(recs))
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			other := ErrCorrupt
			if tt.want == ErrCorrupt {
				other = ErrNotAggregated
			}
			if errors.Is(err, other) {
				t.Errorf("error %q also wraps %q", err, other)
			}
		})
	}
}

// TestDecodeAliasesInput checks the documented aliasing: Data points into
// the input, so decoding a large aggregate copies nothing.
func TestDecodeAliasesInput(t *testing.T) {
	agg := build("k", "", [][]byte{[]byte("hello")})
	recs, err := Decode(agg)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	i := len(agg) - DigestLen - len("hello")
	agg[i] = 'J'
	if string(recs[0].Data) != "Jello" {
		t.Errorf("Data = %q after changing the input, want it to alias the input", recs[0].Data)
	}
}
