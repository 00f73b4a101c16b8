package agent

import (
	"context"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/redact"
	"github.com/kinetail/kinetail/metrics"
)

// cloudWatch sends the Kinesis Agent's metrics to CloudWatch until ctx is
// done. A configuration the SDK cannot resolve (no region) is logged: the
// lines are shipped all the same.
func (m *monitor) cloudWatch(ctx context.Context, cw config.CloudWatch) {
	if cw.AllowInsecureEndpoint {
		m.a.log.Warn(insecureWarning, "cloudwatch", cw.Namespace, "endpoint", redact.URLs(cw.Endpoint))
	}
	c, err := metrics.NewCloudWatch(ctx, metrics.CloudWatchOptions{
		Namespace: cw.Namespace, Interval: cw.Interval.D(), Region: cw.Region, Endpoint: cw.Endpoint,
		Snapshot: m.Snapshot, Logger: m.a.log,
	})
	if err != nil {
		m.a.log.Error("CloudWatch metrics are off", "err", err)
		return
	}
	m.a.log.Info("sending metrics to CloudWatch", "namespace", cw.Namespace, "interval", cw.Interval.String())
	c.Run(ctx)
}
