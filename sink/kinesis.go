// Stream, the Kinesis and Firehose sink: its settings and defaults, its
// counters, and building one.

package sink

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/awslog"
	"github.com/kinetail/kinetail/internal/redact"
	"github.com/kinetail/kinetail/internal/sdkbody"
)

// sdkMaxAttempts bounds the SDK's own attempts: Check and STS get one quick
// retry; PutRecords is retried by the sink.
const sdkMaxAttempts = 2

// Protocols a Kinesis destination can speak (protocol).
const (
	ProtocolJSON = "json"
	ProtocolCBOR = "cbor"
)

// Partition key modes.
const (
	KeyRandom        = "random"
	KeyDeterministic = "deterministic"
)

// Options are the dependencies of a Kinesis or Firehose sink.
type Options struct {
	// Logger receives warnings about throttling, errors and rejected
	// records; nil discards them.
	Logger *slog.Logger
	// HTTPClient replaces the client built from the destination's
	// timeouts and HTTP version (for tests). AWS_CA_BUNDLE then no longer
	// applies.
	HTTPClient *http.Client
	// Rand seeds partition keys and backoff jitter; nil seeds from the
	// runtime. It is used only by the goroutine calling Run.
	Rand *rand.Rand
	// UserAgent is sent with every PutRecords call; empty means
	// "kinetail/" and the module version the binary was built from.
	UserAgent string

	// Memory bounds what the sink holds beyond the records' data: request
	// bodies and the lists of records packed in aggregates (see
	// memory.go). Its limit must be at least MinMemory; nil is unbounded.
	Memory *Memory

	// DeadLetter, when set, is the destination's dead-letter file, shared
	// by the sinks of one templated destination; otherwise the sink opens
	// dead_letter_file itself.
	DeadLetter *DeadLetter

	// Observer, when set, is told about every request (see observe.go).
	Observer RequestObserver

	// credentials replaces the SDK's default credential chain (tests).
	credentials aws.CredentialsProvider
	// tuneTransport, if set, changes the transport of the client built
	// from the destination (tests: trust a test server, count writes).
	tuneTransport func(*http.Transport)
}

// settings are a Destination's values with defaults applied.
type settings struct {
	proto          *protocol
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
	maxRecordAge   time.Duration
	connect        time.Duration
	request        time.Duration
	maxInFlight    int
	aggregate      bool
	maxPacked      int
	compression    string
	http2          bool // offer HTTP/2 over TLS
	deadLetter     string
	shardAware     bool
	shardRefresh   time.Duration
	shardBytes     int
	shardRecords   int
	memory         int64 // Options.Memory's limit; 0 is unbounded
}

// limits are the queue's limits for these settings.
func (s *settings) limits() limits {
	lim := limits{
		maxRecords:   s.maxRecords,
		maxBytes:     s.maxBytes,
		maxAge:       s.maxAge,
		queueRecords: s.maxRecords,
		maxPacked:    s.maxPacked,
	}
	if s.aggregate {
		// Packed records are counted per user record: a request holds
		// many more of them.
		lim.queueRecords = s.maxRecords * 100
	}
	if !s.aggregate || s.maxPacked <= 0 {
		lim.maxPacked = s.maxRecordBytes
	}
	return lim
}

// newSettings gives a zero field config's default for it, so a Destination
// built in code (not loaded from YAML) still behaves.
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
	p := protocolOf(d)
	s := settings{
		proto:          p,
		where:          region,
		keyMode:        d.PartitionKey,
		maxRecords:     min(orInt(int64(d.Batch.MaxRecords), p.maxRecords), p.maxRecords),
		maxBytes:       min(orInt(int64(d.Batch.MaxBytes), p.batchBytes), p.maxBatchBytes),
		maxRecordBytes: min(orInt(int64(d.Batch.MaxRecordBytes), p.recordBytes), p.maxRecordBytes),
		maxAge:         or(d.Batch.MaxAge.D(), config.DefaultBatchMaxAge.D()),
		initialBackoff: or(d.Retry.InitialBackoff.D(), config.DefaultInitialBackoff.D()),
		maxBackoff:     or(d.Retry.MaxBackoff.D(), config.DefaultMaxBackoff.D()),
		maxAttempts:    max(d.Retry.MaxAttempts, 0),
		connect:        or(d.Timeouts.Connect.D(), config.DefaultConnectTimeout.D()),
		request:        or(d.Timeouts.Request.D(), config.DefaultRequestTimeout.D()),
		maxInFlight:    orInt(int64(d.MaxInFlight), config.DefaultMaxInFlight),
		maxRecordAge:   max(d.Retry.MaxRecordAge.D(), 0),
		aggregate:      d.Aggregation.Enabled,
		maxPacked:      orInt(int64(d.Aggregation.MaxBytes), p.packedBytes),
		compression:    d.Compression,
		http2:          d.HTTP.Version == HTTP2,
		deadLetter:     d.DeadLetterFile,
		shardAware:     d.ShardAware.Enabled && p.keyed,
		shardRefresh:   or(d.ShardAware.Refresh.D(), config.DefaultShardRefresh.D()),
		shardBytes:     orInt(int64(d.ShardAware.BytesPerSecond), int(config.DefaultShardBytesPerSecond)),
		shardRecords:   orInt(int64(d.ShardAware.RecordsPerSecond), config.DefaultShardRecordsPerSecond),
	}
	s.stream, s.streamARN = p.streamOf(d)
	s.maxPacked = min(s.maxPacked, s.maxRecordBytes)
	if s.keyMode == "" {
		s.keyMode = KeyRandom
	}
	// A record that does not fit in a request could never be sent.
	s.maxRecordBytes = min(s.maxRecordBytes, s.maxBytes)
	s.maxBackoff = max(s.maxBackoff, s.initialBackoff)
	if d.Endpoint != "" {
		s.where += " at " + redact.URLs(d.Endpoint)
	}
	return s
}

// Stream sends records to a Kinesis data stream with PutRecords, or to a
// Firehose delivery stream with PutRecordBatch. It batches records (and
// packs them into aggregates when asked), keeps up to max_in_flight
// requests going, resends only the entries that failed, and acknowledges
// each record once it is stored.
//
// Calls go through putClient, which writes, signs and reads them itself;
// the SDK's client serves Check and ListShards, and its configuration
// provides region, credentials, endpoint rules and the HTTP client to both.
type Stream struct {
	name  string // the destination's
	set   settings
	sdk   *kinesis.Client  // Kinesis streams
	fh    *firehose.Client // Firehose delivery streams
	put   putter           // a *putClient
	creds aws.CredentialsProvider
	dead  *DeadLetter // nil without a dead-letter file
	log   *slog.Logger
	rng   *rand.Rand
	mem   *Memory // nil: unbounded
	stats streamCounters
	watch watch // for metrics and status (observe.go)

	// describe is Check's look at the stream, with sdk or fh.
	describe func(context.Context) error
}

// StreamStats is a snapshot of a sink's counters.
type StreamStats struct {
	Requests       int64 // calls made
	RecordsSent    int64 // entries in those calls (attempts, including retries)
	RecordsStored  int64 // user records stored and acknowledged
	ServiceRecords int64 // service records stored: aggregates count once
	BytesStored    int64 // data bytes of the stored user records
	FailedEntries  int64 // entries answered with an ErrorCode
	Throttled      int64 // throttled entries plus throttled calls
	RequestErrors  int64 // calls that failed as a whole
	Retries        int64 // entries queued again after a failure
	PayloadUnits   int64 // sum over stored service records of ceil((data+key)/25KiB)
	Rejected       int64 // records too large to ever be stored, dropped
	Dropped        int64 // records given up after retry limits, dropped
	DeadLettered   int64 // records given up or rejected, written to the dead-letter file
}

type atomicCounter = atomic.Int64

type streamCounters struct {
	requests, recordsSent, recordsStored, serviceRecords, bytesStored atomicCounter
	failedEntries, throttled, requestErrors, retries                  atomicCounter
	payloadUnits, rejected, dropped, deadLettered                     atomicCounter
}

// Stats returns the current counters; it is safe to call at any time.
func (k *Stream) Stats() StreamStats {
	c := &k.stats
	return StreamStats{
		Requests:       c.requests.Load(),
		RecordsSent:    c.recordsSent.Load(),
		RecordsStored:  c.recordsStored.Load(),
		ServiceRecords: c.serviceRecords.Load(),
		BytesStored:    c.bytesStored.Load(),
		FailedEntries:  c.failedEntries.Load(),
		Throttled:      c.throttled.Load(),
		RequestErrors:  c.requestErrors.Load(),
		Retries:        c.retries.Load(),
		PayloadUnits:   c.payloadUnits.Load(),
		Rejected:       c.rejected.Load(),
		Dropped:        c.dropped.Load(),
		DeadLettered:   c.deadLettered.Load(),
	}
}

// NewKinesis builds a sink for a Kinesis destination d. It resolves the AWS
// configuration (region, the SDK's credential chain, the optional role) but
// makes no request; call Check for that.
func NewKinesis(ctx context.Context, d *config.Destination, opts Options) (*Stream, error) {
	if d.Stream == "" {
		return nil, fmt.Errorf("destination %s: no stream", d.Name)
	}
	switch {
	case d.PartitionKey == "", d.PartitionKey == KeyRandom, d.PartitionKey == KeyDeterministic:
	case config.IsTemplate(d.PartitionKey):
		// The flow fills each record's key; records it could not fill
		// get a random one.
	default:
		return nil, fmt.Errorf("destination %s: unknown partition_key mode %q", d.Name, d.PartitionKey)
	}
	return newStream(ctx, d, opts)
}

// NewFirehose builds a sink for a Firehose destination d, like NewKinesis.
func NewFirehose(ctx context.Context, d *config.Destination, opts Options) (*Stream, error) {
	if d.DeliveryStream == "" {
		return nil, fmt.Errorf("destination %s: no delivery_stream", d.Name)
	}
	return newStream(ctx, d, opts)
}

func newStream(ctx context.Context, d *config.Destination, opts Options) (*Stream, error) {
	switch {
	case d.Protocol != "" && d.Protocol != ProtocolJSON && d.Protocol != ProtocolCBOR:
		return nil, fmt.Errorf("destination %s: unknown protocol %q", d.Name, d.Protocol)
	case d.Protocol == ProtocolCBOR && d.Type == "firehose":
		return nil, fmt.Errorf("destination %s: firehose speaks only json, not cbor", d.Name)
	case d.HTTP.Version != "" && d.HTTP.Version != HTTP1 && d.HTTP.Version != HTTP2:
		return nil, fmt.Errorf("destination %s: unknown http.version %q", d.Name, d.HTTP.Version)
	}
	set := newSettings(d, d.Region)
	if m := opts.Memory; m != nil {
		if m.Limit() < MinMemory(d) {
			return nil, fmt.Errorf("destination %s: a memory share of %d bytes is less than the %d one request needs", d.Name, m.Limit(), MinMemory(d))
		}
		set.fitMemory(m.Limit())
	}
	if set.keyMode != KeyDeterministic {
		set.keyMode = KeyRandom
	}

	var httpClient awsconfig.HTTPClient = opts.HTTPClient
	if opts.HTTPClient == nil {
		httpClient = newHTTPClient(&set, opts.tuneTransport)
	}
	sdkBackoff := set.initialBackoff
	sdkLog := opts.Logger
	if sdkLog == nil {
		sdkLog = slog.New(slog.DiscardHandler)
	}
	loadOpts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithHTTPClient(httpClient),
		// The SDK's own warnings (IMDS, credentials) go to our handler.
		awsconfig.WithLogger(awslog.New(sdkLog.With("destination", d.Name))),
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
	if bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok && !set.http2 {
		// Last, after the loader's AWS_CA_BUNDLE: see batchedTLS.
		cfg.HTTPClient = bc.WithTransportOptions(batchedTLS)
	}
	// Put request bodies are plain bytes.Readers (see putClient.put):
	// only the SDK's calls need the wrapper, added after loading so that
	// the loader still sees the BuildableClient it installs AWS_CA_BUNDLE
	// into.
	putHTTP := cfg.HTTPClient
	cfg.HTTPClient = sdkbody.Client{Next: cfg.HTTPClient}
	if d.RoleARN != "" {
		// STS is reached at its regular endpoint: the destination's
		// endpoint override is for the stream only.
		provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), d.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "kinetail-" + d.Name
			if d.RoleExternalID != "" {
				o.ExternalID = aws.String(d.RoleExternalID)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(provider)
	}

	ua := opts.UserAgent
	if ua == "" {
		ua = defaultUserAgent()
	}
	k := &Stream{name: d.Name, set: set, creds: cfg.Credentials, log: opts.Logger, rng: opts.Rand, mem: opts.Memory}
	k.watch.obs = opts.Observer
	// The one place the service matters beyond the protocol: which SDK
	// client checks the stream and resolves the put endpoint.
	switch set.proto.service {
	case serviceFirehose:
		k.fh = firehose.NewFromConfig(cfg, func(o *firehose.Options) {
			if d.Endpoint != "" {
				o.BaseEndpoint = aws.String(d.Endpoint)
			}
		})
		k.describe = k.describeDeliveryStream
		k.put, err = newFirehosePutClient(ctx, set.proto, k.fh.Options(), putHTTP, cfg.Credentials, ua)
	default:
		k.sdk = kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
			if d.Endpoint != "" {
				o.BaseEndpoint = aws.String(d.Endpoint)
			}
		})
		k.describe = k.describeStream
		k.put, err = newPutClient(ctx, set.proto, k.sdk.Options(), putHTTP, cfg.Credentials, set.stream, set.streamARN, ua)
	}
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", d.Name, err)
	}
	k.dead = opts.DeadLetter
	if set.deadLetter != "" && k.dead == nil {
		if k.dead, err = OpenDeadLetter(set.deadLetter); err != nil {
			return nil, fmt.Errorf("destination %s: %w", d.Name, err)
		}
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	k.log = k.log.With("destination", d.Name, "stream", set.stream)
	if k.rng == nil {
		k.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return k, nil
}

// defaultUserAgent is "kinetail/" and the main module's version.
func defaultUserAgent() string {
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return "kinetail/" + v
}
