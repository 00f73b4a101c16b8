// putClient: signing and sending one put call over HTTP, and reading its
// answer into reused buffers.

package sink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	smithyauth "github.com/aws/smithy-go/auth"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kinetail/kinetail/internal/redact"
)

const (
	jsonContentType = "application/x-amz-json-1.1"
	// maxAnswerBytes bounds what is read of an answer: a PutRecords answer
	// for 500 entries is about 60 KB.
	maxAnswerBytes = 4 << 20
	// maxClockSkew is how far our clock may be from the service's before
	// requests are signed with the service's time instead. SigV4 accepts
	// five minutes.
	maxClockSkew = 4 * time.Minute
)

// putClient makes PutRecords or PutRecordBatch calls directly: the body is
// written by the sink, signed with the SDK's SigV4 signer, and sent with the
// SDK configuration's HTTP client, so credentials, AWS_CA_BUNDLE and
// timeouts are those of the SDK. The SDK's per-call machinery (serializers,
// middleware, retryer) is skipped: the sink's loop owns retries. It is safe
// for concurrent use.
type putClient struct {
	proto     *protocol
	http      aws.HTTPClient
	url       url.URL
	extra     http.Header // headers the endpoint requires, rarely any
	creds     aws.CredentialsProvider
	signer    *v4.Signer
	service   string // signing name
	region    string // signing region
	userAgent string
	// skew is the service's clock minus ours, learned from rejected
	// requests, so a host with a wrong clock still signs valid requests.
	skew atomic.Int64
}

// newPutClient resolves the PutRecords endpoint for o the way the SDK's
// client would: the endpoint override, FIPS and dual-stack settings and the
// stream ARN all go into the SDK's endpoint rules. p is a Kinesis protocol.
func newPutClient(ctx context.Context, p *protocol, o kinesis.Options, httpClient aws.HTTPClient, creds aws.CredentialsProvider, stream string, byARN bool, userAgent string) (*putClient, error) {
	params := kinesis.EndpointParameters{
		Region:                regionParam(o.Region),
		UseDualStack:          aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
		UseFIPS:               aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		Endpoint:              o.BaseEndpoint,
		OperationType:         aws.String("data"),
		AccountIdEndpointMode: aws.String(string(o.AccountIDEndpointMode)),
	}
	if byARN {
		params.StreamARN = aws.String(stream)
	}
	resolver := o.EndpointResolverV2
	if resolver == nil {
		resolver = kinesis.NewDefaultEndpointResolverV2()
	}
	ep, err := resolver.ResolveEndpoint(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("resolve the Kinesis endpoint: %w", err)
	}
	c := newPutClientAt(p, ep, httpClient, creds, o.Region, userAgent)
	if o.EndpointOptions.DisableHTTPS && o.BaseEndpoint == nil {
		c.url.Scheme = "http"
	}
	return c, nil
}

// regionParam is the endpoint rules' Region parameter: absent, not empty,
// when no region is configured, so the rules report a missing region
// instead of building a host name without one.
func regionParam(region string) *string {
	if region == "" {
		return nil
	}
	return aws.String(region)
}

// newPutClientAt returns a client for proto that sends to the resolved
// endpoint ep, signing for region unless the endpoint's rules name another
// signing name or region.
func newPutClientAt(proto *protocol, ep smithyendpoints.Endpoint, httpClient aws.HTTPClient, creds aws.CredentialsProvider, region, userAgent string) *putClient {
	c := &putClient{
		proto:     proto,
		http:      httpClient,
		url:       ep.URI,
		extra:     ep.Headers,
		creds:     creds,
		signer:    v4.NewSigner(),
		service:   proto.signingName,
		region:    region,
		userAgent: userAgent,
	}
	if c.url.Path == "" {
		c.url.Path = "/"
	}
	// The rules may sign for another name or region than the obvious ones.
	opts, _ := smithyauth.GetAuthOptions(&ep.Properties)
	for _, opt := range opts {
		if opt.SchemeID != smithyauth.SchemeIDSigV4 {
			continue
		}
		if name, ok := smithyhttp.GetSigV4SigningName(&opt.SignerProperties); ok && name != "" {
			c.service = name
		}
		if region, ok := smithyhttp.GetSigV4SigningRegion(&opt.SignerProperties); ok && region != "" {
			c.region = region
		}
		break
	}
	return c
}

// endpoint is the URL requests go to, for messages, without credentials.
func (c *putClient) endpoint() string { return redact.URLs(c.url.String()) }

// putBuffers are one worker's reusable buffers.
type putBuffers struct {
	packed builder // packed entries' bytes
	body   []byte
	answer []byte
	res    putAnswer
}

// put sends the body in b.body and parses a 200 answer into b.res. Any
// other answer is returned as an *apiError; a failure to get an answer is
// returned as is (a *url.Error from the HTTP client, mostly).
func (c *putClient) put(ctx context.Context, b *putBuffers) error {
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("retrieve AWS credentials: %w", err)
	}
	w := &bodyWatch{written: make(chan struct{})}
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: w.wrote})
	// A *bytes.Reader, as the transport knows it, goes out with the
	// request's head in one write; any other body type makes it flush the
	// head on its own first (Go issue 22088): a small TLS record, a write
	// and a packet more per request.
	req, err := c.newRequest(ctx, io.NopCloser(bytes.NewReader(b.body)), len(b.body))
	if err != nil {
		return err
	}
	if err := c.sign(ctx, req, b.body, creds, time.Now().Add(time.Duration(c.skew.Load()))); err != nil {
		return err
	}

	resp, err := c.http.Do(req)
	defer b.release(w, err == nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	limit := maxAnswerBytes
	if resp.StatusCode != http.StatusOK {
		limit = 64 << 10 // the start of an error is enough
	}
	b.answer, err = readAnswer(b.answer[:0], resp.Body, resp.ContentLength, limit)
	if resp.StatusCode != http.StatusOK {
		e := &apiError{status: resp.StatusCode, requestID: resp.Header.Get("X-Amzn-Requestid")}
		e.code, e.msg = parseErrorAnswer(resp.Header.Get("X-Amzn-Errortype"), b.answer)
		c.learnSkew(resp, time.Now())
		return e
	}
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if err := b.res.parse(c.proto, b.answer); err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	return nil
}

// newRequest builds an unsigned put request.
func (c *putClient) newRequest(ctx context.Context, body io.ReadCloser, n int) (*http.Request, error) {
	u := c.url // the signer writes to the URL: each request gets a copy
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "", body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.URL = &u
	req.Host = u.Host
	req.ContentLength = int64(n)
	for k, v := range c.extra {
		req.Header[k] = v
	}
	// Answers are read in whichever of JSON and CBOR they come in.
	req.Header["Content-Type"] = []string{c.proto.contentType}
	req.Header["X-Amz-Target"] = []string{c.proto.target}
	req.Header["User-Agent"] = []string{c.userAgent}
	return req, nil
}

// sign adds SigV4 headers for body, signed at t, to req.
func (c *putClient) sign(ctx context.Context, req *http.Request, body []byte, creds aws.Credentials, t time.Time) error {
	sum := sha256.Sum256(body)
	var hexSum [2 * sha256.Size]byte
	hex.Encode(hexSum[:], sum[:])
	if err := c.signer.SignHTTP(ctx, creds, req, string(hexSum[:]), c.service, c.region, t); err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	return nil
}

// learnSkew moves the signing clock to the service's when an answer's Date
// is far from ours: a request signed too far off is refused with an auth
// error, and would be refused forever.
func (c *putClient) learnSkew(resp *http.Response, now time.Time) {
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return
	}
	if skew := date.Sub(now); skew > maxClockSkew || skew < -maxClockSkew {
		c.skew.Store(int64(skew))
	}
}

// release makes sure the HTTP client is done with the request body before
// b.body is reused. The transport reads the body only while it writes the
// request, in one goroutine, which reports the end (or failure) of that
// write to the trace (WroteRequest, for HTTP/1.1 and HTTP/2 alike); that is
// usually before the answer arrives, but an answer can overtake the write.
// A request that got no answer may have been dropped before its body was
// read, and then is never reported: its buffer is left to the client and
// the next request gets a new one, as does one whose write is still going
// on after a while.
func (b *putBuffers) release(w *bodyWatch, answered bool) {
	select {
	case <-w.written:
		return
	default:
	}
	if !answered {
		b.body = nil
		return
	}
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-w.written:
	case <-t.C:
		b.body = nil
	}
}

// bodyWatch learns from the HTTP client's trace when a request body has
// been written: WroteRequest may be called more than once.
type bodyWatch struct {
	once    sync.Once
	written chan struct{}
}

func (w *bodyWatch) wrote(httptrace.WroteRequestInfo) { w.once.Do(func() { close(w.written) }) }

// readAnswer appends r's content to dst, reading at most limit bytes.
func readAnswer(dst []byte, r io.Reader, size int64, limit int) ([]byte, error) {
	if size > 0 && size <= int64(limit) {
		dst = growCap(dst, int(size)+1) // +1: EOF is found without growing
	}
	for {
		if len(dst) == cap(dst) {
			dst = growCap(dst, min(max(2*cap(dst), 4096), limit+1))
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
		if len(dst) > limit {
			return dst[:limit], fmt.Errorf("answer longer than %d bytes", limit)
		}
	}
}

// growCap returns b with a capacity of at least n.
func growCap(b []byte, n int) []byte {
	if cap(b) >= n {
		return b
	}
	nb := make([]byte, len(b), n)
	copy(nb, b)
	return nb
}

// apiError is an answer other than 200 OK.
type apiError struct {
	status    int
	code, msg string
	requestID string
}

func (e *apiError) Error() string {
	s := "HTTP " + strconv.Itoa(e.status)
	if e.code != "" {
		s += " " + e.code
	}
	if e.msg != "" {
		s += ": " + e.msg
	}
	if e.requestID != "" {
		s += " (request id " + e.requestID + ")"
	}
	return s
}
