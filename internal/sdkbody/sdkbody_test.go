package sdkbody_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/internal/sdkbody"
)

// writeGate holds the transport's writer goroutine once it has sent a whole
// request body, until the SDK has the answer, has closed its request body
// and starts reading the answer: the order that a busy machine produces now
// and then.
type writeGate struct {
	held      atomic.Bool
	release   chan struct{}
	releaseMu sync.Once
	wrote     chan error    // what the transport's writer reported
	closed    chan struct{} // closed when the client closes the connection
	closeMu   sync.Once
}

func newWriteGate() *writeGate {
	return &writeGate{release: make(chan struct{}), wrote: make(chan error, 1), closed: make(chan struct{})}
}

func (g *writeGate) open() { g.releaseMu.Do(func() { close(g.release) }) }

func (g *writeGate) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &gatedConn{Conn: c, g: g}, nil
}

// gatedConn is the client's end of the connection. net/http writes what
// does not fit its write buffer with ReadFrom, which ends when the body
// does.
type gatedConn struct {
	net.Conn
	g *writeGate
}

func (c *gatedConn) ReadFrom(r io.Reader) (int64, error) {
	n, err := io.Copy(c.Conn, r)
	c.g.held.Store(true)
	<-c.g.release
	return n, err
}

func (c *gatedConn) Close() error {
	c.g.closeMu.Do(func() { close(c.g.closed) })
	return c.Conn.Close()
}

// gatedClient sends requests through the gate and opens it when the SDK
// starts reading the answer, which it does after closing its request body.
type gatedClient struct {
	c *http.Client
	g *writeGate
}

func (gc gatedClient) Do(r *http.Request) (*http.Response, error) {
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) { gc.g.wrote <- i.Err }}
	resp, err := gc.c.Do(r.WithContext(httptrace.WithClientTrace(r.Context(), trace)))
	if err != nil {
		return nil, err
	}
	resp.Body = &gatedBody{ReadCloser: resp.Body, g: gc.g}
	return resp, nil
}

type gatedBody struct {
	io.ReadCloser
	g     *writeGate
	first sync.Once
}

func (b *gatedBody) Read(p []byte) (int, error) {
	b.first.Do(func() {
		b.g.open()
		// A writer that failed closes the connection next: let it, so
		// that the answer is read from what the writer left.
		if err := <-b.g.wrote; err != nil {
			<-b.g.closed
		}
	})
	return b.ReadCloser.Read(p)
}

// The writer is held until the SDK has closed its body and reads the
// answer. Through Client the call succeeds; without it, it fails as the
// package comment tells, which shows that the gate reproduces the race (and
// will tell when an SDK release no longer has it).
func TestSDKClosesBodyBeforeTheWriterIsDone(t *testing.T) {
	for _, wrapped := range []bool{true, false} {
		t.Run(fmt.Sprintf("wrapped=%v", wrapped), func(t *testing.T) {
			s := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{})
			g := newWriteGate()
			t.Cleanup(g.open) // never leave the writer held
			tr := &http.Transport{DialContext: g.dial}
			t.Cleanup(tr.CloseIdleConnections)
			var hc aws.HTTPClient = gatedClient{&http.Client{Transport: tr}, g}
			if wrapped {
				hc = sdkbody.Client{Next: hc}
			}
			c := kinesis.New(kinesis.Options{
				Region:       "us-east-1",
				BaseEndpoint: aws.String(s.URL()),
				Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
				Retryer:      aws.NopRetryer{},
				HTTPClient:   hc,
			})
			// 300 entries: a body well past the transport's 4 KiB write
			// buffer, and an answer past its 4 KiB read buffer, so that
			// reading the answer needs the connection.
			entries := make([]types.PutRecordsRequestEntry, 300)
			for i := range entries {
				entries[i] = types.PutRecordsRequestEntry{Data: fmt.Appendf(nil, "data-%d", i), PartitionKey: aws.String(fmt.Sprint("key-", i))}
			}
			out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries})
			if !g.held.Load() {
				t.Fatal("the body was not streamed past the write buffer: the writer was never held")
			}
			if len(s.Stored()) != 300 {
				t.Errorf("%d stored, want 300", len(s.Stored()))
			}
			if !wrapped {
				if err == nil || !strings.Contains(err.Error(), "use of closed network connection") {
					t.Fatalf("PutRecords without Client: err = %v, want the closed connection of the race", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("PutRecords: %v", err)
			}
			if n := aws.ToInt32(out.FailedRecordCount); n != 0 || len(out.Records) != 300 {
				t.Errorf("%d answers, %d failed; want 300 stored", len(out.Records), n)
			}
		})
	}
}
