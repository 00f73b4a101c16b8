package transform

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/awslog"
)

const (
	// ec2TimestampLayout is the agent's metadataTimestamp: local time to
	// the second with a numeric zone (Java's "yyyy-MM-dd'T'HH:mm:ssZ").
	ec2TimestampLayout = "2006-01-02T15:04:05-0700"
	// ec2FetchTimeout bounds one fetch (identity document and tags).
	ec2FetchTimeout = 10 * time.Second
	// ec2RetryAfter is how soon a failed fetch is tried again, unless the
	// refresh interval is shorter. It keeps a host without an instance
	// metadata service from being asked on every line.
	ec2RetryAfter = time.Minute
	// ec2WarnEvery limits the warnings about failed fetches.
	ec2WarnEvery = time.Minute
	// ec2MaxBody bounds what is read of one metadata answer.
	ec2MaxBody = 64 << 10
)

// addEC2Metadata adds the instance's identity to a JSON object record, like
// the Kinesis Agent's ADDEC2METADATA processor. The fields, in this order,
// come from the instance identity document:
//
//	"privateIp", "availabilityZone", "instanceId", "instanceType",
//	"accountId", "amiId", "region",
//
// then "metadataTimestamp", when they were fetched (local time, as
// 2024-05-06T07:08:09+0000), and with tags: true, "tags": an object of the
// instance's tags, keys lower-cased and sorted. Where the agent calls the
// EC2 DescribeTags API, tags are read from the instance metadata service
// (/latest/meta-data/tags/instance), which needs no credentials but only
// answers when tags in instance metadata are enabled on the instance; when
// they cannot be read, the other fields are still added and a warning is
// logged.
//
// The fields are appended before the record's closing brace, so a record
// that already has one of these keys ends up with it twice; JSON decoders
// keep the last one, which is the agent's value too. The record is checked
// and written compact by the same scanner as the json transform; a record
// that is not a JSON object is rejected with a *SyntaxError, handled like
// any invalid line (wrapped: add_ec2_metadata has no on_error setting).
//
// Metadata is fetched with IMDSv2 only (a session token; no fallback to
// IMDSv1). The first record waits for the first fetch (bounded by
// ec2FetchTimeout); later fetches, after the refresh interval, run in the
// background while records get the cached fields. Until a fetch succeeds,
// records pass unchanged, as in the agent: this is counted, and a warning
// is logged at most once a minute. AWS_EC2_METADATA_DISABLED=true turns the
// client off (every fetch fails at once), and
// AWS_EC2_METADATA_SERVICE_ENDPOINT points it elsewhere.
type addEC2Metadata struct {
	client  *imds.Client
	tags    bool
	refresh time.Duration
	now     func() time.Time // the clock; a test seam
	log     *slog.Logger

	// Used only by the goroutine that calls Append.
	json    jsonCompact
	started bool

	// fields is the encoded `,"privateIp":…` of the last good fetch,
	// nil until one succeeded. It is replaced, never modified.
	fields   atomic.Pointer[[]byte]
	due      atomic.Int64 // unix nanoseconds when the next fetch is due
	busy     atomic.Bool  // a background fetch is running
	wg       sync.WaitGroup
	lastWarn atomic.Int64 // unix nanoseconds of the last warning

	fetches, fetchErrors, unenriched atomic.Uint64
}

// ec2Options are the test seams of an add_ec2_metadata step.
type ec2Options struct {
	imds imds.Options     // the client's options: endpoint, retryer
	now  func() time.Time // default time.Now
	log  *slog.Logger     // default slog.Default()
}

func newAddEC2Metadata(c *config.AddEC2Metadata, o ec2Options) *addEC2Metadata {
	// Records must never carry an unauthenticated IMDSv1 answer.
	o.imds.EnableFallback = aws.FalseTernary
	if o.log == nil {
		o.log = slog.Default()
	}
	if o.imds.Logger == nil {
		o.imds.Logger = awslog.New(o.log)
	}
	p := &addEC2Metadata{
		client:  imds.New(o.imds),
		tags:    c.Tags,
		refresh: time.Duration(c.Refresh),
		now:     o.now,
		log:     o.log,
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.refresh <= 0 {
		p.refresh = time.Hour
	}
	return p
}

func (p *addEC2Metadata) Append(dst, in []byte) ([]byte, error) {
	p.maybeFetch()
	f := p.fields.Load()
	if f == nil {
		p.unenriched.Add(1)
		return append(dst, in...), nil
	}
	start := len(dst)
	out, err := p.json.Append(dst, in)
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			return dst, &SyntaxError{Transform: "add_ec2_metadata", Msg: se.Msg, Offset: se.Offset}
		}
		return dst, err
	}
	if out[start] != '{' {
		return dst, &SyntaxError{Transform: "add_ec2_metadata", Msg: "not a JSON object", Offset: 0}
	}
	out = out[:len(out)-1] // the closing brace
	if len(out)-start == 1 {
		// {}: no comma before the first field.
		out = append(out, (*f)[1:]...)
	} else {
		out = append(out, *f...)
	}
	return append(out, '}'), nil
}

// maybeFetch fetches the metadata the first time it is called, and starts a
// background refresh when one is due and none is running.
func (p *addEC2Metadata) maybeFetch() {
	if !p.started {
		p.started = true
		p.fetch()
		return
	}
	if p.now().UnixNano() < p.due.Load() || !p.busy.CompareAndSwap(false, true) {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.busy.Store(false)
		p.fetch()
	}()
}

// fetch gets the metadata, stores the encoded fields when it succeeds and
// sets when the next fetch is due.
func (p *addEC2Metadata) fetch() {
	ctx, cancel := context.WithTimeout(context.Background(), ec2FetchTimeout)
	defer cancel()
	p.fetches.Add(1)
	at := p.now()
	f, err := p.encode(ctx, at)
	if err != nil {
		p.fetchErrors.Add(1)
		p.warn(at, "cannot fetch EC2 instance metadata; records are sent without it", err)
		p.due.Store(at.Add(min(p.refresh, ec2RetryAfter)).UnixNano())
		return
	}
	p.fields.Store(&f)
	p.due.Store(at.Add(p.refresh).UnixNano())
}

// encode fetches the identity document (and tags) and encodes the fields,
// each preceded by a comma.
func (p *addEC2Metadata) encode(ctx context.Context, at time.Time) ([]byte, error) {
	out, err := p.client.GetInstanceIdentityDocument(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("instance identity document: %w", err)
	}
	doc := out.InstanceIdentityDocument
	var b []byte
	for _, kv := range [...][2]string{
		{"privateIp", doc.PrivateIP},
		{"availabilityZone", doc.AvailabilityZone},
		{"instanceId", doc.InstanceID},
		{"instanceType", doc.InstanceType},
		{"accountId", doc.AccountID},
		{"amiId", doc.ImageID},
		{"region", doc.Region},
		{"metadataTimestamp", at.Format(ec2TimestampLayout)},
	} {
		b = append(b, ',')
		b = AppendJSONString(b, []byte(kv[0]))
		b = append(b, ':')
		b = AppendJSONString(b, []byte(kv[1]))
	}
	if !p.tags {
		return b, nil
	}
	tags, err := p.fetchTags(ctx)
	if err != nil {
		// As in the agent, the identity is still worth adding.
		p.fetchErrors.Add(1)
		p.warn(at, "cannot read the instance's tags from instance metadata (are tags in instance metadata enabled?); records are sent without them", err)
		return b, nil
	}
	b = append(b, `,"tags":`...)
	return appendStringObject(b, tags), nil
}

// fetchTags reads the instance's tags: the list of keys, then each value.
// Keys are lower-cased as the agent does; of keys equal but for case, the
// last listed wins.
func (p *addEC2Metadata) fetchTags(ctx context.Context) (map[string]string, error) {
	list, err := p.get(ctx, "tags/instance")
	if err != nil {
		return nil, err
	}
	tags := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(list))
	for sc.Scan() {
		key := strings.TrimSpace(sc.Text())
		if key == "" {
			continue
		}
		v, err := p.get(ctx, "tags/instance/"+key)
		if err != nil {
			return nil, err
		}
		tags[strings.ToLower(key)] = v
	}
	return tags, nil
}

// get reads one instance metadata path under /latest/meta-data/.
func (p *addEC2Metadata) get(ctx context.Context, path string) (string, error) {
	out, err := p.client.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
	if err != nil {
		return "", fmt.Errorf("get %s: %w", path, err)
	}
	defer out.Content.Close()
	b, err := io.ReadAll(io.LimitReader(out.Content, ec2MaxBody))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return string(b), nil
}

// warn logs msg unless a warning was logged less than ec2WarnEvery ago.
func (p *addEC2Metadata) warn(at time.Time, msg string, err error) {
	last := p.lastWarn.Load()
	if last != 0 && at.UnixNano()-last < int64(ec2WarnEvery) {
		return
	}
	if !p.lastWarn.CompareAndSwap(last, at.UnixNano()) {
		return
	}
	p.log.Warn(msg, "transform", "add_ec2_metadata", "err", err,
		"failed_fetches", p.fetchErrors.Load(), "records_without_metadata", p.unenriched.Load())
}

// EC2Stats counts what a chain's add_ec2_metadata steps did.
type EC2Stats struct {
	Fetches     uint64 // fetches of the instance metadata
	FetchErrors uint64 // fetches that failed (identity, or tags alone)
	Unenriched  uint64 // records sent unchanged because no metadata was known
}

// EC2Stats returns the counters of the chain's add_ec2_metadata steps,
// summed. It may be called concurrently with Append.
func (c *Chain) EC2Stats() EC2Stats {
	var s EC2Stats
	for _, st := range c.steps {
		if p, ok := st.p.(*addEC2Metadata); ok {
			s.Fetches += p.fetches.Load()
			s.FetchErrors += p.fetchErrors.Load()
			s.Unenriched += p.unenriched.Load()
		}
	}
	return s
}
