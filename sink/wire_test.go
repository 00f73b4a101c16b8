// Tests of what goes on the wire: CBOR, HTTP versions, one write per request
// head and body, buffers given up.

package sink

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// In CBOR, as in JSON, a request that partly fails is followed by one that
// carries exactly the failed entries: nothing stored is sent again.
func TestKinesisCBORResendsOnlyFailedEntries(t *testing.T) {
	t.Parallel()
	const n = 3000
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{
		Seed:          7,
		FailEntryRate: 0.3,
		// About 55 requests: at 5% one run in twenty saw no 500 at all.
		Error500Rate: 0.15,
		Streams:      []string{testStream},
	})
	d := testDestination(srv.URL())
	d.Protocol = ProtocolCBOR
	d.Batch.MaxRecords = 100
	k := newTestKinesis(t, d)
	acks := newAckCounter(n)

	runAll(t, k, acks.batches(0, n, 50, 20), 60*time.Second)
	storedOnce(t, srv, n)
	if got := len(acks.acked(t)); got != n {
		t.Errorf("%d records acknowledged, want %d", got, n)
	}
	c := srv.Counts()
	if c.FailedEntries == 0 || c.Errors500 == 0 {
		t.Errorf("faults were not exercised: %+v", c)
	}
	if c.CBORRequests != c.Requests {
		t.Errorf("%d of %d requests were made in CBOR", c.CBORRequests, c.Requests)
	}
	if c.Entries != n+c.FailedEntries {
		t.Errorf("server saw %d entries for %d records with %d failed entries: something stored was resent",
			c.Entries, n, c.FailedEntries)
	}
	if st := k.Stats(); st.RecordsStored != n || st.FailedEntries != int64(c.FailedEntries) || st.Throttled != int64(c.FailedEntries) {
		t.Errorf("stats %+v do not match the server's counts %+v", st, c)
	}
}

// A CBOR error answer is read like a JSON one: a request for a stream that
// does not exist fails with its code.
func TestKinesisCBORErrorAnswer(t *testing.T) {
	t.Parallel()
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Streams: []string{"other"}})
	d := testDestination(srv.URL())
	d.Protocol = ProtocolCBOR
	k := newTestKinesis(t, d)
	var b putBuffers
	b.body = appendPutRecordsCBOR(nil, testStream, false, []entry{{data: []byte("x"), key: "k"}}, nil, nil)
	err := k.put.put(context.Background(), &b)
	if err == nil || !strings.Contains(err.Error(), "HTTP 400 ResourceNotFoundException: Stream events under account") {
		t.Errorf("put: %v, want HTTP 400 ResourceNotFoundException with the message", err)
	}
	if c := srv.Counts(); c.CBORRequests != 1 {
		t.Errorf("counts %+v", c)
	}
}

func TestNewFirehoseRejectsCBOR(t *testing.T) {
	d := testDestination("http://127.0.0.1:1")
	d.Type, d.DeliveryStream, d.Protocol = "firehose", "fh", ProtocolCBOR
	if _, err := NewFirehose(context.Background(), d, Options{}); err == nil || !strings.Contains(err.Error(), "firehose speaks only json") {
		t.Errorf("NewFirehose: %v, want an error about cbor", err)
	}
}

// trustServer makes the clients the test builds trust srv's certificate,
// through AWS_CA_BUNDLE.
func trustServer(t *testing.T, srv *kinesistest.FaultServer) {
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, srv.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", bundle)
}

// The client built from the destination speaks HTTP/1.1 unless told
// otherwise, even to a server that offers HTTP/2, and still trusts
// AWS_CA_BUNDLE. The server sees the protocol of each request.
func TestKinesisHTTPVersion(t *testing.T) {
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{TLS: true, HTTP2: true, Streams: []string{testStream}})
	trustServer(t, srv)
	tests := []struct {
		version  string
		protocol string
		http2    bool
	}{
		{"", "", false},
		{HTTP1, ProtocolJSON, false},
		{HTTP1, ProtocolCBOR, false},
		{HTTP2, ProtocolJSON, true},
		{HTTP2, ProtocolCBOR, true},
	}
	for _, tt := range tests {
		t.Run("http "+tt.version+" "+tt.protocol, func(t *testing.T) {
			before := srv.Counts()
			d := testDestination(srv.URL())
			d.HTTP.Version, d.Protocol = tt.version, tt.protocol
			k := newTestKinesis(t, d)
			if err := k.Check(context.Background()); err != nil {
				t.Fatalf("Check: %v", err)
			}
			acks := newAckCounter(1000)
			runAll(t, k, acks.batches(0, 1000, 100, 0), 30*time.Second)
			if got := len(acks.acked(t)); got != 1000 {
				t.Errorf("%d records acknowledged, want 1000", got)
			}
			c := srv.Counts()
			requests, h2 := c.Requests-before.Requests, c.HTTP2Requests-before.HTTP2Requests
			if requests < 3 {
				t.Fatalf("%d requests", requests)
			}
			if want := map[bool]int{false: 0, true: requests}[tt.http2]; h2 != want {
				t.Errorf("%d of %d requests came over HTTP/2, want %d", h2, requests, want)
			}
			if cbor := c.CBORRequests - before.CBORRequests; (cbor > 0) != (tt.protocol == ProtocolCBOR) {
				t.Errorf("%d CBOR requests with protocol %q", cbor, tt.protocol)
			}
		})
	}
}

// kinesis-local (kinesis-mock), an implementation of the service that is
// not ours, stores what the sink sends in CBOR, over plain HTTP/1.1 and over
// TLS with HTTP/2, and GetRecords gives it back byte for byte.
func TestKinesisLocalCBOR(t *testing.T) {
	srv := kinesistest.StartServer(t)
	tests := []struct {
		name, endpoint, version string
		alpn                    string // the protocol TLS negotiated
	}{
		{"plain HTTP/1.1", srv.Endpoint(), HTTP1, ""},
		{"TLS HTTP/2", srv.TLSEndpoint(), HTTP2, "h2"},
		{"TLS HTTP/1.1", srv.TLSEndpoint(), HTTP1, "http/1.1"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var negotiated atomic.Value
			negotiated.Store("")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			stream := "cbor-" + strings.Repeat("x", i+1)
			if err := srv.CreateStream(ctx, stream, 2); err != nil {
				t.Fatal(err)
			}
			d := testDestination(tt.endpoint)
			d.Stream, d.Protocol, d.HTTP.Version = stream, ProtocolCBOR, tt.version
			d.PartitionKey = KeyDeterministic
			d.Batch.MaxRecords = 40
			k, err := NewKinesis(ctx, d, Options{
				Logger:      slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
				Rand:        rand.New(rand.NewPCG(1, 2)),
				credentials: credentials.NewStaticCredentialsProvider(kinesistest.TestAccessKeyID, kinesistest.TestSecretAccessKey, ""),
				tuneTransport: func(tr *http.Transport) {
					// kinesis-local's certificate names no host.
					tr.TLSClientConfig.InsecureSkipVerify = true
					tr.TLSClientConfig.VerifyConnection = func(cs tls.ConnectionState) error {
						negotiated.Store(cs.NegotiatedProtocol)
						return nil
					}
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := k.Check(ctx); err != nil {
				t.Fatalf("Check: %v", err)
			}
			const n = 200
			want := map[string]string{} // data → partition key
			var b Batch
			acks := newAckCounter(n)
			for j := range n {
				data := []byte{byte(j), 0, 0xff, '\n', '"'}
				data = append(data, strings.Repeat("é", j)...)
				key := ""
				if j%3 == 0 {
					key = "user-" + strings.Repeat("k", j%7)
				}
				b.Records = append(b.Records, Record{Data: data, PartitionKey: key, Ack: acks.group(j)})
				b.Bytes += len(data)
				if key == "" {
					key = deterministicKey(data)
				}
				want[string(data)] = key
			}
			in, res := runSink(ctx, k)
			send(t, in, []Batch{b})
			close(in)
			if err := wait(t, res, time.Minute); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := len(acks.acked(t)); got != n {
				t.Errorf("%d records acknowledged, want %d", got, n)
			}
			if got := negotiated.Load(); got != tt.alpn {
				t.Errorf("TLS negotiated %q, want %q", got, tt.alpn)
			}
			recs, err := srv.ReadAll(ctx, stream)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != n {
				t.Errorf("read back %d records, want %d", len(recs), n)
			}
			for _, r := range recs {
				key, ok := want[string(r.Data)]
				if !ok || key != r.PartitionKey {
					t.Errorf("read back %x with key %q; sent with key %q (sent: %v)", r.Data, r.PartitionKey, key, ok)
				}
				delete(want, string(r.Data))
			}
		})
	}
}

// connWrites records the writes made on the client's connections.
type connWrites struct {
	mu     sync.Mutex
	writes [][]byte
}

type loggedConn struct {
	net.Conn
	log *connWrites
}

func (c *loggedConn) Write(p []byte) (int, error) {
	c.log.mu.Lock()
	c.log.writes = append(c.log.writes, bytes.Clone(p))
	c.log.mu.Unlock()
	return c.Conn.Write(p)
}

// newLoggedKinesis returns a sink for endpoint that records in log what its
// connections write.
func newLoggedKinesis(t *testing.T, endpoint string, log *connWrites) *Stream {
	t.Helper()
	k, err := NewKinesis(context.Background(), testDestination(endpoint), Options{
		credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
		tuneTransport: func(tr *http.Transport) {
			dial := tr.DialContext
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &loggedConn{Conn: c, log: log}, nil
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The request's head leaves in the same write as the start of its body, not
// in a small write of its own, and the body buffer is reused from one call
// to the next once the transport has written it.
func TestPutWritesHeadWithBody(t *testing.T) {
	t.Parallel()
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{})
	var log connWrites
	k := newLoggedKinesis(t, srv.URL(), &log)
	entries := sameEntries(300, bytes.Repeat([]byte{'x'}, 100), "k")
	var b putBuffers
	for i := range 3 {
		b.body = appendPutRecordsBody(b.body[:0], testStream, false, entries, nil, nil)
		first := &b.body[0]
		if err := k.put.put(context.Background(), &b); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		if len(b.body) == 0 || &b.body[0] != first {
			t.Errorf("put %d: the body buffer was not kept for the next request", i)
		}
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	heads := 0
	for _, w := range log.writes {
		if !bytes.HasPrefix(w, []byte("POST / HTTP/1.1\r\n")) {
			continue
		}
		heads++
		if !bytes.Contains(w, []byte("\r\n\r\n"+`{"StreamName":`)) {
			t.Errorf("the request head was written without the body: %q", w)
		}
	}
	if heads != 3 {
		t.Errorf("%d request heads written, want 3", heads)
	}
}

// A request that never reached the server gives its body buffer up: the
// client may still hold it.
func TestPutGivesUpBufferWithoutAnswer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	k := newTestKinesis(t, testDestination("http://"+addr))
	var b putBuffers
	b.body = appendPutRecordsBody(nil, testStream, false, []entry{{data: []byte("x"), key: "k"}}, nil, nil)
	if err := k.put.put(context.Background(), &b); err == nil {
		t.Fatal("put to a closed port succeeded")
	}
	if b.body != nil {
		t.Error("the body buffer was kept after a request without an answer")
	}
}

// Over TLS a request leaves in one write, not one per 16 KiB record, and
// the gathering does not cost the trust in AWS_CA_BUNDLE.
func TestPutOverTLSWritesOnce(t *testing.T) {
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{TLS: true, Streams: []string{testStream}})
	trustServer(t, srv)
	var log connWrites
	k := newLoggedKinesis(t, srv.URL(), &log)
	entries := sameEntries(300, bytes.Repeat([]byte{'x'}, 200), "k")
	var b putBuffers
	for i := range 4 {
		b.body = appendPutRecordsBody(b.body[:0], testStream, false, entries, nil, nil)
		log.mu.Lock()
		before := len(log.writes)
		log.mu.Unlock()
		if err := k.put.put(context.Background(), &b); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		if i == 0 {
			continue // the handshake's writes
		}
		log.mu.Lock()
		writes := log.writes[before:]
		log.mu.Unlock()
		if len(writes) != 1 || len(writes[0]) <= len(b.body) {
			sizes := make([]int, len(writes))
			for j, w := range writes {
				sizes[j] = len(w)
			}
			t.Errorf("put %d of a %d-byte body: writes of %v bytes, want one of the whole request", i, len(b.body), sizes)
		}
	}
}

// connectProxy is an HTTP proxy that tunnels CONNECT requests, on a
// loopback port; tls serves it over HTTPS (httptest's certificate).
func connectProxy(t *testing.T, tls bool) (url string, tunnels *atomic.Int64) {
	tunnels = new(atomic.Int64)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer up.Close()
		down, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer down.Close()
		tunnels.Add(1)
		if _, err := down.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
			return
		}
		go func() {
			io.Copy(up, buf) // what the client sent after the CONNECT
			up.(*net.TCPConn).CloseWrite()
		}()
		io.Copy(down, up)
	}))
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv.URL, tunnels
}

// Requests reach a TLS endpoint through an http:// proxy (the transport's
// own TLS) and through an https:// one (TLS to the proxy dialed by
// batchedTLS, the endpoint's TLS inside it), as HTTPS_PROXY would send them.
func TestKinesisThroughProxy(t *testing.T) {
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{TLS: true, Streams: []string{testStream}})
	trustServer(t, srv) // and the proxy: both have httptest's certificate
	for _, proxyTLS := range []bool{false, true} {
		proxy, tunnels := connectProxy(t, proxyTLS)
		t.Run(proxy[:strings.Index(proxy, ":")], func(t *testing.T) {
			u, err := neturl.Parse(proxy)
			if err != nil {
				t.Fatal(err)
			}
			k, err := NewKinesis(context.Background(), testDestination(srv.URL()), Options{
				credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
				// HTTPS_PROXY itself is never used for loopback addresses.
				tuneTransport: func(tr *http.Transport) { tr.Proxy = http.ProxyURL(u) },
			})
			if err != nil {
				t.Fatal(err)
			}
			acks := newAckCounter(1000)
			runAll(t, k, acks.batches(0, 1000, 100, 300), 30*time.Second)
			if got := len(acks.acked(t)); got != 1000 {
				t.Errorf("%d records acknowledged, want 1000", got)
			}
			if tunnels.Load() == 0 {
				t.Error("no request went through the proxy")
			}
		})
	}
}
