package config

import (
	"errors"
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
	"github.com/kinetail/kinetail/internal/glob"
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
	d.sizeRange(&a.MemoryLimit, 8*MiB, 1<<40, root, s.child("memory_limit"))
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
	for j, p := range dst.Allowed {
		if _, err := regexp.Compile(p); err != nil {
			d.errorf(d.elems[&dst.Allowed][j], s.child("allowed").index(j), "invalid regular expression: %v", err)
		}
	}
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

func (d *decoder) validateFlow(c *Config, f *Flow, i int, seen map[string]*Flow, destinations []string) {
	at := d.pos[f]
	s := scope{ctx: d.flowLabel(at, i)}
	if d.failed[f] {
		return
	}
	switch {
	case f.Name == "":
		if d.missing(&f.Name, s.child("name")) {
			d.errorf(d.at(&f.Name, at), s, "name is required")
		}
	case !validName(f.Name):
		d.errorf(d.at(&f.Name, at), s.child("name"), "must be made of letters, digits, '_', '.' and '-'")
	case seen[f.Name] != nil:
		d.errorf(d.at(&f.Name, at), s.child("name"), "already used by the flow at line %d", seen[f.Name].Line)
	default:
		seen[f.Name] = f
	}

	if len(f.Paths) == 0 && d.missing(&f.Paths, s.child("paths")) {
		d.errorf(d.at(&f.Paths, at), s, "paths is required: list the files to follow, like /var/log/app/*.log")
	}
	for j, p := range f.Paths {
		n := d.elems[&f.Paths][j]
		if msg := globProblem(p); msg != "" {
			d.errorf(n, s.child("paths").index(j), "%s", msg)
		} else if !filepath.IsAbs(p) {
			d.errorf(n, s.child("paths").index(j), "%q is not an absolute path", p)
		} else if root := specialRoot(p); root != "" {
			d.errorf(n, s.child("paths").index(j), "%q can match files under %s (devices, pipes, kernel files), which are never logs to follow", p, root)
		}
	}
	switch f.Symlinks {
	case "within", "follow", "skip":
	default:
		d.errorf(d.at(&f.Symlinks, at), s.child("symlinks"), "unknown value %q (use within, follow or skip)", f.Symlinks)
	}
	for j, p := range f.Exclude {
		if msg := globProblem(p); msg != "" {
			d.errorf(d.elems[&f.Exclude][j], s.child("exclude").index(j), "%s", msg)
		}
	}
	switch f.InitialPosition {
	case "start_of_file", "end_of_file":
	default:
		d.errorf(d.at(&f.InitialPosition, at), s.child("initial_position"),
			"unknown value %q (use start_of_file or end_of_file)", f.InitialPosition)
	}
	d.positive(&f.PartialLineTimeout, at, s.child("partial_line_timeout"))
	d.positive(&f.RescanInterval, at, s.child("rescan_interval"))
	if f.CloseRemovedAfter < 0 {
		d.errorf(d.at(&f.CloseRemovedAfter, at), s.child("close_removed_after"), "must not be negative (0 keeps files open until drained)")
	}
	d.intRange(&f.SkipHeaderLines, 0, 1000, at, s.child("skip_header_lines"))
	if m := f.Multiline; m != nil {
		d.validateMultiline(m, s.child("multiline"))
	}
	for j, t := range f.Transforms {
		d.validateTransform(t, s.child("transforms").index(j))
	}

	defined := "none"
	if len(destinations) > 0 {
		defined = strings.Join(destinations, ", ")
	}
	dst := c.Destinations[f.Destination]
	switch {
	case f.Destination == "":
		if len(f.Routes) == 0 && d.missing(&f.Destination, s.child("destination")) && d.missing(&f.Routes, s.child("routes")) {
			d.errorf(d.at(&f.Destination, at), s, "destination (or routes) is required")
		}
	case dst == nil:
		d.errorf(d.at(&f.Destination, at), s, "destination %q is not defined (defined: %s)", f.Destination, defined)
	}
	// The line limit follows the smallest record limit of the
	// destinations the flow can send to.
	for j, r := range f.Routes {
		rs := s.child("routes").index(j)
		if d.failed[r] {
			continue
		}
		if w := r.When; w != nil {
			if w.Path != "" {
				if msg := globProblem(w.Path); msg != "" {
					d.errorf(d.at(&w.Path, d.pos[w]), rs.child("when.path"), "%s", msg)
				}
			}
			d.validateCondition(&w.Condition, d.pos[w], rs.child("when"), w.Path != "")
		}
		if len(r.To) == 0 && d.missing(&r.To, rs.child("to")) {
			d.errorf(d.at(&r.To, d.pos[r]), rs, "to is required: the destinations of the matching records")
		}
		for k, name := range r.To {
			rd := c.Destinations[name]
			if rd == nil {
				d.errorf(d.elems[&r.To][k], rs.child("to").index(k), "destination %q is not defined (defined: %s)", name, defined)
				continue
			}
			if dst == nil || rd.Batch.MaxRecordBytes < dst.Batch.MaxRecordBytes {
				dst = rd
			}
		}
	}

	_, set := d.pos[&f.MaxLineBytes]
	switch {
	case !set && dst != nil:
		f.MaxLineBytes = dst.Batch.MaxRecordBytes - lineOverhead
		if f.MaxLineBytes < 1 {
			// A tiny record limit leaves nothing to set aside.
			f.MaxLineBytes = dst.Batch.MaxRecordBytes
		}
	case !set || d.failed[&f.MaxLineBytes]:
	case f.MaxLineBytes < 1:
		d.errorf(d.at(&f.MaxLineBytes, at), s.child("max_line_bytes"), "must be at least 1B")
	case dst != nil && f.MaxLineBytes > dst.Batch.MaxRecordBytes:
		d.errorf(d.at(&f.MaxLineBytes, at), s.child("max_line_bytes"),
			"must not exceed batch.max_record_bytes of destination %q (%v), got %v",
			dst.Name, dst.Batch.MaxRecordBytes, f.MaxLineBytes)
	}
	if m := f.Multiline; m != nil && (m.MaxBytes == 0 || m.MaxBytes > f.MaxLineBytes) && f.MaxLineBytes > 0 {
		// A record is one line to everything after the tailer, so it
		// obeys the same limit.
		m.MaxBytes = f.MaxLineBytes
	}
}

func (d *decoder) validateMultiline(m *Multiline, s scope) {
	at := d.pos[m]
	switch {
	case m.StartPattern == "" && m.ContinuePattern == "":
		d.errorf(at, s, "needs start_pattern or continue_pattern")
	case m.StartPattern != "" && m.ContinuePattern != "":
		d.errorf(at, s, "set start_pattern or continue_pattern, not both")
	}
	for _, p := range []struct {
		v    *string
		name string
	}{{&m.StartPattern, "start_pattern"}, {&m.ContinuePattern, "continue_pattern"}} {
		if *p.v == "" {
			continue
		}
		if _, err := regexp.Compile(*p.v); err != nil {
			d.errorf(d.at(p.v, at), s.child(p.name), "invalid regular expression: %v", err)
		}
	}
	d.intRange(&m.MaxLines, 1, 100000, at, s.child("max_lines"))
	if m.MaxBytes < 0 {
		d.errorf(d.at(&m.MaxBytes, at), s.child("max_bytes"), "must not be negative")
	}
	d.positive(&m.Timeout, at, s.child("timeout"))
}

func (d *decoder) validateTransform(t *Transform, s scope) {
	at := d.pos[t]
	switch {
	case t.CSVToJSON != nil:
		c := t.CSVToJSON
		s = s.child("csv_to_json")
		switch {
		case c.Header && len(c.Fields) > 0:
			d.errorf(d.at(&c.Header, at), s, "set fields or header: true, not both")
		case !c.Header && len(c.Fields) == 0 && d.missing(&c.Fields, s.child("fields")):
			d.errorf(d.at(&c.Fields, at), s, "fields is required (or header: true to use each file's first line): name the columns, like [time, host, status]")
		}
		first := make(map[string]int, len(c.Fields))
		for j, name := range c.Fields {
			n, fs := d.elems[&c.Fields][j], s.child("fields").index(j)
			if name == "" {
				d.errorf(n, fs, "must not be empty")
			} else if k, dup := first[name]; dup {
				d.errorf(n, fs, "duplicate field %q (first at fields[%d])", name, k)
			} else {
				first[name] = j
			}
		}
		if c.Delimiter == `\t` {
			// Written unquoted or single-quoted, \t is two characters.
			c.Delimiter = "\t"
		}
		if r, n := utf8.DecodeRuneInString(c.Delimiter); n == 0 || n != len(c.Delimiter) ||
			r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
			d.errorf(d.at(&c.Delimiter, at), s.child("delimiter"),
				`must be one character other than '"' and line breaks, like "," or "\t", got %q`, c.Delimiter)
		}
		d.onError(&c.OnError, at, s.child("on_error"))
	case t.JSON != nil:
		d.onError(&t.JSON.OnError, at, s.child("json.on_error"))
	case t.LogToJSON != nil:
		l := t.LogToJSON
		s = s.child("log_to_json")
		switch {
		case l.Format == "" && l.MatchPattern == "":
			d.errorf(at, s, "format is required (one of %s), or match_pattern", strings.Join(LogFormats, ", "))
		case l.Format != "" && !slices.Contains(LogFormats, l.Format):
			d.errorf(d.at(&l.Format, at), s.child("format"), "unknown format %q (known: %s)", l.Format, strings.Join(LogFormats, ", "))
		}
		if l.MatchPattern != "" {
			re, err := regexp.Compile(l.MatchPattern)
			switch {
			case err != nil:
				d.errorf(d.at(&l.MatchPattern, at), s.child("match_pattern"), "invalid regular expression: %v", err)
			case len(l.CustomFieldNames) > 0 && len(l.CustomFieldNames) != re.NumSubexp():
				d.errorf(d.at(&l.CustomFieldNames, at), s.child("custom_field_names"),
					"names %d fields but match_pattern has %d groups", len(l.CustomFieldNames), re.NumSubexp())
			case len(l.CustomFieldNames) == 0 && l.Format == "":
				d.errorf(d.at(&l.MatchPattern, at), s, "match_pattern without a format needs custom_field_names")
			}
		}
		d.onError(&l.OnError, at, s.child("on_error"))
	case t.Regex != nil:
		r := t.Regex
		s = s.child("regex")
		if r.Pattern == "" {
			d.errorf(at, s, "pattern is required: a regular expression with named groups like (?P<status>\\d+)")
		} else if re, err := regexp.Compile(r.Pattern); err != nil {
			d.errorf(d.at(&r.Pattern, at), s.child("pattern"), "invalid regular expression: %v", err)
		} else if !slices.ContainsFunc(re.SubexpNames(), func(n string) bool { return n != "" }) {
			d.errorf(d.at(&r.Pattern, at), s.child("pattern"), "has no named group like (?P<name>...): nothing to put in the record")
		}
		d.onError(&r.OnError, at, s.child("on_error"))
	case t.Logfmt != nil:
		d.onError(&t.Logfmt.OnError, at, s.child("logfmt.on_error"))
	case t.AddEC2Metadata != nil:
		d.positive(&t.AddEC2Metadata.Refresh, at, s.child("add_ec2_metadata.refresh"))
	case t.Fields != nil:
		f := t.Fields
		s = s.child("fields")
		for name, typ := range f.Types {
			switch typ {
			case "int", "float", "bool", "timestamp":
			default:
				d.errorf(d.at(&f.Types, at), s.child("types").child(name), "unknown type %q (use int, float, bool or timestamp)", typ)
			}
		}
		if len(f.Keep) > 0 && len(f.Remove) > 0 {
			d.errorf(d.at(&f.Keep, at), s, "set keep or remove, not both")
		}
	case t.Filter != nil:
		f := t.Filter
		s = s.child("filter")
		if f.Action != "drop" && f.Action != "keep" {
			d.errorf(d.at(&f.Action, at), s.child("action"), "unknown action %q (use drop or keep)", f.Action)
		}
		d.validateCondition(&f.Condition, at, s, false)
	case t.Redact != nil:
		r := t.Redact
		s = s.child("redact")
		if len(r.Patterns) == 0 && len(r.Custom) == 0 {
			d.errorf(at, s, "needs patterns or custom")
		}
		for j, p := range r.Patterns {
			if !slices.Contains(RedactPatterns, p) {
				d.errorf(d.elems[&r.Patterns][j], s.child("patterns").index(j), "unknown pattern %q (known: %s)", p, strings.Join(RedactPatterns, ", "))
			}
		}
		for j, p := range r.Custom {
			if _, err := regexp.Compile(p); err != nil {
				d.errorf(d.elems[&r.Custom][j], s.child("custom").index(j), "invalid regular expression: %v", err)
			}
		}
	}
}

func (d *decoder) onError(p *string, fallback *yaml.Node, s scope) {
	switch *p {
	case OnErrorDrop, OnErrorPass, OnErrorWrap:
	default:
		d.errorf(d.at(p, fallback), s, "unknown value %q (use drop, pass or wrap)", *p)
	}
}

// positive reports whether *p > 0, recording an error if not.
func (d *decoder) positive(p *Duration, fallback *yaml.Node, s scope) bool {
	if *p > 0 || d.failed[p] {
		return *p > 0
	}
	d.errorf(d.at(p, fallback), s, "must be greater than 0")
	return false
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

// globProblem says what is wrong with a path pattern, or "". It parses with
// the parser of the tailer and route, so what passes here the agent can follow.
func globProblem(pattern string) string {
	switch _, err := glob.Split(pattern); {
	case err == nil:
		return ""
	case errors.Is(err, glob.ErrEmpty):
		return err.Error()
	default:
		return strconv.Quote(pattern) + ": " + err.Error()
	}
}

// specialRoot returns the first of /dev, /proc and /sys that the absolute
// glob pattern can match files under, or "".
func specialRoot(pattern string) string {
	first, _, _ := strings.Cut(strings.TrimPrefix(filepath.Clean(pattern), "/"), "/")
	for _, root := range []string{"dev", "proc", "sys"} {
		if ok, _ := filepath.Match(first, root); ok || first == "**" {
			return "/" + root
		}
	}
	return ""
}

// validateCondition checks a filter's or a route's condition. A route's may
// be empty when it tests the path (other).
func (d *decoder) validateCondition(c *Condition, at *yaml.Node, s scope, other bool) {
	if c.LineMatches == "" && c.Field == "" && !other {
		d.errorf(at, s, "needs line_matches or field (with equals, matches or exists)")
	}
	if c.Field != "" && c.Equals == "" && c.Matches == "" && c.Exists == nil {
		d.errorf(d.at(&c.Field, at), s, "field needs equals, matches or exists")
	}
	if c.Field == "" && (c.Equals != "" || c.Matches != "" || c.Exists != nil) {
		d.errorf(at, s, "equals, matches and exists need field")
	}
	for _, p := range []struct {
		v    *string
		name string
	}{{&c.LineMatches, "line_matches"}, {&c.Matches, "matches"}} {
		if *p.v == "" {
			continue
		}
		if _, err := regexp.Compile(*p.v); err != nil {
			d.errorf(d.at(p.v, at), s.child(p.name), "invalid regular expression: %v", err)
		}
	}
}
