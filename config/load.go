package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the configuration file at path and parses it with Parse. A file
// that cannot be read is reported as a wrapped *fs.PathError; problems in
// its content as Errors.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data strictly, expands environment variables in its values,
// applies defaults and validates the result. file names the source in messages. On
// failure the error is Errors, holding every problem found, in file order.
func Parse(file string, data []byte) (*Config, error) {
	return parse(file, data, os.LookupEnv)
}

func parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	d := &decoder{
		file:     file,
		src:      data,
		pos:      make(map[any]*yaml.Node),
		elems:    make(map[*[]string][]*yaml.Node),
		failed:   make(map[any]bool),
		typos:    make(map[scope]bool),
		merged:   make(map[*yaml.Node][]pair),
		expanded: make(map[*yaml.Node]string),
	}
	if !d.checkText(data) {
		return nil, d.finish()
	}
	root := d.parseYAML(data)
	if root == nil {
		return nil, d.finish()
	}
	before := len(d.errs)
	d.expandEnv(root, lookup)
	if len(d.errs) > before {
		// Values are unknown now; checking the rest would only add noise.
		return nil, d.finish()
	}
	c, ok := d.config(root)
	if ok {
		d.validate(c, root)
	}
	if len(d.errs) > 0 {
		return nil, d.finish()
	}
	return c, nil
}

// decoder turns yaml.Nodes into a Config, collecting every problem instead
// of stopping at the first. It remembers which node each field came from so
// that validation can point at the offending value.
type decoder struct {
	file string
	src  []byte
	// lines holds the offset of each line of src, once needed.
	lines []int
	errs  Errors
	// pos maps the address of a field (or a *Destination or *Flow) to the
	// node it was decoded from. A field absent here kept its default.
	pos map[any]*yaml.Node
	// elems holds the node of each element of a decoded string list.
	elems map[*[]string][]*yaml.Node
	// failed marks fields whose value was reported already as malformed,
	// so validation does not add "is required" on top.
	failed map[any]bool
	// typos holds the fields that an unknown key was probably meant to
	// be, so validation does not also call them missing.
	typos map[scope]bool
	// merged caches the entries of each mapping used by a merge key (nil
	// while it is being computed), so that shared anchors are expanded
	// once, however often they are merged.
	merged map[*yaml.Node][]pair
	// expanded holds the text, as written, of each scalar whose
	// environment variables were expanded.
	expanded map[*yaml.Node]string
}

func (d *decoder) finish() Errors {
	d.errs.sort()
	return slices.CompactFunc(d.errs, func(a, b *Error) bool { return *a == *b })
}

// errorf records a problem at n, prefixed with where it is.
func (d *decoder) errorf(n *yaml.Node, s scope, format string, args ...any) {
	msg := d.hideValues(n, s.prefix()+fmt.Sprintf(format, d.hideArgs(n, args)...))
	e := &Error{File: d.file, Msg: msg}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// fail records a malformed value for the field at p.
func (d *decoder) fail(p any, n *yaml.Node, s scope, format string, args ...any) {
	d.failed[p] = true
	d.errorf(n, s, format, args...)
}

// missing reports whether a required field at p, in scope s, should be
// reported as missing: it was not malformed and not misspelt.
func (d *decoder) missing(p any, s scope) bool {
	return !d.failed[p] && !d.typos[s]
}

// at returns the node the field at p came from, or fallback.
func (d *decoder) at(p any, fallback *yaml.Node) *yaml.Node {
	if n, ok := d.pos[p]; ok {
		return n
	}
	return fallback
}

// parseYAML parses exactly one YAML document and returns its root node, or
// nil after recording why there is none.
func (d *decoder) parseYAML(text []byte) (root *yaml.Node) {
	defer func() {
		// The parser is not ours; a bug in it must not take down the
		// agent with a config it could have rejected.
		if r := recover(); r != nil {
			d.errs = append(d.errs, &Error{File: d.file, Line: 1, Col: 1, Msg: fmt.Sprintf("cannot parse YAML: %v", r)})
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(text))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		d.yamlError(err)
		return nil
	}
	if len(doc.Content) == 0 || isNull(resolve(doc.Content[0])) {
		d.errs = append(d.errs, &Error{File: d.file, Line: 1, Col: 1,
			Msg: "configuration is empty: expected agent, destinations and flows"})
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		d.errorf(&extra, scope{}, "a second YAML document is not allowed: put everything in one")
	case !errors.Is(err, io.EOF):
		d.yamlError(err)
	}
	return doc.Content[0]
}

// yamlError turns a parser error like "yaml: line 3: did not find expected
// key" into an Error at that line. The parser names a line only, and none
// for a problem on the first line; the column is where that line's content
// starts. An unknown anchor is reported where it is first referred to.
func (d *decoder) yamlError(err error) {
	e := &Error{File: d.file, Line: 1}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(num); err == nil && line > 0 {
				e.Line, msg = line, after
			}
		}
	}
	e.Col = d.lineStart(e.Line)
	if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
		if name, ok := strings.CutSuffix(name, "' referenced"); ok {
			e.Line, e.Col = d.aliasPos(name)
			msg = "unknown anchor " + strconv.Quote(name) + " (an alias *" + name + " needs an anchor &" + name + " before it)"
		}
	}
	if strings.HasPrefix(msg, "did not find expected ',' or") && bytes.Contains(d.src, []byte("${")) {
		// Variables are expanded after parsing, and { } end a plain
		// value inside [ ] and { }.
		msg += " (inside [...] or {...}, quote a value with ${VAR}: ['${VAR}/x.log'])"
	}
	e.Msg = "invalid YAML: " + msg
	d.errs = append(d.errs, e)
}

// config decodes the document's root mapping. It reports false if the root
// is not a mapping, when there is nothing to validate.
func (d *decoder) config(root *yaml.Node) (*Config, bool) {
	c := &Config{File: d.file, Agent: defaultAgent(), Destinations: make(map[string]*Destination)}
	ok := d.mapping(scope{}, root, fields{
		"agent": func(s scope, n *yaml.Node) { d.agent(s, n, &c.Agent) },
		"destinations": func(s scope, n *yaml.Node) {
			d.pos[&c.Destinations] = resolve(n)
			d.destinations(s, n, c)
		},
		"flows": func(s scope, n *yaml.Node) {
			d.pos[&c.Flows] = resolve(n)
			d.flows(s, n, c)
		},
	})
	return c, ok
}

func (d *decoder) agent(s scope, n *yaml.Node, a *Agent) {
	d.mapping(s, n, fields{
		"checkpoint_file":     d.str(&a.CheckpointFile),
		"checkpoint_interval": d.duration(&a.CheckpointInterval),
		"checkpoint_ttl":      d.duration(&a.CheckpointTTL),
		"log_level":           d.str(&a.LogLevel),
		"shutdown_timeout":    d.duration(&a.ShutdownTimeout),
		"max_open_files":      d.int(&a.MaxOpenFiles),
		"memory_limit":        d.size(&a.MemoryLimit),
		"metrics": func(s scope, n *yaml.Node) {
			d.mapping(s, n, fields{
				"listen":   d.str(&a.Metrics.Listen),
				"per_file": d.bool(&a.Metrics.PerFile),
			})
		},
		"cloudwatch": func(s scope, n *yaml.Node) {
			d.mapping(s, n, fields{
				"enabled":                 d.bool(&a.CloudWatch.Enabled),
				"namespace":               d.str(&a.CloudWatch.Namespace),
				"interval":                d.duration(&a.CloudWatch.Interval),
				"region":                  d.str(&a.CloudWatch.Region),
				"endpoint":                d.str(&a.CloudWatch.Endpoint),
				"allow_insecure_endpoint": d.bool(&a.CloudWatch.AllowInsecureEndpoint),
			})
		},
		"stats_interval": d.duration(&a.StatsInterval),
		"allowed_roots":  d.strings(&a.AllowedRoots),
	})
}

func (d *decoder) destinations(s scope, n *yaml.Node, c *Config) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, s, "expected a mapping of names to destinations, got %s", kindName(n))
		return
	}
	for _, p := range d.pairs(s, n, 0) {
		dst := newDestination(p.name)
		dst.Line = p.key.Line
		d.pos[dst] = p.key
		ds := scope{ctx: "destination " + strconv.Quote(p.name)}
		ok := d.mapping(ds, p.value, fields{
			"type":                    d.str(&dst.Type),
			"stream":                  d.str(&dst.Stream),
			"delivery_stream":         d.str(&dst.DeliveryStream),
			"fallback":                d.str(&dst.Fallback),
			"allowed":                 d.strings(&dst.Allowed),
			"max_streams":             d.int(&dst.MaxStreams),
			"stream_idle_timeout":     d.duration(&dst.StreamIdleTimeout),
			"region":                  d.str(&dst.Region),
			"endpoint":                d.str(&dst.Endpoint),
			"role_arn":                d.str(&dst.RoleARN),
			"role_external_id":        d.str(&dst.RoleExternalID),
			"allow_insecure_endpoint": d.bool(&dst.AllowInsecureEndpoint),
			"partition_key":           d.str(&dst.PartitionKey),
			"explicit_hash_key":       d.str(&dst.ExplicitHashKey),
			"aggregation": func(s scope, n *yaml.Node) {
				d.mapping(s, n, fields{
					"enabled":   d.bool(&dst.Aggregation.Enabled),
					"max_bytes": d.size(&dst.Aggregation.MaxBytes),
				})
			},
			"shard_aware": func(s scope, n *yaml.Node) {
				d.mapping(s, n, fields{
					"enabled":            d.bool(&dst.ShardAware.Enabled),
					"refresh":            d.duration(&dst.ShardAware.Refresh),
					"bytes_per_second":   d.size(&dst.ShardAware.BytesPerSecond),
					"records_per_second": d.int(&dst.ShardAware.RecordsPerSecond),
				})
			},
			"compression": d.str(&dst.Compression),
			"protocol":    d.str(&dst.Protocol),
			"http": func(s scope, n *yaml.Node) {
				d.mapping(s, n, fields{
					"version": d.str(&dst.HTTP.Version),
				})
			},
			"dead_letter_file": d.str(&dst.DeadLetterFile),
			"path":             d.str(&dst.Path),
			"max_file_bytes":   d.size(&dst.MaxFileBytes),
			"max_files":        d.int(&dst.MaxFiles),
			"batch": func(s scope, n *yaml.Node) {
				d.mapping(s, n, fields{
					"max_records":      d.int(&dst.Batch.MaxRecords),
					"max_bytes":        d.size(&dst.Batch.MaxBytes),
					"max_record_bytes": d.size(&dst.Batch.MaxRecordBytes),
					"max_age":          d.duration(&dst.Batch.MaxAge),
				})
			},
			"retry": func(s scope, n *yaml.Node) {
				d.mapping(s, n, fields{
					"initial_backoff": d.duration(&dst.Retry.InitialBackoff),
					"max_backoff":     d.duration(&dst.Retry.MaxBackoff),
					"max_attempts":    d.int(&dst.Retry.MaxAttempts),
					"max_record_age":  d.duration(&dst.Retry.MaxRecordAge),
				})
			},
			"timeouts": func(s scope, n *yaml.Node) {
				d.mapping(s, n, fields{
					"connect": d.duration(&dst.Timeouts.Connect),
					"request": d.duration(&dst.Timeouts.Request),
				})
			},
			"max_in_flight": d.int(&dst.MaxInFlight),
		})
		if !ok {
			d.failed[dst] = true
		}
		c.Destinations[p.name] = dst
	}
}

func (d *decoder) flows(s scope, n *yaml.Node, c *Config) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, s, "expected a list of flows, got %s", kindName(n))
		return
	}
	for i, item := range n.Content {
		item = resolve(item)
		f := newFlow()
		f.Line = item.Line
		d.pos[f] = item
		fs := scope{ctx: d.flowLabel(item, i)}
		ok := d.mapping(fs, item, fields{
			"name":                 d.str(&f.Name),
			"paths":                d.strings(&f.Paths),
			"exclude":              d.strings(&f.Exclude),
			"initial_position":     d.str(&f.InitialPosition),
			"max_line_bytes":       d.size(&f.MaxLineBytes),
			"partial_line_timeout": d.duration(&f.PartialLineTimeout),
			"rescan_interval":      d.duration(&f.RescanInterval),
			"close_removed_after":  d.duration(&f.CloseRemovedAfter),
			"skip_header_lines":    d.int(&f.SkipHeaderLines),
			"multiline": func(s scope, n *yaml.Node) {
				if isNull(resolve(n)) {
					return
				}
				f.Multiline = newMultiline()
				d.pos[f.Multiline] = resolve(n)
				d.mapping(s, n, fields{
					"start_pattern":    d.str(&f.Multiline.StartPattern),
					"continue_pattern": d.str(&f.Multiline.ContinuePattern),
					"max_lines":        d.int(&f.Multiline.MaxLines),
					"max_bytes":        d.size(&f.Multiline.MaxBytes),
					"timeout":          d.duration(&f.Multiline.Timeout),
				})
			},
			"transforms":  func(s scope, n *yaml.Node) { f.Transforms = d.transforms(s, n) },
			"destination": d.str(&f.Destination),
			"routes":      func(s scope, n *yaml.Node) { f.Routes = d.routes(s, n) },
			"symlinks":    d.str(&f.Symlinks),
		})
		if !ok {
			d.failed[f] = true
		}
		c.Flows = append(c.Flows, f)
	}
}

// flowLabel names a flow in messages by its name if it has a usable one,
// as written when it came from a variable, else by its position ("flow #2").
func (d *decoder) flowLabel(n *yaml.Node, i int) string {
	if n.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(n.Content); j += 2 {
			k, v := resolve(n.Content[j]), resolve(n.Content[j+1])
			if k.Kind == yaml.ScalarNode && k.Value == "name" &&
				v.Kind == yaml.ScalarNode && v.Value != "" && !isNull(v) {
				if raw, ok := d.expanded[v]; ok {
					return "flow " + strconv.Quote(raw)
				}
				return "flow " + strconv.Quote(v.Value)
			}
		}
	}
	return "flow #" + strconv.Itoa(i+1)
}

// transformNames lists the transforms a flow may use, for messages.
var transformNames = []string{"add_brackets", "add_ec2_metadata", "add_metadata", "csv_to_json", "fields", "filter", "json",
	"log_to_json", "logfmt", "redact", "regex", "singleline"}

func (d *decoder) transforms(s scope, n *yaml.Node) []*Transform {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, s, "expected a list of transforms, got %s", kindName(n))
		return nil
	}
	var out []*Transform
	for i, item := range n.Content {
		if t := d.transform(s.index(i), resolve(item)); t != nil {
			out = append(out, t)
		}
	}
	return out
}

// transform decodes one list item: "- name", "- name:" or "- name: {...}".
func (d *decoder) transform(s scope, n *yaml.Node) *Transform {
	known := strings.Join(transformNames, ", ")
	var key, body *yaml.Node
	switch {
	case n.Kind == yaml.ScalarNode && !isNull(n):
		key = n
	case n.Kind == yaml.MappingNode:
		ps := d.pairs(s, n, 0)
		if len(ps) != 1 {
			names := make([]string, len(ps))
			for i, p := range ps {
				names[i] = p.name
			}
			got := "none"
			if len(ps) > 1 {
				got = strconv.Itoa(len(ps)) + " (" + strings.Join(names, ", ") + ")"
			}
			d.errorf(n, s, "a transform needs exactly one key, got %s; known transforms: %s", got, known)
			return nil
		}
		key, body = ps[0].key, ps[0].value
	default:
		d.errorf(n, s, "expected a transform name or a mapping with one key, got %s; known transforms: %s", kindName(n), known)
		return nil
	}
	t := newTransform(key.Value)
	if t == nil {
		msg := fmt.Sprintf("unknown transform %q", key.Value)
		if hint := suggest(key.Value, transformNames); hint != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", hint)
		}
		d.errorf(key, s, "%s; known transforms: %s", msg, known)
		return nil
	}
	t.Line = n.Line
	d.pos[t] = n
	s = s.child(key.Value)
	switch key.Value {
	case "singleline":
		d.mapping(s, body, fields{
			"no_trim":         d.bool(&t.Singleline.NoTrim),
			"escape_new_line": d.bool(&t.Singleline.EscapeNewLine),
		})
	case "csv_to_json":
		d.mapping(s, body, fields{
			"fields":    d.strings(&t.CSVToJSON.Fields),
			"header":    d.bool(&t.CSVToJSON.Header),
			"delimiter": d.str(&t.CSVToJSON.Delimiter),
			"on_error":  d.str(&t.CSVToJSON.OnError),
		})
	case "json":
		d.mapping(s, body, fields{
			"on_error": d.str(&t.JSON.OnError),
		})
	case "log_to_json":
		d.mapping(s, body, fields{
			"format":             d.str(&t.LogToJSON.Format),
			"match_pattern":      d.str(&t.LogToJSON.MatchPattern),
			"custom_field_names": d.strings(&t.LogToJSON.CustomFieldNames),
			"on_error":           d.str(&t.LogToJSON.OnError),
		})
	case "regex":
		d.mapping(s, body, fields{
			"pattern":  d.str(&t.Regex.Pattern),
			"on_error": d.str(&t.Regex.OnError),
		})
	case "logfmt":
		d.mapping(s, body, fields{
			"on_error": d.str(&t.Logfmt.OnError),
		})
	case "add_metadata":
		d.mapping(s, body, fields{
			"timestamp": d.bool(&t.AddMetadata.Timestamp),
			"metadata":  d.jsonObject(&t.AddMetadata.Metadata),
		})
	case "add_brackets":
		d.mapping(s, body, fields{})
	case "add_ec2_metadata":
		d.mapping(s, body, fields{
			"tags":    d.bool(&t.AddEC2Metadata.Tags),
			"refresh": d.duration(&t.AddEC2Metadata.Refresh),
		})
	case "fields":
		f := t.Fields
		d.mapping(s, body, fields{
			"rename":    d.stringMap(&f.Rename),
			"remove":    d.strings(&f.Remove),
			"keep":      d.strings(&f.Keep),
			"add":       d.stringMap(&f.Add),
			"host":      d.str(&f.Host),
			"path":      d.str(&f.Path),
			"offset":    d.str(&f.Offset),
			"record_id": d.str(&f.RecordID),
			"types":     d.stringMap(&f.Types),
		})
	case "filter":
		f := t.Filter
		fs := d.conditionFields(&f.Condition)
		fs["action"] = d.str(&f.Action)
		d.mapping(s, body, fs)
	case "redact":
		r := t.Redact
		d.mapping(s, body, fields{
			"patterns": d.strings(&r.Patterns),
			"custom":   d.strings(&r.Custom),
			"mask":     d.str(&r.Mask),
		})
	}
	return t
}

// conditionFields are the keys of a Condition, shared by filter and when.
func (d *decoder) conditionFields(c *Condition) fields {
	return fields{
		"line_matches": d.str(&c.LineMatches),
		"field":        d.str(&c.Field),
		"equals":       d.str(&c.Equals),
		"matches":      d.str(&c.Matches),
		"exists":       d.boolPtr(&c.Exists),
	}
}

func (d *decoder) routes(s scope, n *yaml.Node) []*Route {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, s, "expected a list of routes, got %s", kindName(n))
		return nil
	}
	var out []*Route
	for i, item := range n.Content {
		item = resolve(item)
		r := &Route{Line: item.Line}
		d.pos[r] = item
		ok := d.mapping(s.index(i), item, fields{
			"when": func(s scope, n *yaml.Node) {
				if isNull(resolve(n)) {
					return
				}
				r.When = &When{}
				d.pos[r.When] = resolve(n)
				fs := d.conditionFields(&r.When.Condition)
				fs["path"] = d.str(&r.When.Path)
				d.mapping(s, n, fs)
			},
			"to":       d.strings(&r.To),
			"continue": d.bool(&r.Continue),
		})
		if !ok {
			d.failed[r] = true
		}
		out = append(out, r)
	}
	return out
}
