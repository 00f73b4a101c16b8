package kinesistest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// ownBody is the HTTP client of the SDK clients that talk to the test
// servers. It gives net/http a copy of each request body, so that the SDK
// and the transport never share one.
//
// Sharing one breaks under load. The SDK (smithy-go) closes its request
// body as soon as Do returns, and Do returns when the answer's headers
// arrive, which can be before the transport's writer goroutine is done
// with the body: after the last byte is on the wire, it reads the body
// once more to check that it has ended. Once closed, the SDK's body answers
// that read with the error io.EOF (from WriteTo), the transport takes it
// for a failed write and closes the connection, and the SDK, reading the
// 200 answer from it, fails with "use of closed network connection". It
// takes a body that does not fit the transport's 4 KiB write buffer with
// the headers (a smaller one leaves in one write, after that read), and a
// writer goroutine descheduled between its last write and that read, as it
// now and then is on a busy machine. With a copy, the SDK's Close cannot
// reach what the transport reads, wherever the write has got to.
type ownBody struct{ next aws.HTTPClient }

func (c ownBody) Do(r *http.Request) (*http.Response, error) {
	// A body of unknown length may be a stream fed while the request is
	// sent: it cannot be read ahead, and the SDK sends none to these
	// servers.
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength <= 0 {
		return c.next.Do(r)
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close() // Do closes the body it is given, as http.Client.Do does
	if err != nil {
		return nil, fmt.Errorf("kinesistest: read request body: %w", err)
	}
	own := *r // the SDK's request keeps its own body
	own.Body = io.NopCloser(bytes.NewReader(b))
	return c.next.Do(&own)
}
