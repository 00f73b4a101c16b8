package agent

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/route"
	"github.com/kinetail/kinetail/sink"
	"github.com/kinetail/kinetail/tailer"
	"github.com/kinetail/kinetail/transform"
)

// flow is one configured flow: its tailer, its transform chain and router.
type flow struct {
	name   string
	cfg    *config.Flow
	log    *slog.Logger
	tail   *tailer.Tailer
	chain  *transform.Chain
	router *route.Router
	budget *budget
	// reserve is what of the flow's share its tailer's recycled
	// buffers hold: the budget is the rest.
	reserve int64
	agent   *Agent
	// dests are the destinations its router names, by the router's
	// indexes.
	dests []*destination
	// running is set while run's loop runs (health).
	running atomic.Bool
	// stop ends the flow started by start; done is closed once it ended.
	stop context.CancelFunc
	done chan struct{}
	// grow is how much larger than its lines a batch's records were last
	// (transforms that add fields): the next arena is sized by it, so it
	// is allocated once and not much larger than it needs to be.
	grow float64

	rec     transform.Record // the record being routed
	dst     []int            // scratch for routing
	scratch []byte           // a templated stream name or key
	items   []item           // this batch's deliveries
	outs    []*output        // this batch's outputs, in order of first use
	held    []int            // records routed to each of outs: holds to release
	now     time.Time        // when the batch was routed
	// spare keeps records slices the sinks gave back (sink.Batch.Free)
	// for later batches; free is the method value given to them, made
	// once.
	spare chan []sink.Record
	free  func([]sink.Record)
}

// item is one record for one output.
type item struct {
	out        int    // index in flow.outs
	start, end int    // the record in the batch's arena
	line       []byte // or the line itself, when the chain is the identity
	key, hash  string
}

// newFlow builds flow fc, sending to the destinations in byName, with a
// memory budget of share bytes. It resumes from the tracker's positions
// for it; saved and firstStart are as in tailer.Config.
func newFlow(fc *config.Flow, a *Agent, byName map[string]*destination, share int64, saved time.Time, firstStart bool) (*flow, error) {
	budget, recycle := flowBudget(share, fc)
	f := &flow{name: fc.Name, cfg: fc, log: a.log, agent: a, done: make(chan struct{}),
		reserve: share - budget, grow: 1.5,
		spare: make(chan []sink.Record, spareRecords)}
	f.free = f.recycle
	f.budget = newBudget(budget, leastBudget(fc))
	f.budget.changed = a.retell
	index := make(map[string]int)
	for _, name := range flowDestinations(fc) {
		index[name] = len(f.dests)
		f.dests = append(f.dests, byName[name])
	}
	var err error
	if f.chain, err = transform.NewWithOptions(fc.Transforms, transform.Options{Logger: a.log.With("flow", fc.Name)}); err != nil {
		return nil, fmt.Errorf("flow %q: %w", fc.Name, err)
	}
	if f.router, err = route.New(fc, index); err != nil {
		return nil, fmt.Errorf("flow %q: %w", fc.Name, err)
	}
	links, err := tailer.ParseSymlinks(fc.Symlinks)
	if err != nil {
		return nil, fmt.Errorf("flow %q: %w", fc.Name, err) // validated by config: not expected
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
	f.tail, err = tailer.New(tailer.Config{
		Flow:               fc.Name,
		Paths:              fc.Paths,
		Exclude:            fc.Exclude,
		StartAtEnd:         firstStart && fc.InitialPosition == "end_of_file",
		Positions:          a.tracker.Positions(fc.Name),
		Saved:              saved,
		KnownTTL:           a.cfg.Agent.CheckpointTTL.D(),
		MaxLineBytes:       int(fc.MaxLineBytes),
		PartialLineTimeout: fc.PartialLineTimeout.D(),
		RescanInterval:     fc.RescanInterval.D(),
		CloseRemovedAfter:  fc.CloseRemovedAfter.D(),
		SkipHeaderLines:    fc.SkipHeaderLines,
		Headers:            f.chain.UsesHeader(),
		Multiline:          multiline,
		Symlinks:           links,
		AllowedRoots:       a.cfg.Agent.AllowedRoots,
		OpenFiles:          a.openFiles,
		Budget:             f.budget,
		Followed:           f.budget.follow,
		Recycle:            recycle,
		Logger:             f.log,
		Hooks:              a.saver.Hooks(),
	})
	if err != nil {
		return nil, fmt.Errorf("flow %q: %w", fc.Name, err)
	}
	return f, nil
}

// flowDestinations returns the destinations flow fc names itself, once
// each, in order of first mention (their fallbacks are the destinations').
func flowDestinations(fc *config.Flow) []string {
	var names []string
	if fc.Destination != "" {
		names = append(names, fc.Destination)
	}
	for _, r := range fc.Routes {
		for _, name := range r.To {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	return names
}

// resize gives the flow a new share of the memory limit, never less than
// leastBudget (what flowMemory makes sure of without the recycled buffers,
// which a running tailer keeps).
func (f *flow) resize(share int64) {
	f.budget.resize(max(share-f.reserve, leastBudget(f.cfg)))
}

// seen is when the flow last looked at its paths (see Agent.seen).
func (f *flow) seen() time.Time { return f.tail.Scanned() }

// start runs the flow until ctx is cancelled or stop is called.
func (f *flow) start(ctx context.Context) {
	ctx, f.stop = context.WithCancel(ctx)
	go func() {
		defer close(f.done)
		f.run(ctx)
	}()
}

// run reads until ctx is cancelled and every batch the tailer produced has
// been handed on.
func (f *flow) run(ctx context.Context) {
	f.running.Store(true)
	defer f.running.Store(false)
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

// process turns one tailer batch into one sink batch per output.
//
// The batch holds its budget (Batch.Size) for the buffer its lines point
// into. Records that are the lines themselves (no transforms) keep that
// buffer until they are acknowledged; records made by transforms are
// written into one arena per batch, and the lines' buffer is garbage once
// they are: the budget is exchanged for the arena's, before any record is
// handed on.
func (f *flow) process(b tailer.Batch) {
	size := b.Size
	identity := f.chain.Identity()
	var arena []byte
	g := f.agent.tracker.Begin(b.Source, b.End, b.Marker, func() {
		// Every record is acknowledged: the buffer they were made in can
		// take the next batch (or the next batch's records).
		if identity {
			f.tail.ReleaseBuffer(&b)
		} else {
			f.tail.Recycle(arena)
		}
		f.budget.Release(size)
	})
	defer g.Done(1) // release the creator's hold once every record is handed out

	f.items, f.outs, f.held = f.items[:0], f.outs[:0], f.held[:0]
	f.now = f.agent.now()
	defer f.release()
	f.router.SetPath(b.Source.Path)
	if identity {
		f.chain.Passed(len(b.Lines))
		for i := range b.Lines {
			if l := b.Lines[i].Bytes; len(l) > 0 { // an empty line would cost a PUT unit and carry nothing
				f.route(l, l, -1)
			}
		}
		f.tail.ReleaseLines(&b) // the records point at the lines' bytes, not at b.Lines
	} else {
		arena = f.tail.Buffer(int(float64(b.Size)*f.grow) + len(b.Lines)*8)
		f.chain.SetHeader(b.Header)
		f.chain.SetSource(b.Source)
		f.chain.SetPrefix(b.Prefix)
		for i := range b.Lines {
			start := len(arena)
			l := &b.Lines[i]
			out, keep := f.chain.AppendLine(arena, l.Bytes, l.Start, l.End)
			if !keep || len(out) == start {
				// Nothing to send (dropped by policy, or an empty
				// line): it is acknowledged with the batch.
				continue
			}
			arena = out
			f.route(l.Bytes, arena[start:], start)
		}
		if b.Size > 0 {
			f.grow = min(max(float64(len(arena))/float64(b.Size)*1.05, 0.1), 16)
		}
		// The lines' buffer is garbage from here on; the arena is not.
		f.tail.ReleaseLines(&b)
		f.tail.ReleaseBuffer(&b)
		if held := int64(cap(arena)); held > size {
			f.budget.take(held - size)
			size = held
		} else if held < size {
			f.budget.Release(size - held)
			size = held
		}
	}
	// Records point into the arena only now: it no longer moves.
	for k, o := range f.outs {
		n := 0
		for _, it := range f.items {
			if it.out == k {
				n++
			}
		}
		recs := f.records(n)
		bytes := 0
		for _, it := range f.items {
			if it.out == k {
				data := it.line
				if data == nil {
					data = arena[it.start:it.end:it.end]
				}
				recs = append(recs, sink.Record{Data: data, PartitionKey: it.key, ExplicitHashKey: it.hash, Ack: g})
				bytes += len(data)
			}
		}
		g.Add(len(recs))
		select {
		case o.in <- sink.Batch{Records: recs, Bytes: bytes, Free: f.free}:
		case <-o.done:
			// The sink was cut off by the shutdown deadline: these records
			// stay unacknowledged and are read again after restart.
			return
		}
	}
}

// spareRecords is how many records slices a flow keeps for reuse, and
// spareRecordsBytes the most they hold: outside the budget, so in the
// flow's reserve (a batch has at most DefaultBatchLines lines, so as many
// records for one output).
const (
	spareRecords      = 4
	spareRecordsBytes = spareRecords * tailer.DefaultBatchLines * int64(unsafe.Sizeof(sink.Record{}))
)

// records returns an empty records slice with room for n, one a sink gave
// back if it has the room.
func (f *flow) records(n int) []sink.Record {
	select {
	case r := <-f.spare:
		if cap(r) >= n {
			return r
		}
	default:
	}
	return make([]sink.Record, 0, n)
}

// recycle keeps r, which a sink is done with, for a later batch.
func (f *flow) recycle(r []sink.Record) {
	if cap(r) > tailer.DefaultBatchLines {
		return // larger than spareRecordsBytes counts
	}
	clear(r) // its records point at lines and acknowledgement groups
	select {
	case f.spare <- r[:0]:
	default:
	}
}

// route records where the record rec (made from line, at start in the
// arena, or the line itself when start is -1) goes. A record that goes nowhere is acknowledged with its batch
// and counted by the router or the destination.
func (f *flow) route(line, rec []byte, start int) {
	f.rec.Reset(rec)
	f.dst = f.router.Route(f.dst[:0], line, &f.rec)
	for _, di := range f.dst {
		o, d := f.outputFor(di, &f.rec, &f.scratch)
		if o == nil {
			continue
		}
		it := item{out: -1, start: start, end: start + len(rec)}
		if start < 0 {
			it.line = rec
		}
		for k, x := range f.outs {
			if x == o {
				it.out = k
				break
			}
		}
		if it.out < 0 {
			it.out = len(f.outs)
			f.outs = append(f.outs, o)
			f.held = append(f.held, 0)
		}
		f.held[it.out]++
		// A key template that cannot be filled leaves the key to the
		// sink (random): the record is still sent.
		if d.key != nil {
			if k, err := d.key.Append(f.scratch[:0], &f.rec); err == nil && len(k) > 0 {
				it.key = string(k)
				f.scratch = k
			}
		}
		if d.hashKey != nil {
			if h, err := d.hashKey.Append(f.scratch[:0], &f.rec); err == nil && config.ValidHashKey(string(h)) {
				it.hash = string(h)
				f.scratch = h
			}
		}
		f.items = append(f.items, it)
	}
}

// outputFor returns where a record for destination i goes, and that
// destination (the fallback when i's template cannot name a stream), or
// nil when the record cannot be sent anywhere (it is counted). A templated
// output returned is held (output.holds) until the batch releases it.
func (f *flow) outputFor(i int, rec *transform.Record, scratch *[]byte) (*output, *destination) {
	for d := f.dests[i]; ; {
		if d.fixed != nil {
			return d.fixed, d
		}
		name, err := d.stream.Append((*scratch)[:0], rec)
		*scratch = name
		if err == nil && config.ValidStreamName(string(name)) {
			if o := f.agent.templated(d, name, f.now); o != nil {
				return o, d
			}
		}
		if d.fallback == nil {
			d.mu.Lock()
			d.dropped++
			d.mu.Unlock()
			return nil, nil
		}
		d = d.fallback // never templated itself: validated by config
	}
}

// release gives back the holds this batch took on templated outputs, once
// its records were handed to them (or the batch was given up).
func (f *flow) release() {
	for k, o := range f.outs {
		o.release(f.held[k])
	}
}

// flowBudget is the budget of the lines and records of flow fc with a
// memory share of share bytes: the share less what its tailer's recycled
// buffers and the spare record slices take. recycle is how many batch
// buffers its tailer keeps for reuse (tailer.Config.Recycle): up to 4, and
// at most half of what the share has beyond leastBudget (what flowMemory
// makes sure of).
func flowBudget(share int64, fc *config.Flow) (budget int64, recycle int) {
	one := tailer.RecycleBytes(1, 0, 0)
	recycle = int(max(0, min(4, (share-leastBudget(fc))/(2*one))))
	return share - tailer.RecycleBytes(recycle, 0, 0) - spareRecordsBytes, recycle
}
