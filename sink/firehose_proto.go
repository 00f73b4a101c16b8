// Firehose PutRecordBatch: its endpoint, request body, limits, and what its
// error codes mean.

package sink

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"

	"github.com/kinetail/kinetail/transform"
)

// The Firehose PutRecordBatch call, in the JSON 1.1 protocol:
//
//	{"DeliveryStreamName":"s","Records":[{"Data":"<base64>"},...]}
//
// Records have no partition key; the call's limits are in awslimits.
const (
	firehoseTarget = "Firehose_20150804.PutRecordBatch"

	fhBodyStart   = `{"DeliveryStreamName":`
	fhBodyRecords = `,"Records":[`
	fhBodyData    = `{"Data":"`
	fhBodyDataEnd = `"}`
	fhBodyEnd     = `]}`
)

// newFirehosePutClient resolves the PutRecordBatch endpoint for o the way
// the SDK's Firehose client would: the endpoint override, FIPS and
// dual-stack settings go into the SDK's endpoint rules, which also name the
// signing service and region. p is the Firehose protocol.
func newFirehosePutClient(ctx context.Context, p *protocol, o firehose.Options, httpClient aws.HTTPClient, creds aws.CredentialsProvider, userAgent string) (*putClient, error) {
	params := firehose.EndpointParameters{
		Region:       regionParam(o.Region),
		UseDualStack: aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
		UseFIPS:      aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		Endpoint:     o.BaseEndpoint,
	}
	resolver := o.EndpointResolverV2
	if resolver == nil {
		resolver = firehose.NewDefaultEndpointResolverV2()
	}
	ep, err := resolver.ResolveEndpoint(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("resolve the Firehose endpoint: %w", err)
	}
	c := newPutClientAt(p, ep, httpClient, creds, o.Region, userAgent)
	if o.EndpointOptions.DisableHTTPS && o.BaseEndpoint == nil {
		c.url.Scheme = "http"
	}
	return c, nil
}

// putRecordBatchBodyLen is the exact length of the body
// appendPutRecordBatchBody writes for entries, so the buffer grows at most
// once per request.
func putRecordBatchBodyLen(stream string, entries []entry) int {
	n := len(fhBodyStart) + transform.JSONStringLen([]byte(stream)) + len(fhBodyRecords) + len(fhBodyEnd)
	if len(entries) > 0 {
		n += len(entries) - 1 // commas
	}
	n += len(entries) * (len(fhBodyData) + len(fhBodyDataEnd))
	for i := range entries {
		n += base64.StdEncoding.EncodedLen(entries[i].dataLen())
	}
	return n
}

// appendPutRecordBatchBody appends the body of a PutRecordBatch call for
// entries to dst and returns it. Only the entries' data is sent: Firehose
// has no partition keys, so key is ignored. Packed entries are built by b
// (which may be nil when there are none).
func appendPutRecordBatchBody(dst []byte, stream string, entries []entry, b *builder) []byte {
	dst = slices.Grow(dst, putRecordBatchBodyLen(stream, entries))
	dst = append(dst, fhBodyStart...)
	dst = transform.AppendJSONString(dst, []byte(stream))
	dst = append(dst, fhBodyRecords...)
	for i := range entries {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, fhBodyData...)
		dst = base64.StdEncoding.AppendEncode(dst, b.lines(&entries[i]))
		dst = append(dst, fhBodyDataEnd...)
	}
	return append(dst, fhBodyEnd...)
}

// firehoseEntryFailure is the failure of a PutRecordBatch entry answered
// with code. Firehose answers ServiceUnavailableException when a stream
// takes more than its quota, so that is throttling; InternalFailure is
// transient. KMS.* codes (the key is denied, disabled, missing...) need the
// operator, except KMS throttling.
func firehoseEntryFailure(code string) failure {
	switch code {
	case "ServiceUnavailableException", "KMS.ThrottlingException":
		return failThrottled
	case "InternalFailure":
		return failTransient
	}
	return kinesisEntryFailure(code)
}

// classifyFirehose is classify for a failed PutRecordBatch request.
// Firehose rejects a whole request with ServiceUnavailableException when
// the stream is over its quota: that is throttling, not an outage.
func classifyFirehose(err error) failure {
	var ae *apiError
	if errors.As(err, &ae) {
		switch ae.code {
		case "ServiceUnavailableException":
			return failThrottled
		case "InvalidKMSResourceException":
			return failRefused
		}
	}
	return classify(err)
}
