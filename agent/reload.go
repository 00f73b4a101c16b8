package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kinetail/kinetail/config"
)

// RestartError is a reload that stopped flows and then could not start
// the new ones (a destination the SDK refuses, a file that cannot be
// opened). What still runs is consistent, but the configuration is
// neither the old one nor the new: the caller restarts the agent.
type RestartError struct{ Err error }

func (e *RestartError) Error() string { return e.Err.Error() }
func (e *RestartError) Unwrap() error { return e.Err }

// SameSettings reports whether a and b have the same agent settings, the
// ones Reload cannot change in place (the checkpoint, the memory limit,
// the metrics listener, ...).
func SameSettings(a, b *config.Config) bool { return same(&a.Agent, &b.Agent) }

// Changes is what a reload did, by name.
type Changes struct {
	Stopped, Started, Kept []string // flows
	Closed, Opened         []string // destinations
}

// None reports whether the reload changed nothing.
func (c Changes) None() bool {
	return len(c.Stopped) == 0 && len(c.Started) == 0 && len(c.Closed) == 0 && len(c.Opened) == 0
}

// Reload changes the running flows and destinations to next's, whose
// agent settings must be the running ones (SameSettings). A destination
// whose settings and fallbacks did not change keeps running; so does a
// flow whose settings did not change and whose destinations all keep
// running: untouched, no file reopened, nothing sent again. The others
// stop as at a shutdown: reading ends, what is in flight is delivered (up
// to agent.shutdown_timeout), their checkpoint entries are saved, and the
// new flows start from the acknowledged offsets. Only records still
// unacknowledged at the deadline can be sent twice.
//
// An error other than a *RestartError means nothing was changed: next
// cannot be run with these settings (the memory limit is too small for
// its flows). Reload must be called after Run started.
func (a *Agent) Reload(ctx context.Context, next *config.Config) (Changes, error) {
	var ch Changes
	select {
	case <-a.started:
	case <-ctx.Done():
		return ch, ctx.Err()
	}
	if !SameSettings(a.cfg, next) {
		return ch, errors.New("agent settings changed: the agent must be restarted")
	}
	sh, err := newShares(next)
	if err != nil {
		return ch, err
	}
	a.reloading.Lock()
	defer a.reloading.Unlock()
	flows, dests := a.lists()
	if a.stopping() {
		return ch, errors.New("the agent is stopping")
	}

	reuse := reusable(dests, next)
	keep := make(map[string]*flow)
	var stop []*flow
	for _, f := range flows {
		if fc := flowNamed(next, f.name); fc != nil && same(f.cfg, fc) && usesOnly(f, reuse) {
			keep[f.name] = f
			ch.Kept = append(ch.Kept, f.name)
		} else {
			stop = append(stop, f)
			ch.Stopped = append(ch.Stopped, f.name)
		}
	}
	var drop []*destination
	for _, d := range dests {
		if reuse[d.name] != d {
			drop = append(drop, d)
			ch.Closed = append(ch.Closed, d.name)
		}
	}
	for _, fc := range next.Flows {
		if keep[fc.Name] == nil {
			ch.Started = append(ch.Started, fc.Name)
		}
	}
	for _, name := range sh.names {
		if reuse[name] == nil {
			ch.Opened = append(ch.Opened, name)
		}
	}
	if ch.None() {
		return ch, nil
	}

	// A flow started again reads its paths as of its predecessor's last
	// scan: files that appeared after it are looked for as after a
	// restart.
	saved := time.Now()
	for _, f := range stop {
		if s := f.seen(); s.Before(saved) {
			saved = s
		}
	}
	deadline, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.Agent.ShutdownTimeout.D())
	defer cancel()
	a.stopFlows(deadline, stop, drop)
	// The stopped flows' entries are saved before the new flows read:
	// they resume from them, and a crash from here on loses nothing.
	if err := a.saver.Save(); err != nil {
		a.log.Error("checkpoint save after stopping the changed flows failed; the next save retries", "err", err)
	}

	// Unchanged flows keep running with their budgets resized to the new
	// shares; the new ones get them.
	b, err := a.build(ctx, next, sh, reuse, keep, saved, false)
	if err != nil {
		a.mu.Lock()
		a.flows = slices.DeleteFunc(slices.Clone(a.flows), func(f *flow) bool { return keep[f.name] != f })
		a.dests = slices.DeleteFunc(slices.Clone(a.dests), func(d *destination) bool { return reuse[d.name] != d })
		a.mu.Unlock()
		return ch, &RestartError{Err: err}
	}
	for _, f := range keep {
		f.resize(sh.flow)
	}
	for _, d := range reuse {
		if m := sh.mem[d.name]; m != nil && d.mem != nil {
			d.mem.SetLimit(m.Limit())
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		// Run is shutting down: nothing starts. The flows stopped
		// above are saved; what was built is let go.
		b.discard()
		a.flows = slices.DeleteFunc(slices.Clone(a.flows), func(f *flow) bool { return keep[f.name] != f })
		a.dests = slices.DeleteFunc(slices.Clone(a.dests), func(d *destination) bool { return reuse[d.name] != d })
		return ch, &RestartError{Err: errors.New("the agent is stopping")}
	}
	tellInputs(b.flows)
	for _, d := range b.newDests {
		d.startFixed()
	}
	for _, f := range b.newFlows {
		f.start(a.runCtx)
	}
	a.flows, a.dests = b.flows, b.dests
	return ch, nil
}

// stopFlows stops flows, closes the destinations in drop once those
// flows no longer send to them, and waits until what the flows handed on
// is acknowledged or the deadline passed; then it makes their checkpoint
// entries what a restart would load.
func (a *Agent) stopFlows(deadline context.Context, flows []*flow, drop []*destination) {
	// Dropped destinations are named only by stopped flows (a kept flow
	// uses only kept destinations): they get nothing more.
	stopAll(deadline, flows, drop)
	// What went to kept destinations is delivered by their sinks as usual.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for _, f := range flows {
		for a.tracker.Pending(f.name) > 0 && deadline.Err() == nil {
			select {
			case <-deadline.Done():
			case <-tick.C:
			}
		}
		if n := a.tracker.Pending(f.name); n > 0 {
			a.log.Warn("reload: batches of a stopped flow still unacknowledged at the shutdown timeout; their lines will be sent again", "flow", f.name, "batches", n)
		}
		a.tracker.Retire(f.name)
	}
}

func (a *Agent) stopping() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closing
}

// reusable returns the running destinations that next uses with the same
// settings and the same fallbacks, by name.
func reusable(running []*destination, next *config.Config) map[string]*destination {
	byName := make(map[string]*destination, len(running))
	for _, d := range running {
		byName[d.name] = d
	}
	reuse := make(map[string]*destination)
	// seen guards against a fallback cycle (refused by config anyway).
	seen := make(map[string]bool)
	var ok func(name string) bool
	ok = func(name string) bool {
		if r, done := seen[name]; done {
			return r
		}
		seen[name] = false
		d, nd := byName[name], next.Destinations[name]
		r := d != nil && nd != nil && same(d.cfg, nd) && (nd.Fallback == "" || ok(nd.Fallback))
		seen[name] = r
		return r
	}
	for name := range next.Destinations {
		if ok(name) {
			reuse[name] = byName[name]
		}
	}
	return reuse
}

// usesOnly reports whether every destination f sends to is in reuse.
func usesOnly(f *flow, reuse map[string]*destination) bool {
	for _, d := range f.dests {
		if reuse[d.name] != d {
			return false
		}
	}
	return true
}

func flowNamed(cfg *config.Config, name string) *config.Flow {
	for _, fc := range cfg.Flows {
		if fc.Name == name {
			return fc
		}
	}
	return nil
}

// same reports whether two parts of configurations say the same, whatever
// the lines they were written on: what is not in the YAML form (file
// positions) does not count.
func same(a, b any) bool {
	x, err := yaml.Marshal(a)
	if err != nil {
		return false
	}
	y, err := yaml.Marshal(b)
	return err == nil && bytes.Equal(x, y)
}

// notifyStatus is systemd's one-line status of the agent.
func (a *Agent) notifyStatus() string {
	flows, dests := a.lists()
	return fmt.Sprintf("STATUS=running %d flows, %d destinations", len(flows), len(dests))
}
