package agent

import (
	"testing"

	"github.com/kinetail/kinetail/config"
)

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

// Each Kinesis or Firehose destination is told the least budget a flow's
// records may have there: a flow's budget, split among the destinations it
// sends to, and the same at a fallback, which gets records in their stead.
func TestInputMemory(t *testing.T) {
	cfg, err := config.Parse("test.yaml", []byte(`flows:
  - name: alone
    paths: [/var/log/a.log]
    destination: events
  - name: solo
    paths: [/var/log/c.log]
    destination: own
  - name: split
    paths: [/var/log/b.log]
    destination: events
    routes:
      - to: [errors]
destinations:
  events: {type: kinesis, stream: "events-%{service}", region: us-east-1, fallback: spill}
  errors: {type: kinesis, stream: errors, region: us-east-1}
  own: {type: kinesis, stream: own, region: us-east-1}
  spill: {type: firehose, delivery_stream: spill, region: us-east-1}
`))
	if err != nil {
		t.Fatal(err)
	}
	sh, err := newShares(cfg)
	if err != nil {
		t.Fatal(err)
	}
	budget, _ := flowBudget(sh.flow, cfg.Flows[2])
	if budget <= 0 || budget >= sh.flow {
		t.Fatalf("flow budget %d of a share of %d", budget, sh.flow)
	}
	for name, want := range map[string]int64{"own": budget, "events": budget / 2, "errors": budget / 2, "spill": budget / 2} {
		if got := sh.mem[name].Input(); got != want {
			t.Errorf("%s: input memory %d, want %d", name, got, want)
		}
	}
}
