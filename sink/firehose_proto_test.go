// Tests of Firehose PutRecordBatch: body, answers, signature, endpoint,
// errors.

package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	fhtypes "github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const (
	fhOKEntry      = `{"RecordId":"4pFv3qW1mJ2xM1t6aGVsbG8gd29ybGQgdGhpcyBpcyBhIHJlY29yZCBpZCB0aGF0IGlzIGxvbmc="}`
	fhSlowDown     = `{"ErrorCode":"ServiceUnavailableException","ErrorMessage":"Slow down."}`
	testDeliveryID = "events-delivery"
)

// wireBatch is a PutRecordBatch body as encoding/json writes it.
type wireBatch struct {
	DeliveryStreamName string          `json:"DeliveryStreamName"`
	Records            []wireBatchData `json:"Records"`
}

type wireBatchData struct {
	Data []byte `json:"Data"`
}

// TestPutRecordBatchBodyMatchesEncodingJSON requires the hand-written body
// to be byte for byte what encoding/json writes for the same request, and
// its precomputed length to be exact.
func TestPutRecordBatchBodyMatchesEncodingJSON(t *testing.T) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	tests := []struct {
		name    string
		stream  string
		entries []entry
	}{
		{"no records", "events", nil},
		{"one record", "events", []entry{{data: []byte(`{"a":1}`)}}},
		{"partition keys are not sent", "events", []entry{{data: []byte("x"), key: "k1"}, {data: []byte("y"), key: "k2"}}},
		{"empty records", "events", []entry{{data: []byte{}}, {data: binary[:0]}}},
		{"binary data of every length mod 3", "events", []entry{
			{data: binary}, {data: binary[:1]}, {data: binary[:2]}, {data: binary[:3]},
		}},
		{"a stream name with characters to escape", `we"ird\name`, []entry{{data: []byte("x")}}},
		{"a stream name with unicode", "flux-日本", []entry{{data: []byte("x")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const prefix = "garbage to be kept"
			body := appendPutRecordBatchBody([]byte(prefix), tt.stream, tt.entries, nil)
			if !strings.HasPrefix(string(body), prefix) {
				t.Fatalf("appendPutRecordBatchBody did not append")
			}
			body = body[len(prefix):]
			if n := putRecordBatchBodyLen(tt.stream, tt.entries); n != len(body) {
				t.Errorf("putRecordBatchBodyLen = %d, body has %d bytes", n, len(body))
			}
			want := wireBatch{DeliveryStreamName: tt.stream, Records: []wireBatchData{}}
			for _, e := range tt.entries {
				want.Records = append(want.Records, wireBatchData{Data: e.data})
			}
			wantBody, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, wantBody) {
				t.Errorf("body\n%s\nencoding/json writes\n%s", body, wantBody)
			}
		})
	}
}

func TestPutRecordBatchBodyAllocations(t *testing.T) {
	entries := sameEntries(500, []byte(`{"time":"2024-05-01T12:00:00Z","host":"web-1","status":200}`), "")
	body := appendPutRecordBatchBody(nil, "s", entries, nil) // grow the buffer once
	allocs := testing.AllocsPerRun(20, func() { body = appendPutRecordBatchBody(body[:0], "s", entries, nil) })
	if allocs != 0 {
		t.Errorf("building a body of 500 records into a reused buffer allocates %.0f times, want 0", allocs)
	}
}

func TestFirehoseAnswerParse(t *testing.T) {
	fh := firehoseProtocol()
	S, T, R, F := noFailure, failThrottled, failTransient, failRefused
	tests := []struct {
		name      string
		body      string
		want      []failure
		code, msg string
	}{
		{"all stored", `{"FailedPutCount":0,"Encrypted":false,"RequestResponses":[` + fhOKEntry + `,` + fhOKEntry + `]}`,
			[]failure{S, S}, "", ""},
		{"a partial failure", `{"FailedPutCount":1,"Encrypted":true,"RequestResponses":[` + fhOKEntry + `,` + fhSlowDown + `,` + fhOKEntry + `]}`,
			[]failure{S, T, S}, "ServiceUnavailableException", "Slow down."},
		{"codes are classified", `{"FailedPutCount":6,"RequestResponses":[` +
			`{"ErrorCode":"InternalFailure","ErrorMessage":"oops"},` + fhSlowDown + `,` +
			`{"ErrorCode":"KMS.AccessDeniedException","ErrorMessage":"denied"},` +
			`{"ErrorCode":"KMS.DisabledException","ErrorMessage":"disabled"},` +
			`{"ErrorCode":"KMS.ThrottlingException","ErrorMessage":"kms busy"},` +
			`{"ErrorCode":"SomethingNew"},` + fhOKEntry + `]}`,
			[]failure{R, T, F, F, T, F, S}, "InternalFailure", "oops"},
		{"members in any order, unknown ones skipped", `{"RequestResponses":[{"ErrorMessage":"m","RecordId":null,"ErrorCode":"ServiceUnavailableException","X":[1]}],"Unknown":{"a":"]"},"FailedPutCount":1,"Encrypted":null}`,
			[]failure{T}, "ServiceUnavailableException", "m"},
		{"Kinesis members are not Firehose's", `{"FailedPutCount":0,"Records":[` + fhSlowDown + `],"RequestResponses":[` + fhOKEntry + `]}`,
			[]failure{S}, "", ""},
		{"no records", `{"FailedPutCount":0,"Encrypted":false,"RequestResponses":[]}`, []failure{}, "", ""},
	}
	var a putAnswer // reused, as a worker does
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !json.Valid([]byte(tt.body)) {
				t.Fatalf("test body is not JSON: %s", tt.body)
			}
			if err := a.parse(fh, []byte(tt.body)); err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !reflect.DeepEqual(a.status, tt.want) && len(a.status)+len(tt.want) > 0 {
				t.Errorf("statuses %v, want %v", a.status, tt.want)
			}
			if a.code != tt.code || a.msg != tt.msg {
				t.Errorf("first failure (%q, %q), want (%q, %q)", a.code, a.msg, tt.code, tt.msg)
			}
		})
	}
}

func TestFirehoseAnswerParseRejectsMalformed(t *testing.T) {
	fh := firehoseProtocol()
	for _, body := range []string{
		``,
		`{}`,
		`{"FailedPutCount":0,"RequestResponses":[` + fhOKEntry,
		`{"FailedPutCount":0,"RequestResponses":[` + fhOKEntry + `]} x`,
		`{"FailedPutCount":0,"RequestResponses":{}}`,
		`{"FailedPutCount":0,"RequestResponses":[null]}`,
		`{"FailedPutCount":"0","RequestResponses":[]}`,
		`{"RequestResponses":[]}`,
		// A Kinesis answer is not a Firehose answer.
		`{"FailedRecordCount":0,"Records":[]}`,
		// Counts that disagree with the entries: which ones failed is uncertain.
		`{"FailedPutCount":1,"RequestResponses":[` + fhOKEntry + `]}`,
		`{"FailedPutCount":0,"RequestResponses":[` + fhSlowDown + `]}`,
	} {
		var a putAnswer
		if err := a.parse(fh, []byte(body)); err == nil {
			t.Errorf("parse(%s) succeeded with %v, want an error", body, a.status)
		}
	}
}

// TestPutAnswerCodesPerProtocol reuses one answer for both protocols: a
// code remembered for one must not be classified the other's way.
func TestPutAnswerCodesPerProtocol(t *testing.T) {
	kinesisJSON := kinesisProtocol(false)
	fh := firehoseProtocol()
	const entry = `{"ErrorCode":"ServiceUnavailableException","ErrorMessage":"x"}`
	kinesisBody := []byte(`{"FailedRecordCount":1,"Records":[` + entry + `]}`)
	firehoseBody := []byte(`{"FailedPutCount":1,"RequestResponses":[` + entry + `]}`)
	var a putAnswer
	for _, step := range []struct {
		p    *protocol
		body []byte
		want failure
	}{
		{kinesisJSON, kinesisBody, failTransient},
		{fh, firehoseBody, failThrottled},
		{kinesisJSON, kinesisBody, failTransient},
	} {
		if err := a.parse(step.p, step.body); err != nil {
			t.Fatalf("parse %s answer: %v", step.p.operation, err)
		}
		if len(a.status) != 1 || a.status[0] != step.want {
			t.Errorf("%s: statuses %v, want [%v]", step.p.operation, a.status, step.want)
		}
	}
}

func TestFirehoseAnswerParseAllocations(t *testing.T) {
	fh := firehoseProtocol()
	var b strings.Builder
	b.WriteString(`{"FailedPutCount":0,"Encrypted":false,"RequestResponses":[`)
	for i := range 500 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(fhOKEntry)
	}
	b.WriteString(`]}`)
	body := []byte(b.String())
	var a putAnswer
	if err := a.parse(fh, body); err != nil || len(a.status) != 500 {
		t.Fatalf("parse: %v, %d statuses", err, len(a.status))
	}
	allocs := testing.AllocsPerRun(20, func() {
		if err := a.parse(fh, body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("parse allocates %.0f times, want 0", allocs)
	}
}

func testFirehosePutClient(t *testing.T, endpoint string) *putClient {
	t.Helper()
	o := firehose.New(firehose.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint)}).Options()
	c, err := newFirehosePutClient(context.Background(), firehoseProtocol(), o, http.DefaultClient,
		credentials.StaticCredentialsProvider{Value: testCreds}, "kinetail/test")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFirehosePutSignatureMatchesSDK sends the same PutRecordBatch call
// through the SDK's Firehose client and through putClient's request
// building and signing, and requires the same body and Authorization
// header. The SDK's two bookkeeping headers are deleted just before its
// signing step, as putClient does not send them.
func TestFirehosePutSignatureMatchesSDK(t *testing.T) {
	srv := newCapture(t, http.StatusOK, `{"FailedPutCount":0,"Encrypted":false,"RequestResponses":[`+fhOKEntry+`,`+fhOKEntry+`]}`)
	records := [][]byte{[]byte("hello"), {0, 1, 2, 0xff}}
	for _, creds := range []aws.Credentials{testCreds, {AccessKeyID: "AKID2", SecretAccessKey: "secret"}} {
		sdk := firehose.New(firehose.Options{
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
		in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(testDeliveryID)}
		var entries []entry
		for _, r := range records {
			in.Records = append(in.Records, fhtypes.Record{Data: r})
			entries = append(entries, entry{data: r, key: "ignored"})
		}
		out, err := sdk.PutRecordBatch(context.Background(), in)
		if err != nil {
			t.Fatalf("SDK PutRecordBatch: %v", err)
		}
		if len(out.RequestResponses) != 2 {
			t.Fatalf("SDK read %d responses from the test answer, want 2", len(out.RequestResponses))
		}
		sdkHeader, sdkBody := srv.last()
		if !json.Valid(sdkBody) {
			t.Fatalf("SDK body is not JSON: %s", sdkBody)
		}
		var sdkReq, ours wireBatch
		ourBody := appendPutRecordBatchBody(nil, testDeliveryID, entries, nil)
		if err := json.Unmarshal(sdkBody, &sdkReq); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(ourBody, &ours); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(sdkReq, ours) {
			t.Errorf("our body %s decodes differently from the SDK's %s", ourBody, sdkBody)
		}
		signedAt, err := time.Parse("20060102T150405Z", sdkHeader.Get("X-Amz-Date"))
		if err != nil {
			t.Fatalf("SDK X-Amz-Date: %v", err)
		}

		c := testFirehosePutClient(t, srv.srv.URL)
		req, err := c.newRequest(context.Background(), io.NopCloser(bytes.NewReader(sdkBody)), len(sdkBody))
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
		if !strings.Contains(got, "/us-east-1/firehose/aws4_request") {
			t.Errorf("Authorization %s is not scoped to firehose", got)
		}
		for _, h := range []string{"Content-Type", "X-Amz-Target", "X-Amz-Date", "X-Amz-Security-Token"} {
			if g, w := req.Header.Get(h), sdkHeader.Get(h); g != w {
				t.Errorf("header %s = %q, the SDK sends %q", h, g, w)
			}
		}
	}
}

// TestFirehosePutSendsRequest checks what reaches the server from put and
// that the answer is read as a Firehose answer.
func TestFirehosePutSendsRequest(t *testing.T) {
	srv := newCapture(t, http.StatusOK, `{"FailedPutCount":1,"Encrypted":false,"RequestResponses":[`+fhOKEntry+`,`+fhSlowDown+`]}`)
	c := testFirehosePutClient(t, srv.srv.URL)
	if c.proto.operation != "PutRecordBatch" {
		t.Errorf("operation %q, want PutRecordBatch", c.proto.operation)
	}
	var b putBuffers
	b.body = appendPutRecordBatchBody(nil, testDeliveryID, []entry{{data: []byte("a")}, {data: []byte("b")}}, nil)
	if err := c.put(context.Background(), &b); err != nil {
		t.Fatalf("put: %v", err)
	}
	header, body := srv.last()
	if string(body) != string(b.body) {
		t.Errorf("server got body %s, want %s", body, b.body)
	}
	for h, v := range map[string]string{
		"Content-Type": "application/x-amz-json-1.1",
		"X-Amz-Target": "Firehose_20150804.PutRecordBatch",
		"User-Agent":   "kinetail/test",
	} {
		if got := header.Get(h); got != v {
			t.Errorf("header %s = %q, want %q", h, got, v)
		}
	}
	if want := []failure{noFailure, failThrottled}; !reflect.DeepEqual(b.res.status, want) {
		t.Errorf("statuses %v, want %v", b.res.status, want)
	}
	if b.res.failed != 1 || b.res.code != "ServiceUnavailableException" || b.res.msg != "Slow down." {
		t.Errorf("answer failed=%d first (%q, %q), want 1 (ServiceUnavailableException, Slow down.)", b.res.failed, b.res.code, b.res.msg)
	}
}

func TestFirehosePutEndpoint(t *testing.T) {
	tests := []struct {
		name string
		o    firehose.Options
		want string
	}{
		{"a regional endpoint", firehose.Options{Region: "eu-west-1"}, "https://firehose.eu-west-1.amazonaws.com/"},
		{"the China partition", firehose.Options{Region: "cn-north-1"}, "https://firehose.cn-north-1.amazonaws.com.cn/"},
		{"FIPS", firehose.Options{Region: "us-east-1", EndpointOptions: firehose.EndpointResolverOptions{UseFIPSEndpoint: aws.FIPSEndpointStateEnabled}},
			"https://firehose-fips.us-east-1.amazonaws.com/"},
		{"dual-stack", firehose.Options{Region: "us-east-1", EndpointOptions: firehose.EndpointResolverOptions{UseDualStackEndpoint: aws.DualStackEndpointStateEnabled}},
			"https://firehose.us-east-1.api.aws/"},
		{"an endpoint override wins", firehose.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:4573")}, "http://127.0.0.1:4573/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newFirehosePutClient(context.Background(), firehoseProtocol(), firehose.New(tt.o).Options(), http.DefaultClient, nil, "ua")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.endpoint(); got != tt.want {
				t.Errorf("endpoint %s, want %s", got, tt.want)
			}
			if c.service != "firehose" || c.region != tt.o.Region {
				t.Errorf("signing scope %s/%s, want firehose/%s", c.service, c.region, tt.o.Region)
			}
		})
	}
	if _, err := newFirehosePutClient(context.Background(), firehoseProtocol(), firehose.Options{}, http.DefaultClient, nil, "ua"); err == nil {
		t.Error("no region and no endpoint was accepted")
	}
	if _, err := newFirehosePutClient(context.Background(), firehoseProtocol(), firehose.Options{Region: "us-east-1", EndpointOptions: firehose.EndpointResolverOptions{
		UseFIPSEndpoint: aws.FIPSEndpointStateEnabled}, BaseEndpoint: aws.String("http://127.0.0.1:1")}, http.DefaultClient, nil, "ua"); err == nil {
		t.Error("FIPS with an endpoint override was accepted")
	}
}

func TestFirehosePutErrors(t *testing.T) {
	fh := firehoseProtocol()
	tests := []struct {
		name   string
		status int
		answer string
		code   string
		want   failure
	}{
		{"a missing delivery stream", 400, `{"__type":"ResourceNotFoundException","message":"Firehose events under account 123456789012 not found."}`,
			"ResourceNotFoundException", failRefused},
		{"over the stream's quota", 400, `{"__type":"ServiceUnavailableException","message":"Slow down."}`,
			"ServiceUnavailableException", failThrottled},
		{"a bad argument", 400, `{"__type":"InvalidArgumentException","message":"Records size exceeds 4 MB limit"}`,
			"InvalidArgumentException", failRefused},
		{"a KMS key that cannot be used", 400, `{"__type":"InvalidKMSResourceException","code":"KMS.DisabledException","message":"disabled"}`,
			"InvalidKMSResourceException", failRefused},
		{"too many requests", 400, `{"__type":"LimitExceededException","message":"limit"}`,
			"LimitExceededException", failThrottled},
		{"an internal error", 500, `{"__type":"InternalFailure","message":"x"}`, "InternalFailure", failTransient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newCapture(t, tt.status, tt.answer)
			c := testFirehosePutClient(t, srv.srv.URL)
			var b putBuffers
			b.body = appendPutRecordBatchBody(nil, testDeliveryID, []entry{{data: []byte("x")}}, nil)
			err := c.put(context.Background(), &b)
			var ae *apiError
			if !errors.As(err, &ae) {
				t.Fatalf("put error %v (%T), want an API error", err, err)
			}
			if ae.status != tt.status || ae.code != tt.code {
				t.Errorf("API error %+v, want status %d code %s", *ae, tt.status, tt.code)
			}
			if got := c.proto.classify(err); got != tt.want {
				t.Errorf("classify(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
	// Not an answer at all: transient, as for Kinesis.
	if got := fh.classify(errors.New("connection reset")); got != failTransient {
		t.Errorf("a transport error classified %v, want %v", got, failTransient)
	}
}
