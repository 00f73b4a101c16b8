package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/kinetail/kinetail/checkpoint"
	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/sink"
)

// defaultFlowBuffer bounds the file bytes a flow may have read but not yet
// had acknowledged. When it is used up the flow stops reading and the data
// waits in the log file.
const defaultFlowBuffer = 16 << 20

// Agent runs one configuration.
type Agent struct {
	cfg     *config.Config
	log     *slog.Logger
	store   *checkpoint.Store
	tracker *checkpoint.Tracker
	dests   []*destination
	flows   []*flow
	saved   uint64 // tracker version last written; only the saver touches it
	// openFiles bounds the descriptors of followed files, all flows together.
	openFiles *semaphore.Weighted
}

type destination struct {
	name string
	sink sink.Sink
	// checker is the sink's start-up probe, when it has one.
	checker interface{ Check(context.Context) error }
	in      chan sink.Batch
	done    chan struct{} // closed when the sink's Run returned
}

// New prepares an agent: it loads the checkpoint and builds every stage, so
// configuration problems surface before anything is read.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Agent, error) {
	a := &Agent{cfg: cfg, log: log, openFiles: semaphore.NewWeighted(int64(cfg.Agent.MaxOpenFiles))}
	store, err := checkpoint.Open(cfg.Agent.CheckpointFile)
	if err != nil {
		return nil, err
	}
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

	index := make(map[string]int)
	for _, f := range cfg.Flows {
		if _, ok := index[f.Destination]; ok {
			continue
		}
		d := cfg.Destinations[f.Destination]
		if d == nil {
			return nil, fmt.Errorf("flow %q: destination %q is not defined", f.Name, f.Destination)
		}
		dest, err := newDestination(ctx, d, log)
		if err != nil {
			return nil, err
		}
		index[f.Destination] = len(a.dests)
		a.dests = append(a.dests, dest)
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

func newDestination(ctx context.Context, d *config.Destination, log *slog.Logger) (*destination, error) {
	dest := &destination{name: d.Name, in: make(chan sink.Batch, 4), done: make(chan struct{})}
	switch d.Type {
	case "kinesis":
		k, err := sink.NewKinesis(ctx, d, sink.KinesisOptions{Logger: log})
		if err != nil {
			return nil, fmt.Errorf("destination %q: %w", d.Name, err)
		}
		dest.sink, dest.checker = k, k
	default:
		return nil, fmt.Errorf("destination %q: type %q is not supported", d.Name, d.Type)
	}
	return dest, nil
}

// Run follows the files until ctx is cancelled, then shuts down in order.
// It returns an error only if the pipeline could not be started or the
// final checkpoint could not be saved; records left unacknowledged at the
// shutdown deadline are reported in the log and resent after restart.
func (a *Agent) Run(ctx context.Context) error {
	a.checkDestinations(ctx)

	// Sinks outlive ctx: they drain what the flows hand them and are only
	// cut off by the shutdown deadline.
	sinkCtx, cancelSinks := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSinks()
	var sinks sync.WaitGroup
	for _, d := range a.dests {
		sinks.Add(1)
		go func() {
			defer sinks.Done()
			defer close(d.done)
			err := d.sink.Run(sinkCtx, d.in)
			if err != nil && !errors.Is(err, context.Canceled) {
				a.log.Error("destination stopped", "destination", d.name, "err", err)
			}
		}()
	}

	saverDone := make(chan struct{})
	saverCtx, stopSaver := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(saverDone)
		a.saveLoop(saverCtx)
	}()

	var flows sync.WaitGroup
	for _, f := range a.flows {
		flows.Add(1)
		go func() {
			defer flows.Done()
			f.run(ctx)
		}()
	}
	a.log.Info("kinetail started", "flows", len(a.flows), "destinations", len(a.dests), "checkpoint", a.store.Path())

	<-ctx.Done()
	a.log.Info("stopping: no more reading, delivering what is in flight", "timeout", a.cfg.Agent.ShutdownTimeout.D().String())
	deadline := time.AfterFunc(a.cfg.Agent.ShutdownTimeout.D(), cancelSinks)
	defer deadline.Stop()
	flows.Wait()
	for _, d := range a.dests {
		close(d.in)
	}
	sinks.Wait()
	if sinkCtx.Err() != nil {
		a.log.Warn("shutdown timeout reached; unacknowledged lines will be sent again after restart")
	}
	stopSaver()
	<-saverDone
	a.logStats()
	if err := a.save(); err != nil {
		return fmt.Errorf("final checkpoint: %w", err)
	}
	a.log.Info("kinetail stopped")
	return nil
}

// checkDestinations reports a missing stream or bad credentials at start.
// It does not stop the agent: lines wait on disk until the destination
// works, which is what an operator fixing IAM or creating the stream wants.
func (a *Agent) checkDestinations(ctx context.Context) {
	for _, d := range a.dests {
		if d.checker == nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := d.checker.Check(cctx)
		cancel()
		if err != nil {
			a.log.Error("destination check failed; records will wait and be retried", "destination", d.name, "err", err)
		}
	}
}

func (a *Agent) saveLoop(ctx context.Context) {
	tick := time.NewTicker(a.cfg.Agent.CheckpointInterval.D())
	defer tick.Stop()
	var failing bool
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := a.save(); err != nil {
			if !failing {
				a.log.Error("saving checkpoint failed; keeping the previous one and retrying", "err", err)
			}
			failing = true
			continue
		}
		if failing {
			a.log.Info("saving checkpoint works again")
			failing = false
		}
	}
}

// save writes the tracker's state if it changed since the last save.
func (a *Agent) save() error {
	v := a.tracker.Version()
	if v == a.saved {
		return nil
	}
	if err := a.store.Save(a.tracker.Snapshot()); err != nil {
		return err
	}
	a.saved = v
	return nil
}

// logStats reports what each stage did, once at shutdown.
func (a *Agent) logStats() {
	for _, f := range a.flows {
		a.log.Info("flow totals", "flow", f.name, "tailer", f.tail.Stats(), "transform", f.chain.Stats())
	}
	for _, d := range a.dests {
		if s, ok := d.sink.(interface{ Stats() sink.KinesisStats }); ok {
			a.log.Info("destination totals", "destination", d.name, "stats", s.Stats())
		}
	}
}
