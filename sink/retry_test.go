package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func responseError(status int, err error) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      err,
	}}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name                 string
		err                  error
		retryable, throttled bool
	}{
		{"throughput exceeded is throttling", &types.ProvisionedThroughputExceededException{}, true, true},
		{"limit exceeded is throttling", &types.LimitExceededException{}, true, true},
		{"KMS throttling is throttling", &types.KMSThrottlingException{}, true, true},
		{"HTTP 429 without a code is throttling", responseError(429, errors.New("slow down")), true, true},
		{"internal failure is transient", &types.InternalFailureException{}, true, false},
		{"a 500 with a generic code is transient", responseError(500, &smithy.GenericAPIError{Code: "InternalFailure"}), true, false},
		{"a 503 with an unknown code is transient", responseError(503, &smithy.GenericAPIError{Code: "Whatever"}), true, false},
		{"a stream being resharded is transient", &types.ResourceInUseException{}, true, false},
		{"a request timeout is transient", fmt.Errorf("operation error: %w", context.DeadlineExceeded), true, false},
		{"a refused connection is transient", &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, true, false},
		{"a cut connection is transient", &smithyhttp.RequestSendError{Err: io.ErrUnexpectedEOF}, true, false},
		{"a missing stream needs the operator", &types.ResourceNotFoundException{}, false, false},
		{"denied access needs the operator", &types.AccessDeniedException{}, false, false},
		{"KMS access denied needs the operator", &types.KMSAccessDeniedException{}, false, false},
		{"bad credentials need the operator", responseError(400, &smithy.GenericAPIError{Code: "UnrecognizedClientException"}), false, false},
		{"a validation error needs the operator", &smithy.GenericAPIError{Code: "ValidationException"}, false, false},
		{"an unknown 4xx needs the operator", responseError(403, &smithy.GenericAPIError{Code: "Mystery"}), false, false},
		{"wrapped errors are unwrapped", fmt.Errorf("put: %w", &types.ProvisionedThroughputExceededException{}), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			retryable, throttled := classify(tt.err)
			if retryable != tt.retryable || throttled != tt.throttled {
				t.Errorf("classify(%v) = (retryable %v, throttled %v), want (%v, %v)",
					tt.err, retryable, throttled, tt.retryable, tt.throttled)
			}
		})
	}
}

func TestBackoffCeiling(t *testing.T) {
	const base, limit = 100 * time.Millisecond, 10 * time.Second
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{0, base},
		{1, base},
		{2, 2 * base},
		{3, 4 * base},
		{7, 64 * base},
		{8, limit}, // 12.8s capped
		{63, limit},
		{1000, limit}, // no overflow
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("attempt %d", tt.attempt), func(t *testing.T) {
			if got := backoffCeiling(tt.attempt, base, limit); got != tt.want {
				t.Errorf("backoffCeiling(%d) = %v, want %v", tt.attempt, got, tt.want)
			}
		})
	}
	if got := backoffCeiling(5, time.Duration(1<<62), time.Duration(1<<62)+1); got != time.Duration(1<<62)+1 {
		t.Errorf("huge base: got %v, want the cap", got)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const base, limit = 10 * time.Millisecond, 80 * time.Millisecond
	for _, attempt := range []int{1, 2, 3, 4, 10} {
		ceil := backoffCeiling(attempt, base, limit)
		var lo, hi time.Duration = ceil, 0
		for range 2000 {
			d := backoff(rng, attempt, base, limit)
			if d < 0 || d > ceil {
				t.Fatalf("attempt %d: backoff %v outside [0, %v]", attempt, d, ceil)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		// Full jitter spreads over the whole range, not just near the top.
		if lo > ceil/10 || hi < ceil*9/10 {
			t.Errorf("attempt %d: delays span [%v, %v], want most of [0, %v]", attempt, lo, hi, ceil)
		}
	}
	if d := backoff(rng, 3, 0, 0); d != 0 {
		t.Errorf("zero base and cap: got %v, want 0", d)
	}
}

func TestRateLog(t *testing.T) {
	var l rateLog
	t0 := time.Unix(1000, 0)
	steps := []struct {
		kind           logKind
		at             time.Duration
		wantOK         bool
		wantSuppressed int
	}{
		{logThrottled, 0, true, 0},
		{logThrottled, time.Second, false, 0},
		{logThrottled, 2 * time.Second, false, 0},
		{logRequestError, 2 * time.Second, true, 0}, // kinds are independent
		{logThrottled, logEvery, true, 2},
		{logThrottled, logEvery + time.Second, false, 0},
	}
	for i, s := range steps {
		ok, n := l.allow(s.kind, t0.Add(s.at))
		if ok != s.wantOK || n != s.wantSuppressed {
			t.Errorf("step %d: allow = (%v, %d), want (%v, %d)", i, ok, n, s.wantOK, s.wantSuppressed)
		}
	}
}
