package benchaccept

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"testing"

	smithycbor "github.com/aws/smithy-go/encoding/cbor"
)

// call posts one Kinesis call and returns the status, content type and
// decoded body of the answer.
func call(t *testing.T, c *http.Client, a *Acceptor, op, contentType string, body []byte) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, a.URL(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

func httpClient(t *testing.T, roots *x509.CertPool, h2 bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: h2}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func decodeMap(t *testing.T, b []byte) smithycbor.Map {
	t.Helper()
	v, err := smithycbor.Decode(b)
	if err != nil {
		t.Fatalf("answer is not CBOR: %v: %x", err, b)
	}
	m, ok := v.(smithycbor.Map)
	if !ok {
		t.Fatalf("answer is %T, want a map", v)
	}
	return m
}

// Calls in the CBOR protocol are answered in CBOR, with what a JSON call
// gets.
func TestAcceptorCBOR(t *testing.T) {
	a := start(t, Options{TLS: true, CountLines: true})
	c := httpClient(t, trust(t, a), false)

	status, ct, b := call(t, c, a, "DescribeStreamSummary", cborContentType,
		smithycbor.Encode(smithycbor.Map{"StreamName": smithycbor.String("bench")}))
	if status != http.StatusOK || ct != cborContentType {
		t.Fatalf("DescribeStreamSummary: %d %s", status, ct)
	}
	if sum, _ := decodeMap(t, b)["StreamDescriptionSummary"].(smithycbor.Map); sum["StreamStatus"] != smithycbor.String("ACTIVE") {
		t.Errorf("DescribeStreamSummary = %v", sum)
	}

	status, ct, b = call(t, c, a, "PutRecords", cborContentType, cborBody("other", kinesisEntry{[]byte("x"), "k"}))
	if m := decodeMap(t, b); status != http.StatusBadRequest || ct != cborContentType || m["__type"] != smithycbor.String("ResourceNotFoundException") {
		t.Errorf("PutRecords to another stream: %d %s %v", status, ct, m)
	}
	status, _, b = call(t, c, a, "PutRecords", cborContentType, []byte{0xa1})
	if m := decodeMap(t, b); status != http.StatusBadRequest || m["__type"] != smithycbor.String("SerializationException") {
		t.Errorf("PutRecords of a bad body: %d %v", status, m)
	}

	status, ct, b = call(t, c, a, "PutRecords", cborContentType,
		cborBody("bench", kinesisEntry{[]byte("a\nb\n"), "k"}, kinesisEntry{aggregate("c", "d"), "k"}, kinesisEntry{[]byte("e"), "k"}))
	if status != http.StatusOK || ct != cborContentType {
		t.Fatalf("PutRecords: %d %s %x", status, ct, b)
	}
	m := decodeMap(t, b)
	recs, _ := m["Records"].(smithycbor.List)
	if m["FailedRecordCount"] != smithycbor.Uint(0) || len(recs) != 3 {
		t.Fatalf("PutRecords = %v", m)
	}
	seen := map[smithycbor.Value]bool{}
	for i, r := range recs {
		rm, _ := r.(smithycbor.Map)
		seq, ok := rm["SequenceNumber"].(smithycbor.String)
		if !ok || len(seq) != 48 || seen[seq] || rm["ShardId"] != smithycbor.String(shardID) || len(rm) != 2 {
			t.Errorf("record %d = %v, want a new sequence number and the shard", i, rm)
		}
		seen[seq] = true
	}
	// A JSON call gets the next sequence number after the CBOR ones.
	status, ct, b = call(t, c, a, "PutRecords", jsonContentType, body(t, "bench", kinesisEntry{[]byte("f"), "k"}))
	if want := `"SequenceNumber":"` + seqPrefix + "00000000000000000004"; status != http.StatusOK || ct != jsonContentType || !bytes.Contains(b, []byte(want)) {
		t.Errorf("JSON PutRecords: %d %s %s, want %s", status, ct, b, want)
	}
	s := a.Stats()
	if s.Requests != 2 || s.CBOR != 1 || s.Records != 4 || s.UserRecords != 2+2+1+1 || s.HTTP2 != 0 {
		t.Errorf("Stats = %+v; want 2 requests (1 CBOR), 4 records, 6 user records", s)
	}

	// Throttled entries in CBOR.
	a.SetThrottle(1)
	_, _, b = call(t, c, a, "PutRecords", cborContentType, cborBody("bench", kinesisEntry{[]byte("g"), "k"}))
	m = decodeMap(t, b)
	recs, _ = m["Records"].(smithycbor.List)
	if m["FailedRecordCount"] != smithycbor.Uint(1) || len(recs) != 1 ||
		recs[0].(smithycbor.Map)["ErrorCode"] != smithycbor.String("ProvisionedThroughputExceededException") {
		t.Errorf("throttled PutRecords = %v", m)
	}
}

// With HTTP2 the acceptor speaks HTTP/2 to a client that offers it, and
// counts those calls; without, the same client gets HTTP/1.1.
func TestAcceptorHTTP2(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		a := start(t, Options{TLS: true, HTTP2: h2})
		c := httpClient(t, trust(t, a), true)
		for _, ct := range []string{jsonContentType, cborContentType} {
			var b []byte
			if ct == cborContentType {
				b = cborBody("bench", kinesisEntry{[]byte("x"), "k"})
			} else {
				b = body(t, "bench", kinesisEntry{[]byte("x"), "k"})
			}
			if status, _, ans := call(t, c, a, "PutRecords", ct, b); status != http.StatusOK {
				t.Fatalf("HTTP/2 %v, %s: %d %s", h2, ct, status, ans)
			}
		}
		want := int64(0)
		if h2 {
			want = 2
		}
		if s := a.Stats(); s.Requests != 2 || s.HTTP2 != want {
			t.Errorf("HTTP/2 offered %v: Stats = %+v, want %d of 2 requests over HTTP/2", h2, s, want)
		}
	}
}
