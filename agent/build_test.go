package agent

import (
	"testing"

	"github.com/kinetail/kinetail/sink"
)

// The runtime's soft limit leaves the program's own pages out, so that the
// resident set stays within agent.memory_limit; a small limit keeps half.
func TestRuntimeLimit(t *testing.T) {
	const MiB = 1 << 20
	for _, tt := range []struct{ limit, want int64 }{
		{64 * MiB, 47 * MiB},
		{1024 * MiB, 1007 * MiB},
		{24 * MiB, 12 * MiB},
		{8 * MiB, 4 * MiB},
	} {
		if got := RuntimeLimit(tt.limit); got != tt.want {
			t.Errorf("RuntimeLimit(%d MiB) = %d MiB, want %d MiB", tt.limit/MiB, got/MiB, tt.want/MiB)
		}
	}
	// The budgets and the program's pages fit in the default limit with
	// room for the collector: a quarter of the runtime's limit at least.
	limit := int64(64 * MiB)
	budgets := limit * (flowSixteenths + destSixteenths) / 16
	if room := RuntimeLimit(limit) - budgets; room < RuntimeLimit(limit)/4 {
		t.Errorf("budgets of %d MiB leave %d MiB of the runtime's %d MiB", budgets/MiB, room/MiB, RuntimeLimit(limit)/MiB)
	}
}

// Each Kinesis or Firehose destination is told the least budget a flow's
// records may have there: a flow's budget, split among the destinations it
// sends to, and the same at a fallback, which gets records in their stead.
func TestTellInputs(t *testing.T) {
	const MiB = 1 << 20
	spill := &destination{name: "spill", mem: sink.NewMemory(MiB)}
	events := &destination{name: "events", mem: sink.NewMemory(MiB), fallback: spill}
	errs := &destination{name: "errors", mem: sink.NewMemory(MiB)}
	own := &destination{name: "own", mem: sink.NewMemory(MiB)}
	file := &destination{name: "file"} // holds nothing of its own: no memory
	tellInputs([]*flow{
		{budget: newBudget(9*MiB, 0), dests: []*destination{events}},
		{budget: newBudget(8*MiB, 0), dests: []*destination{own}},
		{budget: newBudget(12*MiB, 0), dests: []*destination{events, errs, file}},
	})
	for _, tt := range []struct {
		d    *destination
		want int64
	}{{events, 4 * MiB}, {errs, 4 * MiB}, {spill, 4 * MiB}, {own, 8 * MiB}} {
		if got := tt.d.mem.Input(); got != tt.want {
			t.Errorf("%s: input memory %d, want %d", tt.d.name, got, tt.want)
		}
	}
}
