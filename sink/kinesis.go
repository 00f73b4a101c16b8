package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/kinetail/kinetail/config"
)

// Limits of the Kinesis PutRecords API.
const (
	maxPutRecordsEntries = 500
	maxPartitionKeyRunes = 256
	payloadUnitBytes     = 25 << 10 // PUT payload units are billed per 25 KiB
)

// Defaults for settings left at zero, so a Destination built in code (not
// loaded from YAML) still behaves.
const (
	defaultMaxRecords     = maxPutRecordsEntries
	defaultMaxBytes       = 5 << 20
	defaultMaxRecordBytes = 1 << 20
	defaultMaxAge         = time.Second
	defaultInitialBackoff = 100 * time.Millisecond
	defaultMaxBackoff     = 10 * time.Second
	defaultConnect        = 2 * time.Second
	defaultRequest        = 10 * time.Second
	defaultMaxInFlight    = 4
	sdkMaxAttempts        = 2 // Check and STS get one quick retry; PutRecords is retried by the sink
)

// Partition key modes.
const (
	KeyRandom        = "random"
	KeyDeterministic = "deterministic"
)

// KinesisOptions are the dependencies of a Kinesis sink.
type KinesisOptions struct {
	// Logger receives warnings about throttling, errors and rejected
	// records; nil discards them.
	Logger *slog.Logger
	// HTTPClient replaces the client built from the destination's
	// timeouts (for tests). AWS_CA_BUNDLE then no longer applies.
	HTTPClient *http.Client
	// Rand seeds partition keys and backoff jitter; nil seeds from the
	// runtime. It is used only by the goroutine calling Run.
	Rand *rand.Rand
	// UserAgent is sent with every PutRecords call; empty means
	// "kinetail/" and the module version the binary was built from.
	UserAgent string

	// credentials replaces the SDK's default credential chain (tests).
	credentials aws.CredentialsProvider
}

// settings are a Destination's values with defaults applied.
type settings struct {
	stream         string
	streamARN      bool // stream is an ARN, sent as StreamARN
	where          string
	keyMode        string
	maxRecords     int
	maxBytes       int
	maxRecordBytes int
	maxAge         time.Duration
	initialBackoff time.Duration
	maxBackoff     time.Duration
	maxAttempts    int
	connect        time.Duration
	request        time.Duration
	maxInFlight    int
}

func newSettings(d *config.Destination, region string) settings {
	or := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	orInt := func(v int64, def int) int {
		if v > 0 {
			return int(v)
		}
		return def
	}
	s := settings{
		stream:         d.Stream,
		streamARN:      strings.HasPrefix(d.Stream, "arn:"),
		where:          region,
		keyMode:        d.PartitionKey,
		maxRecords:     min(orInt(int64(d.Batch.MaxRecords), defaultMaxRecords), maxPutRecordsEntries),
		maxBytes:       orInt(int64(d.Batch.MaxBytes), defaultMaxBytes),
		maxRecordBytes: orInt(int64(d.Batch.MaxRecordBytes), defaultMaxRecordBytes),
		maxAge:         or(d.Batch.MaxAge.D(), defaultMaxAge),
		initialBackoff: or(d.Retry.InitialBackoff.D(), defaultInitialBackoff),
		maxBackoff:     or(d.Retry.MaxBackoff.D(), defaultMaxBackoff),
		maxAttempts:    max(d.Retry.MaxAttempts, 0),
		connect:        or(d.Timeouts.Connect.D(), defaultConnect),
		request:        or(d.Timeouts.Request.D(), defaultRequest),
		maxInFlight:    orInt(int64(d.MaxInFlight), defaultMaxInFlight),
	}
	if s.keyMode == "" {
		s.keyMode = KeyRandom
	}
	// A record that does not fit in a request could never be sent.
	s.maxRecordBytes = min(s.maxRecordBytes, s.maxBytes)
	s.maxBackoff = max(s.maxBackoff, s.initialBackoff)
	if d.Endpoint != "" {
		s.where += " at " + d.Endpoint
	}
	return s
}

// Kinesis sends records to a Kinesis data stream with PutRecords. It
// batches records, keeps up to max_in_flight requests going, resends only
// the entries that failed, and acknowledges each record once it is stored.
//
// PutRecords calls go through putClient, which writes, signs and reads them
// itself; the SDK's client serves Check, and its configuration provides
// region, credentials, endpoint rules and the HTTP client to both.
type Kinesis struct {
	set   settings
	sdk   *kinesis.Client
	put   *putClient
	creds aws.CredentialsProvider
	log   *slog.Logger
	rng   *rand.Rand
	stats kinesisCounters
}

// KinesisStats is a snapshot of a Kinesis sink's counters.
type KinesisStats struct {
	Requests      int64 // PutRecords calls made
	RecordsSent   int64 // entries in those calls (attempts, including retries)
	RecordsStored int64 // entries the service stored and that were acknowledged
	BytesStored   int64 // data bytes of the stored records
	FailedEntries int64 // entries answered with an ErrorCode
	Throttled     int64 // throttled entries plus throttled calls
	RequestErrors int64 // calls that failed as a whole
	Retries       int64 // entries queued again after a failure
	PayloadUnits  int64 // sum over stored records of ceil((data+key)/25KiB)
	Rejected      int64 // records too large to ever be stored, acknowledged unsent
	Dropped       int64 // records given up after retry.max_attempts, acknowledged
}

type kinesisCounters struct {
	requests, recordsSent, recordsStored, bytesStored atomic.Int64
	failedEntries, throttled, requestErrors, retries  atomic.Int64
	payloadUnits, rejected, dropped                   atomic.Int64
}

// Stats returns the current counters; it is safe to call at any time.
func (k *Kinesis) Stats() KinesisStats {
	c := &k.stats
	return KinesisStats{
		Requests:      c.requests.Load(),
		RecordsSent:   c.recordsSent.Load(),
		RecordsStored: c.recordsStored.Load(),
		BytesStored:   c.bytesStored.Load(),
		FailedEntries: c.failedEntries.Load(),
		Throttled:     c.throttled.Load(),
		RequestErrors: c.requestErrors.Load(),
		Retries:       c.retries.Load(),
		PayloadUnits:  c.payloadUnits.Load(),
		Rejected:      c.rejected.Load(),
		Dropped:       c.dropped.Load(),
	}
}

// NewKinesis builds a sink for destination d. It resolves the AWS
// configuration (region, the SDK's credential chain, the optional role) but
// makes no request; call Check for that.
func NewKinesis(ctx context.Context, d *config.Destination, opts KinesisOptions) (*Kinesis, error) {
	if d.Stream == "" {
		return nil, fmt.Errorf("destination %s: no stream", d.Name)
	}
	switch d.PartitionKey {
	case "", KeyRandom, KeyDeterministic:
	default:
		return nil, fmt.Errorf("destination %s: unknown partition_key mode %q", d.Name, d.PartitionKey)
	}
	set := newSettings(d, d.Region)

	var httpClient awsconfig.HTTPClient = opts.HTTPClient
	if opts.HTTPClient == nil {
		// A BuildableClient keeps AWS_CA_BUNDLE working: the config loader
		// installs the bundle into its transport.
		httpClient = awshttp.NewBuildableClient().
			WithDialerOptions(func(dl *net.Dialer) { dl.Timeout = set.connect }).
			WithTransportOptions(func(tr *http.Transport) {
				tr.ResponseHeaderTimeout = set.request
				tr.MaxIdleConnsPerHost = set.maxInFlight + 2
				tr.MaxIdleConns = max(tr.MaxIdleConns, set.maxInFlight+2)
			})
	}
	sdkBackoff := set.initialBackoff
	loadOpts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithHTTPClient(httpClient),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = sdkMaxAttempts
				o.MaxBackoff = sdkBackoff
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if d.Region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(d.Region))
	}
	if opts.credentials != nil {
		loadOpts = append(loadOpts, awsconfig.WithCredentialsProvider(opts.credentials))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("destination %s: load AWS configuration: %w", d.Name, err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("destination %s: no AWS region: set region in the destination or AWS_REGION", d.Name)
	}
	set.where = newSettings(d, cfg.Region).where
	// PutRecords bodies are our own (see requestBody): only the SDK's
	// calls need the wrapper, added after loading so that the loader still
	// sees the BuildableClient it installs AWS_CA_BUNDLE into.
	putHTTP := cfg.HTTPClient
	cfg.HTTPClient = hideWriterTo{cfg.HTTPClient}
	if d.RoleARN != "" {
		// STS is reached at its regular endpoint: the destination's
		// endpoint override is for Kinesis only.
		provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), d.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "kinetail-" + d.Name
		})
		cfg.Credentials = aws.NewCredentialsCache(provider)
	}
	client := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		if d.Endpoint != "" {
			o.BaseEndpoint = aws.String(d.Endpoint)
		}
	})

	ua := opts.UserAgent
	if ua == "" {
		ua = defaultUserAgent()
	}
	put, err := newPutClient(ctx, client.Options(), putHTTP, cfg.Credentials, d.Stream, set.streamARN, ua)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", d.Name, err)
	}

	k := &Kinesis{set: set, sdk: client, put: put, creds: cfg.Credentials, log: opts.Logger, rng: opts.Rand}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	k.log = k.log.With("destination", d.Name, "stream", d.Stream)
	if k.rng == nil {
		k.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return k, nil
}

// Check makes sure the stream can be written to: credentials resolve, the
// endpoint answers, and the stream exists and is ACTIVE or UPDATING. Its
// errors say which of these failed.
func (k *Kinesis) Check(ctx context.Context) error {
	if k.creds == nil {
		return fmt.Errorf("kinesis stream %q: no AWS credentials found", k.set.stream)
	}
	ctx, cancel := context.WithTimeout(ctx, k.set.request)
	defer cancel()
	if _, err := k.creds.Retrieve(ctx); err != nil {
		return fmt.Errorf("kinesis stream %q: retrieve AWS credentials: %w", k.set.stream, err)
	}
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

// checkError turns a DescribeStreamSummary failure into a message an
// operator can act on.
func (k *Kinesis) checkError(err error) error {
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return fmt.Errorf("stream %q %w in %s", k.set.stream, ErrStreamNotFound, k.set.where)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignature",
			"MissingAuthenticationToken", "MissingAuthenticationTokenException",
			"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId":
			return fmt.Errorf("kinesis stream %q: AWS credentials rejected by %s: %w", k.set.stream, k.set.where, err)
		case "AccessDeniedException", "AccessDenied":
			return fmt.Errorf("kinesis stream %q: access denied in %s (check the IAM policy): %w", k.set.stream, k.set.where, err)
		}
		return fmt.Errorf("kinesis stream %q: describe in %s: %w", k.set.stream, k.set.where, err)
	}
	// No answer from the service at all: connection refused, DNS, TLS,
	// timeouts.
	return fmt.Errorf("kinesis stream %q: cannot reach Kinesis in %s: %w", k.set.stream, k.set.where, err)
}

// defaultUserAgent is "kinetail/" and the main module's version.
func defaultUserAgent() string {
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return "kinetail/" + v
}

// hideWriterTo works around a request-body quirk: smithy-go's body wrapper
// answers WriteTo with (0, io.EOF) once it is closed, which net/http takes
// for a failed write when the server replied before the body was fully
// consumed, and closes the connection. The SDK then fails to read a 200
// answer and retries a request Kinesis already stored: duplicates and
// connection churn under load. Hiding WriterTo makes the transport copy the
// body with Read, which has no such problem.
type hideWriterTo struct{ next aws.HTTPClient }

func (h hideWriterTo) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = struct{ io.ReadCloser }{r.Body}
	}
	return h.next.Do(r)
}
