package kpl

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// TestKinesisLocalRoundTrip stores aggregates in a real Kinesis API server
// (kinesis-local), reads them back with GetRecords, and decodes them both
// here and with aws-kinesis-agg.
func TestKinesisLocalRoundTrip(t *testing.T) {
	needNode(t) // kinesis-local runs on Node.js too
	s := kinesistest.StartServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	const stream = "kpl-round-trip"
	if err := s.CreateStream(ctx, stream, 1); err != nil {
		t.Fatal(err)
	}

	var lines [][]byte
	for i := range 300 {
		lines = append(lines, fmt.Appendf(nil, `{"seq":%d,"msg":"user record %d"}`, i, i))
	}
	sent := []struct {
		pk, ehk string
		records [][]byte
	}{
		{"alpha", "", lines},
		{"beta", maxHashKey, [][]byte{{0, 1, 2, 0xfe, 0xff}, {}, []byte("two")}},
		{"gamma", "", [][]byte{[]byte("only one")}},
	}
	var want [][]Record
	var aggs [][]byte
	for _, a := range sent {
		agg := build(a.pk, a.ehk, a.records)
		in := &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String(a.pk), Data: agg}
		if a.ehk != "" {
			in.ExplicitHashKey = aws.String(a.ehk)
		}
		if _, err := s.Client().PutRecord(ctx, in); err != nil {
			t.Fatalf("put aggregate %s: %v", a.pk, err)
		}
		aggs = append(aggs, agg)
		want = append(want, wantRecords(a.pk, a.ehk, a.records))
	}

	got, err := s.WaitForCount(ctx, stream, len(sent))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sent) {
		t.Fatalf("read %d records, want %d", len(got), len(sent))
	}
	// GetRecords does not return the explicit hash key: it is in the
	// aggregate's table.
	var stored []kinesisRecord
	for i, r := range got {
		if r.PartitionKey != sent[i].pk {
			t.Errorf("record %d: partition key %q, want %q", i, r.PartitionKey, sent[i].pk)
		}
		if !bytes.Equal(r.Data, aggs[i]) {
			t.Errorf("record %d (%s): stored data differs from the aggregate sent", i, sent[i].pk)
		}
		recs, err := Decode(r.Data)
		if err != nil {
			t.Fatalf("record %d (%s): %v", i, sent[i].pk, err)
		}
		if d := diffRecords(recs, want[i]); d != "" {
			t.Errorf("record %d (%s): %s", i, sent[i].pk, d)
		}
		stored = append(stored, kinesisRecord{Data: r.Data, PartitionKey: r.PartitionKey})
	}

	users, err := deaggregate(t, stored)
	if err != nil {
		t.Fatal(err)
	}
	checkUserRecords(t, users, want)
}
