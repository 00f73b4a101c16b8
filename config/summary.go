package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kinetail/kinetail/internal/redact"
)

// Summary describes c for people, as "kinetail check" prints it: the agent
// settings, each destination and each flow with the values in effect. It
// holds no secrets: credentials in endpoint URLs are left out.
func (c *Config) Summary() string {
	var b strings.Builder
	a := c.Agent
	fmt.Fprintf(&b, "agent:\n")
	fmt.Fprintf(&b, "  checkpoint_file: %s (every %v, entries kept %v)\n", a.CheckpointFile, a.CheckpointInterval, a.CheckpointTTL)
	fmt.Fprintf(&b, "  log_level: %s, shutdown_timeout: %v, max_open_files: %d, memory_limit: %v\n", a.LogLevel, a.ShutdownTimeout, a.MaxOpenFiles, a.MemoryLimit)
	listen := a.Metrics.Listen
	if listen == "" {
		listen = "off"
	} else if a.Metrics.PerFile {
		listen += " (per file)"
	}
	stats := "off"
	if a.StatsInterval > 0 {
		stats = "every " + a.StatsInterval.String()
	}
	cw := "off"
	if a.CloudWatch.Enabled {
		cw = fmt.Sprintf("namespace %s every %v", a.CloudWatch.Namespace, a.CloudWatch.Interval)
	}
	fmt.Fprintf(&b, "  metrics: %s, stats log: %s, cloudwatch: %s\n", listen, stats, cw)

	fmt.Fprintf(&b, "destinations:\n")
	for _, name := range slices.Sorted(maps.Keys(c.Destinations)) {
		d := c.Destinations[name]
		switch d.Type {
		case "file":
			fmt.Fprintf(&b, "  %s: file %s (rotated at %v, %d kept)\n", name, d.Path, d.MaxFileBytes, d.MaxFiles)
			continue
		case "stdout":
			fmt.Fprintf(&b, "  %s: stdout\n", name)
			continue
		case "firehose":
			fmt.Fprintf(&b, "  %s: firehose delivery_stream %s\n", name, d.DeliveryStream)
		default:
			fmt.Fprintf(&b, "  %s: %s stream %s\n", name, d.Type, d.Stream)
		}
		if d.Fallback != "" {
			fmt.Fprintf(&b, "    fallback: %s\n", d.Fallback)
		}
		region := d.Region
		if region == "" {
			region = "(from the environment)"
		}
		endpoint := "(AWS default)"
		if d.Endpoint != "" {
			endpoint = redact.URLs(d.Endpoint)
			if InsecureEndpoint(d.Endpoint) {
				endpoint += " (plain http: allow_insecure_endpoint)"
			}
		}
		fmt.Fprintf(&b, "    region: %s, endpoint: %s\n", region, endpoint)
		if d.RoleARN != "" {
			fmt.Fprintf(&b, "    role_arn: %s", d.RoleARN)
			if d.RoleExternalID != "" {
				fmt.Fprintf(&b, ", role_external_id: %s", d.RoleExternalID)
			}
			b.WriteString("\n")
		}
		if d.Type == "kinesis" {
			fmt.Fprintf(&b, "    partition_key: %s", d.PartitionKey)
			if d.ExplicitHashKey != "" {
				fmt.Fprintf(&b, ", explicit_hash_key: %s", d.ExplicitHashKey)
			}
			fmt.Fprintf(&b, ", max_in_flight: %d\n", d.MaxInFlight)
		} else {
			fmt.Fprintf(&b, "    max_in_flight: %d\n", d.MaxInFlight)
		}
		fmt.Fprintf(&b, "    batch: max_records %d, max_bytes %v, max_record_bytes %v, max_age %v\n",
			d.Batch.MaxRecords, d.Batch.MaxBytes, d.Batch.MaxRecordBytes, d.Batch.MaxAge)
		if d.Aggregation.Enabled {
			fmt.Fprintf(&b, "    aggregation: on, max_bytes %v\n", d.Aggregation.MaxBytes)
		} else {
			fmt.Fprintf(&b, "    aggregation: off\n")
		}
		if sa := d.ShardAware; sa.Enabled {
			fmt.Fprintf(&b, "    shard_aware: on, per shard %v/s and %d records/s, map refreshed every %v\n",
				sa.BytesPerSecond, sa.RecordsPerSecond, sa.Refresh)
		}
		if d.Compression != "none" {
			fmt.Fprintf(&b, "    compression: %s\n", d.Compression)
		}
		if (d.Type == "kinesis" && d.Protocol != "cbor") || d.HTTP.Version != "1.1" {
			fmt.Fprintf(&b, "    protocol: %s, http: %s\n", d.Protocol, d.HTTP.Version)
		}
		attempts := "unlimited"
		if d.Retry.MaxAttempts > 0 {
			attempts = fmt.Sprint(d.Retry.MaxAttempts)
		}
		if d.Retry.MaxRecordAge > 0 {
			attempts += fmt.Sprintf(", max_record_age %v", d.Retry.MaxRecordAge)
		}
		fmt.Fprintf(&b, "    retry: backoff %v to %v, attempts %s; timeouts: connect %v, request %v\n",
			d.Retry.InitialBackoff, d.Retry.MaxBackoff, attempts, d.Timeouts.Connect, d.Timeouts.Request)
		if d.DeadLetterFile != "" {
			fmt.Fprintf(&b, "    dead_letter_file: %s\n", d.DeadLetterFile)
		}
	}

	fmt.Fprintf(&b, "flows:\n")
	for _, f := range c.Flows {
		if len(f.Routes) == 0 {
			fmt.Fprintf(&b, "  %s -> %s\n", f.Name, f.Destination)
		} else {
			fmt.Fprintf(&b, "  %s -> routes:\n", f.Name)
			for _, r := range f.Routes {
				fmt.Fprintf(&b, "      %s -> %s", r.When, strings.Join(r.To, ", "))
				if r.Continue {
					fmt.Fprintf(&b, " (continue)")
				}
				fmt.Fprintf(&b, "\n")
			}
			other := "dropped and counted"
			if f.Destination != "" {
				other = f.Destination
			}
			fmt.Fprintf(&b, "      otherwise -> %s\n", other)
		}
		fmt.Fprintf(&b, "    paths: %s\n", strings.Join(f.Paths, ", "))
		if len(f.Exclude) > 0 {
			fmt.Fprintf(&b, "    exclude: %s\n", strings.Join(f.Exclude, ", "))
		}
		fmt.Fprintf(&b, "    initial_position: %s, max_line_bytes: %v\n", f.InitialPosition, f.MaxLineBytes)
		fmt.Fprintf(&b, "    partial_line_timeout: %v, rescan_interval: %v\n", f.PartialLineTimeout, f.RescanInterval)
		if f.SkipHeaderLines > 0 || f.CloseRemovedAfter > 0 {
			fmt.Fprintf(&b, "    skip_header_lines: %d, close_removed_after: %v\n", f.SkipHeaderLines, f.CloseRemovedAfter)
		}
		if m := f.Multiline; m != nil {
			pattern := "start_pattern " + strconv.Quote(m.StartPattern)
			if m.ContinuePattern != "" {
				pattern = "continue_pattern " + strconv.Quote(m.ContinuePattern)
			}
			fmt.Fprintf(&b, "    multiline: %s, max_lines %d, max_bytes %v, timeout %v\n", pattern, m.MaxLines, m.MaxBytes, m.Timeout)
		}
		transforms := "(none: lines are sent as they are)"
		if len(f.Transforms) > 0 {
			names := make([]string, len(f.Transforms))
			for i, t := range f.Transforms {
				names[i] = t.String()
			}
			transforms = strings.Join(names, ", ")
		}
		fmt.Fprintf(&b, "    transforms: %s\n", transforms)
	}
	return b.String()
}

// String names the transform with its settings, like
// `csv_to_json(fields=[a b], delimiter=",", on_error=wrap)`.
func (t *Transform) String() string {
	switch {
	case t.Singleline != nil:
		return fmt.Sprintf("singleline(no_trim=%t, escape_new_line=%t)", t.Singleline.NoTrim, t.Singleline.EscapeNewLine)
	case t.CSVToJSON != nil:
		c := t.CSVToJSON
		names := "fields=[" + strings.Join(c.Fields, " ") + "]"
		if c.Header {
			names = "header"
		}
		return fmt.Sprintf("csv_to_json(%s, delimiter=%q, on_error=%s)", names, c.Delimiter, c.OnError)
	case t.JSON != nil:
		return fmt.Sprintf("json(on_error=%s)", t.JSON.OnError)
	case t.LogToJSON != nil:
		l := t.LogToJSON
		if l.MatchPattern != "" {
			return fmt.Sprintf("log_to_json(format=%s, match_pattern=%q, custom_field_names=[%s], on_error=%s)",
				l.Format, l.MatchPattern, strings.Join(l.CustomFieldNames, " "), l.OnError)
		}
		return fmt.Sprintf("log_to_json(format=%s, on_error=%s)", l.Format, l.OnError)
	case t.Regex != nil:
		return fmt.Sprintf("regex(pattern=%q, on_error=%s)", t.Regex.Pattern, t.Regex.OnError)
	case t.Logfmt != nil:
		return fmt.Sprintf("logfmt(on_error=%s)", t.Logfmt.OnError)
	case t.AddMetadata != nil:
		return fmt.Sprintf("add_metadata(timestamp=%t, metadata=%d values)", t.AddMetadata.Timestamp, len(t.AddMetadata.Metadata))
	case t.AddBrackets != nil:
		return "add_brackets"
	case t.AddEC2Metadata != nil:
		return fmt.Sprintf("add_ec2_metadata(tags=%t, refresh=%v)", t.AddEC2Metadata.Tags, t.AddEC2Metadata.Refresh)
	case t.Fields != nil:
		f := t.Fields
		return fmt.Sprintf("fields(rename=%d, remove=%d, keep=%d, add=%d, types=%d)", len(f.Rename), len(f.Remove), len(f.Keep), len(f.Add), len(f.Types))
	case t.Filter != nil:
		return fmt.Sprintf("filter(action=%s)", t.Filter.Action)
	case t.Redact != nil:
		return fmt.Sprintf("redact(patterns=[%s], custom=%d)", strings.Join(t.Redact.Patterns, " "), len(t.Redact.Custom))
	}
	return "(empty)"
}

// String describes the test, as the summary shows it.
func (w *When) String() string {
	if w == nil {
		return "every record"
	}
	var parts []string
	if w.Path != "" {
		parts = append(parts, "path "+strconv.Quote(w.Path))
	}
	return strings.Join(append(parts, w.Condition.describe()...), " and ")
}

func (c *Condition) describe() []string {
	var parts []string
	if c.LineMatches != "" {
		parts = append(parts, "line matches "+strconv.Quote(c.LineMatches))
	}
	if c.Equals != "" {
		parts = append(parts, c.Field+" = "+strconv.Quote(c.Equals))
	}
	if c.Matches != "" {
		parts = append(parts, c.Field+" matches "+strconv.Quote(c.Matches))
	}
	if c.Exists != nil {
		if *c.Exists {
			parts = append(parts, c.Field+" exists")
		} else {
			parts = append(parts, c.Field+" is missing")
		}
	}
	return parts
}
