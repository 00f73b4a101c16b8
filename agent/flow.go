package agent

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"

	"golang.org/x/sync/semaphore"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/route"
	"github.com/kinetail/kinetail/sink"
	"github.com/kinetail/kinetail/tailer"
	"github.com/kinetail/kinetail/transform"
)

// flow is one configured flow: its tailer, its transform chain and router.
type flow struct {
	name   string
	log    *slog.Logger
	tail   *tailer.Tailer
	chain  *transform.Chain
	router *route.Router
	budget *semaphore.Weighted
	agent  *Agent

	dst   []int // scratch for routing
	spans []span
}

type span struct{ start, end int }

func newFlow(fc *config.Flow, a *Agent, index map[string]int, firstStart bool) (*flow, error) {
	// The budget must hold at least one full batch with a maximal line, or
	// the tailer could never send it.
	budget := max(defaultFlowBuffer, 4*(tailer.DefaultBatchBytes+int64(fc.MaxLineBytes)))
	f := &flow{name: fc.Name, log: a.log, agent: a,
		budget: semaphore.NewWeighted(budget)}
	var err error
	if f.chain, err = transform.New(fc.Transforms); err != nil {
		return nil, fmt.Errorf("flow %q: %w", fc.Name, err)
	}
	if f.router, err = route.New(fc.Destination, index); err != nil {
		return nil, fmt.Errorf("flow %q: %w", fc.Name, err)
	}
	var multiline *tailer.MultilineConfig
	if m := fc.Multiline; m != nil {
		multiline = &tailer.MultilineConfig{MaxLines: m.MaxLines, MaxBytes: int(m.MaxBytes), Timeout: m.Timeout.D()}
		// Validated by config; compiled here once.
		if m.StartPattern != "" {
			multiline.Start = regexp.MustCompile(m.StartPattern)
		}
		if m.ContinuePattern != "" {
			multiline.Continue = regexp.MustCompile(m.ContinuePattern)
		}
	}
	var positions []tailer.Position
	for _, e := range a.tracker.Snapshot() {
		if e.Flow == fc.Name {
			positions = append(positions, tailer.Position{Path: e.Path, ID: e.ID, Offset: e.Offset, Marker: e.Marker})
		}
	}
	tr := a.tracker
	f.tail, err = tailer.New(tailer.Config{
		Flow:               fc.Name,
		Paths:              fc.Paths,
		Exclude:            fc.Exclude,
		StartAtEnd:         firstStart && fc.InitialPosition == "end_of_file",
		Positions:          positions,
		MaxLineBytes:       int(fc.MaxLineBytes),
		PartialLineTimeout: fc.PartialLineTimeout.D(),
		RescanInterval:     fc.RescanInterval.D(),
		CloseRemovedAfter:  fc.CloseRemovedAfter.D(),
		SkipHeaderLines:    fc.SkipHeaderLines,
		Multiline:          multiline,
		OpenFiles:          a.openFiles,
		Budget:             f.budget,
		Logger:             f.log,
		Hooks:              tailer.Hooks{OnOpen: tr.Open, OnRename: tr.Rename, OnClose: tr.Close},
	})
	if err != nil {
		return nil, fmt.Errorf("flow %q: %w", fc.Name, err)
	}
	return f, nil
}

// run reads until ctx is cancelled and every batch the tailer produced has
// been handed on.
func (f *flow) run(ctx context.Context) {
	lines := make(chan tailer.Batch, 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range lines {
			f.process(b)
		}
	}()
	if err := f.tail.Run(ctx, lines); err != nil {
		f.log.Error("tailer stopped", "flow", f.name, "err", err)
	}
	close(lines)
	<-done
}

// process turns one tailer batch into one sink batch per destination.
func (f *flow) process(b tailer.Batch) {
	size := b.Size
	g := f.agent.tracker.Begin(b.Source, b.End, b.Marker, func() { f.budget.Release(size) })
	defer g.Done(1) // release the creator's hold once every record is handed out

	// All records of the batch share one buffer: one allocation per batch.
	arena := make([]byte, 0, int(b.Size)+int(b.Size)/2+len(b.Lines)*8)
	f.spans = f.spans[:0]
	f.chain.SetHeader(b.Header)
	f.chain.SetSource(b.Source)
	for i := range b.Lines {
		start := len(arena)
		l := &b.Lines[i]
		out, keep := f.chain.AppendLine(arena, l.Bytes, l.Start, l.End)
		if !keep || len(out) == start {
			// Nothing to send (dropped by policy, or an empty line,
			// which would cost a PUT unit and carry nothing): it is
			// acknowledged with the batch.
			continue
		}
		arena = out
		f.spans = append(f.spans, span{start, len(arena)})
	}
	if len(f.spans) == 0 {
		return
	}
	f.dst = f.router.Route(nil, f.dst[:0])
	for _, di := range f.dst {
		recs := make([]sink.Record, len(f.spans))
		for i, s := range f.spans {
			recs[i] = sink.Record{Data: arena[s.start:s.end:s.end], Ack: g}
		}
		g.Add(len(recs))
		d := f.agent.dests[di]
		select {
		case d.in <- sink.Batch{Records: recs, Bytes: len(arena)}:
		case <-d.done:
			// The sink was cut off by the shutdown deadline: these records
			// stay unacknowledged and are read again after restart.
			return
		}
	}
}
