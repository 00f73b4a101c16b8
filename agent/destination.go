package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/sink"
	"github.com/kinetail/kinetail/transform"
)

// recheckMissing is how long a stream found missing is sent to the
// fallback before it is looked for again.
const recheckMissing = 5 * time.Minute

// destination is one configured destination. A fixed one has one sink; a
// templated one (stream: app-%{service}) starts a sink per stream name on
// first use, and sends records it cannot name a stream for to its fallback.
type destination struct {
	name  string
	cfg   *config.Destination
	fixed *output // nil for a templated destination

	stream   *transform.Template // the stream template; nil when fixed
	dead     *sink.DeadLetter    // the dead-letter file, if any
	fallback int                 // index of the fallback destination, -1 for none

	// Keys set on each record, when the destination's partition_key or
	// explicit_hash_key is a template.
	key, hashKey *transform.Template

	mem *sink.Memory // shared by the destination's sinks; nil for unbounded

	// Templated: the patterns a stream name must match (none: any valid
	// name), how many names are kept at most (cfg.MaxStreams), and how
	// long an unused one is kept (cfg.StreamIdleTimeout). The cap bounds
	// the sinks a field with unbounded values can start; letting unused
	// names go means a burst of junk values cannot keep real streams out
	// for longer than that.
	allowed []*regexp.Regexp

	mu sync.Mutex
	// streams are the names in use: with a running sink, or found
	// missing. Both count against the cap.
	streams map[string]*streamUse
	// warnedTooMany is set while the cap is reached, once reported.
	warnedTooMany bool
	// Dropped counts records that could not be sent anywhere: no stream
	// name and no fallback. notAllowed and overLimit count records whose
	// name was refused (sent to the fallback, or dropped and counted in
	// dropped too).
	dropped, notAllowed, overLimit int64
}

// streamUse is one name a templated destination uses.
type streamUse struct {
	out       *output   // nil while the stream is missing
	missingAt time.Time // when it was found missing
	used      time.Time // last record for it
}

// allows reports whether name matches one of d's allowed patterns, or d
// has none.
func (d *destination) allows(name []byte) bool {
	if len(d.allowed) == 0 {
		return true
	}
	for _, re := range d.allowed {
		if re.Match(name) {
			return true
		}
	}
	return false
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

func newDestination(ctx context.Context, d *config.Destination, log *slog.Logger, mem map[string]*sink.Memory, mon *monitor) (*destination, error) {
	dest := &destination{name: d.Name, cfg: d, fallback: -1, mem: mem[d.Name]}
	var err error
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
	if name := streamOf(d); config.IsTemplate(name) {
		if dest.stream, err = transform.NewTemplate(name); err != nil {
			return nil, fmt.Errorf("destination %q: %w", d.Name, err)
		}
		for _, p := range d.Allowed {
			// Anchored: the pattern must cover the whole name.
			re, err := regexp.Compile(`^(?:` + p + `)$`)
			if err != nil {
				return nil, fmt.Errorf("destination %q: allowed: %w", d.Name, err)
			}
			dest.allowed = append(dest.allowed, re)
		}
		dest.streams = make(map[string]*streamUse)
		return dest, nil
	}
	dest.fixed, err = newOutput(ctx, d, d.Name, log, dest.dead, dest.mem, mon.observer(d.Name, streamOf(d)))
	if err != nil {
		return nil, err
	}
	return dest, nil
}

func streamOf(d *config.Destination) string {
	if d.Type == "firehose" {
		return d.DeliveryStream
	}
	return d.Stream
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

// withStream returns a copy of d sending to stream.
func withStream(d *config.Destination, stream string) *config.Destination {
	c := *d
	if c.Type == "firehose" {
		c.DeliveryStream = stream
	} else {
		c.Stream = stream
	}
	return &c
}
