// Tests of the memory budget: requests stay within it, and a share too
// small is refused.

package sink

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/internal/testfs"
)

// A sink's requests stay inside its memory budget: a budget with room for
// one full request keeps one in flight whatever max_in_flight says, one with
// room for less makes requests smaller, and a generous one lets them all go.
// Every record is stored either way.
func TestKinesisRequestsFitTheMemoryBudget(t *testing.T) {
	const (
		records = 400
		pad     = 2000 // about 2 KB per record: 500 of them would be 1 MB
	)
	d0 := testDestination("")
	d0.Batch.MaxBytes, d0.Batch.MaxRecordBytes = 256<<10, 16<<10
	full := func() int64 { s := newSettings(d0, ""); return s.fullCost() }()
	tests := []struct {
		name          string
		memory        int64
		maxConcurrent int // at most, on the server
		maxBatch      int // at most, bytes of a request's data and keys
		minConcurrent int // at least
	}{
		{"room for one request", full + full/2, 1, 256 << 10, 1},
		{"room for less than one: smaller requests", full / 2, 1, 128 << 10, 1},
		{"room for all", 8 * full, 4, 256 << 10, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Streams: []string{testStream}, Latency: 20 * time.Millisecond})
			d := testDestination(srv.URL())
			d.Batch.MaxBytes, d.Batch.MaxRecordBytes = 256<<10, 16<<10
			d.MaxInFlight = 4
			k := newBudgetedKinesis(t, d, NewMemory(tt.memory))
			acks := newAckCounter(records)
			runAll(t, k, acks.batches(0, records, 10, pad), 60*time.Second)
			storedOnce(t, srv, records)
			if got := len(acks.acked(t)); got != records {
				t.Errorf("%d records acknowledged, want %d", got, records)
			}
			if used := k.mem.used.Load(); used != 0 {
				t.Errorf("%d bytes of the budget still counted as used after Run", used)
			}
			c := srv.Counts()
			if c.MaxConcurrent > tt.maxConcurrent || c.MaxConcurrent < tt.minConcurrent {
				t.Errorf("%d requests at once, want %d to %d", c.MaxConcurrent, tt.minConcurrent, tt.maxConcurrent)
			}
			if c.MaxBatchBytes > tt.maxBatch {
				t.Errorf("a request of %d bytes, more than %d", c.MaxBatchBytes, tt.maxBatch)
			}
		})
	}
}

func TestMinMemoryRefused(t *testing.T) {
	d := testDestination("http://127.0.0.1:9")
	_, err := NewKinesis(context.Background(), d, Options{
		Memory:      NewMemory(MinMemory(d) - 1),
		credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
	})
	if err == nil {
		t.Fatal("a budget smaller than one request was accepted")
	}
	if _, err := NewKinesis(context.Background(), d, Options{
		Memory:      NewMemory(MinMemory(d)),
		credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
	}); err != nil {
		t.Fatalf("MinMemory refused: %v", err)
	}
}

// A queue whose input's memory could not hold max_in_flight requests of
// max_bytes and one more queued sends a request once it holds a share of
// that memory, instead of waiting for max_age (an hour here): the input
// would be stopped until the records in flight are acknowledged, and the
// queue never fill a request of max_bytes. With aggregation too.
func TestKinesisFullRequestWithinInputMemory(t *testing.T) {
	const (
		records = 120
		pad     = 1000 // 1,029 bytes a record, 123 KB in all: far below max_bytes
		input   = 600 << 10
		full    = 100 // records that reach input/(max_in_flight+2)
	)
	for _, aggregate := range []bool{false, true} {
		t.Run(fmt.Sprintf("aggregate=%v", aggregate), func(t *testing.T) {
			t.Parallel()
			srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Streams: []string{testStream}})
			d := testDestination(srv.URL())
			d.Aggregation.Enabled = aggregate
			mem := NewMemory(1 << 30)
			mem.SetInput(input)
			k := newBudgetedKinesis(t, d, mem)
			acks := newAckCounter(records)
			in, res := runSink(context.Background(), k)
			send(t, in, acks.batches(0, records, 10, pad))
			// The input stays open, and max_age is an hour: the records
			// past the share wait.
			testfs.Wait(t, 10*time.Second, "a full share to be acknowledged", func() bool { return len(acks.acked(t)) >= full })
			close(in)
			if err := wait(t, res, 10*time.Second); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if aggregate {
				if users, _ := userRecords(t, srv.Stored()); len(users) != records {
					t.Errorf("%d user records stored, want %d", len(users), records)
				}
			} else {
				storedOnce(t, srv, records)
			}
			if got := len(acks.acked(t)); got != records {
				t.Errorf("%d records acknowledged, want %d", got, records)
			}
		})
	}
}

// The sinks of one destination (a stream template makes many) share its
// input's memory: once their records, queued and in flight, hold nearly all
// of it, a sink sends what it has queued, though each queue holds less
// than its part: the input would stop, and no queue fill any more. The
// sink whose records crossed that line sends; max_age is an hour.
func TestKinesisSinksShareInputMemory(t *testing.T) {
	const (
		per   = 150 // records per sink, 1,029 bytes each: 154 KB, less than a part
		pad   = 1000
		input = 600 << 10 // parts of 200 KiB with max_in_flight 1; full at 400 KiB held
	)
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Streams: []string{testStream}})
	mem := NewMemory(1 << 30)
	mem.SetInput(input)
	acks := newAckCounter(3 * per)
	ins := make([]chan<- Batch, 3)
	results := make([]<-chan error, 3)
	for i := range ins {
		d := testDestination(srv.URL())
		d.MaxInFlight = 1
		ins[i], results[i] = runSink(context.Background(), newBudgetedKinesis(t, d, mem))
		send(t, ins[i], acks.batches(i*per, (i+1)*per, 10, pad))
	}
	// The input stays open. The third sink's queue crossed the line at
	// 100 records (308,700 + 100 × 1,029 bytes ≥ 600 KiB − 200 KiB): those go.
	testfs.Wait(t, 10*time.Second, "the records that crossed the line to be acknowledged", func() bool {
		return len(acks.acked(t)) >= 100
	})
	for i := range ins {
		close(ins[i])
		if err := wait(t, results[i], 10*time.Second); err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	storedOnce(t, srv, 3*per)
	if held := mem.heldBytes(); held != 0 {
		t.Errorf("%d bytes still counted as held after the sinks ended", held)
	}
}
