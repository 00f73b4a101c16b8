package agent

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kinetail/kinetail/checkpoint"
	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/metrics"
	"github.com/kinetail/kinetail/sink"
)

// monitor is what the agent shows of itself: the metrics listener, the
// periodic stats line and the CloudWatch emitter. It reads the stages'
// counters only when one of them asks (Snapshot), never per line.
type monitor struct {
	a       *Agent
	started time.Time
	metrics *metrics.Metrics               // nil when agent.metrics.listen is empty
	server  atomic.Pointer[metrics.Server] // nil when not listening
}

// MetricsAddr returns the address /metrics is served on, or nil when it is
// not (yet) served: it is bound when Run starts.
func (a *Agent) MetricsAddr() net.Addr {
	if s := a.mon.server.Load(); s != nil {
		return s.Addr()
	}
	return nil
}

// newMonitor prepares the metrics, so that the sinks built next can report
// their requests to them.
func newMonitor(a *Agent) *monitor {
	m := &monitor{a: a, started: time.Now()}
	if a.cfg.Agent.Metrics.Listen != "" {
		m.metrics = metrics.New(metrics.Options{Snapshot: m.Snapshot, PerFile: a.cfg.Agent.Metrics.PerFile})
	}
	return m
}

// start binds the listener and runs the monitor until the returned
// function is called, which waits for it to stop. A listener that cannot
// be opened (an address in use) is logged, not fatal: lines are shipped all
// the same.
func (m *monitor) start(ctx context.Context) (stop func()) {
	if m.metrics != nil {
		listen := m.a.cfg.Agent.Metrics.Listen
		if !config.Loopback(listen) {
			m.a.log.Warn("metrics listener is reachable from other hosts: /status shows file paths; prefer a loopback address or a firewall", "listen", listen)
		}
		srv, err := metrics.Listen(listen, m.metrics, m.a.log)
		if err != nil {
			m.a.log.Error("metrics, /healthz and /status are off: cannot listen", "listen", listen, "err", err)
		} else {
			m.server.Store(srv)
		}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// observer returns what the sink of destination/stream reports its
// requests to, or nil without metrics.
func (m *monitor) observer(destination, stream string) sink.RequestObserver {
	if m == nil || m.metrics == nil {
		return nil
	}
	return m.metrics.Requests(destination, stream)
}

// run serves metrics, logs stats and sends CloudWatch metrics until ctx is
// done, and returns once they stopped.
func (m *monitor) run(ctx context.Context) {
	var wg sync.WaitGroup
	if srv := m.server.Load(); srv != nil {
		m.a.log.Info("serving /metrics, /healthz and /status", "listen", srv.Addr().String())
		wg.Go(func() {
			if err := srv.Serve(ctx); err != nil {
				m.a.log.Error("metrics listener stopped", "err", err)
			}
		})
	}
	if every := m.a.cfg.Agent.StatsInterval.D(); every > 0 {
		wg.Go(func() { m.logStats(ctx, every) })
	}
	if cw := m.a.cfg.Agent.CloudWatch; cw.Enabled {
		wg.Go(func() { m.cloudWatch(ctx, cw) })
	}
	wg.Wait()
}

// Snapshot reads every stage's counters into a Status. With files, it also
// stats each followed file for its size (bytes behind), and lists them.
func (m *monitor) Snapshot(files bool) *metrics.Status {
	if files {
		return m.snapshot(lag | fileList)
	}
	return m.snapshot(0)
}

// detail is what a snapshot holds beyond the counters.
type detail int

const (
	lag      detail = 1 << iota // bytes behind and in flight, oldest unacknowledged
	fileList                    // and the files, one by one
)

// snapshot is Snapshot with what it holds spelled out: the stats line
// needs the lag, not ten thousand files listed every minute.
func (m *monitor) snapshot(d detail) *metrics.Status {
	a := m.a
	s := &metrics.Status{Version: a.Version, Started: m.started, Time: time.Now()}
	save := a.saver.Status()
	s.Checkpoint = metrics.Checkpoint{File: a.store.Path(), LastSaved: save.LastOK, SaveFailures: save.Failures, Saves: save.Writes}
	if save.Err != nil {
		s.Checkpoint.LastError = save.Err.Error()
	}
	var progress []checkpoint.Progress
	if d&lag != 0 {
		progress = a.tracker.Progress()
	}
	flows, dests := a.lists()
	for _, f := range flows {
		ts, cs := f.tail.Stats(), f.chain.Stats()
		fs := metrics.Flow{
			Name: f.name, Running: f.running.Load(),
			LinesRead: ts.LinesRead, BytesRead: ts.BytesRead, Truncated: ts.Truncated, PartialLines: ts.PartialLines, MultilineRecords: ts.MultilineRecords,
			Rotations: ts.Rotations, Truncations: ts.Truncations,
			OpenErrors: ts.OpenErrors, ScanErrors: ts.ScanErrors, ReadErrors: ts.ReadErrors,
			CopyTruncateLostBytes: ts.CopyTruncateLost, ClosedUnreadBytes: ts.ClosedUnread,
			GenerationsLost: ts.Lost, LostBytes: ts.LostBytes, GenerationsRecovered: ts.Recovered, GenerationsMissed: ts.Missed,
			Records: cs.Records, Filtered: cs.Filtered, Header: cs.Header,
			InvalidDropped: cs.Dropped, InvalidPassed: cs.Passed, InvalidWrapped: cs.Wrapped,
			FilesOpen: ts.Files, FilesIdle: ts.Idle,
		}
		if d&lag != 0 {
			addFiles(&fs, progress, d&fileList != 0)
		}
		s.Flows = append(s.Flows, fs)
	}
	for _, d := range dests {
		s.Destinations = append(s.Destinations, d.status()...)
	}
	return s
}

// addFiles fills f's lag from the tracker's progress of its Sources (of
// every flow, sorted by flow), and with list its Files.
func addFiles(f *metrics.Flow, progress []checkpoint.Progress, list bool) {
	for _, p := range progress {
		if p.Flow != f.Name {
			continue
		}
		acked := max(p.Acked, 0)
		file := metrics.File{Path: p.Path, Offset: acked, Size: -1, State: metrics.FileWaiting}
		end := p.Read // what is known to be there: read, if the file is gone
		switch {
		case p.Finished:
			file.State = metrics.FileFinished
		default:
			if p.Reading {
				file.State = metrics.FileReading
			}
			if size, ok := metrics.SizeOf(p.Path, p.ID); ok {
				file.Size = size
				end = max(end, size)
			}
		}
		file.BytesBehind = max(end-acked, 0)
		f.BytesInFlight += max(p.Read-acked, 0)
		f.BytesBehind += file.BytesBehind
		f.MaxFileBytesBehind = max(f.MaxFileBytesBehind, file.BytesBehind)
		if !p.Oldest.IsZero() && (f.OldestUnacked.IsZero() || p.Oldest.Before(f.OldestUnacked)) {
			f.OldestUnacked = p.Oldest
		}
		// Generations rotated away and delivered stay known for a week:
		// they are no news.
		if list && (file.State != metrics.FileFinished || file.BytesBehind > 0) {
			f.Files = append(f.Files, file)
		}
	}
}

// status returns the counters of d's running sinks: one for a fixed
// destination, one per stream of a templated one, plus the records a
// templated one could not name a stream for.
func (d *destination) status() []metrics.Destination {
	d.mu.Lock()
	dropped, notAllowed, overLimit := d.dropped, d.notAllowed, d.overLimit
	outs := make([]*output, 0, len(d.streams)+1)
	streams := make([]string, 0, cap(outs))
	if d.fixed != nil {
		outs, streams = append(outs, d.fixed), append(streams, d.cfg.StreamName())
	}
	for stream, st := range d.streams {
		if st.out != nil {
			outs, streams = append(outs, st.out), append(streams, stream)
		}
	}
	d.mu.Unlock()
	var out []metrics.Destination
	if d.fixed == nil {
		out = append(out, metrics.Destination{Name: d.name, Type: d.cfg.Type, Stream: d.cfg.StreamName(), Template: true,
			DroppedNoStream: dropped, StreamNotAllowed: notAllowed, StreamOverLimit: overLimit})
	}
	for i, o := range outs {
		out = append(out, sinkStatus(d.name, d.cfg.Type, streams[i], o.sink))
	}
	return out
}

func sinkStatus(name, typ, stream string, s sink.Sink) metrics.Destination {
	ds := metrics.Destination{Name: name, Type: typ, Stream: stream}
	switch s := s.(type) {
	case *sink.Stream:
		st, now := s.Stats(), s.State()
		ds.Requests, ds.RequestErrors = st.Requests, st.RequestErrors
		ds.RecordSendAttempts, ds.RecordsSent, ds.ServiceRecordsSent, ds.BytesSent = st.RecordsSent, st.RecordsStored, st.ServiceRecords, st.BytesStored
		ds.FailedEntries, ds.Throttles, ds.Retries, ds.PayloadUnits = st.FailedEntries, st.Throttled, st.Retries, st.PayloadUnits
		ds.RejectedTooLarge, ds.DroppedRetries, ds.DeadLettered = st.Rejected, st.Dropped, st.DeadLettered
		ds.Aggregates, ds.AggregatedRecords = now.Aggregates, now.Packed
		ds.Queued, ds.RequestsInFlight, ds.Shards = now.Queued, now.InFlight, now.Shards
		ds.LastError, ds.LastErrorTime = now.LastError, now.LastErrorAt
	case *sink.File:
		st := s.Stats()
		ds.RecordsSent, ds.ServiceRecordsSent, ds.BytesSent, ds.WriteErrors = st.Records, st.Records, st.Bytes, st.WriteErrors
	case *sink.Stdout:
		st := s.Stats()
		ds.RecordsSent, ds.ServiceRecordsSent, ds.BytesSent, ds.WriteErrors = st.Records, st.Records, st.Bytes, st.WriteErrors
	}
	return ds
}

// logStats logs, every interval, the totals since the last time.
func (m *monitor) logStats(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last statTotals
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := totalsOf(m.snapshot(lag))
		m.a.log.Info("stats",
			slog.Duration("interval", every),
			slog.Int64("lines_read", since(now.lines, last.lines)),
			slog.Int64("records_sent", since(now.sent, last.sent)),
			slog.Int64("bytes_behind", now.behind),
			slog.Int64("retries", since(now.retries, last.retries)),
			slog.Int64("errors", since(now.errors, last.errors)),
		)
		last = now
	}
}

// since is how much a total grew since last. A reload that restarts a flow
// or destination starts its counters again from zero: a total smaller than
// the last one counts from there, as Prometheus' rate() does.
func since(now, last int64) int64 {
	if now < last {
		return now
	}
	return now - last
}

// statTotals are the sums that the stats line reports.
type statTotals struct {
	lines, sent, behind, retries, errors int64
}

// totalsOf sums s: errors are delivery errors (entries failed, requests
// failed, failed writes) and lines a transform rejected.
func totalsOf(s *metrics.Status) statTotals {
	var t statTotals
	for _, f := range s.Flows {
		t.lines += f.LinesRead
		t.behind += f.BytesBehind
		t.errors += int64(f.InvalidDropped+f.InvalidPassed+f.InvalidWrapped) + f.OpenErrors + f.ReadErrors
	}
	for _, d := range s.Destinations {
		t.sent += d.RecordsSent
		t.retries += d.Retries
		t.errors += d.FailedEntries + d.RequestErrors + d.WriteErrors
	}
	return t
}
