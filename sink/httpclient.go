// The HTTP client built from a destination's timeouts and HTTP version.

package sink

import (
	"crypto/tls"
	"net"
	"net/http"
	"slices"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// HTTP versions a destination can ask for (http.version).
const (
	HTTP1 = "1.1"
	HTTP2 = "2"
)

// writeBufferBytes is each connection's write buffer. A request body goes
// through it when request and head fit: the transport copies a body past
// the buffer through io.Copy, which allocates 32 KiB for every request
// (the body is behind an io.LimitReader there), and with a thousand files
// that garbage made the collector a tenth of the agent's CPU. 128 KiB holds
// a request of 500 raw lines, or of 500 Apache lines as JSON; larger ones
// (aggregates) pay the 32 KiB once per much larger body. The buffer is
// written to the TLS connection at once, in full 16 KiB records, which
// batchedTLS gathers into one system call.
const writeBufferBytes = 128 << 10

// newHTTPClient returns the HTTP client of a sink: the SDK's buildable
// client, so that the config loader can still install AWS_CA_BUNDLE into
// its transport, with the destination's timeouts and HTTP version. tune, if
// not nil, is applied last (tests).
//
// HTTP/1.1 is the default because it is the cheaper of the two here: each
// worker keeps its own connection, a request body goes out in 16 KiB TLS
// records without HTTP/2's framing, per-frame flushes and flow-control
// window updates, and the server spends less on it too (BenchmarkWire).
// Requests never wait for each other on one connection, so nothing is lost
// by not multiplexing them: there are at most max_in_flight at once, plus
// the SDK's occasional ListShards or DescribeStreamSummary.
func newHTTPClient(set *settings, tune func(*http.Transport)) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(dl *net.Dialer) { dl.Timeout = set.connect }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.ResponseHeaderTimeout = set.request
			// One idle connection per worker, and room for the SDK's
			// calls, so no connection is closed between requests.
			tr.MaxIdleConnsPerHost = set.maxInFlight + 2
			tr.MaxIdleConns = max(tr.MaxIdleConns, set.maxInFlight+2)
			// A request's head and its body leave together in full TLS
			// records (16 KiB), not the head in a 4 KiB one of its own;
			// over HTTP/1.1 the records of one buffer leave in one
			// write (batchedTLS).
			tr.WriteBufferSize = writeBufferBytes
			// Protocols overrides ForceAttemptHTTP2, which the SDK sets.
			// HTTP/2 is offered over TLS only: a plain http endpoint
			// (a local test server) gets HTTP/1.1 either way.
			tr.Protocols = new(http.Protocols)
			tr.Protocols.SetHTTP1(true)
			if set.http2 {
				tr.Protocols.SetHTTP2(true)
				// HTTP/2 is set up again for this transport, with its
				// timeouts, instead of using the one it inherited from
				// the SDK's default transport it was cloned from.
				tr.TLSNextProto = nil
			} else {
				// A transport cloned from one with HTTP/2 inherits "h2"
				// in its TLS configuration's ALPN list, and Protocols
				// does not take it out: a server would pick HTTP/2 and
				// answer a client that speaks HTTP/1.1 in it.
				tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
				if tr.TLSClientConfig != nil {
					tr.TLSClientConfig.NextProtos = slices.DeleteFunc(slices.Clone(tr.TLSClientConfig.NextProtos),
						func(p string) bool { return p == "h2" })
				}
			}
			if tune != nil {
				tune(tr)
			}
		})
}
