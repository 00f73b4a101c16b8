package benchaccept

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/kinetail/kinetail/internal/sdkbody"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// client returns an SDK client for a that trusts roots (nil: the system's),
// sending through sdkbody.Client as kinetail does: without it, a call now
// and then fails reading an answer that came before the transport was done
// with the request.
func client(t *testing.T, a *Acceptor, roots *x509.CertPool) *kinesis.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	t.Cleanup(tr.CloseIdleConnections)
	return kinesis.New(kinesis.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint:     aws.String(a.URL()),
		HTTPClient:       sdkbody.Client{Next: &http.Client{Transport: tr}},
		RetryMaxAttempts: 1,
	})
}

// trust returns a pool holding a's certificate (nil without TLS).
func trust(t *testing.T, a *Acceptor) *x509.CertPool {
	t.Helper()
	if !strings.HasPrefix(a.URL(), "https:") {
		return nil
	}
	caFile, err := a.CAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	return roots
}

func start(t *testing.T, o Options) *Acceptor {
	t.Helper()
	a, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func TestAcceptorWithSDK(t *testing.T) {
	a := start(t, Options{TLS: true, Stream: "bench", CountLines: true})
	u, err := url.Parse(a.URL())
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Hostname() != "127.0.0.1" {
		t.Fatalf("URL = %s, want https://127.0.0.1:PORT", a.URL())
	}
	caFile, err := a.CAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	kc := client(t, a, roots)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	sum, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("bench")})
	if err != nil {
		t.Fatal(err)
	}
	if d := sum.StreamDescriptionSummary; d.StreamStatus != types.StreamStatusActive || aws.ToInt32(d.OpenShardCount) != 1 ||
		aws.ToString(d.StreamName) != "bench" || !strings.HasSuffix(aws.ToString(d.StreamARN), ":stream/bench") {
		t.Errorf("DescribeStreamSummary = %+v", d)
	}
	desc, err := kc.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamARN: sum.StreamDescriptionSummary.StreamARN})
	if err != nil {
		t.Fatal(err)
	}
	if d := desc.StreamDescription; d.StreamStatus != types.StreamStatusActive || len(d.Shards) != 1 {
		t.Errorf("DescribeStream = %+v", d)
	}
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("bench")})
	if err != nil {
		t.Fatal(err)
	}
	if len(shards.Shards) != 1 || aws.ToString(shards.Shards[0].ShardId) != shardID {
		t.Errorf("ListShards = %+v", shards.Shards)
	}

	_, err = kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("other")})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("DescribeStreamSummary of another stream: err = %v, want ResourceNotFoundException", err)
	}
	_, err = kc.PutRecords(ctx, &kinesis.PutRecordsInput{
		StreamName: aws.String("other"),
		Records:    []types.PutRecordsRequestEntry{{Data: []byte("x"), PartitionKey: aws.String("k")}},
	})
	if !errors.As(err, &notFound) {
		t.Errorf("PutRecords to another stream: err = %v, want ResourceNotFoundException", err)
	}
	if s := a.Stats(); s.Requests != 0 || s.Records != 0 {
		t.Errorf("failed calls were counted: %+v", s)
	}

	big := bytes.Repeat([]byte("x"), 30000)
	puts := [][]types.PutRecordsRequestEntry{{
		{Data: []byte("{\"a\":1}\n"), PartitionKey: aws.String("k1")},
		{Data: []byte("{\"a\":2}\n{\"a\":3}\n"), PartitionKey: aws.String("k2")},
		{Data: big, PartitionKey: aws.String("k3")}, // 2 payload units, 1 line
	}, {
		{Data: []byte("x"), PartitionKey: aws.String("k4")},
	}}
	seqs := map[string]bool{}
	for _, entries := range puts {
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("bench"), Records: entries})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(out.FailedRecordCount) != 0 || len(out.Records) != len(entries) {
			t.Fatalf("PutRecords: %d failed, %d results for %d records", aws.ToInt32(out.FailedRecordCount), len(out.Records), len(entries))
		}
		for _, r := range out.Records {
			seq := aws.ToString(r.SequenceNumber)
			if seq == "" || seqs[seq] || aws.ToString(r.ShardId) != shardID || r.ErrorCode != nil {
				t.Errorf("result %+v: want a new sequence number on %s", r, shardID)
			}
			seqs[seq] = true
		}
	}

	got := a.Stats()
	want := Stats{
		Requests:     2,
		Records:      4,
		DataBytes:    8 + 16 + 30000 + 1,
		PayloadUnits: 1 + 1 + 2 + 1,
		UserRecords:  1 + 2 + 1 + 1,
		UserBytes:    8 + 16 + 30000 + 1, // no aggregates: the lines are the data
	}
	if got.First.IsZero() || got.Last.Before(got.First) {
		t.Errorf("First %v, Last %v: want First set and not after Last", got.First, got.Last)
	}
	got.First, got.Last = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func TestAcceptorTLSIsVerified(t *testing.T) {
	a := start(t, Options{TLS: true})
	// The generated certificate is in no system pool.
	_, err := client(t, a, nil).DescribeStreamSummary(t.Context(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("bench")})
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("call without the CA: err = %v, want an unknown authority error", err)
	}
}

func TestAcceptorPlain(t *testing.T) {
	a := start(t, Options{})
	if !strings.HasPrefix(a.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL = %s", a.URL())
	}
	if _, err := a.CAFile(t.TempDir()); err == nil {
		t.Error("CAFile without TLS succeeded")
	}
	out, err := client(t, a, nil).PutRecords(t.Context(), &kinesis.PutRecordsInput{
		StreamName: aws.String("bench"), // the default stream
		Records: []types.PutRecordsRequestEntry{
			{Data: []byte("a\nb\n"), PartitionKey: aws.String("k")},
			{Data: []byte("c"), PartitionKey: aws.String("k")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Records) != 2 {
		t.Fatalf("%d results, want 2", len(out.Records))
	}
	// Without CountLines each Kinesis record is one user record.
	if s := a.Stats(); s.Records != 2 || s.UserRecords != 2 || s.DataBytes != 5 {
		t.Errorf("Stats = %+v, want 2 records, 2 user records, 5 bytes", s)
	}
}
