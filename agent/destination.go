package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"sync"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/redact"
	"github.com/kinetail/kinetail/sink"
	"github.com/kinetail/kinetail/transform"
)

// destination is one configured destination. A fixed one has one sink; a
// templated one (stream: app-%{service}) starts a sink per stream name on
// first use, and sends records it cannot name a stream for to its fallback.
type destination struct {
	name  string
	cfg   *config.Destination
	fixed *output // nil for a templated destination

	stream   *transform.Template // the stream template; nil when fixed
	dead     *sink.DeadLetter    // the dead-letter file, if any
	fallback *destination        // where records go that no stream can be named for; nil for none

	// Keys set on each record, when the destination's partition_key or
	// explicit_hash_key is a template.
	key, hashKey *transform.Template

	mem *sink.Memory // shared by the destination's sinks; nil for unbounded
	log *slog.Logger
	// failed receives the error of a sink that stopped on its own (a
	// closed stdout pipe): the agent then shuts down, as records for it
	// could only wait forever.
	failed chan<- error

	// allowed are the patterns a templated one's stream names must
	// match (none: any valid name).
	allowed []*regexp.Regexp

	// The sinks run with ctx, which the shutdown deadline cancels (for
	// every destination) or a reload that drops this one.
	ctx    context.Context
	cancel context.CancelFunc
	sinks  sync.WaitGroup

	mu      sync.Mutex
	running []*output // every started sink, fixed or templated
	closing bool      // set by close: no sink may start after
	// streams are the names a templated one uses (streams.go): with a
	// running sink, being created, or found missing. All count against
	// max_streams.
	streams map[string]*streamUse
	// warnedTooMany is set while the cap is reached, once reported.
	warnedTooMany bool
	// dropped counts records that could not be sent anywhere: no stream
	// name and no fallback. notAllowed and overLimit count records whose
	// name was refused (sent to the fallback, or dropped and counted in
	// dropped too).
	dropped, notAllowed, overLimit int64
}

// output is one running sink.
type output struct {
	name string // destination name, and the stream for templated ones
	// dest is the templated destination the output is one stream of, nil
	// for a fixed one. holds (under dest.mu) counts records handed out
	// for it and not yet passed to its input: an idle output is retired
	// only when none is, so no flow sends on its closed input.
	dest  *destination
	holds int
	sink  sink.Sink
	// checker is the sink's start-up probe, when it has one.
	checker interface{ Check(context.Context) error }
	in      chan sink.Batch
	done    chan struct{} // closed when the sink's Run returned
}

// insecureWarning is logged each time a destination with
// allow_insecure_endpoint set is started: at every start, and at a reload
// that opens it.
const insecureWarning = "allow_insecure_endpoint is set: records and the access key id may travel in clear text to the endpoint"

// newDestination builds destination d; its sinks run with a context
// derived from sinkCtx once started.
func newDestination(ctx, sinkCtx context.Context, d *config.Destination, log *slog.Logger, mem map[string]*sink.Memory, mon *monitor) (_ *destination, err error) {
	if d.AllowInsecureEndpoint {
		log.Warn(insecureWarning, "destination", d.Name, "endpoint", redact.URLs(d.Endpoint))
	}
	dest := &destination{name: d.Name, cfg: d, mem: mem[d.Name], log: log}
	dest.ctx, dest.cancel = context.WithCancel(sinkCtx)
	defer func() {
		if err != nil {
			dest.cancel()
			if dest.dead != nil {
				dest.dead.Close()
			}
		}
	}()
	if d.DeadLetterFile != "" {
		// One writer per file: the sinks of a templated destination share it.
		if dest.dead, err = sink.OpenDeadLetter(d.DeadLetterFile); err != nil {
			return nil, fmt.Errorf("destination %q: %w", d.Name, err)
		}
	}
	if d.PartitionKey != "" && config.IsTemplate(d.PartitionKey) {
		if dest.key, err = transform.NewTemplate(d.PartitionKey); err != nil {
			return nil, fmt.Errorf("destination %q: partition_key: %w", d.Name, err)
		}
	}
	if config.IsTemplate(d.ExplicitHashKey) {
		if dest.hashKey, err = transform.NewTemplate(d.ExplicitHashKey); err != nil {
			return nil, fmt.Errorf("destination %q: explicit_hash_key: %w", d.Name, err)
		}
	}
	if name := d.StreamName(); config.IsTemplate(name) {
		if dest.stream, err = transform.NewTemplate(name); err != nil {
			return nil, fmt.Errorf("destination %q: %w", d.Name, err)
		}
		if dest.allowed, err = compileAllowed(d.Allowed); err != nil {
			return nil, fmt.Errorf("destination %q: allowed: %w", d.Name, err)
		}
		dest.streams = make(map[string]*streamUse)
		return dest, nil
	}
	dest.fixed, err = newOutput(ctx, d, d.Name, log, dest.dead, dest.mem, mon.observer(d.Name, d.StreamName()))
	if err != nil {
		return nil, err
	}
	return dest, nil
}

// startFixed starts a fixed destination's sink.
func (d *destination) startFixed() {
	if d.fixed == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.startLocked(d.fixed)
}

// startLocked runs o's sink until its input is closed. It returns false once d
// is closing. d.mu must be held.
func (d *destination) startLocked(o *output) bool {
	if d.closing {
		return false
	}
	d.running = append(d.running, o)
	d.sinks.Add(1)
	go func() {
		defer d.sinks.Done()
		defer close(o.done)
		err := o.sink.Run(d.ctx, o.in)
		if err != nil && !errors.Is(err, context.Canceled) {
			d.log.Error("destination stopped", "destination", o.name, "err", err)
			select {
			case d.failed <- fmt.Errorf("destination %q: %w", o.name, err):
			default: // the agent is stopping already
			}
		}
	}()
	return true
}

// close closes the inputs of d's sinks: they deliver what they hold and
// return. No sink starts after.
func (d *destination) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return
	}
	d.closing = true
	for _, o := range d.running {
		close(o.in)
	}
}

// wait waits for d's sinks to return after close, and closes its
// dead-letter file. The sinks are cut off when ctx is done: what they
// still hold is not acknowledged and is read again after a restart.
func (d *destination) wait(ctx context.Context) {
	stop := context.AfterFunc(ctx, d.cancel)
	defer stop()
	d.sinks.Wait()
	d.cancel()
	if d.dead != nil {
		d.dead.Close()
	}
}

// started returns d's started sinks.
func (d *destination) started() []*output {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.running)
}

func newOutput(ctx context.Context, d *config.Destination, name string, log *slog.Logger, dl *sink.DeadLetter, mem *sink.Memory, obs sink.RequestObserver) (*output, error) {
	s, err := newSink(ctx, d, log, dl, mem, obs)
	if err != nil {
		return nil, err
	}
	o := &output{name: name, sink: s, in: make(chan sink.Batch, 4), done: make(chan struct{})}
	o.checker, _ = s.(interface{ Check(context.Context) error })
	return o, nil
}

// NewSink builds the sink for destination d; it makes no request.
func NewSink(ctx context.Context, d *config.Destination, log *slog.Logger) (sink.Sink, error) {
	return newSink(ctx, d, log, nil, nil, nil)
}

// newSink is NewSink with the destination's dead-letter file already open
// (dl may be nil), its memory budget (nil: unbounded) and what its
// requests are reported to (nil: nothing).
func newSink(ctx context.Context, d *config.Destination, log *slog.Logger, dl *sink.DeadLetter, mem *sink.Memory, obs sink.RequestObserver) (sink.Sink, error) {
	opts := sink.Options{Logger: log, DeadLetter: dl, Memory: mem, Observer: obs}
	switch d.Type {
	case "kinesis":
		k, err := sink.NewKinesis(ctx, d, opts)
		if err != nil {
			return nil, fmt.Errorf("destination %q: %w", d.Name, err)
		}
		return k, nil
	case "firehose":
		k, err := sink.NewFirehose(ctx, d, opts)
		if err != nil {
			return nil, fmt.Errorf("destination %q: %w", d.Name, err)
		}
		return k, nil
	case "file":
		f, err := sink.NewFile(sink.FileOptions{Path: d.Path, MaxBytes: int64(d.MaxFileBytes), MaxFiles: d.MaxFiles})
		if err != nil {
			return nil, fmt.Errorf("destination %q: %w", d.Name, err)
		}
		return f, nil
	case "stdout":
		return sink.NewStdout(os.Stdout), nil
	default:
		return nil, fmt.Errorf("destination %q: type %q is not supported", d.Name, d.Type)
	}
}
