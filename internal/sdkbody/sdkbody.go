// Package sdkbody keeps the AWS SDK's request bodies from breaking
// connections that net/http still writes on. Every SDK client kinetail
// builds, and every one its tests build, sends through Client.
//
// The race: smithy-go closes its request body as soon as Do returns, and Do
// returns when the answer's headers arrive. That can be before the
// transport's writer goroutine is done with the body: after the last byte
// is on the wire, it reads the body once more to check that it has ended.
// The SDK's body wrapper answers that read, when it comes through WriteTo
// after the close, with the error io.EOF; the transport takes it for a
// failed write and closes the connection, and the SDK, reading the 200
// answer from it, fails with "use of closed network connection". The call
// was stored, so a retry stores it twice. It takes a body past the
// transport's 4 KiB write buffer and a writer goroutine descheduled between
// its last write and that read: now and then on a busy machine, almost
// never across a real network, whose answer comes later.
package sdkbody

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Client sends through Next with the request body's WriterTo hidden, so
// that the transport reads the body with Read, which answers a closed body
// with a plain end of data.
type Client struct{ Next aws.HTTPClient }

func (c Client) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = struct{ io.ReadCloser }{r.Body}
	}
	return c.Next.Do(r)
}
