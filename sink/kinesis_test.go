// Tests of the Kinesis sink against the fault-injecting server: delivery
// within limits, faults, partition keys, options.

package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/ack"
	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/internal/testfs"
)

const testStream = "events"

// testDestination returns a destination with every field set, pointing at
// endpoint, with fast backoff so fault tests finish quickly.
func testDestination(endpoint string) *config.Destination {
	return &config.Destination{
		Name:         "test",
		Type:         "kinesis",
		Stream:       testStream,
		Region:       "us-east-1",
		Endpoint:     endpoint,
		PartitionKey: KeyRandom,
		Aggregation:  config.Aggregation{Enabled: false, MaxBytes: 51200},
		Batch: config.Batch{
			MaxRecords:     500,
			MaxBytes:       5 << 20,
			MaxRecordBytes: 1 << 20,
			MaxAge:         config.Duration(time.Hour), // only explicit tests rely on age
		},
		Retry:       config.Retry{InitialBackoff: config.Duration(2 * time.Millisecond), MaxBackoff: config.Duration(50 * time.Millisecond)},
		Timeouts:    config.Timeouts{Connect: config.Duration(time.Second), Request: config.Duration(5 * time.Second)},
		MaxInFlight: 4,
	}
}

func newTestKinesis(t testing.TB, d *config.Destination) *Stream {
	t.Helper()
	return newBudgetedKinesis(t, d, nil)
}

// newBudgetedKinesis is newTestKinesis with a memory budget (nil:
// unbounded).
func newBudgetedKinesis(t testing.TB, d *config.Destination, mem *Memory) *Stream {
	t.Helper()
	k, err := NewKinesis(context.Background(), d, Options{
		Logger:      slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Rand:        rand.New(rand.NewPCG(7, 11)),
		Memory:      mem,
		credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
	})
	if err != nil {
		t.Fatalf("NewKinesis: %v", err)
	}
	return k
}

// testWriter sends the sink's log to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// ackCounter hands out one ack.Group per record and counts how often each
// record was acknowledged.
type ackCounter struct {
	counts []atomic.Int32
}

func newAckCounter(n int) *ackCounter { return &ackCounter{counts: make([]atomic.Int32, n)} }

func (a *ackCounter) group(i int) *ack.Group {
	return ack.New(func() { a.counts[i].Add(1) })
}

// acked returns the records acknowledged once and fails on any acknowledged
// more than once.
func (a *ackCounter) acked(t *testing.T) map[int]bool {
	t.Helper()
	out := map[int]bool{}
	for i := range a.counts {
		switch n := a.counts[i].Load(); {
		case n == 1:
			out[i] = true
		case n > 1:
			t.Errorf("record %d acknowledged %d times", i, n)
		}
	}
	return out
}

func recordData(i int) string { return fmt.Sprintf("record-%06d", i) }

// batches makes records [from, to) in batches of size per.
func (a *ackCounter) batches(from, to, per int, pad int) []Batch {
	var out []Batch
	for i := from; i < to; i += per {
		var b Batch
		for j := i; j < min(i+per, to); j++ {
			data := []byte(recordData(j) + strings.Repeat(".", pad))
			b.Records = append(b.Records, Record{Data: data, Ack: a.group(j)})
			b.Bytes += len(data)
		}
		out = append(out, b)
	}
	return out
}

// runSink starts k.Run and returns its input channel and a channel with its
// result.
func runSink(ctx context.Context, k *Stream) (chan<- Batch, <-chan error) {
	in := make(chan Batch)
	res := make(chan error, 1)
	go func() { res <- k.Run(ctx, in) }()
	return in, res
}

func send(t *testing.T, in chan<- Batch, bs []Batch) {
	t.Helper()
	for _, b := range bs {
		select {
		case in <- b:
		case <-time.After(30 * time.Second):
			t.Fatal("sink stopped reading its input")
		}
	}
}

// runAll runs k on bs, closes its input and waits for Run to return.
func runAll(t *testing.T, k *Stream, bs []Batch, within time.Duration) {
	t.Helper()
	in, res := runSink(context.Background(), k)
	send(t, in, bs)
	close(in)
	if err := wait(t, res, within); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func wait(t *testing.T, res <-chan error, within time.Duration) error {
	t.Helper()
	select {
	case err := <-res:
		return err
	case <-time.After(within):
		t.Fatalf("Run did not return within %v", within)
		return nil
	}
}

// storedOnce checks that the server holds exactly the records [0, n) each
// once, and returns them by index.
func storedOnce(t *testing.T, srv *kinesistest.FaultServer, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range srv.Stored() {
		if r.Stream != testStream {
			t.Errorf("record stored in stream %q", r.Stream)
		}
		seen[strings.TrimRight(string(r.Data), ".")]++
	}
	for i := range n {
		if c := seen[recordData(i)]; c != 1 {
			t.Errorf("%s stored %d times, want once", recordData(i), c)
		}
	}
	if len(seen) != n {
		t.Errorf("server holds %d distinct records, want %d", len(seen), n)
	}
}

func TestKinesisDeliversEverythingWithinLimits(t *testing.T) {
	tests := []struct {
		name         string
		records      int
		pad          int // extra data bytes per record (13 bytes without)
		maxRecords   int
		maxBytes     config.Size
		inFlight     int
		wantRequests int
		inOrder      bool
	}{
		{"one request for a few records", 10, 0, 500, 5 << 20, 4, 1, true},
		{"max_records splits requests", 100, 0, 7, 5 << 20, 2, 15, false},
		// 13 data + 87 padding + 16 key = 116 bytes: 8 fit in 1000.
		{"max_bytes splits requests", 100, 87, 500, 1000, 3, 13, false},
		{"one request in flight keeps order", 1000, 0, 50, 5 << 20, 1, 20, true},
		{"full requests of 500", 1200, 0, 500, 5 << 20, 4, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Streams: []string{testStream}})
			d := testDestination(srv.URL())
			d.Batch.MaxRecords, d.Batch.MaxBytes, d.MaxInFlight = tt.maxRecords, tt.maxBytes, tt.inFlight
			k := newTestKinesis(t, d)
			acks := newAckCounter(tt.records)

			runAll(t, k, acks.batches(0, tt.records, 64, tt.pad), 30*time.Second)

			storedOnce(t, srv, tt.records)
			if got := len(acks.acked(t)); got != tt.records {
				t.Errorf("%d records acknowledged, want %d", got, tt.records)
			}
			c := srv.Counts()
			if c.Requests != tt.wantRequests {
				t.Errorf("server saw %d requests, want %d", c.Requests, tt.wantRequests)
			}
			if c.MaxBatchRecords > tt.maxRecords || c.MaxBatchBytes > int(tt.maxBytes) {
				t.Errorf("largest request %d records / %d bytes, limits %d / %d",
					c.MaxBatchRecords, c.MaxBatchBytes, tt.maxRecords, tt.maxBytes)
			}
			if tt.inOrder {
				for i, r := range srv.Stored() {
					if got := strings.TrimRight(string(r.Data), "."); got != recordData(i) {
						t.Fatalf("stored record %d is %s, want %s", i, got, recordData(i))
					}
				}
			}
			st := k.Stats()
			want := StreamStats{
				Requests: int64(tt.wantRequests), RecordsSent: int64(tt.records), RecordsStored: int64(tt.records), ServiceRecords: int64(tt.records),
				BytesStored: int64(tt.records * (13 + tt.pad)), PayloadUnits: int64(tt.records),
			}
			if st != want {
				t.Errorf("stats %+v, want %+v", st, want)
			}
		})
	}
}

func TestKinesisMaxAgeFlushesSmallBatch(t *testing.T) {
	t.Parallel()
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{})
	d := testDestination(srv.URL())
	d.Batch.MaxAge = config.Duration(50 * time.Millisecond)
	k := newTestKinesis(t, d)
	acks := newAckCounter(3)

	in, res := runSink(context.Background(), k)
	send(t, in, acks.batches(0, 3, 10, 0))
	// The input stays open: only max_age can send the batch.
	testfs.Wait(t, 10*time.Second, "the partial batch to be stored", func() bool { return len(srv.Stored()) == 3 })
	testfs.Wait(t, 10*time.Second, "the acknowledgements", func() bool { return len(acks.acked(t)) == 3 })
	if c := srv.Counts(); c.Requests != 1 {
		t.Errorf("%d requests, want 1", c.Requests)
	}
	close(in)
	if err := wait(t, res, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestKinesisSurvivesFaultsWithoutDuplicates(t *testing.T) {
	t.Parallel()
	const n = 6000
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{
		Seed:          42,
		FailEntryRate: 0.3,
		Error500Rate:  0.1,
		Streams:       []string{testStream},
	})
	d := testDestination(srv.URL())
	d.Batch.MaxRecords = 100
	k := newTestKinesis(t, d)
	acks := newAckCounter(n)

	in, res := runSink(context.Background(), k)
	fed := make(chan struct{})
	outage := make(chan struct{})
	go func() {
		defer close(fed)
		send(t, in, acks.batches(0, n/2, 50, 0))
		<-outage
		// Sent during the outage: the sink must stop reading and hold on.
		send(t, in, acks.batches(n/2, n, 50, 0))
		close(in)
	}()

	testfs.Wait(t, 20*time.Second, "some records stored before the outage", func() bool { return len(srv.Stored()) >= 1000 })
	srv.SetDown(true)
	close(outage)
	time.Sleep(3 * time.Second) // the outage
	if got := len(srv.Stored()); got >= n {
		t.Fatalf("all %d records were stored during the outage", got)
	}
	srv.SetDown(false)

	if err := wait(t, res, 60*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	<-fed
	storedOnce(t, srv, n)
	if got := len(acks.acked(t)); got != n {
		t.Errorf("%d records acknowledged, want %d", got, n)
	}

	c := srv.Counts()
	if c.FailedEntries == 0 || c.Errors500 == 0 || c.DownRejected == 0 {
		t.Errorf("faults were not exercised: %+v", c)
	}
	// Every entry the server saw was either stored once or failed and
	// retried: nothing stored was sent again.
	if c.Entries != n+c.FailedEntries {
		t.Errorf("server saw %d entries for %d records with %d failed entries: something stored was resent",
			c.Entries, n, c.FailedEntries)
	}
	st := k.Stats()
	t.Logf("server %+v", c)
	t.Logf("sink %+v", st)
	if st.RecordsStored != n || st.FailedEntries != int64(c.FailedEntries) || st.RequestErrors == 0 || st.Retries == 0 || st.Throttled == 0 {
		t.Errorf("stats %+v do not match the faults %+v", st, c)
	}
}

func TestKinesisRejectsOversizeRecords(t *testing.T) {
	t.Parallel()
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{})
	d := testDestination(srv.URL())
	d.Batch.MaxRecordBytes = 1000
	k := newTestKinesis(t, d)
	acks := newAckCounter(3)

	big := strings.Repeat("x", 1000-derivedKeyLen+1) // one byte over with its key
	b := Batch{Records: []Record{
		{Data: []byte(recordData(0)), Ack: acks.group(0)},
		{Data: []byte(big), Ack: acks.group(1)},
		{Data: []byte(recordData(2)), Ack: acks.group(2)},
	}}
	runAll(t, k, []Batch{b}, 10*time.Second)
	stored := srv.Stored()
	if len(stored) != 2 || string(stored[0].Data) != recordData(0) || string(stored[1].Data) != recordData(2) {
		t.Errorf("stored %d records, want the two neighbours of the oversize one", len(stored))
	}
	if got := len(acks.acked(t)); got != 3 {
		t.Errorf("%d records acknowledged, want all 3", got)
	}
	if st := k.Stats(); st.Rejected != 1 || st.RecordsStored != 2 {
		t.Errorf("stats: rejected %d, stored %d; want 1, 2", st.Rejected, st.RecordsStored)
	}
}

func TestKinesisCancelDuringOutage(t *testing.T) {
	t.Parallel()
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{})
	d := testDestination(srv.URL())
	d.Batch.MaxRecords = 50
	d.Retry.MaxBackoff = config.Duration(time.Minute) // a cancelled Run must not sit out a backoff
	k := newTestKinesis(t, d)
	const n = 1100
	acks := newAckCounter(n)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in, res := runSink(ctx, k)
	send(t, in, acks.batches(0, 100, 50, 0))
	testfs.Wait(t, 10*time.Second, "the first records to be stored", func() bool { return len(srv.Stored()) == 100 })

	srv.SetDown(true)
	var accepted atomic.Int32
	go func() {
		// Blocks once the sink stops reading; ends when Run has returned.
		for _, b := range acks.batches(100, n, 50, 0) {
			select {
			case in <- b:
				accepted.Add(int32(len(b.Records)))
			case <-ctx.Done():
				return
			}
		}
	}()
	testfs.Wait(t, 10*time.Second, "requests during the outage", func() bool { return srv.Counts().DownRejected >= 3 })
	// Backpressure: at most the requests in flight plus one request's worth
	// queued (and the batch that crossed the line) are taken in.
	if got, limit := accepted.Load(), int32(d.MaxInFlight*50+50+50); got > limit {
		t.Errorf("sink took %d records during the outage, want at most %d", got, limit)
	}
	cancel()
	if err := wait(t, res, 5*time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}

	acked := acks.acked(t)
	if len(acked) != 100 {
		t.Errorf("%d records acknowledged, want only the 100 stored", len(acked))
	}
	for _, r := range srv.Stored() {
		var i int
		if _, err := fmt.Sscanf(string(r.Data), "record-%06d", &i); err != nil || !acked[i] {
			t.Errorf("stored record %q not acknowledged", r.Data)
		}
	}
}

func TestKinesisMaxAttemptsDropsAndAcknowledges(t *testing.T) {
	t.Parallel()
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{FailEntryRate: 1})
	d := testDestination(srv.URL())
	d.Retry.MaxAttempts = 3
	k := newTestKinesis(t, d)
	acks := newAckCounter(20)

	runAll(t, k, acks.batches(0, 20, 20, 0), 10*time.Second)
	if got := len(acks.acked(t)); got != 20 {
		t.Errorf("%d records acknowledged, want 20", got)
	}
	if c := srv.Counts(); c.Entries != 60 {
		t.Errorf("server saw %d entries, want 3 attempts of 20", c.Entries)
	}
	if st := k.Stats(); st.Dropped != 20 || st.RecordsStored != 0 {
		t.Errorf("stats: dropped %d, stored %d; want 20, 0", st.Dropped, st.RecordsStored)
	}
}

func TestKinesisAcknowledgesSharedGroups(t *testing.T) {
	t.Parallel()
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 3, FailEntryRate: 0.2})
	d := testDestination(srv.URL())
	d.Batch.MaxRecords = 30
	k := newTestKinesis(t, d)

	// One group per batch, as flows use them: the creator adds one count
	// per record and then releases its own hold.
	const batches, per = 20, 25
	var completed atomic.Int32
	groups := make([]*ack.Group, batches)
	in, res := runSink(context.Background(), k)
	for i := range batches {
		g := ack.New(func() { completed.Add(1) })
		groups[i] = g
		var b Batch
		for j := range per {
			g.Add(1)
			b.Records = append(b.Records, Record{Data: []byte(recordData(i*per + j)), Ack: g})
		}
		send(t, in, []Batch{b})
		g.Done(1)
	}
	close(in)
	if err := wait(t, res, 20*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	storedOnce(t, srv, batches*per)
	if got := completed.Load(); got != batches {
		t.Errorf("%d groups completed, want %d", got, batches)
	}
	for i, g := range groups {
		if p := g.Pending(); p != 0 {
			t.Errorf("group %d has %d pending", i, p)
		}
	}
}

func TestKinesisPartitionKeys(t *testing.T) {
	tests := []struct {
		name  string
		mode  string
		key   string
		check func(data []byte, key string) bool
	}{
		{"explicit keys are kept", KeyRandom, "user-1", func(_ []byte, key string) bool { return key == "user-1" }},
		{"deterministic keys hash the data", KeyDeterministic, "", func(data []byte, key string) bool {
			return key == fmt.Sprintf("%016x", fnv64a(data))
		}},
		{"random keys are hex", KeyRandom, "", func(_ []byte, key string) bool {
			return len(key) == 16 && strings.Trim(key, "0123456789abcdef") == ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{})
			d := testDestination(srv.URL())
			d.PartitionKey = tt.mode
			k := newTestKinesis(t, d)
			var b Batch
			for i := range 20 {
				b.Records = append(b.Records, Record{Data: []byte(recordData(i)), PartitionKey: tt.key})
			}
			runAll(t, k, []Batch{b}, 10*time.Second)
			stored := srv.Stored()
			keys := map[string]bool{}
			for _, r := range stored {
				if !tt.check(r.Data, r.PartitionKey) {
					t.Errorf("record %s has key %q", r.Data, r.PartitionKey)
				}
				keys[r.PartitionKey] = true
			}
			if len(stored) != 20 {
				t.Errorf("%d stored, want 20", len(stored))
			}
			if tt.key == "" && len(keys) != 20 {
				t.Errorf("%d distinct derived keys for 20 records", len(keys))
			}
		})
	}
}

func TestNewKinesisRejectsBadDestinations(t *testing.T) {
	tests := []struct {
		name   string
		modify func(d *config.Destination)
		want   string
	}{
		{"no stream", func(d *config.Destination) { d.Stream = "" }, "no stream"},
		{"unknown key mode", func(d *config.Destination) { d.PartitionKey = "sometimes" }, `"sometimes"`},
		{"unknown protocol", func(d *config.Destination) { d.Protocol = "protobuf" }, `unknown protocol "protobuf"`},
		{"unknown HTTP version", func(d *config.Destination) { d.HTTP.Version = "3" }, `unknown http.version "3"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDestination("http://127.0.0.1:1")
			tt.modify(d)
			_, err := NewKinesis(context.Background(), d, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewKinesis error %v, want one mentioning %s", err, tt.want)
			}
		})
	}
}

func BenchmarkKinesisSink(b *testing.B) {
	srv := kinesistest.NewFaultServer(b, kinesistest.FaultOptions{})
	k := newTestKinesis(b, testDestination(srv.URL()))
	data := []byte(`{"time":"2024-05-01T12:00:00Z","host":"web-1","status":200,"path":"/index.html","bytes":5120}`)
	const per = 500
	batch := func() Batch {
		b := Batch{Records: make([]Record, per)}
		for i := range b.Records {
			b.Records[i].Data = data
		}
		b.Bytes = per * len(data)
		return b
	}
	in, res := runSink(context.Background(), k)
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += per {
		in <- batch()
	}
	close(in)
	if err := <-res; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(k.Stats().RecordsStored)/b.Elapsed().Seconds(), "records/s")
}
