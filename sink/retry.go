// The failure vocabulary (what to do about a failed request or entry),
// backoff, and rate-limited logs.

package sink

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// failure is what to do about a failed request, or about one failed entry
// of an answer: the one vocabulary of the send loop's decisions. Nothing is
// ever dropped because of a failure (only the retry limits give records
// up): each kind is retried, at its own pace. The zero value is no failure,
// an entry that was stored.
type failure uint8

const (
	noFailure     failure = iota // stored
	failThrottled                // the service (a shard, KMS) asked us to slow down: back off, retry
	failTransient                // back off, retry
	failRefused                  // needs the operator (access, a KMS key, a missing stream), or an unknown code: retried at the maximum backoff
)

// kind is how RequestResult and the metrics name a failed entry's kind:
// throttled, refused (needs the operator) or internal (the service's own,
// retried).
func (f failure) kind() string {
	switch f {
	case failThrottled:
		return "throttled"
	case failRefused:
		return "refused"
	}
	return "internal"
}

func (f failure) String() string {
	switch f {
	case noFailure:
		return "stored"
	case failThrottled:
		return "throttled"
	case failTransient:
		return "transient"
	case failRefused:
		return "refused"
	}
	return "failure(" + strconv.Itoa(int(f)) + ")"
}

// classify decides how to retry after err, the failure of a whole Kinesis
// request. A retryable error is retried with exponential backoff; one that
// needs the operator (a missing stream, denied access, bad credentials) is
// retried at the maximum backoff, so the data is sent once the problem is
// fixed.
func classify(err error) failure {
	var ae *apiError
	if !errors.As(err, &ae) {
		// No answer at all: a timeout of this request (context.DeadlineExceeded),
		// a refused or reset connection, a truncated or unreadable answer.
		// All transient.
		return failTransient
	}
	if f, known := classifyCode(ae.code); known {
		return f
	}
	switch status := ae.status; {
	case status == http.StatusTooManyRequests:
		return failThrottled
	case status >= 500, status == http.StatusRequestTimeout:
		return failTransient
	case status >= 400:
		return failRefused
	}
	// 1xx, 3xx: not an answer PutRecords gives; try again.
	return failTransient
}

// classifyCode classifies an error code, either of a whole request or of
// one PutRecords entry. known is false for codes it has never heard of,
// which are then judged by their HTTP status (or refused, for an entry).
func classifyCode(code string) (f failure, known bool) {
	switch code {
	case "ProvisionedThroughputExceededException", "LimitExceededException", "KMSThrottlingException",
		"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown":
		return failThrottled, true
	case "InternalFailure", "InternalFailureException", "InternalServerError", "ServiceUnavailable",
		"ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException",
		// The stream is being created or resharded: it will accept writes soon.
		"ResourceInUseException":
		return failTransient, true
	case "ResourceNotFoundException", "AccessDeniedException", "AccessDenied", "ValidationException",
		"InvalidArgumentException", "UnrecognizedClientException", "InvalidSignatureException",
		"IncompleteSignature", "MissingAuthenticationToken", "MissingAuthenticationTokenException",
		"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
		"KMSAccessDeniedException", "KMSDisabledException", "KMSInvalidStateException",
		"KMSNotFoundException", "KMSOptInRequired":
		return failRefused, true
	}
	return failRefused, false
}

// kinesisEntryFailure is the failure of a PutRecords entry answered with
// code: an unknown code needs the operator.
func kinesisEntryFailure(code string) failure {
	f, _ := classifyCode(code)
	return f
}

// backoffCeiling is the upper bound of the delay before retry number attempt
// (1-based): base·2^(attempt-1), capped at limit, without overflowing.
func backoffCeiling(attempt int, base, limit time.Duration) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := base
	for i := 1; i < attempt; i++ {
		if d >= limit/2 {
			return limit
		}
		d *= 2
	}
	return min(d, limit)
}

// backoff draws a delay uniformly from [0, backoffCeiling] ("full jitter"):
// clients retrying after the same failure spread out instead of coming back
// together.
func backoff(rng *rand.Rand, attempt int, base, limit time.Duration) time.Duration {
	ceil := backoffCeiling(attempt, base, limit)
	if ceil <= 0 {
		return 0
	}
	return time.Duration(rng.Int64N(int64(ceil) + 1))
}

// logEvery is how often one kind of warning may be logged.
const logEvery = 10 * time.Second

// logKind names a kind of rate-limited warning.
type logKind int

const (
	logThrottled logKind = iota
	logRequestError
	logNeedsOperator
	logEntryError
	logRejected
	logDropped
	numLogKinds
)

// rateLog lets one message per kind through every logEvery and counts the
// ones it held back, so a flood of failures costs a line per period. It is
// used by one goroutine.
type rateLog struct {
	last       [numLogKinds]time.Time
	suppressed [numLogKinds]int
}

// allow reports whether a message of kind may be logged at now, and how many
// were held back since the last one.
func (l *rateLog) allow(kind logKind, now time.Time) (ok bool, suppressed int) {
	if !l.last[kind].IsZero() && now.Sub(l.last[kind]) < logEvery {
		l.suppressed[kind]++
		return false, 0
	}
	suppressed = l.suppressed[kind]
	l.last[kind], l.suppressed[kind] = now, 0
	return true, suppressed
}
