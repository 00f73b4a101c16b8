package agentjson

import (
	"fmt"
	"strings"
)

// The agent's dataProcessingOptions and log formats, and kinetail's names
// for the formats.
var (
	optionNames = []string{"ADDMETADATA", "ADDEC2METADATA", "SINGLELINE", "CSVTOJSON", "LOGTOJSON", "ADDBRACKETS", "USINGPLUGGIN"}
	logFormats  = map[string]string{
		"COMMONAPACHELOG":   "common_apache",
		"COMBINEDAPACHELOG": "combined_apache",
		"APACHEERRORLOG":    "apache_error",
		"SYSLOG":            "syslog",
		"RFC3339SYSLOG":     "rfc3339_syslog",
	}
	logFormatNames = []string{"COMMONAPACHELOG", "COMBINEDAPACHELOG", "APACHEERRORLOG", "SYSLOG", "RFC3339SYSLOG"}
)

// steps maps a flow's dataProcessingOptions to kinetail transforms, in
// order.
func (l *loader) steps(list *Node, scope string) []*entry {
	var out []*entry
	l.objects(list, scope, "optionName", func(o *Node, s string) {
		if o.Get("optionName") == nil {
			l.errorf(o.Pos, "%soptionName is required (one of %s)", s, strings.Join(optionNames, ", "))
			return
		}
		name := l.enum(o, "optionName", s, "", optionNames...)
		if name.v == "" {
			return
		}
		if e := l.step(o, s, name); e != nil {
			out = append(out, e)
		}
	})
	return out
}

// step maps one processing option.
func (l *loader) step(o *Node, s string, name value[string]) *entry {
	item := &entry{}
	item.at(name.pos, "optionName "+name.v)
	known := map[string]bool{"optionName": true}
	read := func(keys ...string) {
		for _, k := range keys {
			known[k] = true
		}
	}
	// jsonFormat is read by the options that print JSON.
	printer := func() {
		read("jsonFormat")
		f := l.enum(o, "jsonFormat", s, "COMPACT", "COMPACT", "PRETTYPRINT")
		if f.v == "PRETTYPRINT" {
			l.info(f.pos, "%sjsonFormat: PRETTYPRINT: kinetail writes records as compact JSON (the same values, on one line)", s)
		}
	}
	switch name.v {
	case "SINGLELINE":
		read("parseOptions")
		t := item.add("singleline", "")
		if n := o.Get("parseOptions"); n != nil && n.Kind != Null {
			opts, bad, msg := readStrings(n)
			if msg != "" {
				l.errorf(bad.Pos, "%sparseOptions: %s", s, msg)
				return nil
			}
			for _, p := range opts {
				switch p {
				case "NO_TRIM":
					t.add("no_trim", "true").at(n.Pos, "parseOptions NO_TRIM")
				case "ESCAPE_NEW_LINE":
					t.add("escape_new_line", "true").at(n.Pos, "parseOptions ESCAPE_NEW_LINE")
				default:
					l.debug(n.Pos, "%sparseOptions: %q ignored, as the agent does (it knows NO_TRIM and ESCAPE_NEW_LINE)", s, p)
				}
			}
		}
		if len(t.items) == 0 {
			t.value = "{}"
		}
	case "CSVTOJSON":
		read("customFieldNames", "delimiter")
		printer()
		t := item.add("csv_to_json", "")
		n := o.Get("customFieldNames")
		if n == nil {
			l.errorf(o.Pos, "%scustomFieldNames is required: the names of the columns", s)
			return nil
		}
		fields, bad, msg := readStrings(n)
		if msg != "" {
			l.errorf(bad.Pos, "%scustomFieldNames: %s", s, msg)
			return nil
		}
		t.add("fields", quoteList(fields)).at(n.Pos, "customFieldNames")
		d := l.str(o, "delimiter", s, ",")
		delim, msg := csvDelimiter(d.v)
		if msg != "" {
			l.errorf(d.pos, "%sdelimiter: %s", s, msg)
			return nil
		}
		de := t.add("delimiter", quote(delim)).at(d.pos, "delimiter")
		if !d.set {
			de.note("the agent's default")
		} else if delim != d.v {
			de.note("delimiter %s: the agent reads it as a regular expression", quote(d.v))
		}
		t.add("on_error", "wrap").at(name.pos, "optionName CSVTOJSON").
			note(`kinetail's default; "pass" sends the line as it is, as the agent does`)
		l.info(name.pos, "%sCSVTOJSON: a field in double quotes may hold the delimiter (RFC 4180); the agent splits inside quotes too", s)
	case "LOGTOJSON":
		read("logFormat", "matchPattern", "customFieldNames")
		printer()
		t := item.add("log_to_json", "")
		if !l.logFormat(o, s, t) {
			return nil
		}
		t.add("on_error", "wrap").at(name.pos, "optionName LOGTOJSON").
			note(`the agent drops a line it cannot parse; kinetail sends {"raw", "error"} ("drop" does as the agent)`)
		l.info(name.pos, "%sLOGTOJSON: a line that does not parse is sent as {\"raw\": line, \"error\": why}, not dropped as the agent drops it", s)
	case "ADDMETADATA":
		read("timestamp", "metadata")
		printer()
		t := item.add("add_metadata", "")
		ts := false
		tsAt := o.Pos
		if n := o.Get("timestamp"); n != nil && n.Kind != Null {
			tsAt = n.Pos
			// The agent takes only "true", in any case, as true: "yes"
			// would quietly mean false.
			v, msg := readBool(n)
			switch {
			case msg != "":
				l.errorf(n.Pos, "%stimestamp: %s", s, msg)
				return nil
			case v && !strings.EqualFold(n.Text, "true"):
				l.errorf(n.Pos, "%stimestamp: the agent reads only \"true\" as true here (%q means false to it): write \"true\" or \"false\"", s, n.Text)
				return nil
			}
			ts = v
		}
		te := t.add("timestamp", fmt.Sprint(ts)).at(tsAt, "timestamp")
		if o.Get("timestamp") == nil {
			te.note("the agent's default (kinetail's is true)")
		}
		if n := o.Get("metadata"); n != nil && n.Kind != Null {
			if n.Kind != Object {
				l.errorf(n.Pos, "%smetadata: expected an object of names and values, got %v", s, n.Kind)
				return nil
			}
			m := t.add("metadata", "")
			m.at(n.Pos, "metadata")
			if len(n.Members) == 0 {
				m.value = "{}"
			}
			for _, mm := range n.Members {
				m.add(quote(mm.Key), flowValue(mm.Value)).at(mm.Value.Pos, "metadata")
			}
			if !keysSorted(n) {
				l.info(n.Pos, "%smetadata: kinetail writes the keys of its objects in sorted order; the agent keeps this file's order", s)
			}
		}
	case "ADDEC2METADATA":
		read("metadataTTL", "logFormat")
		printer()
		t := item.add("add_ec2_metadata", "")
		t.add("tags", "true").at(name.pos, "optionName ADDEC2METADATA").note("the agent always adds the instance's tags")
		ttl := int64(3600)
		ttlAt := name.pos
		if n := o.Get("metadataTTL"); n != nil && n.Kind != Null {
			// The agent keeps its default when the value is not a number.
			if v, msg := readInt(n, 1, maxInt); msg == "" {
				ttl, ttlAt = v, n.Pos
			} else {
				l.debug(n.Pos, "%smetadataTTL: %s: the agent's default (3600) is used, as the agent does", s, msg)
			}
		}
		re := t.add("refresh", millis(ttl*1000)).at(ttlAt, "metadataTTL")
		if ttlAt == name.pos {
			re.note("metadataTTL: the agent's default")
		}
	case "ADDBRACKETS":
		item.add("add_brackets", "{}")
		l.info(name.pos, "%sADDBRACKETS: the agent's records end with a newline, which its brackets enclose ({line\\n}); kinetail's records have none, so it sends {line}", s)
	case "USINGPLUGGIN":
		l.errorf(name.pos, "%soptionName USINGPLUGGIN: kinetail cannot honour it: it cannot load Java classes; a regex, fields or filter transform may do what the plugin did", s)
		return nil
	}
	for _, m := range o.Members {
		if !known[m.Key] {
			l.debug(m.KeyPos, "%s%s: not read by %s; ignored, as the agent does", s, m.Key, name.v)
		}
	}
	return item
}

// logFormat maps LOGTOJSON's logFormat, matchPattern and customFieldNames.
func (l *loader) logFormat(o *Node, s string, t *entry) bool {
	if o.Get("logFormat") == nil {
		l.errorf(o.Pos, "%slogFormat is required (one of %s)", s, strings.Join(logFormatNames, ", "))
		return false
	}
	f := l.enum(o, "logFormat", s, "", logFormatNames...)
	if f.v == "" {
		return false
	}
	t.add("format", logFormats[f.v]).at(f.pos, "logFormat")
	if p := l.str(o, "matchPattern", s, ""); p.v != "" {
		t.add("match_pattern", quote(p.v)).at(p.pos, "matchPattern")
	}
	if n := o.Get("customFieldNames"); n != nil && n.Kind != Null {
		names, bad, msg := readStrings(n)
		if msg != "" {
			l.errorf(bad.Pos, "%scustomFieldNames: %s", s, msg)
			return false
		}
		t.add("custom_field_names", quoteList(names)).at(n.Pos, "customFieldNames")
	}
	return true
}

// csvDelimiter turns the agent's delimiter, a Java regular expression
// given to String.split, into the one character kinetail splits on.
func csvDelimiter(d string) (string, string) {
	switch {
	case d == `\t` || d == "\t":
		return "\t", ""
	case len(d) == 2 && d[0] == '\\' && strings.IndexByte(`.|*+?()[]{}^$\/,;:-_#@!%&~'= `, d[1]) >= 0:
		return d[1:], ""
	case len([]rune(d)) == 1 && strings.ContainsAny(d, `.|*+?()[{^$\`):
		return "", fmt.Sprintf("%q is a regular expression to the agent (it splits on it), not the character: write \"\\\\%s\" for the character", d, d)
	case len([]rune(d)) == 1:
		return d, ""
	}
	return "", fmt.Sprintf("%q: kinetail splits on one character, like \",\" or \"\\t\"", d)
}

// flowValue returns a JSON value as a YAML scalar or flow collection that
// reads back as the same value: numbers as written, strings quoted where
// YAML would read them as something else.
func flowValue(n *Node) string {
	switch n.Kind {
	case String:
		return quote(n.Text)
	case Null:
		return "null"
	case Array:
		elems := make([]string, len(n.Elems))
		for i, e := range n.Elems {
			elems[i] = flowValue(e)
		}
		return "[" + strings.Join(elems, ", ") + "]"
	case Object:
		members := make([]string, len(n.Members))
		for i, m := range n.Members {
			members[i] = quote(m.Key) + ": " + flowValue(m.Value)
		}
		return "{" + strings.Join(members, ", ") + "}"
	}
	return n.Text // a number or boolean, the same in YAML
}

// keysSorted reports whether the keys of every object in n are in the
// order kinetail writes them.
func keysSorted(n *Node) bool {
	for i, m := range n.Members {
		if i > 0 && n.Members[i-1].Key > m.Key || !keysSorted(m.Value) {
			return false
		}
	}
	for _, e := range n.Elems {
		if !keysSorted(e) {
			return false
		}
	}
	return true
}
