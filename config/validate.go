package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/kinetail/kinetail/internal/awslimits"
)

// Limits of this agent; the services' own are in awslimits.
const (
	maxAggregateBytes = 1 * MiB // the KPL's ceiling for an aggregate
	maxInFlight       = 64
)

// validate checks values and references after decoding and fills in the
// defaults that depend on other values. It reports at the node a value came
// from, or at fallback when the value is a default.
func (d *decoder) validate(c *Config, root *yaml.Node) {
	d.validateAgent(&c.Agent, root)

	names := slices.Sorted(maps.Keys(c.Destinations))
	for _, name := range names {
		d.validateDestination(c.Destinations[name], c.Destinations)
	}
	if len(c.Destinations) == 0 && d.missing(&c.Destinations, scope{path: "destinations"}) {
		d.errorf(d.at(&c.Destinations, root), scope{}, "no destinations defined: at least one is required")
	}
	if len(c.Flows) == 0 && d.missing(&c.Flows, scope{path: "flows"}) {
		d.errorf(d.at(&c.Flows, root), scope{}, "no flows defined: at least one is required")
	}
	seen := make(map[string]*Flow)
	for i, f := range c.Flows {
		d.validateFlow(c, f, i, seen, names)
	}
}

func (d *decoder) validateAgent(a *Agent, root *yaml.Node) {
	s := scope{path: "agent"}
	if a.CheckpointFile == "" {
		d.errorf(d.at(&a.CheckpointFile, root), s.child("checkpoint_file"), "must not be empty")
	}
	d.positive(&a.CheckpointInterval, root, s.child("checkpoint_interval"))
	d.positive(&a.CheckpointTTL, root, s.child("checkpoint_ttl"))
	d.positive(&a.ShutdownTimeout, root, s.child("shutdown_timeout"))
	d.intRange(&a.MaxOpenFiles, 16, 1<<20, root, s.child("max_open_files"))
	d.sizeRange(&a.MemoryLimit, MinMemoryLimit, 1<<40, root, s.child("memory_limit"))
	switch a.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		d.errorf(d.at(&a.LogLevel, root), s.child("log_level"), "unknown level %q (use debug, info, warn or error)", a.LogLevel)
	}
	if a.StatsInterval < 0 && !d.failed[&a.StatsInterval] {
		d.errorf(d.at(&a.StatsInterval, root), s.child("stats_interval"), "must not be negative (0 turns the report off)")
	}
	if m := a.Metrics.Listen; m != "" && !d.failed[&a.Metrics.Listen] {
		if err := checkListen(m); err != nil {
			d.errorf(d.at(&a.Metrics.Listen, root), s.child("metrics").child("listen"), "%v", err)
		}
	}
	cw, cs := &a.CloudWatch, s.child("cloudwatch")
	if !d.failed[&cw.Namespace] {
		switch {
		case cw.Namespace == "" || len(cw.Namespace) > 255:
			d.errorf(d.at(&cw.Namespace, root), cs.child("namespace"), "must be 1 to 255 characters")
		case strings.HasPrefix(cw.Namespace, "AWS/"):
			d.errorf(d.at(&cw.Namespace, root), cs.child("namespace"), "must not start with AWS/ (reserved for AWS services)")
		}
	}
	if cw.Interval < Duration(time.Second) && !d.failed[&cw.Interval] {
		d.errorf(d.at(&cw.Interval, root), cs.child("interval"), "must be at least 1s, got %v", cw.Interval)
	}
	for j, r := range a.AllowedRoots {
		if !filepath.IsAbs(r) {
			d.errorf(d.elems[&a.AllowedRoots][j], s.child("allowed_roots").index(j), "%q is not an absolute path", r)
		}
	}
	if cw.Endpoint != "" && !validEndpoint(cw.Endpoint) {
		d.errorf(d.at(&cw.Endpoint, root), cs.child("endpoint"), "must be an absolute http or https URL, like https://monitoring.us-east-1.amazonaws.com")
	} else {
		d.insecureEndpoint(cw.Endpoint, cw.AllowInsecureEndpoint, d.at(&cw.Endpoint, root), cs.child("endpoint"))
	}
}

// checkListen checks a host:port to listen on. The host may be empty
// (every interface); the port may be 0 (any free port, for tests).
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port, like %s: %v", DefaultMetricsListen, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q: want a number from 0 to 65535", port)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("host %q: want an IP address or a host name", host)
	}
	return nil
}

// Loopback reports whether addr (a valid agent.metrics.listen) can only be
// reached from this host: a loopback IP address or "localhost".
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Destination types and what each supports.
var destinationTypes = []string{"kinesis", "firehose", "file", "stdout"}

func (d *decoder) validateDestination(dst *Destination, all map[string]*Destination) {
	at := d.pos[dst]
	s := scope{ctx: "destination " + strconv.Quote(dst.Name)}
	if !validName(dst.Name) {
		d.errorf(at, s, "name must be made of letters, digits, '_', '.' and '-'")
	}
	if d.failed[dst] {
		return
	}
	// Settings that make sense only for some types are errors elsewhere,
	// so a misplaced key is not silently ignored.
	only := func(p any, key string, types ...string) {
		if _, set := d.pos[p]; set && slices.Contains(destinationTypes, dst.Type) && !slices.Contains(types, dst.Type) {
			d.errorf(d.at(p, at), s.child(key), "does not apply to type %s (only %s)", dst.Type, strings.Join(types, ", "))
		}
	}
	only(&dst.Stream, "stream", "kinesis")
	only(&dst.DeliveryStream, "delivery_stream", "firehose")
	only(&dst.PartitionKey, "partition_key", "kinesis")
	only(&dst.ExplicitHashKey, "explicit_hash_key", "kinesis")
	only(&dst.ShardAware.Enabled, "shard_aware", "kinesis")
	only(&dst.Path, "path", "file")
	only(&dst.MaxFileBytes, "max_file_bytes", "file")
	only(&dst.MaxFiles, "max_files", "file")
	for _, p := range []struct {
		p   any
		key string
	}{{&dst.Region, "region"}, {&dst.Endpoint, "endpoint"}, {&dst.RoleARN, "role_arn"}, {&dst.RoleExternalID, "role_external_id"}, {&dst.Aggregation.Enabled, "aggregation"},
		{&dst.Compression, "compression"}, {&dst.Fallback, "fallback"}, {&dst.MaxInFlight, "max_in_flight"},
		{&dst.Protocol, "protocol"}, {&dst.HTTP.Version, "http"}, {&dst.AllowInsecureEndpoint, "allow_insecure_endpoint"}} {
		only(p.p, p.key, "kinesis", "firehose")
	}

	switch dst.Type {
	case "":
		if d.missing(&dst.Type, s.child("type")) {
			d.errorf(d.at(&dst.Type, at), s, "type is required (supported: %s)", strings.Join(destinationTypes, ", "))
		}
	case "kinesis":
		if dst.Stream == "" && d.missing(&dst.Stream, s.child("stream")) {
			d.errorf(d.at(&dst.Stream, at), s, "stream is required for type kinesis")
		}
		d.streamName(dst.Stream, &dst.Stream, at, s.child("stream"), true)
		d.validateKinesisKeys(dst, at, s)
	case "firehose":
		if dst.DeliveryStream == "" && d.missing(&dst.DeliveryStream, s.child("delivery_stream")) {
			d.errorf(d.at(&dst.DeliveryStream, at), s, "delivery_stream is required for type firehose")
		}
		d.streamName(dst.DeliveryStream, &dst.DeliveryStream, at, s.child("delivery_stream"), false)
		if _, set := d.pos[&dst.Protocol]; !set {
			dst.Protocol = "json"
		}
		// Firehose's own limits are the defaults, and the ceiling.
		b := &dst.Batch
		if _, set := d.pos[&b.MaxBytes]; !set {
			b.MaxBytes = awslimits.FirehoseMaxRequestBytes
		}
		if _, set := d.pos[&b.MaxRecordBytes]; !set {
			b.MaxRecordBytes = awslimits.FirehoseMaxRecordBytes
		}
		d.sizeRange(&b.MaxBytes, 1, awslimits.FirehoseMaxRequestBytes, at, s.child("batch.max_bytes"))
		d.sizeRange(&b.MaxRecordBytes, 1, awslimits.FirehoseMaxRecordBytes, at, s.child("batch.max_record_bytes"))
	case "file":
		switch {
		case dst.Path == "":
			if d.missing(&dst.Path, s.child("path")) {
				d.errorf(d.at(&dst.Path, at), s, "path is required for type file")
			}
		case !filepath.IsAbs(dst.Path):
			d.errorf(d.at(&dst.Path, at), s.child("path"), "%q is not an absolute path", dst.Path)
		}
		d.sizeRange(&dst.MaxFileBytes, 1*KiB, 1<<40, at, s.child("max_file_bytes"))
		d.intRange(&dst.MaxFiles, 0, 1000, at, s.child("max_files"))
	case "stdout":
	default:
		d.errorf(d.at(&dst.Type, at), s.child("type"), "unknown type %q (supported: %s)", dst.Type, strings.Join(destinationTypes, ", "))
	}
	if dst.Endpoint != "" && !validEndpoint(dst.Endpoint) {
		d.errorf(d.at(&dst.Endpoint, at), s.child("endpoint"), "must be an absolute http or https URL, like https://kinesis.us-east-1.amazonaws.com")
	} else {
		d.insecureEndpoint(dst.Endpoint, dst.AllowInsecureEndpoint, d.at(&dst.Endpoint, at), s.child("endpoint"))
	}
	if dst.RoleARN != "" && (!strings.HasPrefix(dst.RoleARN, "arn:") || !strings.Contains(dst.RoleARN, ":role/")) {
		d.errorf(d.at(&dst.RoleARN, at), s.child("role_arn"), "must be an IAM role ARN, like arn:aws:iam::123456789012:role/kinetail")
	}
	switch id := dst.RoleExternalID; {
	case id == "", dst.Type != "kinesis" && dst.Type != "firehose":
	case dst.RoleARN == "" && !d.failed[&dst.RoleARN]:
		d.errorf(d.at(&dst.RoleExternalID, at), s.child("role_external_id"), "needs role_arn: it is given when assuming that role")
	case len(id) < 2 || len(id) > 1224:
		d.errorf(d.at(&dst.RoleExternalID, at), s.child("role_external_id"), "must be 2 to 1224 characters long, got %d", len(id))
	case strings.Trim(id, externalIDChars) != "":
		bad, _ := utf8.DecodeRuneInString(id[strings.IndexFunc(id, func(r rune) bool { return !strings.ContainsRune(externalIDChars, r) }):])
		d.errorf(d.at(&dst.RoleExternalID, at), s.child("role_external_id"), "may hold only letters, digits and _+=,.@:/- (as STS asks), not %q", bad)
	}
	switch dst.Compression {
	case "none", "gzip", "zstd":
	default:
		d.errorf(d.at(&dst.Compression, at), s.child("compression"), "unknown value %q (use none, gzip or zstd)", dst.Compression)
	}
	switch dst.Protocol {
	case "json":
	case "cbor":
		if dst.Type == "firehose" {
			d.errorf(d.at(&dst.Protocol, at), s.child("protocol"), "firehose speaks only json (cbor is for type kinesis)")
		}
	default:
		d.errorf(d.at(&dst.Protocol, at), s.child("protocol"), "unknown value %q (use json or cbor)", dst.Protocol)
	}
	switch dst.HTTP.Version {
	case "1.1", "2":
	default:
		d.errorf(d.at(&dst.HTTP.Version, at), s.child("http.version"), "unknown value %q (use \"1.1\" or \"2\")", dst.HTTP.Version)
	}
	switch fb := all[dst.Fallback]; {
	case dst.Fallback == "":
	case fb == nil:
		d.errorf(d.at(&dst.Fallback, at), s.child("fallback"), "destination %q is not defined", dst.Fallback)
	case fb == dst:
		d.errorf(d.at(&dst.Fallback, at), s.child("fallback"), "must name another destination")
	case !dst.templated():
		d.errorf(d.at(&dst.Fallback, at), s.child("fallback"), "applies only when the stream is a template like app-%%{service}")
	case fb.templated():
		d.errorf(d.at(&dst.Fallback, at), s.child("fallback"), "destination %q has a templated stream itself; a fallback must always have a stream", dst.Fallback)
	}
	if _, set := d.pos[&dst.Allowed]; set && !dst.templated() {
		d.errorf(d.at(&dst.Allowed, at), s.child("allowed"), "applies only when the stream is a template like app-%%{service}")
	}
	d.patterns(&dst.Allowed, s.child("allowed"))
	d.intRange(&dst.MaxStreams, 1, 10000, at, s.child("max_streams"))
	d.positive(&dst.StreamIdleTimeout, at, s.child("stream_idle_timeout"))
	if dst.DeadLetterFile != "" && !filepath.IsAbs(dst.DeadLetterFile) {
		d.errorf(d.at(&dst.DeadLetterFile, at), s.child("dead_letter_file"), "%q is not an absolute path", dst.DeadLetterFile)
	}

	a, b := &dst.Aggregation, &dst.Batch
	if _, set := d.pos[&a.MaxBytes]; !set {
		a.MaxBytes = DefaultAggregationMaxBytes
		if dst.Type == "firehose" {
			a.MaxBytes = b.MaxRecordBytes
		}
	}
	d.sizeRange(&a.MaxBytes, 1, maxAggregateBytes, at, s.child("aggregation.max_bytes"))
	// Firehose's record limit is Kinesis's; its byte limits, lower, were
	// checked above.
	d.intRange(&b.MaxRecords, 1, awslimits.KinesisMaxRecords, at, s.child("batch.max_records"))
	d.sizeRange(&b.MaxBytes, 1, awslimits.KinesisMaxRequestBytes, at, s.child("batch.max_bytes"))
	if d.sizeRange(&b.MaxRecordBytes, 1, awslimits.KinesisMaxRecordBytes, at, s.child("batch.max_record_bytes")) &&
		b.MaxRecordBytes > b.MaxBytes {
		d.errorf(d.at(&b.MaxRecordBytes, at), s.child("batch.max_record_bytes"),
			"must not exceed batch.max_bytes (%v), got %v", b.MaxBytes, b.MaxRecordBytes)
	}
	if a.MaxBytes > b.MaxRecordBytes && a.MaxBytes <= maxAggregateBytes {
		// An aggregate is sent as one record.
		d.errorf(d.at(&a.MaxBytes, at), s.child("aggregation.max_bytes"),
			"must not exceed batch.max_record_bytes (%v), got %v", b.MaxRecordBytes, a.MaxBytes)
	}
	d.positive(&b.MaxAge, at, s.child("batch.max_age"))

	r := &dst.Retry
	if d.positive(&r.InitialBackoff, at, s.child("retry.initial_backoff")) && r.MaxBackoff < r.InitialBackoff {
		d.errorf(d.at(&r.MaxBackoff, at), s.child("retry.max_backoff"),
			"must not be less than retry.initial_backoff (%v), got %v", r.InitialBackoff, r.MaxBackoff)
	}
	if r.MaxAttempts < 0 {
		d.errorf(d.at(&r.MaxAttempts, at), s.child("retry.max_attempts"),
			"must not be negative (0 retries until stored or stopped), got %d", r.MaxAttempts)
	}
	if r.MaxRecordAge < 0 {
		d.errorf(d.at(&r.MaxRecordAge, at), s.child("retry.max_record_age"), "must not be negative (0 means no limit)")
	}
	d.positive(&dst.Timeouts.Connect, at, s.child("timeouts.connect"))
	d.positive(&dst.Timeouts.Request, at, s.child("timeouts.request"))
	d.intRange(&dst.MaxInFlight, 1, maxInFlight, at, s.child("max_in_flight"))
}

// templated reports whether the destination's stream is a template.
func (dst *Destination) templated() bool {
	return IsTemplate(dst.Stream) || IsTemplate(dst.DeliveryStream)
}

// streamName checks a stream name, or a template's syntax (its values are
// checked for each record when sent).
func (d *decoder) streamName(v string, p *string, at *yaml.Node, s scope, arnOK bool) {
	if v == "" {
		return
	}
	t, err := ParseTemplate(v)
	switch {
	case err != nil:
		d.errorf(d.at(p, at), s, "%v", err)
	case len(t.Fields) > 0:
	case arnOK && strings.HasPrefix(v, "arn:"):
	case !ValidStreamName(v):
		d.errorf(d.at(p, at), s, "%q is not a valid stream name (1 to 128 letters, digits, '_', '.' and '-')", v)
	}
}

// ValidStreamName reports whether s can name a Kinesis or Firehose stream.
func ValidStreamName(s string) bool { return len(s) <= 128 && validName(s) }

func (d *decoder) validateKinesisKeys(dst *Destination, at *yaml.Node, s scope) {
	switch pk := dst.PartitionKey; pk {
	case "random", "deterministic":
	default:
		t, err := ParseTemplate(pk)
		switch {
		case err != nil:
			d.errorf(d.at(&dst.PartitionKey, at), s.child("partition_key"), "%v", err)
		case len(t.Fields) == 0:
			d.errorf(d.at(&dst.PartitionKey, at), s.child("partition_key"),
				"unknown value %q (use random, deterministic, or a template of record fields like %%{user_id})", pk)
		}
	}
	if h := dst.ExplicitHashKey; h != "" {
		t, err := ParseTemplate(h)
		switch {
		case err != nil:
			d.errorf(d.at(&dst.ExplicitHashKey, at), s.child("explicit_hash_key"), "%v", err)
		case len(t.Fields) == 0 && !ValidHashKey(h):
			d.errorf(d.at(&dst.ExplicitHashKey, at), s.child("explicit_hash_key"),
				"%q is not a decimal number between 0 and 2^128-1 (or a template like %%{shard_key})", h)
		}
	}
	sa := &dst.ShardAware
	if sa.Enabled {
		d.positive(&sa.Refresh, at, s.child("shard_aware.refresh"))
		d.sizeRange(&sa.BytesPerSecond, 1*KiB, 1<<40, at, s.child("shard_aware.bytes_per_second"))
		d.intRange(&sa.RecordsPerSecond, 1, 1<<30, at, s.child("shard_aware.records_per_second"))
		if dst.ExplicitHashKey != "" {
			d.errorf(d.at(&dst.ExplicitHashKey, at), s.child("explicit_hash_key"),
				"cannot be combined with shard_aware, which sets each record's explicit hash key itself")
		}
	}
}

// maxHashKey is 2^128-1, the largest Kinesis hash key.
const maxHashKey = "340282366920938463463374607431768211455"

// ValidHashKey reports whether s is a decimal number in [0, 2^128-1].
func ValidHashKey(s string) bool {
	if s == "" || len(s) > len(maxHashKey) || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) < len(maxHashKey) || s <= maxHashKey
}

// positive reports whether *p > 0, recording an error if not.
func (d *decoder) positive(p *Duration, fallback *yaml.Node, s scope) bool {
	if *p > 0 || d.failed[p] {
		return *p > 0
	}
	d.errorf(d.at(p, fallback), s, "must be greater than 0")
	return false
}

// pattern records an error if *p is set and is not a regular expression.
func (d *decoder) pattern(p *string, fallback *yaml.Node, s scope) {
	if *p == "" {
		return
	}
	if _, err := regexp.Compile(*p); err != nil {
		d.errorf(d.at(p, fallback), s, "invalid regular expression: %v", err)
	}
}

// patterns records an error for each element of *ps that is not a regular
// expression.
func (d *decoder) patterns(ps *[]string, s scope) {
	for j, p := range *ps {
		if _, err := regexp.Compile(p); err != nil {
			d.errorf(d.elems[ps][j], s.index(j), "invalid regular expression: %v", err)
		}
	}
}

// intRange reports whether lo <= *p <= hi, recording an error if not.
func (d *decoder) intRange(p *int, lo, hi int, fallback *yaml.Node, s scope) bool {
	if lo <= *p && *p <= hi {
		return true
	}
	if !d.failed[p] {
		d.errorf(d.at(p, fallback), s, "must be between %d and %d, got %d", lo, hi, *p)
	}
	return false
}

// sizeRange reports whether lo <= *p <= hi, recording an error if not.
func (d *decoder) sizeRange(p *Size, lo, hi Size, fallback *yaml.Node, s scope) bool {
	if lo <= *p && *p <= hi {
		return true
	}
	if !d.failed[p] {
		d.errorf(d.at(p, fallback), s, "must be between %v and %v, got %v", lo, hi, *p)
	}
	return false
}

// validName reports whether s is a non-empty run of [A-Za-z0-9_.-].
func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && c != '.' && c != '-' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

// externalIDChars are the characters STS accepts in an external id
// ([\w+=,.@:/-]).
const externalIDChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+=,.@:/-"

func validEndpoint(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Opaque == ""
}
