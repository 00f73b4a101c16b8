package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Label names.
var (
	flowLabels = []string{"flow"}
	destLabels = []string{"destination", "stream"}
)

// collector turns a Status snapshot into metrics at scrape time: the
// counters are the stages' own, read when Prometheus asks.
type collector struct {
	snapshot SnapshotFunc
	perFile  bool
	now      func() time.Time

	// Flows.
	linesRead, bytesRead, truncated, partial, multiline, rotations   *prometheus.Desc
	truncations                                                      *prometheus.Desc
	fileErrors, ctLost, closedUnread, gensLost, lostBytes, recovered *prometheus.Desc
	records, filtered, header, parseFailures                         *prometheus.Desc
	filesOpen, filesFollowed, behind, behindMax, inFlight, oldestAge *prometheus.Desc
	flowUp, fileBehind                                               *prometheus.Desc
	// Destinations.
	attempts, sent, serviceSent, sentBytes, failedEntries, throttles *prometheus.Desc
	retries, units, aggregates, aggregated, dropped, deadLettered    *prometheus.Desc
	refusedStreams                                                   *prometheus.Desc
	writeErrors, queued, reqInFlight, shards, requestErrors          *prometheus.Desc
	// Agent.
	cpAge, cpFailing, cpFailures, cpSaves, healthy, info *prometheus.Desc
}

func newCollector(snapshot SnapshotFunc, perFile bool, now func() time.Time) *collector {
	flow := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc("kinetail_"+name, help, append(append([]string(nil), flowLabels...), extra...), nil)
	}
	dest := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc("kinetail_"+name, help, append(append([]string(nil), destLabels...), extra...), nil)
	}
	agent := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("kinetail_"+name, help, labels, nil)
	}
	return &collector{
		snapshot: snapshot, perFile: perFile, now: now,

		linesRead:     flow("lines_read_total", "Lines read from followed files (records, for a multiline flow)."),
		bytesRead:     flow("read_bytes_total", "Bytes read from followed files."),
		truncated:     flow("lines_truncated_total", "Lines cut to max_line_bytes."),
		partial:       flow("partial_lines_total", "Unterminated last lines sent after partial_line_timeout or a rotation."),
		multiline:     flow("multiline_records_total", "Records made of more than one line (multiline flows)."),
		rotations:     flow("rotations_total", "Followed files renamed, moved out of the globs or deleted."),
		truncations:   flow("truncations_total", "Followed files truncated (copytruncate)."),
		fileErrors:    flow("file_errors_total", "Errors opening, scanning for or reading files.", "op"),
		ctLost:        flow("copytruncate_lost_bytes_total", "Bytes written between a copytruncate's copy and its truncation: in neither file, lost."),
		closedUnread:  flow("closed_unread_bytes_total", "Bytes skipped: files closed by close_removed_after before they were read to their end."),
		gensLost:      flow("generations_lost_total", "Generations (rotated files) with unread bytes that were found nowhere."),
		lostBytes:     flow("lost_bytes_total", "Bytes known to be lost with those generations (at least)."),
		recovered:     flow("generations_recovered_total", "Generations read on from another file: moved (rotated, copied, compressed) or missed (written and rotated while the agent was down).", "how"),
		records:       flow("records_emitted_total", "Records the transforms made."),
		filtered:      flow("records_filtered_total", "Records a filter dropped (acknowledged, not sent)."),
		header:        flow("header_lines_total", "Header lines of files, which give no record."),
		parseFailures: flow("parse_failures_total", "Lines a transform rejected, by what on_error did with them: drop, pass (sent raw) or wrap.", "action"),
		filesOpen:     flow("files_open", "Followed files with an open descriptor."),
		filesFollowed: flow("files_followed", "Followed files, open or idle."),
		behind:        flow("bytes_behind", "Bytes in followed files beyond their acknowledged offsets: how far behind the flow is."),
		behindMax:     flow("file_bytes_behind_max", "Bytes behind of the file that is furthest behind."),
		inFlight:      flow("bytes_in_flight", "Bytes read and not yet acknowledged by every destination."),
		oldestAge:     flow("oldest_unacked_age_seconds", "Age of the oldest record read and not yet acknowledged; 0 when none is."),
		flowUp:        flow("flow_running", "1 while the flow's reading loop runs."),
		fileBehind:    flow("file_bytes_behind", "Bytes behind, per file (agent.metrics.per_file).", "path"),

		attempts:       dest("record_send_attempts_total", "Records (service records: an aggregate counts once) put in requests, retries included."),
		sent:           dest("records_sent_total", "User records stored by the destination."),
		serviceSent:    dest("service_records_sent_total", "Service records stored: an aggregate counts once."),
		sentBytes:      dest("sent_bytes_total", "Bytes of user records stored."),
		failedEntries:  dest("failed_entries_total", "Entries the service answered with an error code."),
		throttles:      dest("throttles_total", "Throttled entries and requests."),
		retries:        dest("retries_total", "Entries queued again after a failure."),
		units:          dest("put_payload_units_total", "Kinesis PUT payload units (25 KiB each) of the stored records."),
		aggregates:     dest("aggregates_sent_total", "KPL aggregates (or packed Firehose records) stored."),
		aggregated:     dest("aggregated_records_total", "User records stored inside aggregates."),
		dropped:        dest("records_dropped_total", "Records given up: too_large, retries_exhausted (retry limits), no_stream (no stream name and no fallback).", "reason"),
		refusedStreams: dest("stream_names_refused_total", "Records of a templated destination whose stream name was refused, sent to its fallback (dropped without one): not_allowed (outside allowed), over_limit (max_streams names in use).", "reason"),
		deadLettered:   dest("dead_lettered_records_total", "Records given up and written to the dead-letter file."),
		writeErrors:    dest("write_errors_total", "Failed writes of file and stdout destinations (retried)."),
		requestErrors:  dest("request_errors_total", "Requests that failed as a whole."),
		queued:         dest("queued_records", "Records waiting to be sent."),
		reqInFlight:    dest("requests_in_flight", "Requests sent and not answered yet."),
		shards:         dest("stream_shards", "Open shards known (shard_aware destinations)."),

		cpAge:      agent("checkpoint_age_seconds", "Time since the checkpoint file was last known to be current."),
		cpFailing:  agent("checkpoint_last_save_failed", "1 when the last checkpoint save failed."),
		cpFailures: agent("checkpoint_save_failures_total", "Failed checkpoint saves."),
		cpSaves:    agent("checkpoint_saves_total", "Checkpoint saves that wrote the file."),
		healthy:    agent("healthy", "1 when every flow runs and the last checkpoint save worked (see /healthz)."),
		info:       agent("build_info", "The running version.", "version"),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.linesRead, c.bytesRead, c.truncated, c.partial, c.multiline, c.rotations, c.truncations,
		c.fileErrors, c.ctLost, c.closedUnread, c.gensLost, c.lostBytes, c.recovered,
		c.records, c.filtered, c.header, c.parseFailures,
		c.filesOpen, c.filesFollowed, c.behind, c.behindMax, c.inFlight, c.oldestAge, c.flowUp, c.fileBehind,
		c.attempts, c.sent, c.serviceSent, c.sentBytes, c.failedEntries, c.throttles,
		c.retries, c.units, c.aggregates, c.aggregated, c.dropped, c.deadLettered, c.refusedStreams,
		c.writeErrors, c.queued, c.reqInFlight, c.shards, c.requestErrors,
		c.cpAge, c.cpFailing, c.cpFailures, c.cpSaves, c.healthy, c.info,
	} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot(true)
	s.Check()
	now := c.now()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for i := range s.Flows {
		f := &s.Flows[i]
		n := f.Name
		counter(c.linesRead, f.LinesRead, n)
		counter(c.bytesRead, f.BytesRead, n)
		counter(c.truncated, f.Truncated, n)
		counter(c.partial, f.PartialLines, n)
		counter(c.multiline, f.MultilineRecords, n)
		counter(c.rotations, f.Rotations, n)
		counter(c.truncations, f.Truncations, n)
		counter(c.fileErrors, f.OpenErrors, n, "open")
		counter(c.fileErrors, f.ScanErrors, n, "scan")
		counter(c.fileErrors, f.ReadErrors, n, "read")
		counter(c.ctLost, f.CopyTruncateLostBytes, n)
		counter(c.closedUnread, f.ClosedUnreadBytes, n)
		counter(c.gensLost, f.GenerationsLost, n)
		counter(c.lostBytes, f.LostBytes, n)
		counter(c.recovered, f.GenerationsRecovered, n, "moved")
		counter(c.recovered, f.GenerationsMissed, n, "missed")
		counter(c.records, int64(f.Records), n)
		counter(c.filtered, int64(f.Filtered), n)
		counter(c.header, int64(f.Header), n)
		counter(c.parseFailures, int64(f.InvalidDropped), n, "drop")
		counter(c.parseFailures, int64(f.InvalidPassed), n, "pass")
		counter(c.parseFailures, int64(f.InvalidWrapped), n, "wrap")
		gauge(c.filesOpen, float64(f.FilesOpen), n)
		gauge(c.filesFollowed, float64(f.FilesOpen+f.FilesIdle), n)
		gauge(c.behind, float64(f.BytesBehind), n)
		gauge(c.behindMax, float64(f.MaxFileBytesBehind), n)
		gauge(c.inFlight, float64(f.BytesInFlight), n)
		age := 0.0
		if !f.OldestUnacked.IsZero() {
			age = max(now.Sub(f.OldestUnacked).Seconds(), 0)
		}
		gauge(c.oldestAge, age, n)
		gauge(c.flowUp, boolValue(f.Running), n)
		if c.perFile {
			// Several generations of one path (rotated and not yet
			// drained) are one series: their sum.
			byPath := make(map[string]int64, len(f.Files))
			for _, file := range f.Files {
				byPath[file.Path] += file.BytesBehind
			}
			for path, b := range byPath {
				gauge(c.fileBehind, float64(b), n, path)
			}
		}
	}
	for i := range s.Destinations {
		d := &s.Destinations[i]
		l := []string{d.Name, d.Stream}
		counter(c.attempts, d.RecordSendAttempts, l...)
		counter(c.sent, d.RecordsSent, l...)
		counter(c.serviceSent, d.ServiceRecordsSent, l...)
		counter(c.sentBytes, d.BytesSent, l...)
		counter(c.failedEntries, d.FailedEntries, l...)
		counter(c.throttles, d.Throttles, l...)
		counter(c.retries, d.Retries, l...)
		counter(c.units, d.PayloadUnits, l...)
		counter(c.aggregates, d.Aggregates, l...)
		counter(c.aggregated, d.AggregatedRecords, l...)
		counter(c.dropped, d.RejectedTooLarge, d.Name, d.Stream, "too_large")
		counter(c.dropped, d.DroppedRetries, d.Name, d.Stream, "retries_exhausted")
		counter(c.dropped, d.DroppedNoStream, d.Name, d.Stream, "no_stream")
		counter(c.refusedStreams, d.StreamNotAllowed, d.Name, d.Stream, "not_allowed")
		counter(c.refusedStreams, d.StreamOverLimit, d.Name, d.Stream, "over_limit")
		counter(c.deadLettered, d.DeadLettered, l...)
		counter(c.writeErrors, d.WriteErrors, l...)
		counter(c.requestErrors, d.RequestErrors, l...)
		gauge(c.queued, float64(d.Queued), l...)
		gauge(c.reqInFlight, float64(d.RequestsInFlight), l...)
		gauge(c.shards, float64(d.Shards), l...)
	}
	cp := s.Checkpoint
	age := 0.0
	if !cp.LastSaved.IsZero() {
		age = max(now.Sub(cp.LastSaved).Seconds(), 0)
	} else if !s.Started.IsZero() {
		age = max(now.Sub(s.Started).Seconds(), 0)
	}
	gauge(c.cpAge, age)
	gauge(c.cpFailing, boolValue(cp.LastError != ""))
	counter(c.cpFailures, cp.SaveFailures)
	counter(c.cpSaves, cp.Saves)
	gauge(c.healthy, boolValue(s.Healthy))
	gauge(c.info, 1, s.Version)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
