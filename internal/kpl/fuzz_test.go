package kpl

import (
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode, as they are and as a
// protobuf message framed with a correct digest (random bytes almost never
// get past the digest check, so without the framing the parser would go
// untested). Decode must not panic, must fail only with one of its two
// error kinds, and what it accepts must survive being built again with the
// same keys.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add(build("k", "", nil))
	f.Add(build("k", "", [][]byte{[]byte("hello"), {}}))
	f.Add(build("key", maxHashKey, [][]byte{[]byte("x"), []byte("yy")}))
	f.Add(frame(cat(pkTable("a"), pkTable("b"), ehkTable("1"),
		record(pkIndex(1), ehkIndex(0), data("x")), record(pkIndex(0), data("y")))))
	f.Add(frame(cat(pkTable("k"), record(pkIndex(0), data("x"), bytesField(4, bytesField(1, []byte("t")))))))
	f.Add(frame([]byte{0x08, 0x80}))
	// Bare messages, which the target also tries framed.
	f.Add(cat(pkTable("k"), ehkTable("5"), record(pkIndex(0), ehkIndex(0), data("x"))))
	f.Add(cat(record(pkIndex(0), data("x"), bytesField(4, cat(bytesField(1, []byte("t")), bytesField(2, []byte("v"))))), pkTable("k")))
	f.Fuzz(func(t *testing.T, in []byte) {
		checkDecode(t, in)
		checkDecode(t, frame(in))
	})
}

// checkDecode decodes in and checks the result as FuzzDecode describes.
func checkDecode(t *testing.T, in []byte) {
	t.Helper()
	recs, err := Decode(in)
	if err != nil {
		if !errors.Is(err, ErrNotAggregated) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %q wraps neither ErrNotAggregated nor ErrCorrupt", err)
		}
		if errors.Is(err, ErrNotAggregated) == IsAggregated(in) {
			t.Fatalf("IsAggregated = %t but Decode said %q", IsAggregated(in), err)
		}
		return
	}
	if !IsAggregated(in) {
		t.Fatal("Decode accepted input that IsAggregated rejects")
	}
	if len(recs) == 0 {
		return
	}
	// A Builder can write the records again if they share their keys.
	pk, ehk := recs[0].PartitionKey, recs[0].ExplicitHashKey
	var b Builder
	b.Reset(pk, ehk)
	for _, r := range recs {
		if r.PartitionKey != pk || r.ExplicitHashKey != ehk {
			return
		}
		b.Add(r.Data)
	}
	out := b.AppendTo(nil)
	if len(out) != b.Size() {
		t.Fatalf("AppendTo wrote %d bytes, Size said %d", len(out), b.Size())
	}
	again, err := Decode(out)
	if err != nil {
		t.Fatalf("decode the rebuilt aggregate: %v", err)
	}
	if d := diffRecords(again, recs); d != "" {
		t.Fatalf("rebuilt aggregate: %s", d)
	}
}

// FuzzRoundTrip builds aggregates of arbitrary records and keys and checks
// that sizes are exact and that Decode returns the records unchanged. The
// records are cut from data at the lengths given by cuts.
func FuzzRoundTrip(f *testing.F) {
	f.Add("k", "", []byte("hello world"), []byte{5})
	f.Add("partition", maxHashKey, []byte{0, 1, 2, 0xff}, []byte{0, 0, 1})
	f.Add("", "", []byte{}, []byte{})
	f.Add("ü", "1", make([]byte, 300), []byte{200, 0, 99})
	f.Fuzz(func(t *testing.T, pk, ehk string, data, cuts []byte) {
		var records [][]byte
		for _, c := range cuts {
			n := min(int(c), len(data))
			records = append(records, data[:n])
			data = data[n:]
		}
		records = append(records, data)

		var b Builder
		b.Reset(pk, ehk)
		for _, r := range records {
			want := b.SizeWith(len(r))
			b.Add(r)
			if b.Size() != want {
				t.Fatalf("Size = %d after Add, SizeWith said %d", b.Size(), want)
			}
		}
		out := b.AppendTo(nil)
		if len(out) != b.Size() {
			t.Fatalf("AppendTo wrote %d bytes, Size said %d", len(out), b.Size())
		}
		got, err := Decode(out)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffRecords(got, wantRecords(pk, ehk, records)); d != "" {
			t.Fatal(d)
		}
		if b.Len() != len(records) {
			t.Fatalf("Len = %d, want %d", b.Len(), len(records))
		}
	})
}
