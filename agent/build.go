package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/sink"
	"github.com/kinetail/kinetail/tailer"
)

// How agent.memory_limit is shared, in sixteenths: the flows' lines and
// records, the destinations' requests, and the rest for the runtime (the
// collector's headroom for garbage, stacks, the checkpoint) and the
// program's own pages (programBytes). With less headroom the collector
// runs all the time once the budgets are full: 5/16 and 3/16 of 64 MiB
// cost no more CPU per line than 3/8 and 1/4 did with the program's pages
// left out of the account, and keep the resident set within the limit.
const (
	flowSixteenths = 5
	destSixteenths = 3
)

// programBytes is about the resident size of kinetail's own code and
// read-only data once it has run every path (RssFile in /proc/PID/status:
// 16.5 MiB): pages the runtime's memory limit does not count.
const programBytes = 17 << 20

// RuntimeLimit is the Go runtime's soft memory limit for an agent.memory_limit
// of limit bytes: the limit less the program's own pages, so that the
// resident set stays within it; at least half of it.
func RuntimeLimit(limit int64) int64 {
	return max(limit-programBytes, limit/2)
}

// flowMemory is the share of agent.memory_limit that bounds the lines the
// flows have read and not yet had acknowledged, and the records made from
// them: five sixteenths of it, split among the flows (see destinationMemory
// for the rest). When a flow's share is used up it stops reading and the data
// waits in the log file.
func flowMemory(cfg *config.Config) (int64, error) {
	share := int64(cfg.Agent.MemoryLimit) * flowSixteenths / 16 / int64(len(cfg.Flows))
	for _, fc := range cfg.Flows {
		if need := leastBudget(fc); share < need {
			return 0, fmt.Errorf("agent.memory_limit %v is too small for %d flows: flow %q needs at least %v for its lines (a batch and its longest line); raise memory_limit or lower max_line_bytes",
				cfg.Agent.MemoryLimit, len(cfg.Flows), fc.Name, config.Size((16*int64(len(cfg.Flows))*need+flowSixteenths-1)/flowSixteenths))
		}
	}
	return share, nil
}

// leastBudget is the least budget flow fc reads with: one full batch with
// a maximal line, or the tailer could never send it.
func leastBudget(fc *config.Flow) int64 {
	return int64(tailer.DefaultBatchBytes) + int64(fc.MaxLineBytes)
}

// destinationsUsed returns the destinations a flow can send to, directly,
// by a route or as a fallback, in order of first mention.
func destinationsUsed(cfg *config.Config) ([]string, error) {
	var names []string
	seen := make(map[string]bool)
	var add func(name string) error
	add = func(name string) error {
		if seen[name] {
			return nil
		}
		d := cfg.Destinations[name]
		if d == nil {
			return fmt.Errorf("destination %q is not defined", name)
		}
		seen[name] = true
		names = append(names, name)
		if d.Fallback != "" {
			return add(d.Fallback)
		}
		return nil
	}
	for _, f := range cfg.Flows {
		var to []string
		if f.Destination != "" {
			to = append(to, f.Destination)
		}
		for _, r := range f.Routes {
			to = append(to, r.To...)
		}
		for _, name := range to {
			if err := add(name); err != nil {
				return nil, fmt.Errorf("flow %q: %w", f.Name, err)
			}
		}
	}
	return names, nil
}

// destinationMemory is the share of agent.memory_limit that bounds what
// each Kinesis or Firehose destination holds of its own: request bodies
// and the lists of records in aggregates (sink.Memory), three sixteenths
// of the limit split among them. The records' data is the flows' (flowMemory;
// see tellInputs); the rest is left to the runtime: the collector's headroom
// for garbage, stacks, the checkpoint, the program's code. Other
// destinations hold little and get none.
func destinationMemory(cfg *config.Config, names []string) (map[string]*sink.Memory, error) {
	var remote []*config.Destination
	for _, name := range names {
		if d := cfg.Destinations[name]; d.Type == "kinesis" || d.Type == "firehose" {
			remote = append(remote, d)
		}
	}
	mem := make(map[string]*sink.Memory, len(remote))
	if len(remote) == 0 {
		return mem, nil
	}
	share := int64(cfg.Agent.MemoryLimit) * destSixteenths / 16 / int64(len(remote))
	for _, d := range remote {
		if need := sink.MinMemory(d); share < need {
			return nil, fmt.Errorf("agent.memory_limit %v is too small for %d destinations: destination %q needs at least %v for one request (a record of batch.max_record_bytes); raise memory_limit or lower max_record_bytes",
				cfg.Agent.MemoryLimit, len(remote), d.Name, config.Size((16*int64(len(remote))*need+destSixteenths-1)/destSixteenths))
		}
		mem[d.Name] = sink.NewMemory(share)
	}
	return mem, nil
}

// tellInputs tells each Kinesis or Firehose destination the least budget a
// flow's records may have there (sink.Memory.SetInput): a flow's budget
// split among the destinations it sends to, and the same at their
// fallbacks, which get records in their stead. It runs once the flows'
// budgets are set: after a build, after a reload resized the flows it
// kept, and when the files a flow follows take or give back part of its
// budget (retell).
func tellInputs(flows []*flow) {
	least := make(map[*destination]int64)
	for _, f := range flows {
		if len(f.dests) == 0 {
			continue
		}
		part := f.budget.lines() / int64(len(f.dests))
		for _, d := range f.dests {
			for seen := map[*destination]bool{}; d != nil && !seen[d]; d = d.fallback {
				seen[d] = true
				if n, ok := least[d]; !ok || part < n {
					least[d] = part
				}
			}
		}
	}
	for d, n := range least {
		if d.mem != nil {
			d.mem.SetInput(n)
		}
	}
}

// retell tells the destinations their inputs again (tellInputs): the files
// a flow follows changed its part for lines. Under a.mu, so that the flows
// told of are the running ones, also while a reload replaces them.
func (a *Agent) retell() {
	a.mu.Lock()
	defer a.mu.Unlock()
	tellInputs(a.flows)
}

// shares is how a configuration splits agent.memory_limit, and which
// destinations its flows use.
type shares struct {
	flow  int64                   // each flow's budget (flowMemory)
	names []string                // the destinations used, in order of first mention
	mem   map[string]*sink.Memory // the remote destinations' budgets (destinationMemory)
}

func newShares(cfg *config.Config) (shares, error) {
	var sh shares
	var err error
	if sh.flow, err = flowMemory(cfg); err != nil {
		return sh, err
	}
	if sh.names, err = destinationsUsed(cfg); err != nil {
		return sh, err
	}
	if sh.mem, err = destinationMemory(cfg, sh.names); err != nil {
		return sh, err
	}
	return sh, nil
}

// built is what build made for a configuration.
type built struct {
	dests []*destination // every destination it uses, in shares.names order
	flows []*flow        // every flow, in order
	// Those made by build, not reused: started by the caller, or
	// discarded.
	newDests []*destination
	newFlows []*flow
}

// build makes the destinations and flows of cfg. Destinations in reuse and
// flows in keep (by name) are running ones that take part unchanged; the
// others are made, not started. New flows resume from the tracker's
// positions; saved and firstStart are as in tailer.Config.
func (a *Agent) build(ctx context.Context, cfg *config.Config, sh shares, reuse map[string]*destination, keep map[string]*flow, saved time.Time, firstStart bool) (*built, error) {
	b := &built{}
	byName := make(map[string]*destination, len(sh.names))
	for _, name := range sh.names {
		d := reuse[name]
		if d == nil {
			var err error
			if d, err = newDestination(ctx, a.sinkCtx, cfg.Destinations[name], a.log, sh.mem, a.mon); err != nil {
				b.discard()
				return nil, err
			}
			d.failed = a.failed
			b.newDests = append(b.newDests, d)
		}
		byName[name] = d
		b.dests = append(b.dests, d)
	}
	for _, d := range b.newDests {
		if fb := d.cfg.Fallback; fb != "" {
			d.fallback = byName[fb]
		}
	}
	for _, fc := range cfg.Flows {
		f := keep[fc.Name]
		if f == nil {
			var err error
			if f, err = newFlow(fc, a, byName, sh.flow, saved, firstStart); err != nil {
				b.discard()
				return nil, err
			}
			b.newFlows = append(b.newFlows, f)
		}
		b.flows = append(b.flows, f)
	}
	return b, nil
}

// discard lets go of what build made, none of it started.
func (b *built) discard() {
	for _, d := range b.newDests {
		d.cancel()
		if d.dead != nil {
			d.dead.Close()
		}
	}
}
