package kpl

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The package starts no goroutines; its tests run child processes
	// and an HTTP client, which must all be gone at the end.
	goleak.VerifyTestMain(m)
}

// A 128-bit explicit hash key, the largest Kinesis accepts.
const maxHashKey = "340282366920938463463374607431768211455"

// frame wraps a protobuf message as an aggregated record with a correct
// digest, so tests can write any message by hand.
func frame(msg []byte) []byte {
	sum := md5.Sum(msg)
	out := append(magic[:len(magic):len(magic)], msg...)
	return append(out, sum[:]...)
}

// build returns the aggregate a Builder makes of records.
func build(partitionKey, explicitHashKey string, records [][]byte) []byte {
	var b Builder
	b.Reset(partitionKey, explicitHashKey)
	for _, r := range records {
		b.Add(r)
	}
	return b.AppendTo(nil)
}

// wantRecords is what Decode should return for an aggregate of records
// built with the given keys.
func wantRecords(partitionKey, explicitHashKey string, records [][]byte) []Record {
	want := make([]Record, len(records))
	for i, r := range records {
		want[i] = Record{PartitionKey: partitionKey, ExplicitHashKey: explicitHashKey, Data: r}
	}
	return want
}

// diffRecords describes the first difference between two record lists,
// or returns "" if they are equal. A nil and an empty Data are equal.
func diffRecords(got, want []Record) string {
	if len(got) != len(want) {
		return fmt.Sprintf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		switch {
		case g.PartitionKey != w.PartitionKey:
			return fmt.Sprintf("record %d: partition key %q, want %q", i, g.PartitionKey, w.PartitionKey)
		case g.ExplicitHashKey != w.ExplicitHashKey:
			return fmt.Sprintf("record %d: explicit hash key %q, want %q", i, g.ExplicitHashKey, w.ExplicitHashKey)
		case !bytes.Equal(g.Data, w.Data):
			return fmt.Sprintf("record %d: data %s, want %s", i, abbrev(g.Data), abbrev(w.Data))
		}
	}
	return ""
}

// abbrev formats data for a failure message without flooding it.
func abbrev(data []byte) string {
	if len(data) <= 40 {
		return fmt.Sprintf("%q", data)
	}
	return fmt.Sprintf("%q... (%d bytes)", data[:40], len(data))
}
