package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/kinetail/kinetail/internal/awslog"
	"github.com/kinetail/kinetail/internal/redact"
)

// maxDatums is PutMetricData's limit of metric data per call.
const maxDatums = 1000

// CloudWatchOptions configure a CloudWatch emitter.
type CloudWatchOptions struct {
	Namespace string
	Interval  time.Duration
	Region    string // empty: the SDK's chain
	Endpoint  string // empty: AWS's own
	Snapshot  SnapshotFunc
	Logger    *slog.Logger
}

// putMetricDataAPI is what the emitter calls of the CloudWatch client.
type putMetricDataAPI interface {
	PutMetricData(context.Context, *cloudwatch.PutMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// CloudWatch sends, every interval, the Kinesis Agent's metrics for each
// Kinesis and Firehose destination (BytesSent, RecordSendAttempts,
// RecordSendErrors, RecordsSent, ServiceErrors, with a Destination
// dimension like "KinesisStream:name") and each flow's lag (BytesBehind,
// OldestUnackedAgeSeconds, with a Flow dimension).
//
// Counts are what happened since the last call that worked: a failed call
// (retried by the SDK, then given up) leaves them to the next round, so a
// CloudWatch outage loses no count. It runs on its own goroutine and only
// reads counters: it never holds up delivery.
type CloudWatch struct {
	api  putMetricDataAPI
	o    CloudWatchOptions
	now  func() time.Time
	sent map[string]cwCounts // per destination, the counters already sent
	// failing is set while calls fail, so the failure is logged once.
	failing bool
}

type cwCounts struct{ bytes, attempts, errors, records, serviceErrors int64 }

// NewCloudWatch resolves the AWS configuration (region, credentials); it
// makes no call.
func NewCloudWatch(ctx context.Context, o CloudWatchOptions) (*CloudWatch, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	loadOpts := []func(*awsconfig.LoadOptions) error{
		// The SDK's own warnings (IMDS, credentials) go to our handler.
		awsconfig.WithLogger(awslog.New(o.Logger)),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = 3
				so.RateLimiter = ratelimit.None
			})
		}),
	}
	if o.Region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(o.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("cloudwatch: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("cloudwatch: no AWS region: set agent.cloudwatch.region or AWS_REGION")
	}
	client := cloudwatch.NewFromConfig(cfg, func(co *cloudwatch.Options) {
		if o.Endpoint != "" {
			co.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	return newCloudWatch(client, o), nil
}

func newCloudWatch(api putMetricDataAPI, o CloudWatchOptions) *CloudWatch {
	return &CloudWatch{api: api, o: o, now: time.Now, sent: make(map[string]cwCounts)}
}

// Run sends metrics every interval until ctx is done, then once more so the
// last counts are not left behind.
func (c *CloudWatch) Run(ctx context.Context) {
	tick := time.NewTicker(c.o.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			// A short grace for the final round: shutdown must not wait
			// on an unreachable CloudWatch.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			c.Send(fctx)
			cancel()
			return
		case <-tick.C:
			cctx, cancel := context.WithTimeout(ctx, max(c.o.Interval, 10*time.Second))
			c.Send(cctx)
			cancel()
		}
	}
}

// Send makes one round of calls and reports whether they all worked.
func (c *CloudWatch) Send(ctx context.Context) bool {
	s := c.o.Snapshot(true)
	now := c.now()
	type pending struct {
		key    string
		counts cwCounts
	}
	var (
		datums []types.MetricDatum
		keys   []pending // destinations whose counts the datums hold, by datum index of their first
		owner  []int     // for each datum, its index in keys, or -1 for gauges
	)
	datum := func(name string, unit types.StandardUnit, v float64, dim types.Dimension, k int) {
		datums = append(datums, types.MetricDatum{
			MetricName: aws.String(name), Unit: unit, Value: aws.Float64(v), Timestamp: aws.Time(now),
			Dimensions: []types.Dimension{dim},
		})
		owner = append(owner, k)
	}
	for i := range s.Destinations {
		d := &s.Destinations[i]
		var prefix string
		switch d.Type {
		case "kinesis":
			prefix = "KinesisStream:"
		case "firehose":
			prefix = "DeliveryStream:"
		}
		if prefix == "" || d.Template {
			continue
		}
		now := cwCounts{bytes: d.BytesSent, attempts: d.RecordSendAttempts, records: d.RecordsSent, serviceErrors: d.RequestErrors,
			// Entries failed plus those of failed requests: every attempt
			// that stored nothing.
			errors: max(d.RecordSendAttempts-d.ServiceRecordsSent, 0)}
		was := c.sent[d.Key()]
		k := len(keys)
		keys = append(keys, pending{d.Key(), now})
		dim := types.Dimension{Name: aws.String("Destination"), Value: aws.String(prefix + d.Stream)}
		datum("BytesSent", types.StandardUnitBytes, float64(now.bytes-was.bytes), dim, k)
		datum("RecordSendAttempts", types.StandardUnitCount, float64(now.attempts-was.attempts), dim, k)
		datum("RecordSendErrors", types.StandardUnitCount, float64(max(now.errors-was.errors, 0)), dim, k)
		datum("RecordsSent", types.StandardUnitCount, float64(now.records-was.records), dim, k)
		datum("ServiceErrors", types.StandardUnitCount, float64(now.serviceErrors-was.serviceErrors), dim, k)
	}
	for _, f := range s.Flows {
		dim := types.Dimension{Name: aws.String("Flow"), Value: aws.String(f.Name)}
		age := 0.0
		if !f.OldestUnacked.IsZero() {
			age = max(now.Sub(f.OldestUnacked).Seconds(), 0)
		}
		datum("BytesBehind", types.StandardUnitBytes, float64(f.BytesBehind), dim, -1)
		datum("OldestUnackedAgeSeconds", types.StandardUnitSeconds, age, dim, -1)
	}

	ok := true
	for start := 0; start < len(datums); start += maxDatums {
		end := min(start+maxDatums, len(datums))
		_, err := c.api.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
			Namespace: aws.String(c.o.Namespace), MetricData: datums[start:end],
		})
		if err != nil {
			ok = false
			if !c.failing {
				c.o.Logger.Warn("cannot send metrics to CloudWatch; counts are kept for the next round", "namespace", c.o.Namespace, "err", redact.Error(err))
			}
			c.failing = true
			continue
		}
		// A destination's five datums may straddle two calls: its counts
		// count as sent once its last datum was.
		for i := start; i < end; i++ {
			if k := owner[i]; k >= 0 && (i+1 == len(owner) || owner[i+1] != k) {
				c.sent[keys[k].key] = keys[k].counts
			}
		}
	}
	if ok && c.failing {
		c.o.Logger.Info("sending metrics to CloudWatch works again", "namespace", c.o.Namespace)
		c.failing = false
	}
	return ok
}
