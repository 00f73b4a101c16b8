package config

import (
	"time"

	"github.com/kinetail/kinetail/internal/awslimits"
)

// Config is one agent's whole configuration, with defaults applied.
type Config struct {
	// File is the path the configuration was loaded from (for messages).
	File         string                  `yaml:"-"`
	Agent        Agent                   `yaml:"agent"`
	Destinations map[string]*Destination `yaml:"destinations"` // at least one
	Flows        []*Flow                 `yaml:"flows"`        // at least one
}

// Agent holds process-wide settings.
type Agent struct {
	CheckpointFile     string   `yaml:"checkpoint_file"`     // default /var/lib/kinetail/checkpoints.json
	CheckpointInterval Duration `yaml:"checkpoint_interval"` // default 1s
	CheckpointTTL      Duration `yaml:"checkpoint_ttl"`      // default 168h: entries of vanished files expire
	LogLevel           string   `yaml:"log_level"`           // debug | info | warn | error; default info
	ShutdownTimeout    Duration `yaml:"shutdown_timeout"`    // default 10s
	MaxOpenFiles       int      `yaml:"max_open_files"`      // default 1024: descriptors for followed files, all flows together
	// MemoryLimit bounds the agent's memory: lines read and not yet
	// acknowledged (split among the flows) and what the destinations
	// build to send them (split among the destinations). When it is
	// used up, reading slows down; memory does not grow. It also sets
	// the Go runtime's soft memory limit unless GOMEMLIMIT is set.
	MemoryLimit Size `yaml:"memory_limit"` // default 64MiB
	// Metrics is the HTTP listener for /metrics, /healthz and /status.
	Metrics Metrics `yaml:"metrics"`
	// CloudWatch sends the Kinesis Agent's metrics to CloudWatch.
	CloudWatch CloudWatch `yaml:"cloudwatch"`
	// StatsInterval is how often totals since the last report are logged
	// at INFO; 0 turns the report off.
	StatsInterval Duration `yaml:"stats_interval"` // default 60s
	// AllowedRoots are directories that a symbolic link matched by a
	// flow's globs may point into under symlinks: within (Kubernetes'
	// /var/log/containers links point into /var/log/pods).
	AllowedRoots []string `yaml:"allowed_roots"` // absolute directories; default none
}

// Metrics configures the listener serving /metrics (Prometheus and
// OpenMetrics), /healthz and /status.
type Metrics struct {
	// Listen is a host:port; empty turns the listener off. An address that
	// is not a loopback one is allowed, and warned about at start: the
	// status shows file paths.
	Listen string `yaml:"listen"` // default 127.0.0.1:9731
	// PerFile adds a bytes-behind series per followed file (a label per
	// path: only for hosts with a bounded number of files).
	PerFile bool `yaml:"per_file"`
}

// MinMemoryLimit is the least agent.memory_limit: kinetail's own code is
// about 17 MiB of the resident set whatever the limit, and the budgets are
// half of it. Below this the runtime's part (the limit less the code) is
// hardly more than the budgets: the collector runs without end and the
// resident set outgrows the limit anyway (measured with 1,000 files: 32MiB
// peaked at 41 MiB, 40MiB at 43 MiB; 48MiB stayed at 46 MiB).
const MinMemoryLimit = 48 * MiB

// DefaultMetricsListen is agent.metrics.listen's default, where `kinetail
// status` looks when a configuration does not say.
const DefaultMetricsListen = "127.0.0.1:9731"

// CloudWatch configures the CloudWatch metrics, named like the Kinesis
// Agent's.
type CloudWatch struct {
	Enabled   bool     `yaml:"enabled"`   // default false
	Namespace string   `yaml:"namespace"` // default kinetail
	Interval  Duration `yaml:"interval"`  // default 60s: one PutMetricData round per interval
	Region    string   `yaml:"region"`    // default: the SDK's chain
	Endpoint  string   `yaml:"endpoint"`  // optional absolute http(s) URL (VPC endpoint, tests)
	// AllowInsecureEndpoint accepts an http:// Endpoint on another host
	// (see Destination.AllowInsecureEndpoint).
	AllowInsecureEndpoint bool `yaml:"allow_insecure_endpoint"`
}

// Destination is a named place records are sent to.
type Destination struct {
	Name string `yaml:"-"`    // its key under destinations
	Line int    `yaml:"-"`    // line of its key in the file, for messages
	Type string `yaml:"type"` // required: kinesis | firehose | file | stdout
	// Stream is the Kinesis stream (name or ARN), DeliveryStream the
	// Firehose delivery stream. Either may be a template naming fields of
	// the record, like app-%{service}: records whose field is missing or
	// makes an invalid name go to Fallback.
	Stream         string `yaml:"stream"`          // required for kinesis
	DeliveryStream string `yaml:"delivery_stream"` // required for firehose
	Fallback       string `yaml:"fallback"`        // destination for records a template cannot name a stream for; default: dropped and counted
	// Allowed are regular expressions a templated stream name must match
	// (one of them, the whole name); a name outside them goes to Fallback
	// and is counted. Empty: every valid name.
	Allowed []string `yaml:"allowed"`
	// MaxStreams bounds the stream names a templated destination keeps
	// (with a running sink, or known to be missing); a new name beyond it
	// goes to Fallback. Names unused for StreamIdleTimeout are let go.
	MaxStreams        int      `yaml:"max_streams"`         // default 64
	StreamIdleTimeout Duration `yaml:"stream_idle_timeout"` // default 15m
	Region            string   `yaml:"region"`              // default: the SDK's chain
	Endpoint          string   `yaml:"endpoint"`            // optional absolute http(s) URL (VPC endpoint, local server)
	RoleARN           string   `yaml:"role_arn"`            // optional assume-role
	// RoleExternalID is given when assuming RoleARN, for a role whose
	// trust policy asks for sts:ExternalId. Optional; needs RoleARN.
	RoleExternalID string `yaml:"role_external_id"`
	// AllowInsecureEndpoint accepts an http:// Endpoint on another host:
	// records and the access key id then travel in clear text. Without
	// it such an endpoint is an error; loopback addresses need no
	// permission. A warning is logged at every start when it is set.
	AllowInsecureEndpoint bool `yaml:"allow_insecure_endpoint"`
	// PartitionKey is random (default), deterministic (a hash of the
	// record) or a template of record fields, like %{user_id}.
	PartitionKey string `yaml:"partition_key"`
	// ExplicitHashKey, a decimal 128-bit number or a template giving one,
	// picks the shard instead of the partition key's hash. Optional.
	ExplicitHashKey string      `yaml:"explicit_hash_key"`
	Aggregation     Aggregation `yaml:"aggregation"`
	ShardAware      ShardAware  `yaml:"shard_aware"`
	Compression     string      `yaml:"compression"` // none (default) | gzip | zstd: each record's data
	// Protocol is how PutRecords requests and answers are encoded: cbor
	// (the default for kinesis: the AWS JSON 1.1 protocol's fields in
	// CBOR, application/x-amz-cbor-1.1, as the AWS SDK for Java sends
	// them; record data travels as bytes, not base64) or json. Firehose
	// speaks only JSON, its default.
	Protocol string `yaml:"protocol"`
	HTTP     HTTP   `yaml:"http"`
	Batch    Batch  `yaml:"batch"`
	Retry    Retry  `yaml:"retry"`
	// DeadLetterFile receives records given up by retry.max_attempts or
	// retry.max_record_age, or refused by the service as invalid, before
	// they are acknowledged. Empty: such records are dropped and counted.
	DeadLetterFile string   `yaml:"dead_letter_file"`
	Timeouts       Timeouts `yaml:"timeouts"`
	MaxInFlight    int      `yaml:"max_in_flight"` // concurrent requests; default 4 (1..64)
	// Path, MaxFileBytes and MaxFiles configure type file: JSON lines,
	// rotated to Path.1, Path.2… by size.
	Path         string `yaml:"path"`           // required for file
	MaxFileBytes Size   `yaml:"max_file_bytes"` // default 100MiB
	MaxFiles     int    `yaml:"max_files"`      // rotated files kept; default 5
}

// Aggregation packs small records into one service record: KPL aggregated
// records for kinesis, newline-separated records for firehose.
type Aggregation struct {
	Enabled  bool `yaml:"enabled"`   // default false
	MaxBytes Size `yaml:"max_bytes"` // default 51200 for kinesis, 1000KiB for firehose (at most batch.max_record_bytes)
}

// ShardAware makes a Kinesis destination follow the stream's shard map:
// records are grouped by shard, aggregated per shard and paced so no shard
// is asked for more than its limits.
type ShardAware struct {
	Enabled          bool     `yaml:"enabled"`            // default false
	Refresh          Duration `yaml:"refresh"`            // default 1m: how often the shard map is listed again
	BytesPerSecond   Size     `yaml:"bytes_per_second"`   // default 1MiB per shard
	RecordsPerSecond int      `yaml:"records_per_second"` // default 1000 per shard
}

// Batch bounds one PutRecords request.
type Batch struct {
	MaxRecords     int      `yaml:"max_records"`      // default 500 (1..500)
	MaxBytes       Size     `yaml:"max_bytes"`        // default 5MiB (raise to 10MiB for raised streams; at most 10MiB)
	MaxRecordBytes Size     `yaml:"max_record_bytes"` // default 1MiB, data + partition key (at most 10MiB and max_bytes)
	MaxAge         Duration `yaml:"max_age"`          // default 1s: a partial batch is sent after this
}

// Retry configures the sink's own backoff (exponential, full jitter).
type Retry struct {
	InitialBackoff Duration `yaml:"initial_backoff"` // default 100ms
	MaxBackoff     Duration `yaml:"max_backoff"`     // default 10s (at least initial_backoff)
	MaxAttempts    int      `yaml:"max_attempts"`    // 0 (default): retry until stored or stopped
	MaxRecordAge   Duration `yaml:"max_record_age"`  // 0 (default): no limit; else give a record up this long after it arrived
}

// HTTP configures the connections to the service.
type HTTP struct {
	// Version is the HTTP version spoken over TLS: "1.1" (default), one
	// connection per request in flight, or "2", all requests multiplexed
	// on one connection when the endpoint offers HTTP/2. Plain http
	// endpoints always get HTTP/1.1.
	Version string `yaml:"version"`
}

// Timeouts bound network operations.
type Timeouts struct {
	Connect Duration `yaml:"connect"` // default 2s
	Request Duration `yaml:"request"` // default 10s: whole request incl. response
}

// Flow follows a set of files, transforms their lines and sends the records
// to one destination.
type Flow struct {
	Name               string   `yaml:"name"`                 // required, unique, [A-Za-z0-9_.-]+
	Line               int      `yaml:"-"`                    // line of the flow's list item, for messages
	Paths              []string `yaml:"paths"`                // required absolute globs; * ? [..] and ** (any depth, whole segment only)
	Exclude            []string `yaml:"exclude"`              // globs matched against the base name and the full path
	InitialPosition    string   `yaml:"initial_position"`     // start_of_file | end_of_file (default)
	MaxLineBytes       Size     `yaml:"max_line_bytes"`       // default: destination's max_record_bytes minus 1KiB
	PartialLineTimeout Duration `yaml:"partial_line_timeout"` // default 5s
	RescanInterval     Duration `yaml:"rescan_interval"`      // default 10s
	// CloseRemovedAfter closes a rotated-away or deleted file this long
	// after it left the globs even if it was not read to its end (freeing
	// disk space during a long outage; the unread rest is lost and
	// counted). 0 (default): keep it open until drained.
	CloseRemovedAfter Duration     `yaml:"close_removed_after"`
	SkipHeaderLines   int          `yaml:"skip_header_lines"` // default 0: lines at the start of each file that are not sent
	Multiline         *Multiline   `yaml:"multiline"`         // default: none, every line is a record
	Transforms        []*Transform `yaml:"transforms"`        // applied in order; default none
	// Destination receives every record when there are no routes; with
	// routes it acts as a last rule matching everything, so it gets the
	// records no rule took (none matched, or all that did said continue).
	// Destination or routes is required.
	Destination string   `yaml:"destination"`
	Routes      []*Route `yaml:"routes"` // checked in order; the first match wins unless it says continue
	// Symlinks says which symbolic links the globs match are followed:
	// within (default) only those whose target's real path matches one of
	// the flow's globs or lies under one of agent.allowed_roots; follow,
	// every link; skip, none.
	Symlinks string `yaml:"symlinks"`
}

// Route sends the records it matches to its destinations.
type Route struct {
	Line     int      `yaml:"-"`        // line of the list item, for messages
	When     *When    `yaml:"when"`     // default: matches every record
	To       []string `yaml:"to"`       // required: destination names
	Continue bool     `yaml:"continue"` // also try the next routes after a match
}

// When is a route's test. Every condition given must hold.
type When struct {
	Path      string `yaml:"path"` // glob on the file's path, like /var/log/nginx/*.log
	Condition `yaml:",inline"`
}

// Multiline groups several lines into one record. A record starts at a line
// matching StartPattern (the Kinesis Agent's multiLineStartPattern) or,
// with ContinuePattern, continues while lines match it.
type Multiline struct {
	StartPattern    string   `yaml:"start_pattern"`
	ContinuePattern string   `yaml:"continue_pattern"`
	MaxLines        int      `yaml:"max_lines"` // default 500
	MaxBytes        Size     `yaml:"max_bytes"` // default: the flow's max_line_bytes
	Timeout         Duration `yaml:"timeout"`   // default 1s: a record with no next line is sent after this
}

// Transform is one step of a flow's processing; exactly one field is set.
type Transform struct {
	Line       int         `yaml:"-"` // line of the list item, for messages
	Singleline *Singleline `yaml:"singleline"`
	CSVToJSON  *CSVToJSON  `yaml:"csv_to_json"`
	JSON       *JSON       `yaml:"json"`
	LogToJSON  *LogToJSON  `yaml:"log_to_json"`
	Regex      *Regex      `yaml:"regex"`
	Logfmt     *Logfmt     `yaml:"logfmt"`
	// Steps on the JSON object made by the steps before.
	AddMetadata    *AddMetadata    `yaml:"add_metadata"`
	AddEC2Metadata *AddEC2Metadata `yaml:"add_ec2_metadata"`
	AddBrackets    *AddBrackets    `yaml:"add_brackets"`
	Fields         *Fields         `yaml:"fields"`
	Filter         *Filter         `yaml:"filter"`
	Redact         *Redact         `yaml:"redact"`
}

// AddMetadata wraps the record as the Kinesis Agent's ADDMETADATA does:
// {"ts":…,"metadata":{…},"data":<record>}.
type AddMetadata struct {
	Timestamp bool `yaml:"timestamp"` // default true: add "ts"
	// Metadata holds static values, written in key order at every level.
	// A value is any JSON value, as YAML gives it: a string, a
	// json.Number (a YAML number, as written when that is JSON's syntax),
	// a bool, nil, []any or map[string]any. `7` is a number, `"7"` a
	// string.
	Metadata map[string]any `yaml:"metadata"`
}

// AddBrackets encloses the record in { and }, as the Kinesis Agent's
// ADDBRACKETS does: the record a b is sent as {a b}. It has no settings.
type AddBrackets struct{}

// AddEC2Metadata adds the instance's identity (IMDSv2), like the Kinesis
// Agent's ADDEC2METADATA.
type AddEC2Metadata struct {
	Tags    bool     `yaml:"tags"`    // also the instance's tags (needs ec2:DescribeTags); default false
	Refresh Duration `yaml:"refresh"` // how long fetched metadata is reused; default 1h
}

// Fields changes the fields of a JSON object record.
type Fields struct {
	Rename map[string]string `yaml:"rename"` // old name: new name
	Remove []string          `yaml:"remove"`
	Keep   []string          `yaml:"keep"` // when set, only these fields stay
	Add    map[string]string `yaml:"add"`  // static string fields
	// Names of fields to add with facts about the line; empty: not added.
	Host     string `yaml:"host"`      // the host name
	Path     string `yaml:"path"`      // the file's path
	Offset   string `yaml:"offset"`    // the line's byte offset in the file
	RecordID string `yaml:"record_id"` // deterministic id: file identity and offset
	// Types converts string values: int, float, bool, timestamp (to RFC 3339).
	Types map[string]string `yaml:"types"`
}

// Filter keeps or drops records. All conditions given must hold for the
// record to match.
type Filter struct {
	Action    string `yaml:"action"` // drop (default) | keep: what happens to matching records
	Condition `yaml:",inline"`
}

// Condition is a test on a record, shared by filters and routes.
type Condition struct {
	LineMatches string `yaml:"line_matches"` // regex on the line (a filter's input; a route's raw line)
	Field       string `yaml:"field"`        // a top-level field of the JSON record
	Equals      string `yaml:"equals"`       // the field's value equals this
	Matches     string `yaml:"matches"`      // the field's value matches this regex
	Exists      *bool  `yaml:"exists"`       // the field is present (true) or absent (false)
}

// RedactPatterns are the built-in patterns of redact.
var RedactPatterns = []string{"email", "credit_card", "aws_access_key", "aws_secret_key", "ipv4"}

// Redact masks values in the record.
type Redact struct {
	Patterns []string `yaml:"patterns"` // built-in, see RedactPatterns
	Custom   []string `yaml:"custom"`   // regular expressions
	Mask     string   `yaml:"mask"`     // default "****"
}

// Singleline joins and trims a line the way the Kinesis Agent's SINGLELINE
// processor does.
type Singleline struct {
	NoTrim        bool `yaml:"no_trim"`         // default false
	EscapeNewLine bool `yaml:"escape_new_line"` // default false
}

// CSVToJSON turns a delimited line into a JSON object.
type CSVToJSON struct {
	Fields    []string `yaml:"fields"`    // required unless header is true
	Header    bool     `yaml:"header"`    // take field names from each file's first line (which is not sent), non-empty and unique
	Delimiter string   `yaml:"delimiter"` // one character, not '"' or a line break; default ","; "\t" for tab
	OnError   string   `yaml:"on_error"`  // drop | pass | wrap; default wrap
}

// JSON parses each line as JSON and re-emits it compact.
type JSON struct {
	OnError string `yaml:"on_error"` // drop | pass | wrap; default wrap
}

// LogToJSON parses a known log format into a JSON object, like the Kinesis
// Agent's LOGTOJSON processor (same field names and nulls).
type LogToJSON struct {
	// Format is one of LogFormats.
	Format string `yaml:"format"`
	// MatchPattern replaces the format's own pattern (a regular
	// expression whose groups are the fields), as the Kinesis Agent's
	// matchPattern does; CustomFieldNames then name the groups.
	MatchPattern     string   `yaml:"match_pattern"`
	CustomFieldNames []string `yaml:"custom_field_names"`
	OnError          string   `yaml:"on_error"` // drop | pass | wrap; default wrap
}

// LogFormats are the formats log_to_json knows.
var LogFormats = []string{
	"common_apache", "combined_apache", "apache_error", "apache24_error",
	"syslog", "rfc3339_syslog", "rfc5424_syslog", "nginx_access", "nginx_error",
}

// Regex turns a line into a JSON object of the pattern's named groups.
type Regex struct {
	Pattern string `yaml:"pattern"`  // required, with at least one named group (?P<name>…)
	OnError string `yaml:"on_error"` // for lines that do not match; default wrap
}

// Logfmt parses key=value pairs (logfmt) into a JSON object.
type Logfmt struct {
	OnError string `yaml:"on_error"` // default wrap
}

// Policies for lines a transform cannot parse.
const (
	OnErrorDrop = "drop" // count and acknowledge, send nothing
	OnErrorPass = "pass" // send the raw line
	OnErrorWrap = "wrap" // send {"raw":…,"error":…}
)

// Duration is a time.Duration written as "500ms", "10s", "1h30m".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Size is a byte count written as 51200, "512KiB", "5MiB", "1GiB" (also KB, MB, GB as powers of 1000).
type Size int64

// Units of Size.
const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
)

// Defaults. Decoding starts from the values the functions below return and
// overwrites what the file sets, so a value written explicitly (even 0) is
// validated, not replaced. Defaults that depend on other values are filled
// in by validation, from the constants here.
//
// The constants are the defaults that code outside this package needs: the
// sink and the tailer treat a zero field of a Destination or Config built in
// code as its default.
const (
	DefaultCheckpointFile = "/var/lib/kinetail/checkpoints.json"
	DefaultCheckpointTTL  = Duration(168 * time.Hour)

	DefaultBatchMaxRecords     = awslimits.KinesisMaxRecords
	DefaultBatchMaxBytes       = 5 * MiB
	DefaultBatchMaxRecordBytes = 1 * MiB
	DefaultBatchMaxAge         = Duration(time.Second)
	DefaultInitialBackoff      = Duration(100 * time.Millisecond)
	DefaultMaxBackoff          = Duration(10 * time.Second)
	DefaultConnectTimeout      = Duration(2 * time.Second)
	DefaultRequestTimeout      = Duration(10 * time.Second)
	DefaultMaxInFlight         = 4
	// DefaultAggregationMaxBytes is a kinesis destination's (the KPL's
	// default); a firehose destination's is its batch.max_record_bytes.
	DefaultAggregationMaxBytes   Size = 51200
	DefaultShardRefresh               = Duration(time.Minute)
	DefaultShardBytesPerSecond        = 1 * MiB
	DefaultShardRecordsPerSecond      = 1000

	DefaultPartialLineTimeout = Duration(5 * time.Second)
	DefaultRescanInterval     = Duration(10 * time.Second)

	// lineOverhead is what max_line_bytes leaves of max_record_bytes by
	// default, for the partition key and any metadata a transform adds.
	lineOverhead = 1 * KiB
)

func defaultAgent() Agent {
	return Agent{
		CheckpointFile:     DefaultCheckpointFile,
		CheckpointInterval: Duration(time.Second),
		CheckpointTTL:      DefaultCheckpointTTL,
		LogLevel:           "info",
		ShutdownTimeout:    Duration(10 * time.Second),
		MaxOpenFiles:       1024,
		MemoryLimit:        64 * MiB,
		Metrics:            Metrics{Listen: DefaultMetricsListen},
		CloudWatch:         CloudWatch{Namespace: "kinetail", Interval: Duration(time.Minute)},
		StatsInterval:      Duration(time.Minute),
	}
}

// newDestination leaves Aggregation.MaxBytes 0: its default depends on the
// type and is filled in by validation, as are a firehose destination's
// batch limits and protocol.
func newDestination(name string) *Destination {
	return &Destination{
		Name:         name,
		PartitionKey: "random",
		Compression:  "none",
		Protocol:     "cbor", // json for firehose, set by validation
		HTTP:         HTTP{Version: "1.1"},
		ShardAware: ShardAware{
			Refresh:          DefaultShardRefresh,
			BytesPerSecond:   DefaultShardBytesPerSecond,
			RecordsPerSecond: DefaultShardRecordsPerSecond,
		},
		Batch: Batch{
			MaxRecords:     DefaultBatchMaxRecords,
			MaxBytes:       DefaultBatchMaxBytes,
			MaxRecordBytes: DefaultBatchMaxRecordBytes,
			MaxAge:         DefaultBatchMaxAge,
		},
		Retry: Retry{
			InitialBackoff: DefaultInitialBackoff,
			MaxBackoff:     DefaultMaxBackoff,
		},
		Timeouts: Timeouts{
			Connect: DefaultConnectTimeout,
			Request: DefaultRequestTimeout,
		},
		MaxInFlight:       DefaultMaxInFlight,
		MaxFileBytes:      100 * MiB,
		MaxFiles:          5,
		MaxStreams:        64,
		StreamIdleTimeout: Duration(15 * time.Minute),
	}
}

// newFlow leaves MaxLineBytes 0: its default depends on the destination and
// is filled in by validation.
func newFlow() *Flow {
	return &Flow{
		InitialPosition:    "end_of_file",
		PartialLineTimeout: DefaultPartialLineTimeout,
		RescanInterval:     DefaultRescanInterval,
		Symlinks:           "within",
	}
}

// newMultiline leaves MaxBytes 0: its default is the flow's max_line_bytes,
// filled in by validation.
func newMultiline() *Multiline {
	return &Multiline{MaxLines: 500, Timeout: Duration(time.Second)}
}

// newTransform returns the transform step called name (a key of the
// transforms list) with its defaults, or nil if there is no such step.
func newTransform(name string) *Transform {
	t := &Transform{}
	switch name {
	case "singleline":
		t.Singleline = &Singleline{}
	case "csv_to_json":
		t.CSVToJSON = &CSVToJSON{Delimiter: ",", OnError: OnErrorWrap}
	case "json":
		t.JSON = &JSON{OnError: OnErrorWrap}
	case "log_to_json":
		t.LogToJSON = &LogToJSON{OnError: OnErrorWrap}
	case "regex":
		t.Regex = &Regex{OnError: OnErrorWrap}
	case "logfmt":
		t.Logfmt = &Logfmt{OnError: OnErrorWrap}
	case "add_metadata":
		t.AddMetadata = &AddMetadata{Timestamp: true}
	case "add_brackets":
		t.AddBrackets = &AddBrackets{}
	case "add_ec2_metadata":
		t.AddEC2Metadata = &AddEC2Metadata{Refresh: Duration(time.Hour)}
	case "fields":
		t.Fields = &Fields{}
	case "filter":
		t.Filter = &Filter{Action: "drop"}
	case "redact":
		t.Redact = &Redact{Mask: "****"}
	default:
		return nil
	}
	return t
}

// StreamName returns the stream d sends to, a template or not: the delivery
// stream of a firehose destination, the stream of any other.
func (d *Destination) StreamName() string {
	if d.Type == "firehose" {
		return d.DeliveryStream
	}
	return d.Stream
}

// WithStream returns a copy of d sending to stream, as the stream a
// template named or replay picked.
func (d *Destination) WithStream(stream string) *Destination {
	c := *d
	if c.Type == "firehose" {
		c.DeliveryStream = stream
	} else {
		c.Stream = stream
	}
	return &c
}

// Destination returns the destination called name, or nil.
func (c *Config) Destination(name string) *Destination {
	return c.Destinations[name]
}
