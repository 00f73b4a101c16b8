// Stream.Check: whether a stream or delivery stream can be written to, and
// errors that tell the operator which part failed.

package sink

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	fhtypes "github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/kinetail/kinetail/internal/redact"
)

// Check makes sure the stream can be written to: credentials resolve, the
// endpoint answers, and the stream exists and is ACTIVE or UPDATING. Its
// errors say which of these failed.
func (k *Stream) Check(ctx context.Context) (err error) {
	// The SDK's errors quote the endpoint's URL, user name included.
	defer func() { err = redact.Error(err) }()
	ctx, cancel := context.WithTimeout(ctx, k.set.request)
	defer cancel()
	if err := k.checkCredentials(ctx); err != nil {
		return err
	}
	return k.describe(ctx)
}

// describeStream is Check's look at a Kinesis stream.
func (k *Stream) describeStream(ctx context.Context) error {
	in := &kinesis.DescribeStreamSummaryInput{}
	if k.set.streamARN {
		in.StreamARN = aws.String(k.set.stream)
	} else {
		in.StreamName = aws.String(k.set.stream)
	}
	out, err := k.sdk.DescribeStreamSummary(ctx, in)
	if err != nil {
		return k.checkError(err)
	}
	if out.StreamDescriptionSummary == nil {
		return fmt.Errorf("kinesis stream %q: empty DescribeStreamSummary answer from %s", k.set.stream, k.set.where)
	}
	switch st := out.StreamDescriptionSummary.StreamStatus; st {
	case types.StreamStatusActive, types.StreamStatusUpdating:
		return nil
	default:
		return fmt.Errorf("kinesis stream %q in %s is %s, want ACTIVE or UPDATING", k.set.stream, k.set.where, st)
	}
}

// describeDeliveryStream is Check's look at a Firehose delivery stream.
func (k *Stream) describeDeliveryStream(ctx context.Context) error {
	out, err := k.fh.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(k.set.stream)})
	if err != nil {
		return k.checkError(err)
	}
	if out.DeliveryStreamDescription == nil {
		return fmt.Errorf("firehose delivery stream %q: empty answer from %s", k.set.stream, k.set.where)
	}
	switch st := out.DeliveryStreamDescription.DeliveryStreamStatus; st {
	case fhtypes.DeliveryStreamStatusActive:
		return nil
	default:
		return fmt.Errorf("firehose delivery stream %q in %s is %s, want ACTIVE", k.set.stream, k.set.where, st)
	}
}

// checkError turns a Describe failure into a message an operator can act
// on.
func (k *Stream) checkError(err error) error {
	kind := k.set.proto.kind
	var notFound *types.ResourceNotFoundException
	var fhNotFound *fhtypes.ResourceNotFoundException
	if errors.As(err, &notFound) || errors.As(err, &fhNotFound) {
		return fmt.Errorf("%s %q %w in %s", kind, k.set.stream, ErrStreamNotFound, k.set.where)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignature",
			"MissingAuthenticationToken", "MissingAuthenticationTokenException",
			"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId":
			return fmt.Errorf("%s %q: AWS credentials rejected by %s: %w", kind, k.set.stream, k.set.where, err)
		case "AccessDeniedException", "AccessDenied":
			return fmt.Errorf("%s %q: access denied in %s (check the IAM policy): %w", kind, k.set.stream, k.set.where, err)
		}
		return fmt.Errorf("%s %q: describe in %s: %w", kind, k.set.stream, k.set.where, err)
	}
	// No answer from the service at all: connection refused, DNS, TLS,
	// timeouts.
	return fmt.Errorf("%s %q: cannot reach the service in %s: %w", kind, k.set.stream, k.set.where, err)
}

// checkCredentials makes sure credentials can be had, for Check.
func (k *Stream) checkCredentials(ctx context.Context) error {
	if k.creds == nil {
		return fmt.Errorf("%s %q: no AWS credentials found", k.set.proto.kind, k.set.stream)
	}
	if _, err := k.creds.Retrieve(ctx); err != nil {
		return fmt.Errorf("%s %q: retrieve AWS credentials: %w", k.set.proto.kind, k.set.stream, err)
	}
	return nil
}
