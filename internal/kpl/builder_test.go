package kpl

import (
	"bytes"
	"crypto/md5"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestAppendToBytes pins the exact encoding against messages written out
// by hand from the schema.
func TestAppendToBytes(t *testing.T) {
	tests := []struct {
		name            string
		partitionKey    string
		explicitHashKey string
		records         []string
		msg             []byte // the protobuf message between magic and digest
	}{
		{
			name:         "no records has only the partition key table",
			partitionKey: "k",
			msg:          []byte{0x0a, 0x01, 'k'},
		},
		{
			name:         "records carry the required index 0 and their data",
			partitionKey: "a",
			records:      []string{"hi", ""},
			msg: []byte{
				0x0a, 0x01, 'a', // partition_key_table: "a"
				0x1a, 0x06, 0x08, 0x00, 0x1a, 0x02, 'h', 'i', // records: {partition_key_index: 0, data: "hi"}
				0x1a, 0x04, 0x08, 0x00, 0x1a, 0x00, // records: {partition_key_index: 0, data: ""}
			},
		},
		{
			name:            "an explicit hash key adds its table and index",
			partitionKey:    "p",
			explicitHashKey: "7",
			records:         []string{"x"},
			msg: []byte{
				0x0a, 0x01, 'p', // partition_key_table: "p"
				0x12, 0x01, '7', // explicit_hash_key_table: "7"
				0x1a, 0x07, 0x08, 0x00, 0x10, 0x00, 0x1a, 0x01, 'x', // records: {0, 0, "x"}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Builder
			b.Reset(tt.partitionKey, tt.explicitHashKey)
			for _, r := range tt.records {
				b.Add([]byte(r))
			}
			sum := md5.Sum(tt.msg)
			want := append([]byte{0xF3, 0x89, 0x9A, 0xC2}, tt.msg...)
			want = append(want, sum[:]...)

			prefix := []byte("existing")
			got := b.AppendTo(prefix)
			if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want) {
				t.Fatalf("AppendTo = % x\nwant       % x", got[len(prefix):], want)
			}
			// AppendTo does not reset: a second call writes the same.
			if again := b.AppendTo(nil); !bytes.Equal(again, want) {
				t.Errorf("second AppendTo = % x, want % x", again, want)
			}
			if b.Len() != len(tt.records) {
				t.Errorf("Len = %d, want %d", b.Len(), len(tt.records))
			}
		})
	}
}

// lengthsAround returns the lengths from v-span to v+span.
func lengthsAround(v, span int) []int {
	var out []int
	for n := max(0, v-span); n <= v+span; n++ {
		out = append(out, n)
	}
	return out
}

// TestSizeIsExact checks Size, SizeWith and RecordOverhead against what
// AppendTo writes, for data lengths around every varint boundary the
// record length or data length can cross.
func TestSizeIsExact(t *testing.T) {
	var lengths []int
	lengths = append(lengths, lengthsAround(0, 0)...)
	lengths = append(lengths, lengthsAround(127, 12)...)     // data and Record lengths reach 2 bytes
	lengths = append(lengths, lengthsAround(16383, 12)...)   // ... 3 bytes
	lengths = append(lengths, lengthsAround(2097151, 12)...) // ... 4 bytes
	data := make([]byte, 2097151+12)
	for i := range data {
		data[i] = byte(i)
	}
	keys := []struct{ name, pk, ehk string }{
		{"short key", "k", ""},
		{"short key with hash key", "k", maxHashKey},
		{"256-byte key", strings.Repeat("p", 256), ""},
		{"256-byte key with hash key", strings.Repeat("p", 256), maxHashKey},
	}
	var b Builder
	var buf []byte
	for _, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			for _, n := range lengths {
				b.Reset(k.pk, k.ehk)
				buf = b.AppendTo(buf[:0])
				if b.Size() != len(buf) {
					t.Fatalf("empty: Size = %d, AppendTo wrote %d", b.Size(), len(buf))
				}
				// Two records: the second shows that sizes add up.
				for range 2 {
					before := b.Size()
					want := b.SizeWith(n)
					if over := RecordOverhead(n, k.ehk != ""); want != before+over {
						t.Fatalf("len %d: SizeWith = %d, Size + RecordOverhead = %d + %d", n, want, before, over)
					}
					b.Add(data[:n])
					buf = b.AppendTo(buf[:0])
					if b.Size() != want || len(buf) != want {
						t.Fatalf("len %d after Add: Size = %d, AppendTo wrote %d, SizeWith said %d", n, b.Size(), len(buf), want)
					}
				}
			}
		})
	}
}

// TestRecordOverhead pins the overhead of one record for data lengths
// where the varints grow.
func TestRecordOverhead(t *testing.T) {
	tests := []struct {
		dataLen  int
		hashKey  bool
		overhead int // data included
	}{
		// key + len(1) + [08 00] + key + len(1) + data
		{0, false, 6},
		{1, false, 7},
		{0, true, 8},
		// Record = 2 + 1 + 1 + 123 = 127 still has a 1-byte length.
		{123, false, 1 + 1 + 127},
		// Record = 2 + 1 + 1 + 124 = 128 needs a 2-byte length.
		{124, false, 1 + 2 + 128},
		// data 127 has a 1-byte length, data 128 a 2-byte one.
		{127, false, 1 + 2 + 2 + 1 + 1 + 127},
		{128, false, 1 + 2 + 2 + 1 + 2 + 128},
		{128, true, 1 + 2 + 4 + 1 + 2 + 128},
		{16383, false, 1 + 3 + 2 + 1 + 2 + 16383},
		{16384, false, 1 + 3 + 2 + 1 + 3 + 16384},
		{150, false, 1 + 2 + 2 + 1 + 2 + 150}, // the sink's typical line: 8 bytes of framing
	}
	for _, tt := range tests {
		if got := RecordOverhead(tt.dataLen, tt.hashKey); got != tt.overhead {
			t.Errorf("RecordOverhead(%d, %t) = %d, want %d", tt.dataLen, tt.hashKey, got, tt.overhead)
		}
	}
}

// TestSizeWithManyRecords fills a builder the way the sink does, checking
// every step.
func TestSizeWithManyRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 400)
	for _, ehk := range []string{"", "12345"} {
		var b Builder
		b.Reset("partition", ehk)
		var buf []byte
		for i := range 500 {
			n := rng.IntN(len(data))
			want := b.SizeWith(n)
			b.Add(data[:n])
			buf = b.AppendTo(buf[:0])
			if len(buf) != want || b.Size() != want {
				t.Fatalf("hash key %q, record %d (len %d): wrote %d, Size %d, SizeWith said %d", ehk, i, n, len(buf), b.Size(), want)
			}
		}
		if b.Len() != 500 {
			t.Errorf("Len = %d, want 500", b.Len())
		}
	}
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	random := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		return p
	}
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	many := make([][]byte, 1000)
	for i := range many {
		many[i] = random(rng.IntN(300))
	}
	tests := []struct {
		name            string
		partitionKey    string
		explicitHashKey string
		records         [][]byte
	}{
		{"no records", "k", "", nil},
		{"one empty record", "k", "", [][]byte{{}}},
		{"one record", "user-42", "", [][]byte{[]byte(`{"msg":"hello"}`)}},
		{"every byte value", "k", "", [][]byte{allBytes, {0}, {0xff}}},
		{"many records", "k", "", many},
		{"many records with hash key", "k", maxHashKey, many},
		{"a 1 MiB record", "k", "0", [][]byte{random(1 << 20)}},
		{"a non-ASCII key", "schlüssel-日本", "", [][]byte{[]byte("a"), []byte("b")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agg := build(tt.partitionKey, tt.explicitHashKey, tt.records)
			if !IsAggregated(agg) {
				t.Fatal("IsAggregated = false for a built aggregate")
			}
			got, err := Decode(agg)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffRecords(got, wantRecords(tt.partitionKey, tt.explicitHashKey, tt.records)); d != "" {
				t.Fatal(d)
			}
		})
	}
}

// TestReuse checks that Reset forgets the records and keys of the previous
// aggregate, and that Add copies its input.
func TestReuse(t *testing.T) {
	var b Builder
	b.Reset("first", maxHashKey)
	in := []byte("one")
	b.Add(in)
	b.Add([]byte("two"))
	copy(in, "XXX") // the caller reuses its buffer
	got, err := Decode(b.AppendTo(nil))
	if err != nil {
		t.Fatal(err)
	}
	if d := diffRecords(got, wantRecords("first", maxHashKey, [][]byte{[]byte("one"), []byte("two")})); d != "" {
		t.Fatal(d)
	}

	b.Reset("second", "")
	if b.Len() != 0 {
		t.Fatalf("Len after Reset = %d", b.Len())
	}
	b.Add([]byte("three"))
	got, err = Decode(b.AppendTo(nil))
	if err != nil {
		t.Fatal(err)
	}
	if d := diffRecords(got, wantRecords("second", "", [][]byte{[]byte("three")})); d != "" {
		t.Fatal(d)
	}
}

// TestZeroValue checks that a Builder that was never Reset builds a valid,
// if useless, aggregate with an empty partition key.
func TestZeroValue(t *testing.T) {
	var b Builder
	b.Add([]byte("x"))
	got, err := Decode(b.AppendTo(nil))
	if err != nil {
		t.Fatal(err)
	}
	if d := diffRecords(got, wantRecords("", "", [][]byte{[]byte("x")})); d != "" {
		t.Fatal(d)
	}
}

func TestNoAllocations(t *testing.T) {
	rec := bytes.Repeat([]byte("r"), 150)
	var b Builder
	fill := func() {
		b.Reset("key", maxHashKey)
		for b.SizeWith(len(rec)) <= 51200 {
			b.Add(rec)
		}
	}
	fill() // warm up: the buffer grows to its working size once
	if n := testing.AllocsPerRun(20, fill); n != 0 {
		t.Errorf("Reset, SizeWith and Add allocate %.1f times per aggregate, want 0", n)
	}
	dst := make([]byte, 0, b.Size())
	if n := testing.AllocsPerRun(20, func() { dst = b.AppendTo(dst[:0]) }); n != 0 {
		t.Errorf("AppendTo into a large enough buffer allocates %.1f times, want 0", n)
	}
	if n := testing.AllocsPerRun(20, func() { _ = IsAggregated(dst) }); n != 0 {
		t.Errorf("IsAggregated allocates %.1f times, want 0", n)
	}
}

// BenchmarkBuilder packs 150-byte records into 51,200-byte aggregates, as
// the sink does by default; the bytes are the user records' data.
func BenchmarkBuilder(b *testing.B) {
	for _, ehk := range []string{"", maxHashKey} {
		name := "partition-key-only"
		if ehk != "" {
			name = "explicit-hash-key"
		}
		b.Run(name, func(b *testing.B) {
			rec := bytes.Repeat([]byte("x"), 150)
			var bld Builder
			var dst []byte
			var perAggregate int64
			bld.Reset("key", ehk)
			for bld.SizeWith(len(rec)) <= 51200 {
				bld.Add(rec)
				perAggregate += int64(len(rec))
			}
			b.SetBytes(perAggregate)
			b.ReportAllocs()
			for b.Loop() {
				bld.Reset("key", ehk)
				for bld.SizeWith(len(rec)) <= 51200 {
					bld.Add(rec)
				}
				dst = bld.AppendTo(dst[:0])
			}
			b.ReportMetric(float64(bld.Len()), "records/aggregate")
		})
	}
}

// TestFieldKeys keeps the hand-written keys honest: they must be what
// protowire computes for the same field numbers and types.
func TestFieldKeys(t *testing.T) {
	tests := []struct {
		key byte
		num protowire.Number
		typ protowire.Type
	}{
		{keyPartitionKeyTable, 1, protowire.BytesType},
		{keyExplicitHashKeyTable, 2, protowire.BytesType},
		{keyRecords, 3, protowire.BytesType},
		{keyPartitionKeyIndex, 1, protowire.VarintType},
		{keyExplicitHashKeyIndex, 2, protowire.VarintType},
		{keyData, 3, protowire.BytesType},
	}
	for _, tt := range tests {
		if want := protowire.AppendTag(nil, tt.num, tt.typ); !bytes.Equal([]byte{tt.key}, want) {
			t.Errorf("key for field %d type %d = %#x, want % x", tt.num, tt.typ, tt.key, want)
		}
	}
}
