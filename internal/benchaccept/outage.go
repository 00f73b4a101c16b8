package benchaccept

import (
	"crypto/tls"
	"net"
	"net/http"
)

// SetDown starts (true) or ends (false) an outage. While down the endpoint
// is unreachable: open connections are reset, new ones are reset as soon
// as they are accepted (before any TLS handshake), and a request that was
// already being read is answered by resetting its connection too. Every
// connection reset counts in Stats.Refused, before the reset: a client
// that saw its connection reset finds it counted.
func (a *Acceptor) SetDown(down bool) {
	a.down.Store(down)
	if !down {
		return
	}
	a.connMu.Lock()
	defer a.connMu.Unlock()
	for c := range a.conns {
		a.refused.Add(1)
		reset(c)
	}
}

// refuse answers a request that arrived while down: its connection is
// reset, or (HTTP/2, where a handler cannot take the connection) the
// request is answered 503.
func (a *Acceptor) refuse(w http.ResponseWriter) {
	if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
		a.refused.Add(1)
		reset(c)
		return
	}
	writeError(w, false, http.StatusServiceUnavailable, "ServiceUnavailable", "down")
}

// connState keeps the set of open connections, for SetDown.
func (a *Acceptor) connState(c net.Conn, st http.ConnState) {
	a.connMu.Lock()
	defer a.connMu.Unlock()
	switch st {
	case http.StateNew:
		a.conns[c] = struct{}{}
	case http.StateHijacked, http.StateClosed:
		delete(a.conns, c)
	}
}

// reset closes c with a TCP reset rather than an orderly close, as a host
// that went away would look to the client.
func reset(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// gate is the server's listener: while the acceptor is down it resets each
// connection it accepts.
type gate struct {
	*net.TCPListener
	a *Acceptor
}

func (g gate) Accept() (net.Conn, error) {
	for {
		c, err := g.TCPListener.Accept()
		if err != nil || !g.a.down.Load() {
			return c, err
		}
		g.a.refused.Add(1)
		reset(c)
	}
}
