package kinesistest

import (
	"bytes"
	"encoding/hex"
	"io"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// Examples from RFC 8949 appendix A.
func TestDecodeCBORExamples(t *testing.T) {
	tests := []struct {
		hex  string
		want any
	}{
		{"00", uint64(0)},
		{"17", uint64(23)},
		{"1818", uint64(24)},
		{"1903e8", uint64(1000)},
		{"1bffffffffffffffff", uint64(math.MaxUint64)},
		{"20", int64(-1)},
		{"3903e7", int64(-1000)},
		{"f93c00", 1.0},
		{"f97bff", 65504.0},
		{"fa47c35000", 100000.0},
		{"fb3ff199999999999a", 1.1},
		{"f4", false},
		{"f5", true},
		{"f6", nil},
		{"f7", nil},
		{"c074323031332d30332d32315432303a30343a30305a", "2013-03-21T20:04:00Z"},
		{"40", []byte{}},
		{"4401020304", []byte{1, 2, 3, 4}},
		{"60", ""},
		{"6449455446", "IETF"},
		{"62c3bc", "ü"},
		{"80", []any{}},
		{"83010203", []any{uint64(1), uint64(2), uint64(3)}},
		{"8301820203820405", []any{uint64(1), []any{uint64(2), uint64(3)}, []any{uint64(4), uint64(5)}}},
		{"a0", map[string]any{}},
		{"a26161016162820203", map[string]any{"a": uint64(1), "b": []any{uint64(2), uint64(3)}}},
		{"5f42010243030405ff", []byte{1, 2, 3, 4, 5}},
		{"7f657374726561646d696e67ff", "streaming"},
		{"9fff", []any{}},
		{"9f018202039f0405ffff", []any{uint64(1), []any{uint64(2), uint64(3)}, []any{uint64(4), uint64(5)}}},
		{"bf61610161629f0203ffff", map[string]any{"a": uint64(1), "b": []any{uint64(2), uint64(3)}}},
	}
	for _, tt := range tests {
		b, err := hex.DecodeString(tt.hex)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeCBOR(b)
		if err != nil {
			t.Errorf("DecodeCBOR(%s): %v", tt.hex, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("DecodeCBOR(%s) = %#v, want %#v", tt.hex, got, tt.want)
		}
	}
}

func TestDecodeCBORRejects(t *testing.T) {
	for name, h := range map[string]string{
		"empty":                     "",
		"trailing bytes":            "0000",
		"short argument":            "19ff",
		"short string":              "6561",
		"reserved information":      "1c",
		"indefinite integer":        "1f",
		"lone break":                "ff",
		"break in a definite array": "81ff",
		"text that is not UTF-8":    "61ff",
		"a chunk of the wrong type": "7f4161ff",
		"an integer key":            "a10101",
		"a duplicate key":           "a2616101616102",
		"a key without a value":     "bf6161ff",
		"an unknown simple value":   "f820",
		"a tagged break":            "9fc1ffff",
		"nested too deeply":         strings.Repeat("81", 100) + "00",
	} {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := DecodeCBOR(b); err == nil {
			t.Errorf("%s: DecodeCBOR(%s) = %#v, want an error", name, h, v)
		}
	}
}

func TestAppendCBORRoundTrip(t *testing.T) {
	v := map[string]any{
		"int": int64(-70000), "uint": uint64(1 << 40), "small": int64(23), "float": 2.5, "text": strings.Repeat("é", 200),
		"bytes": bytes.Repeat([]byte{0xff}, 70000), "list": []any{true, false, nil, map[string]any{}}, "empty": "",
	}
	got, err := DecodeCBOR(AppendCBOR(nil, v))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, map[string]any{
		"int": int64(-70000), "uint": uint64(1 << 40), "small": uint64(23), "float": 2.5, "text": strings.Repeat("é", 200),
		"bytes": bytes.Repeat([]byte{0xff}, 70000), "list": []any{true, false, nil, map[string]any{}}, "empty": "",
	}) {
		t.Errorf("round trip gives %v", got)
	}
}

// cborPost sends a CBOR request to s and decodes the CBOR answer.
func cborPost(t *testing.T, s *FaultServer, op string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", CBORContentType)
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 test")
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != CBORContentType {
		t.Fatalf("%s answered %s with Content-Type %q: %s", op, resp.Status, ct, b)
	}
	v, err := DecodeCBOR(b)
	if err != nil {
		t.Fatalf("%s answer is not CBOR: %v: %x", op, err, b)
	}
	m, _ := v.(map[string]any)
	return resp.StatusCode, m
}

func TestFaultPutRecordsCBOR(t *testing.T) {
	s := NewFaultServer(t, FaultOptions{Seed: 3, FailEntryRate: 0.5, Streams: []string{"s"}})
	recs := make([]any, 50)
	for i := range recs {
		recs[i] = map[string]any{"Data": []byte{byte(i), 0, 0xff}, "PartitionKey": "k"}
	}
	status, out := cborPost(t, s, "PutRecords", AppendCBOR(nil, map[string]any{"StreamName": "s", "Records": recs}))
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, out)
	}
	results, _ := out["Records"].([]any)
	if len(results) != 50 || out["EncryptionType"] != "NONE" {
		t.Fatalf("answer %v", out)
	}
	failed, stored := 0, 0
	for i, r := range results {
		m := r.(map[string]any)
		if code, ok := m["ErrorCode"].(string); ok {
			failed++
			if code != "ProvisionedThroughputExceededException" || m["ErrorMessage"] == "" {
				t.Errorf("entry %d: %v", i, m)
			}
			continue
		}
		if seq, ok := m["SequenceNumber"].(string); !ok || seq != s.Stored()[stored].Seq || m["ShardId"] != faultShardID {
			t.Errorf("entry %d: %v", i, m)
		}
		if got := s.Stored()[stored].Data; !bytes.Equal(got, []byte{byte(i), 0, 0xff}) {
			t.Errorf("entry %d stored as %x", i, got)
		}
		stored++
	}
	if failed == 0 || failed == 50 || out["FailedRecordCount"] != uint64(failed) || len(s.Stored()) != stored {
		t.Errorf("FailedRecordCount %v, %d failed, %d stored", out["FailedRecordCount"], failed, len(s.Stored()))
	}
	if c := s.Counts(); c.CBORRequests != 1 || c.Requests != 1 || c.Entries != 50 {
		t.Errorf("counts %+v", c)
	}
}

func TestFaultCBORRejectsBadRequests(t *testing.T) {
	s := NewFaultServer(t, FaultOptions{Streams: []string{"s"}})
	entry := func(m map[string]any) []byte {
		return AppendCBOR(nil, map[string]any{"StreamName": "s", "Records": []any{m}})
	}
	tests := []struct {
		name, op string
		body     []byte
		typ      string
	}{
		{"data as base64 text", "PutRecords", entry(map[string]any{"Data": "aGk=", "PartitionKey": "k"}), "SerializationException"},
		{"a misspelt member", "PutRecords", entry(map[string]any{"Data": []byte("x"), "Partitionkey": "k"}), "SerializationException"},
		{"a key as bytes", "PutRecords", entry(map[string]any{"Data": []byte("x"), "PartitionKey": []byte("k")}), "SerializationException"},
		{"no data", "PutRecords", entry(map[string]any{"PartitionKey": "k"}), "SerializationException"},
		{"not CBOR", "PutRecords", []byte(`{"StreamName":"s"}`), "SerializationException"},
		{"an empty key", "PutRecords", entry(map[string]any{"Data": []byte("x"), "PartitionKey": ""}), "ValidationException"},
		{"an unknown stream", "PutRecords", AppendCBOR(nil, map[string]any{"StreamName": "t", "Records": []any{}}), "ResourceNotFoundException"},
		{"PutRecord with data as text", "PutRecord", AppendCBOR(nil, map[string]any{"StreamName": "s", "Data": "x", "PartitionKey": "k"}), "SerializationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := cborPost(t, s, tt.op, tt.body)
			if status != http.StatusBadRequest || out["__type"] != tt.typ || out["message"] == "" {
				t.Errorf("answer %d %v, want 400 %s with a message", status, out, tt.typ)
			}
		})
	}
	if n := len(s.Stored()); n != 0 {
		t.Errorf("%d records stored from bad requests", n)
	}
}

// The SDK's own calls work in CBOR too: DescribeStreamSummary is answered
// in CBOR, which the test decodes; PutRecord stores a blob.
func TestFaultOtherOperationsCBOR(t *testing.T) {
	s := NewFaultServer(t, FaultOptions{Streams: []string{"s"}})
	status, out := cborPost(t, s, "DescribeStreamSummary", AppendCBOR(nil, map[string]any{"StreamName": "s"}))
	sum, _ := out["StreamDescriptionSummary"].(map[string]any)
	if status != http.StatusOK || sum["StreamStatus"] != "ACTIVE" || sum["OpenShardCount"] != uint64(1) {
		t.Errorf("DescribeStreamSummary answered %d %v", status, out)
	}
	status, out = cborPost(t, s, "PutRecord", AppendCBOR(nil, map[string]any{"StreamARN": faultStreamARN("s"), "Data": []byte{0xff}, "PartitionKey": "k"}))
	if status != http.StatusOK || out["ShardId"] != faultShardID || len(s.Stored()) != 1 || !bytes.Equal(s.Stored()[0].Data, []byte{0xff}) {
		t.Errorf("PutRecord answered %d %v, stored %v", status, out, s.Stored())
	}
}

// A TLS fault server is trusted through AWS_CA_BUNDLE, as a real agent
// trusts a private CA, and offers HTTP/2 only when asked to.
func TestFaultServerTLS(t *testing.T) {
	for _, http2 := range []bool{false, true} {
		s := NewFaultServer(t, FaultOptions{TLS: true, HTTP2: http2, Streams: []string{"s"}})
		if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") {
			t.Fatalf("URL %s", s.URL())
		}
		cfg, err := config.LoadDefaultConfig(t.Context(),
			config.WithRegion("us-east-1"),
			config.WithCustomCABundle(bytes.NewReader(s.CertificatePEM())),
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")),
			config.WithHTTPClient(awshttp.NewBuildableClient()),
		)
		if err != nil {
			t.Fatal(err)
		}
		c := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(s.URL()) })
		if _, err := c.DescribeStreamSummary(t.Context(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")}); err != nil {
			t.Fatalf("over TLS (HTTP/2 offered: %v): %v", http2, err)
		}
		want := 0
		if http2 {
			want = 1 // the SDK's transport takes HTTP/2 when offered
		}
		if c := s.Counts(); c.Requests != 1 || c.HTTP2Requests != want {
			t.Errorf("HTTP/2 offered %v: counts %+v, want %d HTTP/2 requests", http2, c, want)
		}
	}
}
