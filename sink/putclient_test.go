// Tests of putClient against local HTTP servers: signatures as the SDK's,
// endpoints, errors, clock skew.

package sink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// capture is a loopback server that records the last request and answers
// with a fixed status and body.
type capture struct {
	srv *httptest.Server

	mu     sync.Mutex
	header http.Header
	body   []byte
	status int
	answer string
	extra  http.Header // added to every answer
}

func newCapture(t *testing.T, status int, answer string) *capture {
	t.Helper()
	c := &capture{status: status, answer: answer}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.header, c.body = r.Header.Clone(), body
		status, answer := c.status, c.answer
		for k, v := range c.extra {
			w.Header()[k] = v
		}
		c.mu.Unlock()
		w.Header().Set("Content-Type", jsonContentType)
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *capture) last() (http.Header, []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.header, c.body
}

var testCreds = aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: "session-token"}

func testPutClient(t *testing.T, endpoint string) *putClient {
	t.Helper()
	o := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint)}).Options()
	c, err := newPutClient(context.Background(), kinesisProtocol(false), o, http.DefaultClient,
		credentials.StaticCredentialsProvider{Value: testCreds}, testStream, false, "kinetail/test")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPutSignatureMatchesSDK sends the same PutRecords call through the
// SDK's client and through putClient's request building and signing, and
// requires the same Authorization header: the signed header set, their
// canonical values, the payload hash and the signing scope all agree with
// the SDK's. The SDK's two bookkeeping headers (invocation id, attempt
// count) are deleted just before its signing step, as putClient does not
// send them.
func TestPutSignatureMatchesSDK(t *testing.T) {
	srv := newCapture(t, http.StatusOK, `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-0"},{"SequenceNumber":"2","ShardId":"shardId-0"}]}`)
	for _, creds := range []aws.Credentials{testCreds, {AccessKeyID: "AKID2", SecretAccessKey: "secret"}} {
		sdk := kinesis.New(kinesis.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(srv.srv.URL),
			Credentials:  credentials.StaticCredentialsProvider{Value: creds},
			HTTPClient:   http.DefaultClient,
			APIOptions: []func(*middleware.Stack) error{func(s *middleware.Stack) error {
				return s.Finalize.Insert(middleware.FinalizeMiddlewareFunc("DropBookkeeping",
					func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
						if req, ok := in.Request.(*smithyhttp.Request); ok {
							req.Header.Del("Amz-Sdk-Invocation-Id")
							req.Header.Del("Amz-Sdk-Request")
						}
						return next.HandleFinalize(ctx, in)
					}), "Signing", middleware.Before)
			}},
		})
		_, err := sdk.PutRecords(context.Background(), &kinesis.PutRecordsInput{
			StreamName: aws.String(testStream),
			Records: []types.PutRecordsRequestEntry{
				{Data: []byte("hello"), PartitionKey: aws.String("k")},
				{Data: []byte{0, 1, 2, 0xff}, PartitionKey: aws.String("ключ \"q\"")},
			},
		})
		if err != nil {
			t.Fatalf("SDK PutRecords: %v", err)
		}
		sdkHeader, sdkBody := srv.last()
		signedAt, err := time.Parse("20060102T150405Z", sdkHeader.Get("X-Amz-Date"))
		if err != nil {
			t.Fatalf("SDK X-Amz-Date: %v", err)
		}

		c := testPutClient(t, srv.srv.URL)
		req, err := c.newRequest(context.Background(), io.NopCloser(strings.NewReader(string(sdkBody))), len(sdkBody))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.sign(context.Background(), req, sdkBody, creds, signedAt); err != nil {
			t.Fatal(err)
		}
		got, want := req.Header.Get("Authorization"), sdkHeader.Get("Authorization")
		if got == "" || got != want {
			t.Errorf("Authorization\n got %s\nwant %s", got, want)
		}
		if !strings.Contains(got, "x-amz-target") || !strings.Contains(got, "content-length") {
			t.Errorf("Authorization %s does not sign the target and length", got)
		}
		for _, h := range []string{"Content-Type", "X-Amz-Target", "X-Amz-Date", "X-Amz-Security-Token"} {
			if g, w := req.Header.Get(h), sdkHeader.Get(h); g != w {
				t.Errorf("header %s = %q, the SDK sends %q", h, g, w)
			}
		}
	}
}

// TestPutSendsSignedRequest checks what reaches the server from put: the
// body, the headers, and a signature that the SDK's signer computes for an
// identical request built by hand with fixed credentials and time.
func TestPutSendsSignedRequest(t *testing.T) {
	srv := newCapture(t, http.StatusOK, `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-0"}]}`)
	c := testPutClient(t, srv.srv.URL)
	ks := &keySource{deterministic: true}
	var b putBuffers
	b.body = appendPutRecordsBody(nil, testStream, false, []entry{{data: []byte("hello"), key: "k"}}, ks, nil)
	if err := c.put(context.Background(), &b); err != nil {
		t.Fatalf("put: %v", err)
	}
	header, body := srv.last()
	if string(body) != string(b.body) {
		t.Errorf("server got body %s, want %s", body, b.body)
	}
	if b.body == nil {
		t.Error("the body buffer was given up although the request was done with it")
	}
	want := map[string]string{
		"Content-Type":         jsonContentType,
		"X-Amz-Target":         "Kinesis_20131202.PutRecords",
		"Content-Length":       strconv.Itoa(len(b.body)),
		"User-Agent":           "kinetail/test",
		"X-Amz-Security-Token": "session-token",
	}
	for h, v := range want {
		if got := header.Get(h); got != v {
			t.Errorf("header %s = %q, want %q", h, got, v)
		}
	}
	if len(b.res.status) != 1 || b.res.status[0] != noFailure {
		t.Errorf("answer statuses %v, want one stored", b.res.status)
	}

	// The same request built by hand and signed by the SDK's signer at the
	// time put used.
	signedAt, err := time.Parse("20060102T150405Z", header.Get("X-Amz-Date"))
	if err != nil {
		t.Fatal(err)
	}
	hand, err := http.NewRequest(http.MethodPost, srv.srv.URL+"/", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	hand.Header.Set("Content-Type", "application/x-amz-json-1.1")
	hand.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, hand, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", signedAt); err != nil {
		t.Fatal(err)
	}
	if got, want := header.Get("Authorization"), hand.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization\n got %s\nwant %s", got, want)
	}
}

func TestPutEndpoint(t *testing.T) {
	arn := "arn:aws:kinesis:us-east-1:123456789012:stream/s"
	tests := []struct {
		name   string
		o      kinesis.Options
		stream string
		want   string
	}{
		{"a regional endpoint", kinesis.Options{Region: "eu-west-1"}, "s", "https://kinesis.eu-west-1.amazonaws.com/"},
		{"the China partition", kinesis.Options{Region: "cn-north-1"}, "s", "https://kinesis.cn-north-1.amazonaws.com.cn/"},
		{"FIPS", kinesis.Options{Region: "us-east-1", EndpointOptions: kinesis.EndpointResolverOptions{UseFIPSEndpoint: aws.FIPSEndpointStateEnabled}},
			"s", "https://kinesis-fips.us-east-1.amazonaws.com/"},
		{"dual-stack", kinesis.Options{Region: "us-east-1", EndpointOptions: kinesis.EndpointResolverOptions{UseDualStackEndpoint: aws.DualStackEndpointStateEnabled}},
			"s", "https://kinesis.us-east-1.api.aws/"},
		{"a stream ARN uses the account's data endpoint", kinesis.Options{Region: "us-east-1"}, arn, "https://123456789012.data-kinesis.us-east-1.amazonaws.com/"},
		{"an endpoint override wins", kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:4567")}, arn, "http://127.0.0.1:4567/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newPutClient(context.Background(), kinesisProtocol(false), kinesis.New(tt.o).Options(), http.DefaultClient, nil, tt.stream, strings.HasPrefix(tt.stream, "arn:"), "ua")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.endpoint(); got != tt.want {
				t.Errorf("endpoint %s, want %s", got, tt.want)
			}
			if c.service != "kinesis" || c.region != tt.o.Region {
				t.Errorf("signing scope %s/%s, want kinesis/%s", c.service, c.region, tt.o.Region)
			}
		})
	}
	if _, err := newPutClient(context.Background(), kinesisProtocol(false), kinesis.New(kinesis.Options{Region: "cn-north-1"}).Options(), http.DefaultClient, nil, arn, true, "ua"); err == nil {
		t.Error("an ARN of another partition was accepted")
	}
	if _, err := newPutClient(context.Background(), kinesisProtocol(false), kinesis.Options{}, http.DefaultClient, nil, "s", false, "ua"); err == nil {
		t.Error("no region and no endpoint was accepted")
	}
}

func TestPutErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		answer string
		apiErr *apiError // nil: not an API error
		want   failure
	}{
		{"a missing stream", 400, nil, `{"__type":"ResourceNotFoundException","message":"Stream events under account 1 not found."}`,
			&apiError{status: 400, code: "ResourceNotFoundException", msg: "Stream events under account 1 not found."}, failRefused},
		{"the error type header", 400, http.Header{"X-Amzn-Errortype": {"ExpiredTokenException:http://internal.amazon.com/"}}, `{"message":"expired"}`,
			&apiError{status: 400, code: "ExpiredTokenException", msg: "expired"}, failRefused},
		{"throttling", 400, nil, `{"__type":"ProvisionedThroughputExceededException","message":"Rate exceeded"}`,
			&apiError{status: 400, code: "ProvisionedThroughputExceededException", msg: "Rate exceeded"}, failThrottled},
		{"a gateway error page", 502, nil, `<html>bad gateway</html>`, &apiError{status: 502}, failTransient},
		{"a 200 that is not an answer", 200, nil, `{"FailedRecordCount":0,"Records":[`, nil, failTransient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newCapture(t, tt.status, tt.answer)
			srv.extra = tt.header
			c := testPutClient(t, srv.srv.URL)
			var b putBuffers
			b.body = appendPutRecordsBody(nil, testStream, false, []entry{{data: []byte("x"), key: "k"}}, &keySource{deterministic: true}, nil)
			err := c.put(context.Background(), &b)
			if err == nil {
				t.Fatal("put succeeded, want an error")
			}
			var ae *apiError
			if errors.As(err, &ae) != (tt.apiErr != nil) {
				t.Fatalf("put error %v (%T), want API error %v", err, err, tt.apiErr)
			}
			if tt.apiErr != nil && *ae != *tt.apiErr {
				t.Errorf("API error %+v, want %+v", *ae, *tt.apiErr)
			}
			if got := classify(err); got != tt.want {
				t.Errorf("classify(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
}

// TestPutTransportErrorsAreRetryable makes the connection fail in the ways
// a network does and checks that each is retried.
func TestPutTransportErrorsAreRetryable(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		timeout time.Duration
	}{
		{"the connection is closed without an answer", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, 5 * time.Second},
		{"the answer is cut short", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(200)
			io.WriteString(w, `{"FailedRecordCount":0,`)
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, 5 * time.Second},
		{"the answer takes too long", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // so that the server notices the client leave
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			c := testPutClient(t, srv.URL)
			var b putBuffers
			b.body = appendPutRecordsBody(nil, testStream, false, []entry{{data: []byte("x"), key: "k"}}, &keySource{deterministic: true}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			err := c.put(ctx, &b)
			if err == nil {
				t.Fatal("put succeeded, want an error")
			}
			var ae *apiError
			if errors.As(err, &ae) {
				t.Errorf("put error %v is an API error", err)
			}
			if got := classify(err); got != failTransient {
				t.Errorf("classify(%v) = %v, want %v", err, got, failTransient)
			}
		})
	}
}

// TestPutLearnsClockSkew answers with a Date an hour ahead and an auth
// error, as the service does for a host with a wrong clock: the next
// request must be signed with the service's time.
func TestPutLearnsClockSkew(t *testing.T) {
	ahead := time.Now().Add(time.Hour).UTC()
	srv := newCapture(t, 400, `{"__type":"InvalidSignatureException","message":"Signature expired"}`)
	srv.extra = http.Header{"Date": {ahead.Format(http.TimeFormat)}}
	c := testPutClient(t, srv.srv.URL)
	var b putBuffers
	b.body = appendPutRecordsBody(nil, testStream, false, []entry{{data: []byte("x"), key: "k"}}, &keySource{deterministic: true}, nil)
	if err := c.put(context.Background(), &b); err == nil {
		t.Fatal("put succeeded, want an error")
	}
	if err := c.put(context.Background(), &b); err == nil {
		t.Fatal("put succeeded, want an error")
	}
	header, _ := srv.last()
	signedAt, err := time.Parse("20060102T150405Z", header.Get("X-Amz-Date"))
	if err != nil {
		t.Fatal(err)
	}
	if d := signedAt.Sub(ahead); d < -time.Minute || d > time.Minute {
		t.Errorf("second request signed at %v, want the service's time %v", signedAt, ahead)
	}
}
