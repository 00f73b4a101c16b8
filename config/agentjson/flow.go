package agentjson

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// flow is one flow of an agent.json, read with the agent's defaults.
type flow struct {
	pos      Pos    // the flow's object
	scope    string // "flows[2]: " or "agent.d/web.json: flows[0]: ", for messages
	pattern  value[string]
	firehose bool
	stream   value[string]
	set      destSettings
	setFrom  destSources
	initial  value[string]
	multi    value[string]
	skip     value[int64]
	footer   value[string]
	rescan   value[int64]
	terminat value[string]
	steps    []*entry // transforms
	ignored  []string // keys ignored, for a comment
	name     string
	dest     *dest
}

// destSettings are a flow's settings that kinetail keeps per destination:
// flows that share a stream and these share a destination.
type destSettings struct {
	partitionKey               string
	maxRecords, maxBytes       int64
	maxAgeMs                   int64
	initialBackoff, maxBackoff int64
	aggregate                  int64 // firehose only; 0: off
}

// destSources are the agent.json values behind destSettings.
type destSources struct {
	partitionKey                          value[string]
	maxRecords, maxBytes, maxAge          value[int64]
	initialBackoff, maxBackoff, aggregate value[int64]
}

// The agent's per-flow limits (KinesisConstants, FirehoseConstants,
// FileFlow and its subclasses).
const (
	kinesisMaxRecords   = 500
	kinesisMaxBytes     = 5 * 1024 * 1024
	firehoseMaxRecords  = 500
	firehoseMaxBytes    = 4 * 1024 * 1024
	firehoseMaxRecord   = 1000 * 1024
	kinesisMaxRecord    = 1024 * 1024
	minBufferAgeMs      = 1000
	maxBufferAgeMs      = 15 * 60 * 1000
	defaultBufferAgeMs  = 60 * 1000
	defaultInitialRetry = 100
	defaultMaxRetry     = 10_000
	defaultRescanMs     = 10_000
)

// ignoredFlowKeys are per-flow keys the agent reads that tune its queues
// and polling: checked as the agent would, then ignored. lo and hi are
// the agent's valid range.
var ignoredFlowKeys = []struct {
	key    string
	k      kind
	lo, hi int64
}{
	{"waitOnFullPublishQueueMillis", kLong, 1000, 15 * 60 * 1000},
	{"waitOnEmptyPublishQueueMillis", kLong, 1000, 15 * 60 * 1000},
	{"publishQueueCapacity", kInt, minInt, maxInt},
	{"minTimeBetweenFilePollsMillis", kLong, minLong, maxLong},
	{"log.emitInternalMetrics", kBool, 0, 0},
}

var mappedFlowKeys = []string{
	"filePattern", "kinesisStream", "deliveryStream", "partitionKeyOption", "initialPosition",
	"multiLineStartPattern", "skipHeaderLines", "truncatedRecordTerminator", "maxBufferAgeMillis",
	"maxBufferSizeBytes", "maxBufferSizeRecords", "aggregatedRecordSizeBytes",
	"dataProcessingOptions", "retryInitialBackoffMillis", "retryMaxBackoffMillis",
	"fileFooterPattern", "maxTimeBetweenFileTrackerRefreshMillis",
}

// flowList reads the flows key of a file's top-level object.
func (l *loader) flowList(root *Node, at Pos) []*flow {
	n := root.Get("flows")
	if n == nil {
		return nil
	}
	prefix := ""
	if at.File != l.file {
		prefix = at.File + ": "
	}
	var out []*flow
	l.objects(n, prefix+"flows", "filePattern and kinesisStream or deliveryStream", func(fn *Node, scope string) {
		if f := l.flow(fn, scope); f != nil {
			out = append(out, f)
		}
	})
	return out
}

// objects calls each for every element of list, a list of objects holding
// what, with the element's scope for messages; anything else is reported.
func (l *loader) objects(list *Node, scope, what string, each func(n *Node, scope string)) {
	if list.Kind != Array {
		l.errorf(list.Pos, "%s: expected a list of objects with %s, got %v", scope, what, list.Kind)
		return
	}
	for i, n := range list.Elems {
		s := fmt.Sprintf("%s[%d]: ", scope, i)
		if n.Kind != Object {
			l.errorf(n.Pos, "%sexpected an object with %s, got %v", s, what, n.Kind)
			continue
		}
		each(n, s)
	}
}

func (l *loader) flow(n *Node, scope string) *flow {
	errs := len(l.errs)
	f := &flow{pos: n.Pos, scope: scope}
	f.pattern = l.str(n, "filePattern", scope, "")
	if !f.pattern.set || f.pattern.v == "" {
		l.errorf(n.Pos, "%sfilePattern is required: the files to follow, like /var/log/app/*.log", scope)
	} else if strings.HasSuffix(f.pattern.v, "/") {
		l.errorf(f.pattern.pos, "%sfilePattern: %q names a directory; add the file name, like %s*.log", scope, f.pattern.v, f.pattern.v)
	}
	ks, ds := n.Get("kinesisStream"), n.Get("deliveryStream")
	switch {
	case ks != nil && ds != nil:
		// The agent would quietly take deliveryStream.
		l.errorf(ks.Pos, "%sset kinesisStream or deliveryStream, not both (deliveryStream is at line %d)", scope, ds.Pos.Line)
	case ds != nil:
		f.firehose = true
		f.stream = l.str(n, "deliveryStream", scope, "")
	case ks != nil:
		f.stream = l.str(n, "kinesisStream", scope, "")
	default:
		l.errorf(n.Pos, "%skinesisStream or deliveryStream is required: the stream to send the lines to", scope)
	}
	if (ks != nil || ds != nil) && f.stream.v == "" && len(l.errs) == errs {
		l.errorf(f.stream.pos, "%s%s: must not be empty", scope, f.stream.key)
	}

	maxRecords, maxBytes, maxRecord := int64(kinesisMaxRecords), int64(kinesisMaxBytes), int64(kinesisMaxRecord)
	if f.firehose {
		maxRecords, maxBytes, maxRecord = firehoseMaxRecords, firehoseMaxBytes, firehoseMaxRecord
	}
	s := &f.setFrom
	s.maxAge = l.num(n, "maxBufferAgeMillis", scope, defaultBufferAgeMs, minBufferAgeMs, maxBufferAgeMs)
	s.maxRecords = l.num(n, "maxBufferSizeRecords", scope, maxRecords, 1, maxRecords)
	s.maxBytes = l.num(n, "maxBufferSizeBytes", scope, maxBytes, 1, maxBytes)
	s.initialBackoff = l.num(n, "retryInitialBackoffMillis", scope, defaultInitialRetry, 1, maxMillis)
	s.maxBackoff = l.num(n, "retryMaxBackoffMillis", scope, defaultMaxRetry, 1, maxMillis)
	if f.firehose {
		s.aggregate = l.num(n, "aggregatedRecordSizeBytes", scope, 0, 0, firehoseMaxRecord)
		if n.Get("partitionKeyOption") != nil {
			f.ignore(l, n, "partitionKeyOption", "Firehose has no partition keys")
		}
	} else {
		s.partitionKey = l.enum(n, "partitionKeyOption", scope, "RANDOM", "RANDOM", "DETERMINISTIC")
		if n.Get("aggregatedRecordSizeBytes") != nil {
			f.ignore(l, n, "aggregatedRecordSizeBytes", "the agent reads it for Firehose flows only")
		}
	}
	f.initial = l.enum(n, "initialPosition", scope, "END_OF_FILE", "START_OF_FILE", "END_OF_FILE")
	f.multi = l.str(n, "multiLineStartPattern", scope, "")
	f.skip = l.num(n, "skipHeaderLines", scope, 0, 0, maxInt)
	f.footer = l.str(n, "fileFooterPattern", scope, "")
	f.rescan = l.num(n, "maxTimeBetweenFileTrackerRefreshMillis", scope, defaultRescanMs, 1, maxMillis)
	f.terminat = l.str(n, "truncatedRecordTerminator", scope, "\n")
	if f.terminat.set && int64(len(f.terminat.v)) >= maxRecord {
		l.errorf(f.terminat.pos, "%struncatedRecordTerminator: longer than the largest record (%d bytes)", scope, maxRecord)
	}
	if s.aggregate.v > 0 && f.multi.v != "" {
		// The agent packs only single-line records.
		l.info(s.aggregate.pos, "%saggregatedRecordSizeBytes: not used with multiLineStartPattern, as in the agent", scope)
		s.aggregate.v = 0
	}
	f.set = destSettings{
		partitionKey: s.partitionKey.v, maxRecords: s.maxRecords.v, maxBytes: s.maxBytes.v,
		maxAgeMs: s.maxAge.v, initialBackoff: s.initialBackoff.v, maxBackoff: s.maxBackoff.v,
		aggregate: s.aggregate.v,
	}
	if f.footer.v != "" {
		l.info(f.footer.pos, "%sfileFooterPattern: the footer line is not sent, but kinetail goes on reading the file after it (the agent stops there)", scope)
	}
	if f.terminat.set && f.terminat.v != "\n" {
		l.info(f.terminat.pos, "%struncatedRecordTerminator: kinetail cuts a line longer than max_line_bytes without adding a terminator", scope)
	}
	if o := n.Get("dataProcessingOptions"); o != nil && o.Kind != Null {
		f.steps = l.steps(o, scope+"dataProcessingOptions")
	}
	for _, k := range ignoredFlowKeys {
		if n.Get(k.key) == nil {
			continue
		}
		if k.k == kBool {
			l.check(n, k.key, scope, k.k)
		} else {
			l.num(n, k.key, scope, 0, k.lo, k.hi)
		}
		f.ignore(l, n, k.key, "tunes the agent's queues and polling")
	}
	for _, m := range n.Members {
		if !slices.Contains(mappedFlowKeys, m.Key) && !isIgnoredFlowKey(m.Key) {
			f.ignore(l, n, m.Key, "not a key the Kinesis Agent reads")
		}
	}
	if len(l.errs) > errs {
		return nil
	}
	return f
}

func isIgnoredFlowKey(k string) bool {
	for _, i := range ignoredFlowKeys {
		if i.key == k {
			return true
		}
	}
	return false
}

func (f *flow) ignore(l *loader, n *Node, key, why string) {
	at := n.Pos
	for _, m := range n.Members {
		if m.Key == key {
			at = m.KeyPos
		}
	}
	l.debug(at, "%s%s: ignored (%s)", f.scope, key, why)
	f.ignored = append(f.ignored, key)
}

// checkDuplicates refuses two flows of the same files to the same stream,
// as the agent does.
func (l *loader) checkDuplicates(flows []*flow) {
	seen := map[string]*flow{}
	for _, f := range flows {
		id := fmt.Sprintf("%t:%s:%s", f.firehose, f.stream.v, filepath.Clean(f.pattern.v))
		if first, ok := seen[id]; ok {
			l.errorf(f.pos, "%sduplicate flow: %s already sends %s to %s", f.scope, first.pos, f.pattern.v, f.stream.v)
			continue
		}
		seen[id] = f
	}
}
