package kpl

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// These tests check aggregates against aws-kinesis-agg, the decoder and
// encoder awslabs publish, through the script test/kinesis/deagg.js.

// nodeTimeout bounds one run of a Node script.
const nodeTimeout = 60 * time.Second

// needNode skips the test only if Node.js is not installed; missing
// modules are a failure, because make test installs them.
func needNode(t *testing.T) {
	t.Helper()
	if _, _, err := kinesistest.NodeModules(); errors.Is(err, kinesistest.ErrNoNode) {
		t.Skipf("Node.js is not installed: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
}

type (
	kinesisRecord = kinesistest.KinesisRecord
	userRecord    = kinesistest.UserRecord
)

// runNode runs a Node script with stdin and returns its stdout.
func runNode(t *testing.T, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), nodeTimeout)
	defer cancel()
	return kinesistest.RunNode(ctx, stdin, args...)
}

// deaggregate runs deagg.js --require-aggregated on records.
func deaggregate(t *testing.T, records []kinesisRecord) ([]userRecord, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), nodeTimeout)
	defer cancel()
	return kinesistest.Deaggregate(ctx, records, true)
}

// checkUserRecords compares deagg.js's output with what each input
// aggregate holds: want[i] are the records of input line i.
func checkUserRecords(t *testing.T, got []userRecord, want [][]Record) {
	t.Helper()
	i := 0
	for line, recs := range want {
		for sub, w := range recs {
			if i >= len(got) {
				t.Fatalf("deagg.js returned %d user records, want more: none for line %d record %d", len(got), line, sub)
			}
			g := got[i]
			i++
			if g.Record != line || g.SubSequenceNumber == nil || *g.SubSequenceNumber != sub {
				t.Fatalf("user record %d is line %d sub %v, want line %d sub %d", i-1, g.Record, g.SubSequenceNumber, line, sub)
			}
			if g.PartitionKey != w.PartitionKey || g.ExplicitHashKey != w.ExplicitHashKey {
				t.Errorf("line %d sub %d: keys %q, %q, want %q, %q", line, sub, g.PartitionKey, g.ExplicitHashKey, w.PartitionKey, w.ExplicitHashKey)
			}
			if !bytes.Equal(g.Data, w.Data) {
				t.Errorf("line %d sub %d: data %s, want %s", line, sub, abbrev(g.Data), abbrev(w.Data))
			}
		}
	}
	if i != len(got) {
		t.Errorf("deagg.js returned %d user records, want %d", len(got), i)
	}
}

// testAggregates returns aggregates of many shapes, and their records.
func testAggregates() (aggs []kinesisRecord, want [][]Record) {
	rng := rand.New(rand.NewPCG(5, 6))
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
	var lines [][]byte
	for i := range 500 {
		lines = append(lines, fmt.Appendf(nil, `{"n":%d,"msg":"line %d"}`, i, i))
	}
	var full [][]byte // filled to the sink's default limit
	var b Builder
	b.Reset("full", "")
	for {
		r := random(rng.IntN(400))
		if b.SizeWith(len(r)) > 51200 {
			break
		}
		b.Add(r)
		full = append(full, r)
	}
	cases := []struct {
		pk, ehk string
		records [][]byte
	}{
		{"single", "", [][]byte{[]byte(`{"message":"only one"}`)}},
		{"binary", "", [][]byte{allBytes, {0}, {}, {0xff, 0xfe}}},
		{"lines", "", lines},
		{"lines-hashed", maxHashKey, lines},
		{"hashed-one", "0", [][]byte{[]byte("x")}},
		{"empty-records", "", [][]byte{{}, {}, {}}},
		{"varint-edges", "", [][]byte{random(123), random(124), random(127), random(128), random(16383), random(16384)}},
		{"full", "", full},
		{"big", "", [][]byte{random(600 << 10)}},
		{strings.Repeat("k", 256), "", [][]byte{[]byte("long key")}},
	}
	for _, c := range cases {
		aggs = append(aggs, kinesisRecord{Data: build(c.pk, c.ehk, c.records), PartitionKey: c.pk, ExplicitHashKey: c.ehk})
		want = append(want, wantRecords(c.pk, c.ehk, c.records))
	}
	return aggs, want
}

// TestDeaggJS decodes our aggregates with aws-kinesis-agg, checksums on.
func TestDeaggJS(t *testing.T) {
	needNode(t)
	aggs, want := testAggregates()
	got, err := deaggregate(t, aggs)
	if err != nil {
		t.Fatal(err)
	}
	checkUserRecords(t, got, want)
}

// TestDeaggJSRejects proves that deagg.js fails on what it must not accept,
// in particular that it verifies checksums.
func TestDeaggJSRejects(t *testing.T) {
	needNode(t)
	good := build("k", "", [][]byte{[]byte("hello"), []byte("world")})
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name string
		data []byte
		msg  string
	}{
		{"a changed digest", flip(len(good) - 1), "checksum"},
		{"a changed data byte", flip(len(good) - DigestLen - 1), "checksum"},
		{"a plain record", []byte(`{"plain":true}`), "not aggregated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A good record first: the failure must come from the bad one.
			_, err := deaggregate(t, []kinesisRecord{
				{Data: good, PartitionKey: "k"},
				{Data: tt.data, PartitionKey: "k"},
			})
			if err == nil {
				t.Fatal("deagg.js accepted it")
			}
			if !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention line 2 and %q", err, tt.msg)
			}
		})
	}
}

// aggregateJS aggregates the records read from stdin with aws-kinesis-agg's
// RecordAggregator and writes the aggregate's data in base64.
const aggregateJS = `
const agg = require(require('path').resolve('node_modules/aws-kinesis-agg'));
const recs = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const a = new agg.RecordAggregator();
for (const r of recs) {
  a.addUserRecord({partitionKey: r.partitionKey, explicitHashKey: r.explicitHashKey || undefined,
    data: Buffer.from(r.data, 'base64')});
}
process.stdout.write(a.build().data.toString('base64'));
`

// TestDecodeNodeAggregates decodes aggregates written by aws-kinesis-agg,
// which fills the key tables with several keys, as the KPL does.
//
// The keys are not small integers: aws-kinesis-agg builds its tables from
// a JavaScript object's keys, which lists keys such as "42" and "7" in
// numeric order instead of the order it gave them indexes in, so its own
// aggregates would then point at the wrong keys. Real explicit hash keys
// are 128-bit numbers, far above the range where that happens.
func TestDecodeNodeAggregates(t *testing.T) {
	needNode(t)
	const midHashKey = "170141183460469231731687303715884105728" // 2^127
	records := []kinesisRecord{
		{PartitionKey: "a", Data: []byte("first")},
		{PartitionKey: "b", ExplicitHashKey: maxHashKey, Data: []byte{0, 1, 2, 0xff}},
		{PartitionKey: "a", ExplicitHashKey: midHashKey, Data: []byte("third")},
		{PartitionKey: "c", Data: bytes.Repeat([]byte("z"), 200)},
		{PartitionKey: "b", ExplicitHashKey: maxHashKey, Data: []byte("fifth")},
	}
	in, err := json.Marshal(records)
	if err != nil {
		t.Fatal(err)
	}
	out, err := runNode(t, in, "-e", aggregateJS)
	if err != nil {
		t.Fatal(err)
	}
	agg, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(out)))
	if err != nil {
		t.Fatalf("aggregate %q is not base64: %v", out, err)
	}
	got, err := Decode(agg)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]Record, len(records))
	for i, r := range records {
		want[i] = Record{PartitionKey: r.PartitionKey, ExplicitHashKey: r.ExplicitHashKey, Data: r.Data}
	}
	if d := diffRecords(got, want); d != "" {
		t.Fatal(d)
	}
}
