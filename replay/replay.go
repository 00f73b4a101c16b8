// Package replay sends the records of dead-letter files (destinations'
// dead_letter_file) again: the work of `kinetail replay`, whose command
// line only parses flags and calls Run.
//
// Every record is checked before anything is sent; then each record goes to
// a sink built for its destination and stream, retried until stored and
// never dead-lettered again, with a bounded number of bytes handed out and
// not yet acknowledged. A file whose records were all stored is renamed
// .replayed.
package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/kinetail/kinetail/agent"
	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/ack"
	"github.com/kinetail/kinetail/sink"
)

// Bounds of what replay hands to sinks at once.
const (
	batchRecords = 500
	batchBytes   = 4 << 20
	inFlight     = 32 << 20 // bytes handed out but not yet acknowledged
)

// Options say what to replay, where to, and where the report goes.
type Options struct {
	Files []string // dead-letter files; a file named twice is replayed once
	// Destination, when set, receives every record, sent to its own
	// stream (to the record's only when its stream is a template);
	// empty: each record goes to the destination and stream it names.
	Destination string
	Keep        bool         // do not rename replayed files
	Logger      *slog.Logger // the sinks' warnings; nil discards them
	// Stdout receives the summary: a table of destinations and streams,
	// then a line per file. Stderr receives each problem as it is found,
	// prefixed "kinetail replay: ". Nil discards them.
	Stdout, Stderr io.Writer
}

// deadFile is one dead-letter file. Only the size it had when it was
// checked is read, so records appended meanwhile are left for next time.
type deadFile struct {
	path    string
	size    int64
	records int
	acked   atomic.Int64
}

// streamKey names one sink: a destination and a stream.
type streamKey struct{ dest, stream string }

// output is one running sink.
type output struct {
	key     streamKey
	cfg     *config.Destination // a copy, adapted for replay
	sink    sink.Sink
	in      chan sink.Batch
	done    chan struct{} // closed when Run returned
	err     error         // Run's result, once done is closed
	pending sink.Batch    // records of the current file not yet handed out
	records int
	sent    atomic.Int64
}

// replayer holds the state of one replay.
type replayer struct {
	cfg   *config.Config
	o     Options
	files []*deadFile
	outs  map[streamKey]*output
	order []*output // in order of first use
	sem   *semaphore.Weighted
}

// Run replays o.Files to the destinations of cfg. It stops, before
// anything is sent, at a record naming a destination cfg does not define
// and, while sending, when ctx is cancelled: files not completely sent are
// then left as they are. It reports whether every file was replayed.
func Run(ctx context.Context, cfg *config.Config, o Options) bool {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	r := &replayer{cfg: cfg, o: o, outs: make(map[streamKey]*output), sem: semaphore.NewWeighted(inFlight)}
	if o.Destination != "" && cfg.Destinations[o.Destination] == nil {
		fmt.Fprintf(o.Stderr, "kinetail replay: --destination: destination %q is not defined\n", o.Destination)
		return false
	}
	seen := make(map[string]bool)
	for _, path := range o.Files {
		if seen[filepath.Clean(path)] {
			continue
		}
		seen[filepath.Clean(path)] = true
		f, err := r.scan(path)
		if err != nil {
			fmt.Fprintf(o.Stderr, "kinetail replay: %v\n", err)
			return false
		}
		r.files = append(r.files, f)
	}
	if err := r.start(ctx); err != nil {
		fmt.Fprintf(o.Stderr, "kinetail replay: %v\n", err)
		r.stop()
		return false
	}
	sendErr := r.send(ctx)
	r.stop()
	return r.finish(ctx, sendErr)
}

// target returns where rec goes.
func (r *replayer) target(rec *sink.DeadRecord) (streamKey, *config.Destination, error) {
	name := rec.Destination
	if r.o.Destination != "" {
		name = r.o.Destination
	}
	d := r.cfg.Destinations[name]
	if d == nil {
		return streamKey{}, nil, fmt.Errorf("destination %q is not defined", name)
	}
	stream := d.StreamName()
	if rec.Stream != "" && (r.o.Destination == "" || config.IsTemplate(stream)) {
		stream = rec.Stream
	}
	if config.IsTemplate(stream) {
		return streamKey{}, nil, fmt.Errorf("no stream in the record, and destination %q's stream is a template", name)
	}
	return streamKey{name, stream}, d, nil
}

// scan checks every record of a file before anything is sent, and sets up
// a sink for each destination and stream.
func (r *replayer) scan(path string) (*deadFile, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return nil, err
	}
	f := &deadFile{path: path, size: st.Size()}
	err = sink.ReadDeadLetters(io.LimitReader(file, f.size), func(line int, rec sink.DeadRecord) error {
		key, d, err := r.target(&rec)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		out := r.outs[key]
		if out == nil {
			out = &output{key: key, cfg: adapt(d, key.stream)}
			r.outs[key] = out
			r.order = append(r.order, out)
		}
		out.records++
		f.records++
		return nil
	})
	if errors.Is(err, sink.ErrIncompleteLastLine) {
		// A write cut short: its records were never acknowledged, so the
		// agent sends their lines again; there is nothing to replay.
		fmt.Fprintf(r.o.Stderr, "kinetail replay: %s: %v; skipping it\n", path, err)
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// adapt returns a copy of d for replay: to stream, retried until stored,
// never dead-lettered. Keys come with the records, so key
// templates, which only the agent can fill in, are dropped. Data is
// written to dead letters as it was sent, already compressed.
func adapt(d *config.Destination, stream string) *config.Destination {
	c := d.WithStream(stream)
	c.DeadLetterFile = ""
	c.Compression = "none"
	c.Retry.MaxAttempts = 0
	c.Retry.MaxRecordAge = 0
	if config.IsTemplate(c.PartitionKey) {
		c.PartitionKey = sink.KeyRandom
	}
	if config.IsTemplate(c.ExplicitHashKey) {
		c.ExplicitHashKey = ""
	}
	return c
}

// start builds and checks every sink, then runs them. A stream that does
// not exist stops the replay; other check failures are reported and the
// records retried.
func (r *replayer) start(ctx context.Context) error {
	for _, out := range r.order {
		s, err := agent.NewSink(ctx, out.cfg, r.o.Logger)
		if err != nil {
			return err
		}
		out.sink = s
		if c, ok := s.(interface{ Check(context.Context) error }); ok {
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := c.Check(cctx)
			cancel()
			if errors.Is(err, sink.ErrStreamNotFound) {
				return fmt.Errorf("destination %q: %w", out.key.dest, err)
			}
			if err != nil {
				fmt.Fprintf(r.o.Stderr, "kinetail replay: destination %q: %v; retrying until sent\n", out.key.dest, err)
			}
		}
	}
	for _, out := range r.order {
		out.in = make(chan sink.Batch, 2)
		out.done = make(chan struct{})
		go func() {
			defer close(out.done)
			out.err = out.sink.Run(ctx, out.in)
		}()
	}
	return nil
}

// stop closes the sinks' inputs and waits until they return: at once when
// ctx is cancelled, else once they stored everything.
func (r *replayer) stop() {
	for _, out := range r.order {
		if out.in != nil {
			close(out.in)
		}
	}
	for _, out := range r.order {
		if out.done != nil {
			<-out.done
		}
	}
}

// send hands every record to its sink, one file after another.
func (r *replayer) send(ctx context.Context) error {
	for _, f := range r.files {
		if err := r.sendFile(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

func (r *replayer) sendFile(ctx context.Context, f *deadFile) error {
	file, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer file.Close()
	err = sink.ReadDeadLetters(io.LimitReader(file, f.size), func(line int, rec sink.DeadRecord) error {
		key, _, err := r.target(&rec)
		out := r.outs[key]
		if err != nil || out == nil {
			return fmt.Errorf("%s: line %d: changed since it was checked", f.path, line)
		}
		out.pending.Records = append(out.pending.Records, sink.Record{
			Data: rec.Data, PartitionKey: rec.PartitionKey, ExplicitHashKey: rec.ExplicitHashKey,
		})
		out.pending.Bytes += len(rec.Data)
		if len(out.pending.Records) >= batchRecords || out.pending.Bytes >= batchBytes {
			return r.flush(ctx, out, f)
		}
		return nil
	})
	if err != nil && !errors.Is(err, sink.ErrIncompleteLastLine) {
		return err
	}
	for _, out := range r.order {
		if err := r.flush(ctx, out, f); err != nil {
			return err
		}
	}
	return nil
}

// flush hands out's pending records, all from file f, to its sink, within
// the in-flight bound.
func (r *replayer) flush(ctx context.Context, out *output, f *deadFile) error {
	b := out.pending
	out.pending = sink.Batch{}
	n := len(b.Records)
	if n == 0 {
		return nil
	}
	weight := min(int64(b.Bytes)+1, inFlight)
	if err := r.sem.Acquire(ctx, weight); err != nil {
		return err
	}
	g := ack.New(func() {
		r.sem.Release(weight)
		f.acked.Add(int64(n))
		out.sent.Add(int64(n))
	})
	g.Add(n)
	for i := range b.Records {
		b.Records[i].Ack = g
	}
	select {
	case out.in <- b:
	case <-out.done:
		return fmt.Errorf("destination %q stream %q stopped: %w", out.key.dest, out.key.stream, out.err)
	case <-ctx.Done():
		return ctx.Err()
	}
	g.Done(1)
	return nil
}

// finish prints the summary and renames the files whose records were all
// stored.
func (r *replayer) finish(ctx context.Context, sendErr error) bool {
	stdout, stderr := r.o.Stdout, r.o.Stderr
	ok := true
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "kinetail replay: interrupted")
		ok = false
	} else if sendErr != nil {
		fmt.Fprintf(stderr, "kinetail replay: %v\n", sendErr)
		ok = false
	}
	// Records a sink acknowledged without storing them (too large for
	// the destination) are not replayed.
	var lost int64
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DESTINATION\tSTREAM\tRECORDS\tSENT")
	for _, out := range r.order {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", out.key.dest, out.key.stream, out.records, out.sent.Load())
		if out.err != nil && !errors.Is(out.err, context.Canceled) && sendErr == nil {
			fmt.Fprintf(stderr, "kinetail replay: destination %q stream %q: %v\n", out.key.dest, out.key.stream, out.err)
			ok = false
		}
		if k, ok := out.sink.(*sink.Stream); ok {
			st := k.Stats()
			if n := st.Rejected + st.Dropped; n > 0 {
				fmt.Fprintf(stderr, "kinetail replay: destination %q stream %q: %d records could not be stored (too large)\n", out.key.dest, out.key.stream, n)
				lost += n
			}
		}
	}
	tw.Flush()
	for _, f := range r.files {
		if sent := f.acked.Load(); sent < int64(f.records) || lost > 0 {
			fmt.Fprintf(stdout, "%s: %d of %d records sent; left in place\n", f.path, sent, f.records)
			ok = false
			continue
		}
		if r.o.Keep {
			fmt.Fprintf(stdout, "%s: %d records sent; kept (--keep)\n", f.path, f.records)
			continue
		}
		// An agent appending to the file meanwhile starts a new file
		// once this one is renamed; records it added before then were
		// not read, so the file is left for another replay.
		if st, err := os.Stat(f.path); err != nil || st.Size() != f.size {
			fmt.Fprintf(stdout, "%s: %d records sent; the file changed meanwhile, left in place (replaying it again repeats them)\n", f.path, f.records)
			ok = false
			continue
		}
		if err := os.Rename(f.path, f.path+".replayed"); err != nil {
			fmt.Fprintf(stderr, "kinetail replay: %v\n", err)
			ok = false
			continue
		}
		fmt.Fprintf(stdout, "%s: %d records sent; renamed to %s.replayed\n", f.path, f.records, f.path)
	}
	return ok
}
