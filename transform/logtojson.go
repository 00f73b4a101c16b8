package transform

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/kinetail/kinetail/config"
)

// logFormat identifies a built-in log_to_json scanner.
type logFormat uint8

const (
	fmtNone logFormat = iota // match_pattern without a format
	fmtCommonApache
	fmtCombinedApache
	fmtApacheError
	fmtApache24Error
	fmtSyslog
	fmtRFC3339Syslog
	fmtRFC5424Syslog
	fmtNginxAccess
	fmtNginxError
)

// formatSpec describes a format: its config name, its JSON field names in
// output order, and whether a value of exactly "-" is written as null.
type formatSpec struct {
	name     string
	kind     logFormat
	fields   []string
	dashNull bool
}

// Field names of the Kinesis Agent's formats are the agent's own, so records
// keep the same shape when a host moves over.
var (
	commonApacheFields   = []string{"host", "ident", "authuser", "datetime", "request", "response", "bytes"}
	combinedApacheFields = []string{"host", "ident", "authuser", "datetime", "request", "response", "bytes", "referer", "agent"}
	apacheErrorFields    = []string{"timestamp", "module", "severity", "processid", "threadid", "client", "message"}
	syslogFields         = []string{"timestamp", "hostname", "program", "processid", "message"}
	rfc5424Fields        = []string{"pri", "version", "timestamp", "hostname", "app_name", "procid", "msgid", "structured_data", "message"}
	nginxAccessFields    = []string{"remote_addr", "remote_user", "time_local", "request", "status", "body_bytes_sent", "http_referer", "http_user_agent"}
	nginxErrorFields     = []string{"timestamp", "severity", "pid", "tid", "connection", "message", "client", "server", "request", "upstream", "host", "referrer"}
)

// maxFields is the most fields a built-in format has (nginx_error).
const maxFields = 12

// lookupFormat returns the spec of a log_to_json format name.
func lookupFormat(name string) (formatSpec, bool) {
	switch name {
	case "common_apache":
		return formatSpec{name, fmtCommonApache, commonApacheFields, true}, true
	case "combined_apache":
		return formatSpec{name, fmtCombinedApache, combinedApacheFields, true}, true
	case "apache_error":
		return formatSpec{name, fmtApacheError, apacheErrorFields, true}, true
	case "apache24_error":
		return formatSpec{name, fmtApache24Error, apacheErrorFields, true}, true
	case "syslog":
		return formatSpec{name, fmtSyslog, syslogFields, false}, true
	case "rfc3339_syslog":
		return formatSpec{name, fmtRFC3339Syslog, syslogFields, false}, true
	case "rfc5424_syslog":
		// NILVALUE is turned into null by the scanner, field by field:
		// a message of "-" is text.
		return formatSpec{name, fmtRFC5424Syslog, rfc5424Fields, false}, true
	case "nginx_access":
		return formatSpec{name, fmtNginxAccess, nginxAccessFields, true}, true
	case "nginx_error":
		return formatSpec{name, fmtNginxError, nginxErrorFields, false}, true
	}
	return formatSpec{}, false
}

// span is where a field's value is in the line: line[start:end], or null
// when start < 0.
type span struct{ start, end int }

// null is the span of a field that has no value.
func null() span { return span{-1, -1} }

// logToJSON turns a log line into a JSON object, like the Kinesis Agent's
// LOGTOJSON processor: the same field names in the same order, values as
// JSON strings, and null for a field that is absent or, in the Apache and
// nginx access formats, is "-".
//
// The built-in formats are parsed by hand-written scanners that check the
// line's structure (brackets, quotes, numbers where the format has them)
// and accept some lines the agent's patterns reject, such as IPv6 clients
// or escaped quotes in a request. With match_pattern a regular expression
// replaces the scanner: like the agent's matchPattern it must match the
// whole line, and its groups are the fields in order.
type logToJSON struct {
	kind     logFormat
	dashNull bool
	// keys[i] is the JSON text before value i, like csvToJSON's.
	keys [][]byte
	re   *regexp.Regexp // match_pattern, or nil
}

func newLogToJSON(c *config.LogToJSON) (*logToJSON, error) {
	var spec formatSpec
	if c.Format != "" {
		var ok bool
		if spec, ok = lookupFormat(c.Format); !ok {
			return nil, fmt.Errorf("unknown format %q", c.Format)
		}
	} else if c.MatchPattern == "" {
		return nil, errors.New("format is required, or match_pattern")
	}
	p := &logToJSON{kind: spec.kind, dashNull: spec.dashNull}
	names := spec.fields
	if c.MatchPattern != "" {
		// Anchored at both ends: the agent uses Matcher.matches.
		re, err := regexp.Compile(`^(?:` + c.MatchPattern + `)$`)
		if err != nil {
			return nil, fmt.Errorf("match_pattern: %w", err)
		}
		if _, err := regexp.Compile(c.MatchPattern); err != nil {
			return nil, fmt.Errorf("match_pattern: %w", err) // a pattern like `a)|(b` that only wrapping hides
		}
		p.re = re
		p.kind = fmtNone
		if len(c.CustomFieldNames) > 0 {
			names = c.CustomFieldNames
		}
		switch {
		case len(names) == 0:
			return nil, errors.New("match_pattern without a format needs custom_field_names")
		case len(names) != re.NumSubexp():
			return nil, fmt.Errorf("%d field names for match_pattern with %d groups", len(names), re.NumSubexp())
		}
	} else if len(c.CustomFieldNames) > 0 {
		// The agent lets customFieldNames rename a format's fields.
		if len(c.CustomFieldNames) != len(names) {
			return nil, fmt.Errorf("custom_field_names: format %s has %d fields, not %d", spec.name, len(names), len(c.CustomFieldNames))
		}
		names = c.CustomFieldNames
	}
	seen := make(map[string]bool, len(names))
	p.keys = make([][]byte, len(names))
	for i, name := range names {
		if seen[name] {
			return nil, fmt.Errorf("duplicate field name %q", name)
		}
		seen[name] = true
		p.keys[i] = appendCSVKey(nil, i, []byte(name))
	}
	return p, nil
}

func (p *logToJSON) Append(dst, in []byte) ([]byte, error) {
	line := trimCR(in)
	if p.re != nil {
		return p.appendMatch(dst, line)
	}
	var f [maxFields]span
	var off int
	var msg string
	switch p.kind {
	case fmtCommonApache:
		off, msg = scanAccess(line, &f, false)
	case fmtCombinedApache:
		off, msg = scanAccess(line, &f, true)
	case fmtNginxAccess:
		off, msg = scanAccess(line, &f, true)
		// nginx's second column is a literal "-", not a field.
		copy(f[1:], f[2:9])
	case fmtApacheError:
		off, msg = scanApacheError(line, &f, false)
	case fmtApache24Error:
		off, msg = scanApacheError(line, &f, true)
	case fmtSyslog:
		off, msg = scanSyslog(line, &f)
	case fmtRFC3339Syslog:
		off, msg = scanRFC3339Syslog(line, &f)
	case fmtRFC5424Syslog:
		off, msg = scanRFC5424(line, &f)
	case fmtNginxError:
		off, msg = scanNginxError(line, &f)
	}
	if msg != "" {
		return dst, &SyntaxError{Transform: "log_to_json", Msg: msg, Offset: off}
	}
	for i, key := range p.keys {
		dst = append(dst, key...)
		dst = p.appendValue(dst, line, f[i])
	}
	return append(dst, '}'), nil
}

// appendMatch is Append for a match_pattern.
func (p *logToJSON) appendMatch(dst, line []byte) ([]byte, error) {
	loc := p.re.FindSubmatchIndex(line)
	if loc == nil {
		return dst, &SyntaxError{Transform: "log_to_json", Msg: "line does not match match_pattern", Offset: -1}
	}
	for i, key := range p.keys {
		dst = append(dst, key...)
		dst = p.appendValue(dst, line, span{loc[2*i+2], loc[2*i+3]})
	}
	return append(dst, '}'), nil
}

func (p *logToJSON) appendValue(dst, line []byte, s span) []byte {
	if s.start < 0 || p.dashNull && s.end-s.start == 1 && line[s.start] == '-' {
		return append(dst, "null"...)
	}
	return AppendJSONString(dst, line[s.start:s.end])
}

// trimCR removes the '\r' a CRLF line ending leaves.
func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
