package agent

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"time"

	"github.com/kinetail/kinetail/sink"
)

// Templated destinations (stream: app-%{service}) start a sink per stream
// name that records choose. What a record can choose is bounded: the name
// must match allowed (when given), at most max_streams names are in use
// (running or found missing), and a name unused for stream_idle_timeout is
// let go when a new one needs its place, so a burst of junk values cannot
// keep real streams out for longer than that. Records whose name is
// refused go to the fallback, counted.
//
// A new name's sink is built and its stream checked (a request) outside
// the destination's lock: flows sending to the destination's other
// streams go on meanwhile; only records naming that same new stream wait
// for the check, which is bounded by its timeout.

// recheckMissing is how long a stream found missing is sent to the
// fallback before it is looked for again.
const recheckMissing = 5 * time.Minute

// checkTimeout bounds a destination's start-up probe.
const checkTimeout = 15 * time.Second

// streamUse is one name a templated destination uses.
type streamUse struct {
	out *output // nil while the stream is missing or being created
	// creating is closed once the sink is built and the stream checked
	// (out is set then, or missingAt); nil after.
	creating  chan struct{}
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

// compileAllowed anchors each pattern: it must cover the whole name.
func compileAllowed(patterns []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, p := range patterns {
		re, err := regexp.Compile(`^(?:` + p + `)$`)
		if err != nil {
			return nil, err
		}
		out = append(out, re)
	}
	return out, nil
}

// templated returns the output of d for stream name, starting it on first
// use, and holds it for the caller (output.release). It returns nil when
// the name is not allowed, when the stream does not exist (looked for again
// after recheckMissing), when d already uses max_streams names none of
// which has been idle for stream_idle_timeout, or when d is closing. Names
// chosen by records are logged at DEBUG only: they are whatever the logs
// say.
func (a *Agent) templated(d *destination, name []byte, now time.Time) *output {
	d.mu.Lock()
	for {
		st := d.streams[string(name)]
		if st == nil {
			break
		}
		if st.creating != nil {
			wait := st.creating
			d.mu.Unlock()
			<-wait
			d.mu.Lock()
			continue
		}
		st.used = now
		if st.out != nil {
			st.out.holds++
			d.mu.Unlock()
			return st.out
		}
		if now.Sub(st.missingAt) < recheckMissing {
			d.mu.Unlock()
			return nil
		}
		delete(d.streams, string(name)) // missing a while ago: look again
		break
	}
	if !d.allows(name) {
		d.notAllowed++
		d.mu.Unlock()
		a.log.Debug("templated stream name not allowed; using the fallback", "destination", d.name, "stream", string(name))
		return nil
	}
	if len(d.streams) >= d.cfg.MaxStreams {
		d.retireIdle(now)
	}
	if len(d.streams) >= d.cfg.MaxStreams {
		d.overLimit++
		warn := !d.warnedTooMany
		d.warnedTooMany = true
		d.mu.Unlock()
		if warn {
			a.log.Error("too many stream names for one templated destination; new ones go to its fallback until names unused for stream_idle_timeout are let go",
				"destination", d.name, "max_streams", d.cfg.MaxStreams, "stream_idle_timeout", d.cfg.StreamIdleTimeout.D().String())
		}
		a.log.Debug("templated stream over max_streams; using the fallback", "destination", d.name, "stream", string(name))
		return nil
	}
	if d.closing {
		d.mu.Unlock()
		return nil
	}
	stream := string(name)
	st := &streamUse{creating: make(chan struct{}), used: now}
	d.streams[stream] = st
	d.mu.Unlock()

	o := a.newStream(d, stream)

	d.mu.Lock()
	defer d.mu.Unlock()
	close(st.creating)
	st.creating = nil
	switch {
	case o == nil:
		st.missingAt = now
		return nil
	case !d.startLocked(o):
		delete(d.streams, stream)
		return nil
	}
	o.dest, o.holds = d, 1
	st.out = o
	a.log.Debug("started a destination for a templated stream", "destination", d.name, "stream", stream)
	return o
}

// newStream builds the sink of d for stream and checks that the stream
// exists. It returns nil when it cannot be built or the stream is missing.
func (a *Agent) newStream(d *destination, stream string) *output {
	o, err := newOutput(d.ctx, d.cfg.WithStream(stream), d.name+"/"+stream, a.log, d.dead, d.mem, a.mon.observer(d.name, stream))
	if err != nil {
		a.log.Error("cannot start a destination for a templated stream; using its fallback", "destination", d.name, "err", err)
		return nil
	}
	if o.checker == nil {
		return o
	}
	ctx, cancel := context.WithTimeout(d.ctx, checkTimeout)
	err = o.checker.Check(ctx)
	cancel()
	if errors.Is(err, sink.ErrStreamNotFound) {
		a.log.Debug("templated stream does not exist; its records go to the fallback", "destination", d.name, "stream", stream, "recheck_after", recheckMissing.String())
		return nil
	}
	if err != nil {
		a.log.Error("destination check failed; records will wait and be retried", "destination", d.name, "err", err)
	}
	return o
}

// retireIdle lets go of d's stream names unused for stream_idle_timeout:
// a missing one is forgotten, a running one's sink is stopped after it
// delivered what it has (unless a flow holds it). d.mu must be held.
func (d *destination) retireIdle(now time.Time) {
	for name, st := range d.streams {
		if st.creating != nil || now.Sub(st.used) < d.cfg.StreamIdleTimeout.D() {
			continue
		}
		if st.out != nil && (st.out.holds > 0 || !d.stopLocked(st.out)) {
			continue
		}
		delete(d.streams, name)
		d.warnedTooMany = false
	}
}

// stopLocked closes o's input: its sink delivers what it was given and
// returns. It returns false once d is closing (close closes every input
// then). d.mu must be held.
func (d *destination) stopLocked(o *output) bool {
	i := slices.Index(d.running, o)
	if d.closing || i < 0 {
		return false
	}
	d.running = slices.Delete(d.running, i, i+1)
	close(o.in)
	return true
}

// release gives back n holds on o taken by templated.
func (o *output) release(n int) {
	if o.dest == nil || n == 0 {
		return
	}
	o.dest.mu.Lock()
	o.holds -= n
	o.dest.mu.Unlock()
}
