package agentjson

import (
	"fmt"
	"path/filepath"

	"github.com/kinetail/kinetail/config"
	"strconv"
	"strings"
)

// dest is one kinetail destination: a stream and the flow settings
// kinetail keeps per destination.
type dest struct {
	name     string
	firehose bool
	stream   string
	set      destSettings
	first    *flow // the first flow sending to it: its values are rendered
}

// compressedExcludes are the files the agent never follows (SourceFile
// skips .gz, .bz2 and .zip in any case).
var compressedExcludes = []string{"*.[gG][zZ]", "*.[bB][zZ]2", "*.[zZ][iI][pP]"}

// differences are what kinetail does differently from the agent for
// every agent.json: printed at the head of a converted file, and logged
// once at start.
var differences = []string{
	"it checkpoints a line only once every destination has stored it, and after a crash resends only what was in flight",
	"it follows every file a pattern matches, not only the newest, and reads rotated files to their end, so rotation loses no line",
	"the agent's checkpoint (SQLite) is not read: on a first start (no kinetail checkpoint), files start at initial_position, the agent's END_OF_FILE unless the flow says otherwise",
}

// document builds the kinetail YAML for the flows, and the comment lines
// that head it.
func (l *loader) document(flows []*flow) (*entry, []string) {
	l.assignDestinations(flows)
	l.nameFlows(flows)
	header := []string{
		"kinetail configuration converted from a Kinesis Agent configuration:",
	}
	for _, f := range l.files {
		header = append(header, "  "+f)
	}
	header = append(header,
		"Comments say which agent.json key each value comes from, and where the",
		"agent's default was used. Check it with `kinetail check -c FILE`.",
		"",
		"What kinetail does differently:",
	)
	for _, d := range differences {
		header = append(header, wrap("- "+d, 76, "  ")...)
	}
	root := &entry{}
	root.items = append(root.items, l.agentSection())
	dests := root.add("destinations", "")
	for _, d := range l.dests {
		dests.items = append(dests.items, l.destination(d))
	}
	fl := root.add("flows", "")
	fl.list = true
	for _, f := range flows {
		fl.items = append(fl.items, l.flowEntry(f))
	}
	return root, header
}

func (l *loader) agentSection() *entry {
	g := &l.g
	a := &entry{key: "agent"}
	if g.checkpointFile.set {
		// Beside the agent's, in the directory chosen for its state; never
		// the agent's file itself.
		p := filepath.Join(filepath.Dir(g.checkpointFile.v), "kinetail-checkpoints.json")
		a.add("checkpoint_file", quote(p)).at(g.checkpointFile.pos, "checkpointFile").
			note("kinetail's own (JSON), beside checkpointFile; the agent's (SQLite) is not read")
	} else {
		a.add("checkpoint_file", quote(config.DefaultCheckpointFile)).
			note("kinetail's own (JSON); the agent's %s (SQLite) is not read", defaultCheckpointFile)
	}
	a.add("checkpoint_ttl", strconv.FormatInt(g.checkpointTTLDays.v*24, 10)+"h").
		at(g.checkpointTTLDays.pos, g.checkpointTTLDays.key).note("%s", g.checkpointTTLDays.comment(""))
	a.add("shutdown_timeout", millis(g.shutdownMillis.v)).
		at(g.shutdownMillis.pos, g.shutdownMillis.key).note("%s", g.shutdownMillis.comment(""))
	a.add("stats_interval", millis(g.statusPeriod.v*1000)).
		at(g.statusPeriod.pos, g.statusPeriod.key).note("%s", g.statusPeriod.comment("a status line in the log"))
	cw := a.add("cloudwatch", "")
	cw.add("enabled", strconv.FormatBool(g.emitMetrics.v)).
		at(g.emitMetrics.pos, g.emitMetrics.key).note("%s", g.emitMetrics.comment("needs cloudwatch:PutMetricData"))
	cw.add("namespace", quote(g.namespace.v)).at(g.namespace.pos, g.namespace.key).note("%s", g.namespace.comment(""))
	cw.add("interval", millis(g.metricsBuffer.v)).at(g.metricsBuffer.pos, g.metricsBuffer.key).note("%s", g.metricsBuffer.comment(""))
	if g.cloudwatchEndpoint.v != "" {
		cw.add("endpoint", quote(withScheme(g.cloudwatchEndpoint.v))).at(g.cloudwatchEndpoint.pos, g.cloudwatchEndpoint.key).note("cloudwatch.endpoint")
		if r := endpointRegion(g.cloudwatchEndpoint.v); r != "" {
			cw.add("region", r).at(g.cloudwatchEndpoint.pos, g.cloudwatchEndpoint.key).note("from cloudwatch.endpoint's host name")
		}
	}
	if g.accessKey.v != "" {
		a.notes = append(a.notes,
			"awsAccessKeyId and awsSecretAccessKey are not written here: put them in the",
			"service's environment (/etc/default/kinetail) as AWS_ACCESS_KEY_ID and",
			"AWS_SECRET_ACCESS_KEY, or better, use an instance profile.")
	}
	if l.env["AWS_ENDPOINT_URL_STS"] != "" {
		a.notes = append(a.notes, "sts.endpoint: set AWS_ENDPOINT_URL_STS="+l.env["AWS_ENDPOINT_URL_STS"]+" in the service's environment.")
	}
	return a
}

// assignDestinations gives each flow a destination: one per stream, and
// one more for each other set of per-destination settings sending to it.
func (l *loader) assignDestinations(flows []*flow) {
	type key struct {
		firehose bool
		stream   string
		set      destSettings
	}
	byKey := map[key]*dest{}
	used := map[string]bool{}
	for _, f := range flows {
		k := key{f.firehose, f.stream.v, f.set}
		if d, ok := byKey[k]; ok {
			f.dest = d
			continue
		}
		base := sanitize(f.stream.v)
		if base == "" {
			base = "stream"
		}
		if f.firehose && l.hasStream(flows, false, f.stream.v) {
			base += "-firehose"
		}
		name := base
		for i := 2; used[name]; i++ {
			name = base + "-" + strconv.Itoa(i)
		}
		used[name] = true
		d := &dest{name: name, firehose: f.firehose, stream: f.stream.v, set: f.set, first: f}
		byKey[k] = d
		l.dests = append(l.dests, d)
		f.dest = d
	}
}

func (l *loader) hasStream(flows []*flow, firehose bool, stream string) bool {
	for _, f := range flows {
		if f.firehose == firehose && f.stream.v == stream {
			return true
		}
	}
	return false
}

// nameFlows names each flow after its files and destination, so a flow's
// name (and so its checkpoint) does not change when flows are added,
// removed or reordered.
func (l *loader) nameFlows(flows []*flow) {
	used := map[string]bool{}
	for _, f := range flows {
		dir, base := filepath.Split(filepath.Clean(f.pattern.v))
		parts := []string{sanitize(filepath.Base(dir)), sanitize(base), f.dest.name}
		var kept []string
		for _, p := range parts {
			if p != "" {
				kept = append(kept, p)
			}
		}
		name := strings.Join(kept, "-")
		n := name
		for i := 2; used[n]; i++ {
			n = name + "-" + strconv.Itoa(i)
		}
		used[n] = true
		f.name = n
	}
}

// sanitize keeps the characters a kinetail name may have, dropping glob
// characters and the rest.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		}
	}
	return strings.Trim(b.String(), ".-_")
}

func (l *loader) destination(d *dest) *entry {
	g := &l.g
	f := d.first
	s := &f.setFrom
	e := &entry{key: d.name}
	e.at(f.stream.pos, f.stream.key)
	if d.set != l.sameStreamFirst(d) {
		e.notes = append(e.notes, fmt.Sprintf("Another destination for %s: flows sending to it set other batching, retry or partitioning values.", d.stream))
	}
	if d.firehose {
		e.add("type", "firehose")
		e.add("delivery_stream", quote(d.stream)).at(f.stream.pos, "deliveryStream")
		if g.firehoseEndpoint.v != "" {
			e.add("endpoint", quote(withScheme(g.firehoseEndpoint.v))).at(g.firehoseEndpoint.pos, "firehose.endpoint").note("firehose.endpoint")
			if r := endpointRegion(g.firehoseEndpoint.v); r != "" {
				e.add("region", r).at(g.firehoseEndpoint.pos, "firehose.endpoint").note("from firehose.endpoint's host name")
			}
		}
	} else {
		e.add("type", "kinesis")
		e.add("stream", quote(d.stream)).at(f.stream.pos, "kinesisStream")
		switch r := endpointRegion(g.kinesisEndpoint.v); {
		case g.kinesisRegion.v != "":
			e.add("region", quote(g.kinesisRegion.v)).at(g.kinesisRegion.pos, "kinesis.region").note("kinesis.region")
		case r != "":
			e.add("region", r).at(g.kinesisEndpoint.pos, "kinesis.endpoint").note("from kinesis.endpoint's host name")
		}
		if g.kinesisEndpoint.v != "" {
			e.add("endpoint", quote(withScheme(g.kinesisEndpoint.v))).at(g.kinesisEndpoint.pos, "kinesis.endpoint").note("kinesis.endpoint")
		}
	}
	if g.roleARN.v != "" {
		e.add("role_arn", quote(g.roleARN.v)).at(g.roleARN.pos, "assumeRoleARN").note("assumeRoleARN")
		if g.roleExternalID.v != "" {
			e.add("role_external_id", quote(g.roleExternalID.v)).at(g.roleExternalID.pos, "assumeRoleExternalId").note("assumeRoleExternalId")
		}
	}
	if !d.firehose {
		e.add("partition_key", strings.ToLower(d.set.partitionKey)).
			at(s.partitionKey.pos, s.partitionKey.key).note("%s", s.partitionKey.comment(""))
	}
	if d.firehose && d.set.aggregate > 0 {
		a := e.add("aggregation", "")
		a.at(s.aggregate.pos, s.aggregate.key)
		a.add("enabled", "true").note("aggregatedRecordSizeBytes: lines joined into Firehose records")
		a.add("max_bytes", size(d.set.aggregate)).note("aggregatedRecordSizeBytes")
	}
	b := e.add("batch", "")
	b.add("max_records", strconv.FormatInt(d.set.maxRecords, 10)).at(s.maxRecords.pos, s.maxRecords.key).note("%s", s.maxRecords.comment(""))
	b.add("max_bytes", size(d.set.maxBytes)).at(s.maxBytes.pos, s.maxBytes.key).note("%s", s.maxBytes.comment(""))
	maxRecord := int64(kinesisMaxRecord)
	if d.firehose {
		maxRecord = firehoseMaxRecord
	}
	if d.set.maxBytes < maxRecord {
		b.add("max_record_bytes", size(d.set.maxBytes)).at(s.maxBytes.pos, s.maxBytes.key).note("no record larger than maxBufferSizeBytes")
	}
	b.add("max_age", millis(d.set.maxAgeMs)).at(s.maxAge.pos, s.maxAge.key).note("%s", s.maxAge.comment("kinetail's own default is 1s"))
	r := e.add("retry", "")
	r.add("initial_backoff", millis(d.set.initialBackoff)).at(s.initialBackoff.pos, s.initialBackoff.key).note("%s", s.initialBackoff.comment(""))
	r.add("max_backoff", millis(d.set.maxBackoff)).at(s.maxBackoff.pos, s.maxBackoff.key).note("%s", s.maxBackoff.comment(""))
	if g.connectMillis.set || g.socketMillis.set {
		t := e.add("timeouts", "")
		if g.connectMillis.set {
			t.add("connect", millis(g.connectMillis.v)).at(g.connectMillis.pos, g.connectMillis.key).note("connectionTimeoutMillis")
		}
		if g.socketMillis.set {
			t.add("request", millis(g.socketMillis.v)).at(g.socketMillis.pos, g.socketMillis.key).
				note("socketTimeoutMillis: here the whole request")
		}
	}
	if g.sendingThreads.set {
		n := min(g.sendingThreads.v, 64)
		e.add("max_in_flight", strconv.FormatInt(n, 10)).at(g.sendingThreads.pos, g.sendingThreads.key).
			note("maxSendingThreads (the agent's threads for all flows; here requests per destination, at most 64)")
	}
	if !d.firehose {
		e.items = append(e.items, &entry{key: "", notes: []string{
			"Suggestion: if records are small (well under 25KiB), KPL aggregation packs",
			"them into fewer PUT payload units (up to 150 times fewer); consumers",
			"must deaggregate (the KCL does):",
			"  aggregation: {enabled: true}",
		}})
	}
	return e
}

// sameStreamFirst returns the settings of the first destination of d's
// stream.
func (l *loader) sameStreamFirst(d *dest) destSettings {
	for _, o := range l.dests {
		if o.firehose == d.firehose && o.stream == d.stream {
			return o.set
		}
	}
	return d.set
}

func (l *loader) flowEntry(f *flow) *entry {
	e := &entry{}
	e.at(f.pos, "")
	e.add("name", f.name).at(f.pos, "").note("made from filePattern and the stream")
	e.add("paths", quoteList([]string{f.pattern.v})).at(f.pattern.pos, "filePattern").note("filePattern")
	if strings.ContainsAny(filepath.Base(f.pattern.v), "*?[") {
		e.add("exclude", quoteList(compressedExcludes)).at(f.pattern.pos, "filePattern").
			note("the agent never follows .gz, .bz2 and .zip files")
	}
	e.add("initial_position", strings.ToLower(f.initial.v)).at(f.initial.pos, f.initial.key).
		note("%s", f.initial.comment("for files without a kinetail checkpoint"))
	if f.rescan.set {
		e.add("rescan_interval", millis(f.rescan.v)).at(f.rescan.pos, f.rescan.key).note("%s", f.rescan.key)
	}
	if f.skip.v > 0 {
		e.add("skip_header_lines", strconv.FormatInt(f.skip.v, 10)).at(f.skip.pos, f.skip.key).note("skipHeaderLines")
	}
	if f.multi.v != "" {
		m := e.add("multiline", "")
		m.at(f.multi.pos, f.multi.key)
		m.add("start_pattern", quote(f.multi.v)).note("multiLineStartPattern")
	}
	var steps []*entry
	if f.footer.v != "" {
		// First, so it sees the line as it is in the file, trimmed as
		// the agent trims it.
		filter := &entry{key: "filter", comment: "fileFooterPattern: the footer line is not sent"}
		filter.add("line_matches", quote(`\A\s*(?m:`+f.footer.v+`)\s*\z`))
		filter.add("action", "drop")
		steps = append(steps, (&entry{items: []*entry{filter}}).at(f.footer.pos, f.footer.key))
	}
	steps = append(steps, f.steps...)
	if len(steps) > 0 {
		t := e.add("transforms", "")
		t.list = true
		t.items = steps
	}
	e.add("destination", f.dest.name)
	if len(f.ignored) > 0 {
		e.items[len(e.items)-1].notes = append(e.items[len(e.items)-1].notes,
			"Ignored, as kinetail has no use for them: "+strings.Join(f.ignored, ", "))
	}
	return e
}

// wrap breaks s into lines of at most width bytes at spaces, indenting the
// lines after the first.
func wrap(s string, width int, indent string) []string {
	var out []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) > width:
			out = append(out, line)
			line = indent + w
		default:
			line += " " + w
		}
	}
	return append(out, line)
}
