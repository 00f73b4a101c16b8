package kinesistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/kinetail/kinetail/internal/sdkbody"
)

// faultClient is a real SDK client for s, without SDK retries so each call is
// one request, and through sdkbody.Client.
func faultClient(s *FaultServer) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   sdkbody.Client{Next: awshttp.NewBuildableClient()},
	})
}

func faultEntries(n int) []types.PutRecordsRequestEntry {
	out := make([]types.PutRecordsRequestEntry, n)
	for i := range out {
		out[i] = types.PutRecordsRequestEntry{Data: fmt.Appendf(nil, "data-%d", i), PartitionKey: aws.String(fmt.Sprint("key-", i))}
	}
	return out
}

func TestFaultPutRecordsPartialFailures(t *testing.T) {
	s := NewFaultServer(t, FaultOptions{Seed: 1, FailEntryRate: 0.5, Streams: []string{"s"}})
	out, err := faultClient(s).PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: faultEntries(100)})
	if err != nil {
		t.Fatalf("PutRecords: %v", err)
	}
	if len(out.Records) != 100 {
		t.Fatalf("%d result entries, want 100", len(out.Records))
	}
	failed := 0
	var want []string
	for i, r := range out.Records {
		switch {
		case r.ErrorCode != nil:
			failed++
			if *r.ErrorCode != "ProvisionedThroughputExceededException" || aws.ToString(r.ErrorMessage) == "" || r.SequenceNumber != nil {
				t.Errorf("entry %d: failed with %v %v, seq %v", i, r.ErrorCode, r.ErrorMessage, r.SequenceNumber)
			}
		case r.SequenceNumber == nil || aws.ToString(r.ShardId) == "":
			t.Errorf("entry %d: neither failed nor stored", i)
		default:
			want = append(want, fmt.Sprintf("data-%d/key-%d/%s", i, i, *r.SequenceNumber))
		}
	}
	if failed == 0 || failed == 100 || int(aws.ToInt32(out.FailedRecordCount)) != failed {
		t.Errorf("FailedRecordCount %d, %d entries failed; want a partial failure", aws.ToInt32(out.FailedRecordCount), failed)
	}
	stored := s.Stored()
	if len(stored) != len(want) {
		t.Fatalf("%d stored, want %d", len(stored), len(want))
	}
	for i, r := range stored {
		if got := fmt.Sprintf("%s/%s/%s", r.Data, r.PartitionKey, r.Seq); got != want[i] || r.Stream != "s" {
			t.Errorf("stored[%d] = %s in %s, want %s", i, got, r.Stream, want[i])
		}
	}
	c := s.Counts()
	if c.Requests != 1 || c.Entries != 100 || c.FailedEntries != failed || c.MaxBatchRecords != 100 {
		t.Errorf("counts %+v", c)
	}
}

func TestFaultErrors(t *testing.T) {
	tests := []struct {
		name     string
		opts     FaultOptions
		down     bool
		stream   string
		records  int
		wantCode string
		check    func(t *testing.T, c FaultCounts)
	}{
		{"injected 500", FaultOptions{Error500Rate: 1}, false, "s", 1, "InternalFailure",
			func(t *testing.T, c FaultCounts) {
				if c.Errors500 != 1 {
					t.Errorf("Errors500 = %d, want 1", c.Errors500)
				}
			}},
		{"unknown stream", FaultOptions{Streams: []string{"s"}}, false, "other", 1, "ResourceNotFoundException", nil},
		{"too many records", FaultOptions{}, false, "s", 501, "ValidationException", nil},
		{"outage", FaultOptions{Seed: 4}, true, "s", 1, "", func(t *testing.T, c FaultCounts) {
			if c.DownRejected != 1 {
				t.Errorf("DownRejected = %d, want 1", c.DownRejected)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewFaultServer(t, tt.opts)
			s.SetDown(tt.down)
			_, err := faultClient(s).PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(tt.stream), Records: faultEntries(tt.records)})
			if err == nil {
				t.Fatal("PutRecords succeeded, want an error")
			}
			if tt.wantCode != "" {
				var ae smithy.APIError
				if !errors.As(err, &ae) || ae.ErrorCode() != tt.wantCode {
					t.Errorf("error %v, want code %s", err, tt.wantCode)
				}
			}
			if len(s.Stored()) != 0 {
				t.Errorf("%d records stored by a failed request", len(s.Stored()))
			}
			if tt.check != nil {
				tt.check(t, s.Counts())
			}
		})
	}
}

func TestFaultOutageAnswersBothWays(t *testing.T) {
	s := NewFaultServer(t, FaultOptions{Seed: 9})
	s.SetDown(true)
	c := faultClient(s)
	var unavailable, cut int
	for range 20 {
		_, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
		var ae smithy.APIError
		switch {
		case err == nil:
			t.Fatal("request succeeded during an outage")
		case errors.As(err, &ae) && ae.ErrorCode() == "ServiceUnavailable":
			unavailable++
		default:
			cut++
		}
	}
	if unavailable == 0 || cut == 0 {
		t.Errorf("%d answered 503 and %d cut, want both", unavailable, cut)
	}
	s.SetDown(false)
	if _, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")}); err != nil {
		t.Errorf("after the outage: %v", err)
	}
}

func TestFaultStreamOperations(t *testing.T) {
	s := NewFaultServer(t, FaultOptions{Streams: []string{"a"}})
	c := faultClient(s)
	ctx := context.Background()
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("b"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	var inUse *types.ResourceInUseException
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("b"), ShardCount: aws.Int32(1)}); !errors.As(err, &inUse) {
		t.Errorf("creating b again: %v, want ResourceInUseException", err)
	}
	ls, err := c.ListStreams(ctx, &kinesis.ListStreamsInput{})
	if err != nil || strings.Join(ls.StreamNames, ",") != "a,b" || len(ls.StreamSummaries) != 2 {
		t.Fatalf("ListStreams = %+v, %v; want a and b", ls, err)
	}
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:123456789012:stream/b")})
	if err != nil {
		t.Fatalf("DescribeStreamSummary: %v", err)
	}
	if d := sum.StreamDescriptionSummary; aws.ToString(d.StreamName) != "b" || d.StreamStatus != types.StreamStatusActive || d.StreamCreationTimestamp == nil {
		t.Errorf("summary %+v", d)
	}
	desc, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("a")})
	if err != nil || len(desc.StreamDescription.Shards) != 1 || aws.ToString(desc.StreamDescription.Shards[0].ShardId) != faultShardID {
		t.Errorf("DescribeStream = %+v, %v", desc, err)
	}
	shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("a")})
	if err != nil || len(shards.Shards) != 1 {
		t.Errorf("ListShards = %+v, %v", shards, err)
	}
	var notFound *types.ResourceNotFoundException
	if _, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("c")}); !errors.As(err, &notFound) {
		t.Errorf("describing c: %v, want ResourceNotFoundException", err)
	}
}

func TestFaultPutRecord(t *testing.T) {
	s := NewFaultServer(t, FaultOptions{})
	c := faultClient(s)
	out, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("s"), Data: []byte("one"), PartitionKey: aws.String("k")})
	if err != nil {
		t.Fatalf("PutRecord: %v", err)
	}
	st := s.Stored()
	if len(st) != 1 || string(st[0].Data) != "one" || st[0].Seq != aws.ToString(out.SequenceNumber) {
		t.Errorf("stored %+v for answer %+v", st, out)
	}
	s.SetOptions(FaultOptions{FailEntryRate: 1})
	var pte *types.ProvisionedThroughputExceededException
	if _, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("s"), Data: []byte("two"), PartitionKey: aws.String("k")}); !errors.As(err, &pte) {
		t.Errorf("PutRecord with FailEntryRate 1: %v, want ProvisionedThroughputExceededException", err)
	}
	if c := s.Counts(); c.Entries != 2 || c.FailedEntries != 1 || len(s.Stored()) != 1 {
		t.Errorf("counts %+v, %d stored", c, len(s.Stored()))
	}
}

func TestFaultNeedsAuthorization(t *testing.T) {
	s := NewFaultServer(t, FaultOptions{})
	req, err := http.NewRequest(http.MethodPost, s.URL(), bytes.NewReader([]byte(`{"StreamName":"s"}`)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.DescribeStreamSummary")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "MissingAuthenticationToken") {
		t.Errorf("unsigned request: %d %s", resp.StatusCode, body)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestFaultLatencyAndStart(t *testing.T) {
	s, err := StartFaultServer(FaultOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL %s is not on loopback", s.URL())
	}
	const latency = 50 * time.Millisecond
	s.SetOptions(FaultOptions{Latency: latency})
	start := time.Now()
	if _, err := faultClient(s).ListStreams(context.Background(), &kinesis.ListStreamsInput{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < latency {
		t.Errorf("answered after %v, want at least the %v latency", d, latency)
	}
}
