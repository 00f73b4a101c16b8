// Package transform owns the record processors of a flow: it turns one line
// read by the tailer into zero or one record (raw bytes or JSON) that the
// router and sinks carry on.
//
// A Chain runs a flow's transforms in order. Each transform is a Processor
// that appends its output for one input to a caller-owned buffer, so a batch
// of lines can be written into one reused slice with no allocation per line.
// A transform that rejects its input (a CSV line with an unterminated quote,
// a line that is not JSON) is handled by that transform's on_error policy:
// the line is dropped, passed on raw, or wrapped in a JSON object that keeps
// the raw line and the reason. A malformed line is never an error of the
// Chain: it is counted in Stats and the agent goes on.
//
// A dropped or passed line ends the chain: a passed line is sent exactly as
// it is in the file. A wrapped line, {"raw":"<line>","error":"<reason>"},
// goes on through the steps that annotate records, so it carries the same
// record id, path, offset and metadata as a valid line would: fields (only
// its added fields), add_metadata, add_ec2_metadata, add_brackets, and
// redact, whose steps before the failing one are applied to the raw line.
// Parsers (singleline, csv_to_json, json, log_to_json, regex, logfmt) skip
// it, and so do filters: a wrapped record is how an operator learns that
// lines fail to parse, and is never filtered away. A wrapped record is wrapped only
// once: a later step that rejects it is skipped. Chain.wrap has the
// details.
//
// A csv_to_json transform with header: true takes its field names from the
// first line of each file. The agent gives the chain each batch's
// Batch.Header with SetHeader, and passes lines with AppendLine so the chain
// knows which line is a file's first: that line is the header and gives no
// record (it is counted in Stats.Header).
//
// log_to_json parses the Kinesis Agent's log formats (common_apache,
// combined_apache, apache_error, syslog, rfc3339_syslog) into the same JSON
// objects the agent writes, and adds apache24_error, rfc5424_syslog,
// nginx_access and nginx_error. Built-in formats use hand-written scanners
// that allocate nothing; match_pattern, regex and Go's regexp package cost
// one allocation a line. logfmt turns key=value pairs into an object.
//
// JSON is written by hand with AppendJSONString, never with reflection.
//
// Concurrency: a Chain is used by one goroutine; only Stats may be called
// from others.
package transform
