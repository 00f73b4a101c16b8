package transform

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/tailer"
)

// Processor is one transform step. Append appends the step's output for in to
// dst and returns the extended slice. An error means in is invalid for this
// step; the returned slice is then meaningless and the caller goes on with
// dst as it was. Append must not retain in or dst.
type Processor interface {
	Append(dst, in []byte) ([]byte, error)
}

// SyntaxError is why a transform rejected its input. Processors of this
// package return it as *SyntaxError.
type SyntaxError struct {
	Transform string // the config name of the transform, e.g. "csv_to_json"
	Msg       string // what is wrong, e.g. "unterminated quoted field"
	// Offset is the byte offset in the step's input where the problem
	// is, or -1 when it is not in the input (a csv_to_json line while no
	// header line is known).
	Offset int
}

func (e *SyntaxError) Error() string {
	return string(e.appendTo(nil))
}

// appendTo appends the message of e to dst without allocating, for wrapped
// records.
func (e *SyntaxError) appendTo(dst []byte) []byte {
	dst = append(dst, e.Transform...)
	dst = append(dst, ": "...)
	dst = append(dst, e.Msg...)
	if e.Offset < 0 {
		return dst
	}
	dst = append(dst, " at offset "...)
	return strconv.AppendInt(dst, int64(e.Offset), 10)
}

// Stats counts what a Chain did. Every line is either dropped, a header
// line, or gives one record, so Records == Lines - Dropped - Header;
// Invalid == Dropped + Passed + Wrapped.
type Stats struct {
	Lines    uint64 // lines given to Append or AppendLine
	Records  uint64 // records produced (kept lines)
	Header   uint64 // files' header lines, which give no record (csv_to_json header: true)
	Filtered uint64 // records a filter step dropped
	Dropped  uint64 // invalid lines dropped by an on_error: drop policy
	Invalid  uint64 // lines a transform rejected
	Passed   uint64 // invalid lines sent raw by an on_error: pass policy
	Wrapped  uint64 // invalid lines sent wrapped by an on_error: wrap policy
}

type policy uint8

const (
	policyWrap policy = iota
	policyDrop
	policyPass
)

func parsePolicy(s string) (policy, error) {
	switch s {
	case "", config.OnErrorWrap:
		return policyWrap, nil
	case config.OnErrorDrop:
		return policyDrop, nil
	case config.OnErrorPass:
		return policyPass, nil
	}
	return 0, fmt.Errorf("on_error %q: want %s, %s or %s", s, config.OnErrorDrop, config.OnErrorPass, config.OnErrorWrap)
}

type step struct {
	p       Processor
	onError policy
	// onWrapped is what runs on a record made by an on_error: wrap policy
	// (see wrap), or nil for a step that skips such records.
	onWrapped Processor
}

// Chain runs a flow's transforms in order on one line. It is used by a
// single goroutine (Append and LastError are not safe for concurrent use),
// but Stats may be called concurrently.
type Chain struct {
	steps []step
	// scratch holds the outputs of all steps but the last. Step i writes into
	// scratch[i%2] while reading step i-1's output from the other one, and
	// the buffers keep their capacity, so a long chain allocates only while
	// the buffers grow.
	scratch [2][]byte
	reason  []byte // scratch for the error text of wrapped records
	lastErr error
	// headerSteps are the csv_to_json steps with header: true; when there
	// is one, a file's first line is its header and gives no record.
	headerSteps []*csvToJSON

	// Only Lines and the error counters are kept: Records is derived, which
	// saves an atomic add per line.
	lines, header, dropped, passed, wrapped, filtered atomic.Uint64

	// ctx is what the steps may know about the current line; steps that
	// need it keep a pointer to it.
	ctx Context
}

// Context is what a step may know about the line being transformed besides
// its bytes. The chain's owner sets it: SetSource for each batch, the
// offsets through AppendLine.
type Context struct {
	Source     *tailer.Source // the file: path at open and identity; nil if unknown
	Prefix     []byte         // the file's first bytes (tailer.Batch.Prefix); nil if unknown
	Start, End int64          // the line's byte offsets in the file
}

// errFiltered is what a filter step returns for a record it drops: the
// record is acknowledged and counted in Stats.Filtered, whatever the step's
// on_error policy.
var errFiltered = errors.New("filtered")

// SetSource tells the chain which file the next lines come from.
func (c *Chain) SetSource(src *tailer.Source) { c.ctx.Source = src }

// SetPrefix tells the chain the first bytes of that file (Batch.Prefix),
// which record ids are made from; the chain keeps p, which must not be
// modified afterwards.
func (c *Chain) SetPrefix(p []byte) { c.ctx.Prefix = p }

// Options are what a chain takes from its owner besides the config.
type Options struct {
	// Logger receives the steps' warnings (add_ec2_metadata's failed
	// fetches); nil means slog.Default(). Lines are never logged one by
	// one: bad lines are counted in Stats.
	Logger *slog.Logger
}

// New builds the chain for a flow's transforms with default Options. An
// empty list gives a chain that passes lines through as raw records.
func New(cfgs []*config.Transform) (*Chain, error) {
	return NewWithOptions(cfgs, Options{})
}

// NewWithOptions is New with the owner's Options.
func NewWithOptions(cfgs []*config.Transform, o Options) (*Chain, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := &Chain{steps: make([]step, 0, len(cfgs))}
	for i, t := range cfgs {
		s, err := newStep(t, &c.ctx, o)
		if err != nil {
			if t != nil && t.Line > 0 {
				return nil, fmt.Errorf("transform %d (line %d): %w", i+1, t.Line, err)
			}
			return nil, fmt.Errorf("transform %d: %w", i+1, err)
		}
		c.steps = append(c.steps, s)
		if p, ok := s.p.(*csvToJSON); ok && p.header {
			c.headerSteps = append(c.headerSteps, p)
		}
	}
	return c, nil
}

func newStep(t *config.Transform, ctx *Context, o Options) (step, error) {
	if t == nil {
		return step{}, errors.New("empty transform")
	}
	n := 0
	for _, set := range []bool{t.Singleline != nil, t.CSVToJSON != nil, t.JSON != nil,
		t.LogToJSON != nil, t.Regex != nil, t.Logfmt != nil,
		t.AddMetadata != nil, t.AddEC2Metadata != nil, t.AddBrackets != nil,
		t.Fields != nil, t.Filter != nil, t.Redact != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return step{}, fmt.Errorf("want exactly one transform kind, have %d", n)
	}
	switch {
	case t.Singleline != nil:
		// Singleline accepts every input, so it has no on_error policy.
		return step{p: newSingleline(t.Singleline)}, nil
	case t.CSVToJSON != nil:
		pol, err := parsePolicy(t.CSVToJSON.OnError)
		if err != nil {
			return step{}, fmt.Errorf("csv_to_json: %w", err)
		}
		p, err := newCSVToJSON(t.CSVToJSON)
		if err != nil {
			return step{}, fmt.Errorf("csv_to_json: %w", err)
		}
		return step{p: p, onError: pol}, nil
	case t.JSON != nil:
		pol, err := parsePolicy(t.JSON.OnError)
		if err != nil {
			return step{}, fmt.Errorf("json: %w", err)
		}
		return step{p: newJSON(), onError: pol}, nil
	case t.LogToJSON != nil:
		pol, err := parsePolicy(t.LogToJSON.OnError)
		if err != nil {
			return step{}, fmt.Errorf("log_to_json: %w", err)
		}
		p, err := newLogToJSON(t.LogToJSON)
		if err != nil {
			return step{}, fmt.Errorf("log_to_json: %w", err)
		}
		return step{p: p, onError: pol}, nil
	case t.Regex != nil:
		pol, err := parsePolicy(t.Regex.OnError)
		if err != nil {
			return step{}, fmt.Errorf("regex: %w", err)
		}
		p, err := newRegexToJSON(t.Regex)
		if err != nil {
			return step{}, fmt.Errorf("regex: %w", err)
		}
		return step{p: p, onError: pol}, nil
	case t.Logfmt != nil:
		pol, err := parsePolicy(t.Logfmt.OnError)
		if err != nil {
			return step{}, fmt.Errorf("logfmt: %w", err)
		}
		return step{p: &logfmtToJSON{}, onError: pol}, nil
	case t.AddMetadata != nil:
		// add_metadata accepts every input, so it has no on_error policy.
		p, err := newAddMetadata(t.AddMetadata)
		if err != nil {
			return step{}, fmt.Errorf("add_metadata: %w", err)
		}
		return step{p: p, onWrapped: p}, nil
	case t.AddBrackets != nil:
		// add_brackets accepts every input. A wrapped record is enclosed
		// too: consumers strip the braces from every record.
		return step{p: addBrackets{}, onWrapped: addBrackets{}}, nil
	case t.AddEC2Metadata != nil:
		// A record that is not a JSON object is wrapped (the default
		// policy): the step has no on_error setting.
		p := newAddEC2Metadata(t.AddEC2Metadata, ec2Options{log: o.Logger})
		return step{p: p, onWrapped: p}, nil
	case t.Fields != nil:
		// A record that is not a JSON object is wrapped (the default
		// policy): fields, filter and redact have no on_error setting.
		p, err := newFields(t.Fields, ctx)
		if err != nil {
			return step{}, fmt.Errorf("fields: %w", err)
		}
		return step{p: p, onWrapped: wrappedFields{p}}, nil
	case t.Filter != nil:
		p, err := newFilter(t.Filter)
		if err != nil {
			return step{}, fmt.Errorf("filter: %w", err)
		}
		// No onWrapped: a filter never drops a wrapped record (see wrap),
		// nor do the parsers above read one.
		return step{p: p}, nil
	case t.Redact != nil:
		// Redact accepts every input: a record that is not JSON is
		// searched as raw text.
		p, err := newRedact(t.Redact)
		if err != nil {
			return step{}, fmt.Errorf("redact: %w", err)
		}
		return step{p: p, onWrapped: p}, nil
	}
	return step{}, errors.New("no transform kind set") // not reached: n == 1
}

// SetHeader tells the chain the first line of the file whose lines come
// next, without its line terminator, or nil if it is not known yet. The
// agent calls it with Batch.Header before each batch's lines. Only
// csv_to_json steps with header: true use it: they take their field names
// from it, and while it is nil reject every line (handled by their on_error
// policy, with the error "no header line yet"). Other chains ignore it.
//
// A call with the same slice as the last one (same pointer and length)
// costs a comparison, and one with equal bytes a bytes.Equal; the names are
// parsed again only when the header changed. The chain keeps h, which must
// not be modified afterwards.
func (c *Chain) SetHeader(h []byte) {
	for _, p := range c.headerSteps {
		p.setHeader(h)
	}
}

// AppendLine is Append for a line whose place in its file is known: start
// and end are its offsets (start == 0: the file's first line). In a
// chain with a csv_to_json step that has header: true, that line is the
// header: it gives no record (keep is false, dst is returned unchanged) and
// is counted in Stats.Header. Otherwise AppendLine is Append. A flow whose
// files have header lines must use AppendLine, or the header is sent as a
// record.
func (c *Chain) AppendLine(dst, line []byte, start, end int64) (out []byte, keep bool) {
	c.ctx.Start, c.ctx.End = start, end
	if start == 0 && len(c.headerSteps) > 0 {
		c.lines.Add(1)
		c.header.Add(1)
		return dst, false
	}
	return c.Append(dst, line)
}

// UsesHeader reports whether the chain takes field names from each file's
// first line (SetHeader): its owner must then know that line.
func (c *Chain) UsesHeader() bool { return len(c.headerSteps) > 0 }

// Identity reports whether the chain makes every line its own record,
// unchanged (no steps): its owner may then send the lines' bytes as they
// are, without copying them through Append, and count them with Passed.
func (c *Chain) Identity() bool { return len(c.steps) == 0 && len(c.headerSteps) == 0 }

// Passed counts n lines an Identity chain's owner sent as they are.
func (c *Chain) Passed(n int) { c.lines.Add(uint64(n)) }

// Append appends the record for line to dst and returns the extended slice.
// keep is false when the line gives no record (dropped by policy); dst is
// then returned unchanged. line excludes the '\n'.
func (c *Chain) Append(dst, line []byte) (out []byte, keep bool) {
	c.lines.Add(1)
	if len(c.steps) == 0 {
		return append(dst, line...), true
	}
	in := line
	last := len(c.steps) - 1
	for i, s := range c.steps {
		var err error
		if i == last {
			out, err = s.p.Append(dst, in)
		} else {
			out, err = s.p.Append(c.scratch[i%2][:0], in)
			if err == nil {
				c.scratch[i%2] = out
			}
		}
		if err != nil {
			if err == errFiltered {
				c.filtered.Add(1)
				return dst, false
			}
			return c.invalid(dst, line, i, err)
		}
		in = out
	}
	return out, true
}

// invalid applies the on_error policy of step i, which rejected its input
// with err. Pass and wrap use the original line, not the failing step's
// input: that is what is in the file. Pass sends it as it is and ends the
// chain; wrap goes on with the wrapped record (see wrap).
func (c *Chain) invalid(dst, line []byte, i int, err error) ([]byte, bool) {
	c.lastErr = err
	switch c.steps[i].onError {
	case policyDrop:
		c.dropped.Add(1)
		return dst, false
	case policyPass:
		c.passed.Add(1)
		return append(dst, line...), true
	}
	c.wrapped.Add(1)
	return c.wrap(dst, line, i, err), true
}

// Stats returns the chain's counters. It may be called concurrently with
// Append; the counters are read one by one, so they can be a line apart.
func (c *Chain) Stats() Stats {
	// Read the error counters before Lines: Append counts a line before its
	// outcome, so Records never goes negative.
	var s Stats
	s.Header = c.header.Load()
	s.Filtered = c.filtered.Load()
	s.Dropped = c.dropped.Load()
	s.Passed = c.passed.Load()
	s.Wrapped = c.wrapped.Load()
	s.Lines = c.lines.Load()
	s.Invalid = s.Dropped + s.Passed + s.Wrapped
	s.Records = s.Lines - s.Dropped - s.Header - s.Filtered
	return s
}

// LastError returns why the most recent invalid line was rejected, or nil
// if no line was. Call it from the goroutine that calls Append.
func (c *Chain) LastError() error {
	return c.lastErr
}
