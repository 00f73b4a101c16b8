package agent

import "testing"

// The runtime's soft limit leaves the program's own pages out, so that the
// resident set stays within agent.memory_limit; a small limit keeps half.
func TestRuntimeLimit(t *testing.T) {
	const MiB = 1 << 20
	for _, tt := range []struct{ limit, want int64 }{
		{64 * MiB, 48 * MiB},
		{1024 * MiB, 1008 * MiB},
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
