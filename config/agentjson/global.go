package agentjson

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// globals are the agent-wide keys of an agent.json, read with the agent's
// defaults.
type globals struct {
	accessKey, secretKey                        value[string]
	roleARN, roleExternalID                     value[string]
	kinesisEndpoint, kinesisRegion              value[string]
	firehoseEndpoint, cloudwatchEndpoint        value[string]
	emitMetrics                                 value[bool]
	namespace                                   value[string]
	metricsBuffer                               value[int64]
	checkpointFile                              value[string]
	checkpointTTLDays, shutdownMillis           value[int64]
	connectMillis, socketMillis, sendingThreads value[int64]
	statusPeriod                                value[int64]
	tagInstance                                 value[bool]
}

// ignoredGlobal are agent-wide keys the agent reads that tune its Java
// runtime (threads, connection pool, its SQLite store): kinetail checks
// their values as the agent would and otherwise ignores them.
var ignoredGlobal = map[string]kind{
	"log.emitMetrics":                      kBool,
	"log.emitInternalMetrics":              kBool,
	"cloudwatch.metricsQueueSize":          kInt,
	"maxSendingThreadsPerCore":             kInt,
	"sendingThreadsKeepAliveMillis":        kLong,
	"sendingThreadsMaxQueueSize":           kInt,
	"maxConnections":                       kInt,
	"connectionTTLMillis":                  kLong,
	"useTcpKeepAlive":                      kBool,
	"useHttpGzip":                          kBool,
	"userAgent":                            kString,
	"userAgentOverride":                    kString,
	"checkpoints.queryTimeoutSeconds":      kInt,
	"checkpoints.connectionTimeoutSeconds": kInt,
}

// The agent's defaults for agent-wide keys (AgentConfiguration and the
// AWS SDK for Java's ClientConfiguration).
const (
	defaultCheckpointFile    = "/var/run/aws-kinesis-agent/checkpoints"
	defaultNamespace         = "AWSKinesisAgent"
	defaultMetricsBufferMs   = 30_000
	defaultCheckpointTTLDays = 7
	defaultShutdownMs        = 10_000
	defaultStatusPeriodS     = 30
	sdkConnectTimeoutMs      = 10_000
	sdkSocketTimeoutMs       = 50_000
)

var mappedGlobal = []string{
	"awsAccessKeyId", "awsSecretAccessKey", "assumeRoleARN", "assumeRoleExternalId",
	"sts.endpoint", "kinesis.endpoint", "kinesis.region", "firehose.endpoint",
	"cloudwatch.endpoint", "cloudwatch.emitMetrics", "cloudwatch.namespace",
	"cloudwatch.tagInstance", "cloudwatch.metricsBufferTimeMillis", "checkpointFile",
	"checkpointTimeToLiveDays", "shutdownTimeoutMillis", "connectionTimeoutMillis",
	"socketTimeoutMillis", "maxSendingThreads", "log.statusReportingPeriodSeconds", "flows",
}

func (l *loader) global(root *Node) {
	g := &l.g
	g.accessKey = l.str(root, "awsAccessKeyId", "", "")
	g.secretKey = l.str(root, "awsSecretAccessKey", "", "")
	switch {
	case g.accessKey.v != "" && g.secretKey.v != "":
		// The AWS SDK reads these first in its chain, as the agent's
		// own chain tries the file's keys first.
		l.env["AWS_ACCESS_KEY_ID"] = g.accessKey.v
		l.env["AWS_SECRET_ACCESS_KEY"] = g.secretKey.v
	case g.accessKey.v != "":
		l.errorf(g.accessKey.pos, "awsAccessKeyId: needs awsSecretAccessKey too")
	case g.secretKey.v != "":
		l.errorf(g.secretKey.pos, "awsSecretAccessKey: needs awsAccessKeyId too")
	}
	g.roleARN = l.str(root, "assumeRoleARN", "", "")
	g.roleExternalID = l.str(root, "assumeRoleExternalId", "", "")
	if g.roleExternalID.v != "" && g.roleARN.v == "" {
		l.debug(g.roleExternalID.pos, "assumeRoleExternalId: ignored without assumeRoleARN, as the agent does")
	}
	if sts := l.str(root, "sts.endpoint", "", ""); sts.v != "" {
		// The AWS SDK for Go reads a service's endpoint from this
		// variable; kinetail's configuration has no place for it.
		l.env["AWS_ENDPOINT_URL_STS"] = withScheme(sts.v)
	}
	g.kinesisEndpoint = l.str(root, "kinesis.endpoint", "", "")
	g.kinesisRegion = l.str(root, "kinesis.region", "", "")
	g.firehoseEndpoint = l.str(root, "firehose.endpoint", "", "")
	g.cloudwatchEndpoint = l.str(root, "cloudwatch.endpoint", "", "")
	g.emitMetrics = l.boolean(root, "cloudwatch.emitMetrics", "", true)
	g.namespace = l.str(root, "cloudwatch.namespace", "", defaultNamespace)
	g.tagInstance = l.boolean(root, "cloudwatch.tagInstance", "", false)
	g.metricsBuffer = l.num(root, "cloudwatch.metricsBufferTimeMillis", "", defaultMetricsBufferMs, 1000, maxLong)
	g.checkpointFile = l.str(root, "checkpointFile", "", defaultCheckpointFile)
	g.checkpointTTLDays = l.num(root, "checkpointTimeToLiveDays", "", defaultCheckpointTTLDays, 0, 365*100)
	g.shutdownMillis = l.num(root, "shutdownTimeoutMillis", "", defaultShutdownMs, 0, maxMillis)
	g.connectMillis = l.num(root, "connectionTimeoutMillis", "", sdkConnectTimeoutMs, 1, maxInt)
	g.socketMillis = l.num(root, "socketTimeoutMillis", "", sdkSocketTimeoutMs, 1, maxInt)
	g.sendingThreads = l.num(root, "maxSendingThreads", "", 0, 1, maxInt)
	g.statusPeriod = l.num(root, "log.statusReportingPeriodSeconds", "", defaultStatusPeriodS, 0, maxInt)

	if g.tagInstance.v {
		l.info(g.tagInstance.pos, "cloudwatch.tagInstance: kinetail's CloudWatch metrics carry no instance dimension; tell hosts apart by the namespace or by kinetail's Prometheus metrics")
	}
	for _, m := range root.Members {
		switch {
		case strings.HasPrefix(m.Key, "userDefinedCredentialsProvider."):
			l.errorf(m.KeyPos, "%s: kinetail cannot honour it: it cannot load Java credential providers; use the AWS SDK's chain (environment, shared config file, instance profile) or assumeRoleARN", m.Key)
		case slices.Contains(mappedGlobal, m.Key):
		default:
			if k, ok := ignoredGlobal[m.Key]; ok {
				l.check(root, m.Key, "", k)
				l.debug(m.KeyPos, "%s: tunes the Kinesis Agent's Java runtime; ignored", m.Key)
			} else {
				l.debug(m.KeyPos, "%s: not a key the Kinesis Agent reads; ignored, as the agent does", m.Key)
			}
		}
	}
}

// withScheme returns an endpoint as an absolute URL: the agent's SDK
// takes a bare host name and speaks https to it.
func withScheme(ep string) string {
	if strings.Contains(ep, "://") {
		return ep
	}
	return "https://" + ep
}

// regionInHost matches the region in an AWS endpoint's host name, like
// kinesis.us-west-2.amazonaws.com or firehose.eu-west-1.amazonaws.com.cn.
var regionInHost = regexp.MustCompile(`^[a-z0-9-]+(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$`)

// endpointRegion returns the region an endpoint's host name names, or "":
// the agent's SDK takes the region from the endpoint when none is set.
func endpointRegion(ep string) string {
	u, err := url.Parse(withScheme(ep))
	if err != nil {
		return ""
	}
	if m := regionInHost.FindStringSubmatch(u.Hostname()); m != nil {
		return m[1]
	}
	return ""
}
