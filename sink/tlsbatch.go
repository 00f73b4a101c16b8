// HTTPS connections that write a request in one system call.

package sink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
)

// A TLS connection writes each record of a write with a system call of its
// own, so a 128 KiB request body (the connection's write buffer) left in
// eight 16 KiB writes. Each write costs both ends far more than its bytes:
// on the sink's own wire benchmark, gathering the records into one write
// took 15% off the agent's CPU per record and 10–20% off the server's.
//
// batchedTLS makes tr dial its HTTPS connections itself: TLS over a
// connection that gathers what TLS writes while one Write of the HTTP
// transport is under way, and writes it when that Write ends. Everything
// else (handshakes, alerts, a close) goes straight through. It is for
// HTTP/1.1 only: the transport speaks HTTP/2 only over a *tls.Conn, which
// a batched connection is not. A connection through an http:// proxy is
// set up by the transport and not batched.
//
// tr's dialer, TLS configuration and handshake timeout are read when
// batchedTLS runs, so it must be the last option applied to a transport.
func batchedTLS(tr *http.Transport) {
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	config := tr.TLSClientConfig
	timeout := tr.TLSHandshakeTimeout
	tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c := config.Clone()
		if c == nil {
			c = &tls.Config{}
		}
		if c.ServerName == "" {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, fmt.Errorf("dial %s: %w", addr, err)
			}
			c.ServerName = host
		}
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		raw := &gatherConn{Conn: conn}
		tc := tls.Client(raw, c)
		hctx := ctx
		if timeout > 0 {
			var cancel context.CancelFunc
			hctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		if err := tc.HandshakeContext(hctx); err != nil {
			conn.Close()
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				// What the transport says of its own handshakes.
				return nil, fmt.Errorf("TLS handshake with %s: timeout after %v", addr, timeout)
			}
			return nil, err
		}
		return &batchedConn{Conn: tc, raw: raw}, nil
	}
}

// batchedConn is a TLS connection whose writes leave in one system call.
type batchedConn struct {
	*tls.Conn
	raw *gatherConn
}

func (c *batchedConn) Write(p []byte) (int, error) {
	c.raw.gather()
	n, err := c.Conn.Write(p)
	if werr := c.raw.release(); err == nil && werr != nil {
		// The records TLS took are lost with the connection, which the
		// transport closes on this error.
		return 0, werr
	}
	return n, err
}

// gatherBytes holds the records of one full write buffer: eight of 16 KiB,
// each with its header, nonce and tag.
const gatherBytes = writeBufferBytes + 1<<10

// gatherPool lends the buffers, which are needed only while a write is
// under way: idle connections hold none.
var gatherPool = sync.Pool{New: func() any { b := make([]byte, 0, gatherBytes); return &b }}

// gatherConn is the TCP connection under a batchedConn. While gathering it
// keeps what it is given and writes it when the buffer would overflow or
// the gathering ends. The TLS connection's reader may write too (a key
// update) while a write is gathered: the lock keeps the order.
type gatherConn struct {
	net.Conn
	mu      sync.Mutex
	writers int // Writes under way; gathering while > 0
	buf     *[]byte
}

func (c *gatherConn) gather() {
	c.mu.Lock()
	c.writers++
	c.mu.Unlock()
}

// release ends one gathering; the last writes what was gathered.
func (c *gatherConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writers--; c.writers > 0 || c.buf == nil {
		return nil
	}
	err := c.flushLocked()
	gatherPool.Put(c.buf)
	c.buf = nil
	return err
}

func (c *gatherConn) flushLocked() error {
	b := *c.buf
	*c.buf = b[:0]
	if len(b) == 0 {
		return nil
	}
	_, err := c.Conn.Write(b)
	return err
}

func (c *gatherConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writers == 0 {
		return c.Conn.Write(p)
	}
	if c.buf == nil {
		c.buf = gatherPool.Get().(*[]byte)
	}
	if len(*c.buf)+len(p) > cap(*c.buf) {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > cap(*c.buf) {
			return c.Conn.Write(p)
		}
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}
