package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/kinetail/kinetail/checkpoint"
	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/sink"
	"github.com/kinetail/kinetail/tailer"
	"github.com/kinetail/kinetail/transform"
)

// flowMemory is the share of agent.memory_limit that bounds the lines the
// flows have read and not yet had acknowledged, and the records made from
// them: three eighths of it, split among the flows (see destinationMemory
// for the rest). When a flow's share is used up it stops reading and the data
// waits in the log file.
func flowMemory(cfg *config.Config) (int64, error) {
	share := int64(cfg.Agent.MemoryLimit) * 3 / 8 / int64(len(cfg.Flows))
	for _, fc := range cfg.Flows {
		// At least one full batch with a maximal line, or the tailer
		// could never send it.
		if need := int64(tailer.DefaultBatchBytes) + int64(fc.MaxLineBytes); share < need {
			return 0, fmt.Errorf("agent.memory_limit %v is too small for %d flows: flow %q needs at least %v for its lines (a batch and its longest line); raise memory_limit or lower max_line_bytes",
				cfg.Agent.MemoryLimit, len(cfg.Flows), fc.Name, config.Size((8*int64(len(cfg.Flows))*need+2)/3))
		}
	}
	return share, nil
}

// destinationsUsed returns the destinations a flow can send to, directly,
// by a route or as a fallback, in order of first mention.
func destinationsUsed(cfg *config.Config) ([]string, error) {
	var names []string
	seen := make(map[string]bool)
	var add func(name string) error
	add = func(name string) error {
		if seen[name] {
			return nil
		}
		d := cfg.Destinations[name]
		if d == nil {
			return fmt.Errorf("destination %q is not defined", name)
		}
		seen[name] = true
		names = append(names, name)
		if d.Fallback != "" {
			return add(d.Fallback)
		}
		return nil
	}
	for _, f := range cfg.Flows {
		var to []string
		if f.Destination != "" {
			to = append(to, f.Destination)
		}
		for _, r := range f.Routes {
			to = append(to, r.To...)
		}
		for _, name := range to {
			if err := add(name); err != nil {
				return nil, fmt.Errorf("flow %q: %w", f.Name, err)
			}
		}
	}
	return names, nil
}

// destinationMemory is the share of agent.memory_limit that bounds what
// each Kinesis or Firehose destination holds of its own: request bodies
// and the lists of records in aggregates (sink.Memory), a quarter of the
// limit split among them. The records' data is the flows' (flowMemory);
// the rest is left to the runtime: the collector's headroom for garbage,
// stacks, the checkpoint, the program's code. Other destinations hold
// little and get none.
func destinationMemory(cfg *config.Config, names []string) (map[string]*sink.Memory, error) {
	var remote []*config.Destination
	for _, name := range names {
		if d := cfg.Destinations[name]; d.Type == "kinesis" || d.Type == "firehose" {
			remote = append(remote, d)
		}
	}
	mem := make(map[string]*sink.Memory, len(remote))
	if len(remote) == 0 {
		return mem, nil
	}
	share := int64(cfg.Agent.MemoryLimit) / 4 / int64(len(remote))
	for _, d := range remote {
		if need := sink.MinMemory(d); share < need {
			return nil, fmt.Errorf("agent.memory_limit %v is too small for %d destinations: destination %q needs at least %v for one request (a record of batch.max_record_bytes); raise memory_limit or lower max_record_bytes",
				cfg.Agent.MemoryLimit, len(remote), d.Name, config.Size(4*int64(len(remote))*need))
		}
		mem[d.Name] = sink.NewMemory(share)
	}
	return mem, nil
}

// Agent runs one configuration.
type Agent struct {
	cfg     *config.Config
	log     *slog.Logger
	store   *checkpoint.Store
	tracker *checkpoint.Tracker
	dests   []*destination
	flows   []*flow

	// Running sinks. Templated destinations add theirs while flows run.
	outMu   sync.Mutex
	outputs []*output
	sinks   sync.WaitGroup
	sinkCtx context.Context
	closing bool // set once the flows stopped: no output may start after
	// failed receives the error of the first sink that stopped on its
	// own (a closed stdout pipe): the agent then shuts down, as records
	// for that destination could only wait forever.
	failed chan error

	saver *checkpoint.Saver
	// saved is when the loaded checkpoint was saved; zero on a first start.
	saved time.Time
	// openFiles bounds the descriptors of followed files, all flows together.
	openFiles *semaphore.Weighted
	// flowMemory is each flow's memory budget (see flowMemory).
	flowMemory int64
	// mon serves metrics and status, and logs stats (monitor.go).
	mon *monitor
	// now is the clock of templated streams' idle times; a test seam.
	now func() time.Time

	// Version is the running version, shown by metrics and status; set
	// it before Run.
	Version string
	// OnReady, if set, is called once by Run when every flow and
	// destination is started and the destinations were checked (systemd's
	// READY=1).
	OnReady func()
}

// Alive reports whether every flow's loop is running: false once one has
// stopped (the tailer failed), which a watchdog should notice.
func (a *Agent) Alive() bool {
	for _, f := range a.flows {
		if !f.running.Load() {
			return false
		}
	}
	return true
}

// New prepares an agent: it loads the checkpoint and builds every stage, so
// configuration problems surface before anything is read. It takes the
// checkpoint's lock, which Run releases when it returns.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *Agent, err error) {
	a := &Agent{cfg: cfg, log: log, openFiles: semaphore.NewWeighted(int64(cfg.Agent.MaxOpenFiles)), failed: make(chan error, 1), now: time.Now}
	if a.flowMemory, err = flowMemory(cfg); err != nil {
		return nil, err
	}
	store, err := checkpoint.Open(cfg.Agent.CheckpointFile, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			store.Close()
		}
	}()
	loaded, err := store.Load()
	if err != nil {
		return nil, fmt.Errorf("%w (move the file away to start over)", err)
	}
	if loaded.Recovered != "" {
		log.Error("checkpoint file unusable, resumed from its previous copy; lines since that copy may be sent again",
			"file", store.Path(), "problem", loaded.Recovered)
	}
	a.store = store
	a.tracker = checkpoint.NewTracker(loaded.Entries, cfg.Agent.CheckpointTTL.D())
	a.saver = checkpoint.NewSaver(store, a.tracker, cfg.Agent.CheckpointInterval.D(), log)
	if loaded.Existed {
		a.saved = loaded.Saved
	}
	a.mon = newMonitor(a)

	names, err := destinationsUsed(cfg)
	if err != nil {
		return nil, err
	}
	mem, err := destinationMemory(cfg, names)
	if err != nil {
		return nil, err
	}
	index := make(map[string]int, len(names))
	for i, name := range names {
		dest, err := newDestination(ctx, cfg.Destinations[name], log, mem, a.mon)
		if err != nil {
			return nil, err
		}
		index[name] = i
		a.dests = append(a.dests, dest)
	}
	for _, dest := range a.dests {
		if fb := dest.cfg.Fallback; fb != "" {
			dest.fallback = index[fb]
		}
	}
	for _, fc := range cfg.Flows {
		f, err := newFlow(fc, a, index, !loaded.Existed)
		if err != nil {
			return nil, err
		}
		a.flows = append(a.flows, f)
	}
	return a, nil
}

// Run follows the files until ctx is cancelled or a destination fails for
// good (its sink stopped with an error, like a write to a closed stdout
// pipe), then shuts down in order. It returns an error if the pipeline
// could not be started, a destination failed (after the shutdown: what was
// acknowledged is checkpointed, nothing else), or the final checkpoint
// could not be saved; records left unacknowledged at the shutdown deadline
// are reported in the log and resent after restart.
func (a *Agent) Run(ctx context.Context) error {
	defer a.store.Close() // after the final save below
	a.checkDestinations(ctx)

	// Sinks outlive ctx: they drain what the flows hand them and are only
	// cut off by the shutdown deadline.
	sinkCtx, cancelSinks := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSinks()
	a.sinkCtx = sinkCtx
	for _, d := range a.dests {
		if d.fixed != nil {
			a.start(d.fixed)
		}
	}

	saverDone := make(chan struct{})
	saverCtx, stopSaver := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(saverDone)
		a.saver.Run(saverCtx)
	}()

	flowCtx, stopFlows := context.WithCancel(ctx)
	defer stopFlows()
	var flows sync.WaitGroup
	for _, f := range a.flows {
		flows.Add(1)
		go func() {
			defer flows.Done()
			f.run(flowCtx)
		}()
	}
	a.log.Info("kinetail started", "flows", len(a.flows), "destinations", len(a.dests), "checkpoint", a.store.Path())
	if a.OnReady != nil {
		a.OnReady()
	}
	defer a.mon.start(ctx)() // stopped after the final save

	var failure error
	select {
	case <-ctx.Done():
	case failure = <-a.failed:
		a.log.Error("a destination failed; shutting down", "err", failure)
	}
	a.log.Info("stopping: no more reading, delivering what is in flight", "timeout", a.cfg.Agent.ShutdownTimeout.D().String())
	deadline := time.AfterFunc(a.cfg.Agent.ShutdownTimeout.D(), cancelSinks)
	defer deadline.Stop()
	stopFlows()
	flows.Wait()
	a.outMu.Lock()
	a.closing = true
	for _, o := range a.outputs {
		close(o.in)
	}
	a.outMu.Unlock()
	a.sinks.Wait()
	for _, d := range a.dests {
		if d.dead != nil {
			d.dead.Close()
		}
	}
	if sinkCtx.Err() != nil {
		a.log.Warn("shutdown timeout reached; unacknowledged lines will be sent again after restart")
	}
	stopSaver()
	<-saverDone
	a.logStats()
	if err := a.saver.Save(); err != nil {
		return fmt.Errorf("final checkpoint: %w", err)
	}
	if failure != nil {
		return failure
	}
	a.log.Info("kinetail stopped")
	return nil
}

// checkDestinations reports a missing stream or bad credentials at start.
// It does not stop the agent: lines wait on disk until the destination
// works, which is what an operator fixing IAM or creating the stream wants.
func (a *Agent) checkDestinations(ctx context.Context) {
	for _, d := range a.dests {
		if d.fixed == nil || d.fixed.checker == nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := d.fixed.checker.Check(cctx)
		cancel()
		if err != nil {
			a.log.Error("destination check failed; records will wait and be retried", "destination", d.name, "err", err)
		}
	}
}

// start runs o's sink until its input is closed. It returns false once the
// agent is shutting down.
func (a *Agent) start(o *output) bool {
	a.outMu.Lock()
	defer a.outMu.Unlock()
	if a.closing {
		return false
	}
	a.outputs = append(a.outputs, o)
	a.sinks.Add(1)
	go func() {
		defer a.sinks.Done()
		defer close(o.done)
		err := o.sink.Run(a.sinkCtx, o.in)
		if err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("destination stopped", "destination", o.name, "err", err)
			select {
			case a.failed <- fmt.Errorf("destination %q: %w", o.name, err):
			default: // the agent is stopping already
			}
		}
	}()
	return true
}

// outputFor returns where a record for destination i goes, and that
// destination (the fallback when i's template cannot name a stream), or
// nil when the record cannot be sent anywhere (it is counted). now is the
// time of the batch, for the streams' idle times. A templated output
// returned is held (output.holds) until the flow releases it.
func (a *Agent) outputFor(i int, rec *transform.Record, scratch *[]byte, now time.Time) (*output, *destination) {
	for {
		d := a.dests[i]
		if d.fixed != nil {
			return d.fixed, d
		}
		name, err := d.stream.Append((*scratch)[:0], rec)
		*scratch = name
		if err == nil && config.ValidStreamName(string(name)) {
			if o := a.templated(d, name, now); o != nil {
				return o, d
			}
		}
		if d.fallback < 0 {
			d.mu.Lock()
			d.dropped++
			d.mu.Unlock()
			return nil, nil
		}
		i = d.fallback // never templated itself: validated by config
	}
}

// templated returns the output of d for stream name, starting it on first
// use, and holds it for the caller. It returns nil when the name is not
// allowed, when the stream does not exist (looked for again after
// recheckMissing), when d already uses max_streams names none of which has
// been idle for stream_idle_timeout, or during shutdown. Names chosen by
// records are logged at DEBUG only: they are whatever the logs say.
func (a *Agent) templated(d *destination, name []byte, now time.Time) *output {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st := d.streams[string(name)]; st != nil {
		st.used = now
		if st.out != nil {
			st.out.holds++
			return st.out
		}
		if now.Sub(st.missingAt) < recheckMissing {
			return nil
		}
	} else {
		if !d.allows(name) {
			d.notAllowed++
			a.log.Debug("templated stream name not allowed; using the fallback", "destination", d.name, "stream", string(name))
			return nil
		}
		if len(d.streams) >= d.cfg.MaxStreams {
			a.retireIdle(d, now)
		}
		if len(d.streams) >= d.cfg.MaxStreams {
			d.overLimit++
			if !d.warnedTooMany {
				a.log.Error("too many stream names for one templated destination; new ones go to its fallback until names unused for stream_idle_timeout are let go",
					"destination", d.name, "max_streams", d.cfg.MaxStreams, "stream_idle_timeout", d.cfg.StreamIdleTimeout.D().String())
				d.warnedTooMany = true
			}
			a.log.Debug("templated stream over max_streams; using the fallback", "destination", d.name, "stream", string(name))
			return nil
		}
	}
	stream := string(name)
	o, err := newOutput(a.sinkCtx, withStream(d.cfg, stream), d.name+"/"+stream, a.log, d.dead, d.mem, a.mon.observer(d.name, stream))
	if err != nil {
		a.log.Error("cannot start a destination for a templated stream; using its fallback", "destination", d.name, "err", err)
		d.streams[stream] = &streamUse{missingAt: now, used: now}
		return nil
	}
	if o.checker != nil {
		ctx, cancel := context.WithTimeout(a.sinkCtx, 15*time.Second)
		err := o.checker.Check(ctx)
		cancel()
		if errors.Is(err, sink.ErrStreamNotFound) {
			a.log.Debug("templated stream does not exist; its records go to the fallback", "destination", d.name, "stream", stream, "recheck_after", recheckMissing.String())
			d.streams[stream] = &streamUse{missingAt: now, used: now}
			return nil
		}
		if err != nil {
			a.log.Error("destination check failed; records will wait and be retried", "destination", d.name, "err", err)
		}
	}
	if !a.start(o) {
		return nil
	}
	o.dest, o.holds = d, 1
	d.streams[stream] = &streamUse{out: o, used: now}
	a.log.Debug("started a destination for a templated stream", "destination", d.name, "stream", stream)
	return o
}

// retireIdle lets go of d's stream names unused for stream_idle_timeout:
// a missing one is forgotten, a running one's sink is stopped after it
// delivered what it has (unless a flow holds it). The caller holds d.mu.
func (a *Agent) retireIdle(d *destination, now time.Time) {
	for name, st := range d.streams {
		if now.Sub(st.used) < d.cfg.StreamIdleTimeout.D() {
			continue
		}
		if st.out != nil && (st.out.holds > 0 || !a.stop(st.out)) {
			continue
		}
		delete(d.streams, name)
		d.warnedTooMany = false
	}
}

// stop closes o's input: its sink delivers what it was given and returns.
// It returns false once the agent is shutting down (Run closes every
// input then).
func (a *Agent) stop(o *output) bool {
	a.outMu.Lock()
	defer a.outMu.Unlock()
	if a.closing {
		return false
	}
	i := slices.Index(a.outputs, o)
	if i < 0 {
		return false
	}
	a.outputs = slices.Delete(a.outputs, i, i+1)
	close(o.in)
	return true
}

// release gives back n holds on o taken by outputFor.
func (o *output) release(n int) {
	if o.dest == nil || n == 0 {
		return
	}
	o.dest.mu.Lock()
	o.holds -= n
	o.dest.mu.Unlock()
}

// logStats reports what each stage did, once at shutdown.
func (a *Agent) logStats() {
	for _, f := range a.flows {
		a.log.Info("flow totals", "flow", f.name, "tailer", f.tail.Stats(), "transform", f.chain.Stats())
	}
	a.outMu.Lock()
	defer a.outMu.Unlock()
	for _, o := range a.outputs {
		// Each kind's stats log as a group of counters (LogValue).
		args := []any{"destination", o.name}
		switch s := o.sink.(type) {
		case *sink.Stream:
			args = append(args, "stats", s.Stats())
		case *sink.File:
			args = append(args, "stats", s.Stats())
		case *sink.Stdout:
			args = append(args, "stats", s.Stats())
		}
		a.log.Info("destination totals", args...)
	}
	for _, d := range a.dests {
		d.mu.Lock()
		if d.dropped > 0 {
			a.log.Warn("records dropped: no stream could be named for them and no fallback is set", "destination", d.name, "records", d.dropped)
		}
		d.mu.Unlock()
	}
}
