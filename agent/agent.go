package agent

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/kinetail/kinetail/checkpoint"
	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/sink"
)

// Agent runs one configuration. A reload that leaves the agent's own
// settings alone changes its flows and destinations in place (Reload).
type Agent struct {
	cfg     *config.Config // the agent settings; Reload keeps them
	log     *slog.Logger
	store   *checkpoint.Store
	tracker *checkpoint.Tracker

	// mu guards the lists, which a reload replaces while the monitor and
	// the watchdog read them.
	mu    sync.Mutex
	dests []*destination
	flows []*flow
	// closing is set once Run stops the flows: Reload starts none after.
	closing bool
	// runCtx is Run's context, which the flows run with; started is
	// closed once Run started them.
	runCtx  context.Context
	started chan struct{}
	// reloading serialises Reload.
	reloading sync.Mutex

	// The sinks outlive Run's context: they drain what the flows hand
	// them and are cut off only by the shutdown deadline (cancelSinks).
	sinkCtx     context.Context
	cancelSinks context.CancelFunc
	// failed receives the error of the first sink that stopped on its
	// own (a closed stdout pipe): the agent then shuts down, as records
	// for that destination could only wait forever.
	failed chan error

	saver *checkpoint.Saver
	// saved is when the loaded checkpoint was saved; zero on a first start.
	saved time.Time
	// openFiles bounds the descriptors of followed files, all flows together.
	openFiles *semaphore.Weighted
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

// lists returns the running flows and destinations.
func (a *Agent) lists() ([]*flow, []*destination) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.flows, a.dests
}

// seen is when the followed paths were last looked at, all flows
// together: the earliest of their last scans. The checkpoint records it as
// its time, so that a file that appeared after it, and was rotated while
// kinetail was down, has its rotated generations read after a restart.
func (a *Agent) seen() time.Time {
	flows, _ := a.lists()
	t := time.Now()
	for _, f := range flows {
		if s := f.seen(); s.Before(t) {
			t = s
		}
	}
	return t
}

// Alive reports whether every flow's loop is running: false once one has
// stopped (the tailer failed), which a watchdog should notice.
func (a *Agent) Alive() bool {
	flows, _ := a.lists()
	for _, f := range flows {
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
	a := &Agent{cfg: cfg, log: log, openFiles: semaphore.NewWeighted(int64(cfg.Agent.MaxOpenFiles)),
		started: make(chan struct{}), failed: make(chan error, 1), now: time.Now}
	a.sinkCtx, a.cancelSinks = context.WithCancel(context.WithoutCancel(ctx))
	shares, err := newShares(cfg)
	if err != nil {
		return nil, err
	}
	store, err := checkpoint.Open(cfg.Agent.CheckpointFile, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			a.cancelSinks()
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
	a.saver.Seen = a.seen
	if loaded.Existed {
		a.saved = loaded.Saved
	}
	a.mon = newMonitor(a)

	built, err := a.build(ctx, cfg, shares, nil, nil, a.saved, !loaded.Existed)
	if err != nil {
		return nil, err
	}
	a.dests, a.flows = built.dests, built.flows
	tellInputs(a.flows)
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
	defer a.cancelSinks()
	a.checkDestinations(ctx)

	saverDone := make(chan struct{})
	saverCtx, stopSaver := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(saverDone)
		a.saver.Run(saverCtx)
	}()

	a.mu.Lock()
	a.runCtx = ctx
	for _, d := range a.dests {
		d.startFixed()
	}
	for _, f := range a.flows {
		f.start(ctx)
	}
	nflows, ndests := len(a.flows), len(a.dests)
	a.mu.Unlock()
	close(a.started)
	a.log.Info("kinetail started", "flows", nflows, "destinations", ndests, "checkpoint", a.store.Path())
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
	deadline, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.Agent.ShutdownTimeout.D())
	defer cancel()
	defer context.AfterFunc(deadline, a.cancelSinks)()
	// A reload under way finishes first: it stops and starts nothing
	// after this, and what it started stops with ctx.
	a.reloading.Lock()
	a.mu.Lock()
	a.closing = true
	flows, dests := a.flows, a.dests
	a.mu.Unlock()
	a.reloading.Unlock()
	stopAll(deadline, flows, dests)
	if a.sinkCtx.Err() != nil {
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

// stopAll stops flows, then closes dests, which only those flows sent to, and
// waits for them to deliver what they hold, until the deadline.
func stopAll(deadline context.Context, flows []*flow, dests []*destination) {
	for _, f := range flows {
		f.stop()
	}
	for _, f := range flows {
		<-f.done
	}
	for _, d := range dests {
		d.close()
	}
	for _, d := range dests {
		d.wait(deadline)
	}
}

// checkDestinations reports a missing stream or bad credentials at start.
// It does not stop the agent: lines wait on disk until the destination
// works, which is what an operator fixing IAM or creating the stream wants.
func (a *Agent) checkDestinations(ctx context.Context) {
	_, dests := a.lists()
	for _, d := range dests {
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

// logStats reports what each stage did, once at shutdown.
func (a *Agent) logStats() {
	flows, dests := a.lists()
	for _, f := range flows {
		a.log.Info("flow totals", "flow", f.name, "tailer", f.tail.Stats(), "transform", f.chain.Stats())
	}
	for _, d := range dests {
		for _, o := range d.started() {
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
		d.mu.Lock()
		if d.dropped > 0 {
			a.log.Warn("records dropped: no stream could be named for them and no fallback is set", "destination", d.name, "records", d.dropped)
		}
		d.mu.Unlock()
	}
}
