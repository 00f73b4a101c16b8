// Validation of flows: their paths and globs, multi-line settings,
// transforms and route conditions.

package config

import (
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/kinetail/kinetail/internal/glob"
)

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
	d.pattern(&m.StartPattern, at, s.child("start_pattern"))
	d.pattern(&m.ContinuePattern, at, s.child("continue_pattern"))
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
		d.patterns(&r.Custom, s.child("custom"))
	}
}

func (d *decoder) onError(p *string, fallback *yaml.Node, s scope) {
	switch *p {
	case OnErrorDrop, OnErrorPass, OnErrorWrap:
	default:
		d.errorf(d.at(p, fallback), s, "unknown value %q (use drop, pass or wrap)", *p)
	}
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
	d.pattern(&c.LineMatches, at, s.child("line_matches"))
	d.pattern(&c.Matches, at, s.child("matches"))
}
