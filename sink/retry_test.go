// Tests of classifying failures, backoff and rate-limited logs.

package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"
)

func apiErr(status int, code string) error { return &apiError{status: status, code: code, msg: "m"} }

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want failure
	}{
		{"throughput exceeded is throttling", apiErr(400, "ProvisionedThroughputExceededException"), failThrottled},
		{"limit exceeded is throttling", apiErr(400, "LimitExceededException"), failThrottled},
		{"KMS throttling is throttling", apiErr(400, "KMSThrottlingException"), failThrottled},
		{"HTTP 429 without a code is throttling", apiErr(429, ""), failThrottled},
		{"internal failure is transient", apiErr(500, "InternalFailure"), failTransient},
		{"a 503 with an unknown code is transient", apiErr(503, "Whatever"), failTransient},
		{"a 408 is transient", apiErr(408, ""), failTransient},
		{"a stream being resharded is transient", apiErr(400, "ResourceInUseException"), failTransient},
		{"a request timeout is transient", fmt.Errorf("PutRecords: %w", &url.Error{Op: "Post", URL: "https://k", Err: context.DeadlineExceeded}), failTransient},
		{"a refused connection is transient", &url.Error{Op: "Post", URL: "https://k", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, failTransient},
		{"a reset connection is transient", &url.Error{Op: "Post", URL: "https://k", Err: syscall.ECONNRESET}, failTransient},
		{"a cut connection is transient", &url.Error{Op: "Post", URL: "https://k", Err: io.EOF}, failTransient},
		{"a truncated answer is transient", fmt.Errorf("read answer: %w", io.ErrUnexpectedEOF), failTransient},
		{"an unreadable answer is transient", fmt.Errorf("read answer: %w", errMalformed), failTransient},
		{"a missing stream needs the operator", apiErr(400, "ResourceNotFoundException"), failRefused},
		{"denied access needs the operator", apiErr(400, "AccessDeniedException"), failRefused},
		{"KMS access denied needs the operator", apiErr(400, "KMSAccessDeniedException"), failRefused},
		{"a disabled KMS key needs the operator", apiErr(400, "KMSDisabledException"), failRefused},
		{"bad credentials need the operator", apiErr(400, "UnrecognizedClientException"), failRefused},
		{"expired credentials need the operator", apiErr(400, "ExpiredTokenException"), failRefused},
		{"a validation error needs the operator", apiErr(400, "ValidationException"), failRefused},
		{"an unknown 4xx needs the operator", apiErr(403, "Mystery"), failRefused},
		{"a known code wins over the status", apiErr(500, "AccessDeniedException"), failRefused},
		{"wrapped errors are unwrapped", fmt.Errorf("put: %w", apiErr(400, "ProvisionedThroughputExceededException")), failThrottled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.err); got != tt.want {
				t.Errorf("classify(%v) = %v, want %v", tt.err, got, tt.want)
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
