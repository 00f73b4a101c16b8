package benchaccept

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func put(kc *kinesis.Client, t *testing.T, entries ...types.PutRecordsRequestEntry) (*kinesis.PutRecordsOutput, error) {
	return kc.PutRecords(t.Context(), &kinesis.PutRecordsInput{StreamName: aws.String("bench"), Records: entries})
}

func line(s string) types.PutRecordsRequestEntry {
	return types.PutRecordsRequestEntry{Data: []byte(s), PartitionKey: aws.String("k")}
}

// While down, the endpoint cannot be reached, on a kept-alive connection
// or a new one; once up it answers again.
func TestAcceptorDown(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		a := start(t, Options{TLS: tlsOn})
		kc := client(t, a, trust(t, a))
		if _, err := put(kc, t, line("a")); err != nil {
			t.Fatal(err)
		}
		a.SetDown(true)
		// The first call finds its kept-alive connection reset; the second
		// opens a new one, reset at once.
		for i := range 2 {
			if _, err := put(kc, t, line("b")); err == nil {
				t.Fatalf("TLS %v: call %d while down succeeded", tlsOn, i+1)
			}
		}
		s := a.Stats()
		if s.Refused < 2 || s.Requests != 1 || s.Records != 1 {
			t.Errorf("TLS %v: while down, Stats = %+v; want at least 2 refused, 1 request and record", tlsOn, s)
		}
		a.SetDown(false)
		if _, err := put(kc, t, line("c")); err != nil {
			t.Fatalf("TLS %v: after the outage: %v", tlsOn, err)
		}
		if s := a.Stats(); s.Requests != 2 || s.Records != 2 {
			t.Errorf("TLS %v: after the outage, Stats = %+v; want 2 requests and records", tlsOn, s)
		}
	}
}
