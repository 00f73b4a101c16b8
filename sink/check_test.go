// Tests of Stream.Check: a stream that exists, one that does not, no
// credentials, and no service to answer.

package sink

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/kinesistest"
)

func TestKinesisCheck(t *testing.T) {
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Streams: []string{testStream}})
	// A loopback port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	tests := []struct {
		name     string
		stream   string
		endpoint string
		creds    aws.CredentialsProvider
		wantErr  []string // substrings; nil means success
	}{
		{"an existing stream passes", testStream, srv.URL(), nil, nil},
		{"a stream given by ARN passes", "arn:aws:kinesis:us-east-1:123456789012:stream/" + testStream, srv.URL(), nil, nil},
		{"a missing stream is named", "nope", srv.URL(), nil, []string{`stream "nope" not found in us-east-1`}},
		{"an unreachable endpoint says so", testStream, closed, nil, []string{"cannot reach", closed}},
		{"missing credentials say so", testStream, srv.URL(), aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errors.New("no credentials in the chain")
		}), []string{"credentials", "no credentials in the chain"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDestination(tt.endpoint)
			d.Stream = tt.stream
			d.Timeouts.Request = config.Duration(3 * time.Second)
			creds := tt.creds
			if creds == nil {
				creds = credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", "")
			}
			k, err := NewKinesis(context.Background(), d, Options{credentials: creds})
			if err != nil {
				t.Fatalf("NewKinesis: %v", err)
			}
			err = k.Check(context.Background())
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check succeeded, want an error")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Check error %q does not mention %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "test-secret") {
				t.Errorf("Check error %q leaks the secret key", err)
			}
		})
	}
}
