package kinesistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	fhtypes "github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/smithy-go"
	"github.com/kinetail/kinetail/internal/sdkbody"
)

// firehoseClient is a real SDK Firehose client for s, without SDK retries
// so each call is one request, and through sdkbody.Client.
func firehoseClient(s *FaultServer) *firehose.Client {
	return firehose.New(firehose.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   sdkbody.Client{Next: awshttp.NewBuildableClient()},
	})
}

func firehoseRecords(n int) []fhtypes.Record {
	out := make([]fhtypes.Record, n)
	for i := range out {
		out[i] = fhtypes.Record{Data: fmt.Appendf(nil, "data-%d", i)}
	}
	return out
}

// failedEntries returns the indexes of the failed entries of out.
func failedEntries(t *testing.T, out *firehose.PutRecordBatchOutput) []int {
	t.Helper()
	var failed []int
	for i, r := range out.RequestResponses {
		switch {
		case r.ErrorCode != nil:
			if *r.ErrorCode != "ServiceUnavailableException" || aws.ToString(r.ErrorMessage) != "Slow down." || r.RecordId != nil {
				t.Errorf("entry %d: failed with %v %v, id %v", i, aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage), r.RecordId)
			}
			failed = append(failed, i)
		case aws.ToString(r.RecordId) == "":
			t.Errorf("entry %d: neither failed nor stored", i)
		}
	}
	return failed
}

func TestFirehosePutRecordBatchPartialFailures(t *testing.T) {
	put := func(s *FaultServer) *firehose.PutRecordBatchOutput {
		t.Helper()
		out, err := firehoseClient(s).PutRecordBatch(context.Background(), &firehose.PutRecordBatchInput{
			DeliveryStreamName: aws.String("d"), Records: firehoseRecords(100)})
		if err != nil {
			t.Fatalf("PutRecordBatch: %v", err)
		}
		if len(out.RequestResponses) != 100 {
			t.Fatalf("%d result entries, want 100", len(out.RequestResponses))
		}
		return out
	}
	s := NewFaultServer(t, FaultOptions{Seed: 1, FailEntryRate: 0.5, Streams: []string{"d"}})
	out := put(s)
	failed := failedEntries(t, out)
	if len(failed) == 0 || len(failed) == 100 || int(aws.ToInt32(out.FailedPutCount)) != len(failed) {
		t.Errorf("FailedPutCount %d, %d entries failed; want a partial failure", aws.ToInt32(out.FailedPutCount), len(failed))
	}

	var want []StoredRecord
	for i, r := range out.RequestResponses {
		if r.ErrorCode == nil {
			want = append(want, StoredRecord{Stream: "d", Data: fmt.Appendf(nil, "data-%d", i), Seq: *r.RecordId})
		}
	}
	stored := s.FirehoseStored()
	if len(stored) != len(want) {
		t.Fatalf("%d stored, want %d", len(stored), len(want))
	}
	for i := range stored {
		g, w := stored[i], want[i]
		if g.Stream != w.Stream || g.PartitionKey != "" || !bytes.Equal(g.Data, w.Data) || g.Seq != w.Seq {
			t.Errorf("stored[%d] = %+v, want %+v", i, g, w)
		}
	}
	if n := len(s.Stored()); n != 0 {
		t.Errorf("%d Firehose records among the Kinesis records", n)
	}
	c := s.Counts()
	if c.Requests != 1 || c.Entries != 100 || c.FailedEntries != len(failed) || c.MaxBatchRecords != 100 || c.MaxBatchBytes != 690 {
		t.Errorf("counts %+v", c)
	}

	// The same seed fails the same entries.
	again := NewFaultServer(t, FaultOptions{Seed: 1, FailEntryRate: 0.5, Streams: []string{"d"}})
	if got := failedEntries(t, put(again)); !slices.Equal(got, failed) {
		t.Errorf("seed 1 failed entries %v, then %v", failed, got)
	}
}

func TestFirehoseLimitsAccepted(t *testing.T) {
	s := NewFaultServer(t, FaultOptions{})
	c := firehoseClient(s)
	// 500 records whose data adds up to exactly 4 MiB, one of them exactly
	// at the per-record limit.
	records := firehoseRecords(500)
	records[0].Data = bytes.Repeat([]byte("a"), maxFirehoseRecordData)
	rest := maxPutRecordBatchBytes - maxFirehoseRecordData
	for i := 1; i < 500; i++ {
		n := rest / (500 - i)
		records[i].Data = bytes.Repeat([]byte("b"), n)
		rest -= n
	}
	out, err := c.PutRecordBatch(context.Background(), &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("d"), Records: records})
	if err != nil {
		t.Fatalf("PutRecordBatch at the limits: %v", err)
	}
	if aws.ToInt32(out.FailedPutCount) != 0 || len(s.FirehoseStored()) != 500 {
		t.Errorf("FailedPutCount %d, %d stored; want 0 and 500", aws.ToInt32(out.FailedPutCount), len(s.FirehoseStored()))
	}
	if got := s.Counts().MaxBatchBytes; got != maxPutRecordBatchBytes {
		t.Errorf("MaxBatchBytes %d, want %d", got, maxPutRecordBatchBytes)
	}
}

func TestFirehoseErrors(t *testing.T) {
	big := func(sizes ...int) []fhtypes.Record {
		out := make([]fhtypes.Record, len(sizes))
		for i, n := range sizes {
			out[i].Data = bytes.Repeat([]byte("x"), n)
		}
		return out
	}
	tests := []struct {
		name     string
		opts     FaultOptions
		down     bool
		stream   string
		records  []fhtypes.Record
		wantCode string // "" for an outage: 503 or a cut connection
	}{
		{"an unknown delivery stream", FaultOptions{Streams: []string{"d"}}, false, "other", firehoseRecords(1), "ResourceNotFoundException"},
		{"an invalid name", FaultOptions{}, false, "bad/name", firehoseRecords(1), "ValidationException"},
		{"no records", FaultOptions{}, false, "d", []fhtypes.Record{}, "ValidationException"},
		{"too many records", FaultOptions{}, false, "d", firehoseRecords(501), "ValidationException"},
		{"a record too large", FaultOptions{}, false, "d", big(10, maxFirehoseRecordData+1), "ValidationException"},
		{"a batch too large", FaultOptions{}, false, "d", big(maxFirehoseRecordData, maxFirehoseRecordData, maxFirehoseRecordData, maxFirehoseRecordData, 98305),
			"InvalidArgumentException"},
		{"an injected 500", FaultOptions{Error500Rate: 1}, false, "d", firehoseRecords(1), "InternalFailure"},
		{"an outage", FaultOptions{Seed: 4}, true, "d", firehoseRecords(1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewFaultServer(t, tt.opts)
			s.SetDown(tt.down)
			_, err := firehoseClient(s).PutRecordBatch(context.Background(), &firehose.PutRecordBatchInput{
				DeliveryStreamName: aws.String(tt.stream), Records: tt.records})
			if err == nil {
				t.Fatal("PutRecordBatch succeeded, want an error")
			}
			var ae smithy.APIError
			isAPI := errors.As(err, &ae)
			switch {
			case tt.wantCode != "":
				if !isAPI || ae.ErrorCode() != tt.wantCode {
					t.Errorf("error %v, want code %s", err, tt.wantCode)
				}
			case isAPI && ae.ErrorCode() != "ServiceUnavailable":
				t.Errorf("error %v during an outage", err)
			}
			if n := len(s.FirehoseStored()); n != 0 {
				t.Errorf("%d records stored by a failed request", n)
			}
			c := s.Counts()
			if tt.down && c.DownRejected != 1 || tt.opts.Error500Rate > 0 && c.Errors500 != 1 {
				t.Errorf("counts %+v", c)
			}
		})
	}
}

func TestFirehoseLatency(t *testing.T) {
	const latency = 50 * time.Millisecond
	s := NewFaultServer(t, FaultOptions{Latency: latency})
	start := time.Now()
	if _, err := firehoseClient(s).PutRecordBatch(context.Background(), &firehose.PutRecordBatchInput{
		DeliveryStreamName: aws.String("d"), Records: firehoseRecords(1)}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < latency {
		t.Errorf("answered after %v, before the latency of %v", d, latency)
	}
}

func TestFirehoseDeliveryStreamOperations(t *testing.T) {
	s := NewFaultServer(t, FaultOptions{Streams: []string{"b", "a"}})
	c := firehoseClient(s)
	ctx := context.Background()

	out, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("a")})
	if err != nil {
		t.Fatalf("DescribeDeliveryStream: %v", err)
	}
	d := out.DeliveryStreamDescription
	if d == nil || aws.ToString(d.DeliveryStreamName) != "a" || d.DeliveryStreamStatus != fhtypes.DeliveryStreamStatusActive ||
		aws.ToString(d.DeliveryStreamARN) != "arn:aws:firehose:us-east-1:123456789012:deliverystream/a" ||
		d.DeliveryStreamType != fhtypes.DeliveryStreamTypeDirectPut || d.CreateTimestamp == nil || d.CreateTimestamp.IsZero() {
		t.Errorf("description %+v", d)
	}
	_, err = c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("missing")})
	if nf := (*fhtypes.ResourceNotFoundException)(nil); !errors.As(err, &nf) {
		t.Errorf("DescribeDeliveryStream of a missing stream: %v, want ResourceNotFoundException", err)
	}

	s.AddStream("c")
	list := func(in *firehose.ListDeliveryStreamsInput) ([]string, bool) {
		t.Helper()
		out, err := c.ListDeliveryStreams(ctx, in)
		if err != nil {
			t.Fatalf("ListDeliveryStreams: %v", err)
		}
		return out.DeliveryStreamNames, aws.ToBool(out.HasMoreDeliveryStreams)
	}
	if names, more := list(&firehose.ListDeliveryStreamsInput{}); !slices.Equal(names, []string{"a", "b", "c"}) || more {
		t.Errorf("ListDeliveryStreams = %v, more %v; want [a b c]", names, more)
	}
	if names, more := list(&firehose.ListDeliveryStreamsInput{Limit: aws.Int32(2)}); !slices.Equal(names, []string{"a", "b"}) || !more {
		t.Errorf("first page = %v, more %v; want [a b] and more", names, more)
	}
	if names, more := list(&firehose.ListDeliveryStreamsInput{Limit: aws.Int32(2), ExclusiveStartDeliveryStreamName: aws.String("b")}); !slices.Equal(names, []string{"c"}) || more {
		t.Errorf("second page = %v, more %v; want [c]", names, more)
	}
}
