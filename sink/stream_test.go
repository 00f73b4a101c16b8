// Tests of the Kinesis and Firehose sink's features against the fault
// server: aggregation, compression, dead letters, Firehose, shard-aware
// mode.

package sink

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/klauspost/compress/zstd"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/internal/kpl"
	"github.com/kinetail/kinetail/internal/testfs"
)

// userRecords decodes what the server stored: aggregates into their user
// records, other records as they are. It checks that every user record of
// an aggregate has the aggregate's partition key.
func userRecords(t *testing.T, stored []kinesistest.StoredRecord) (users []kpl.Record, aggregates int) {
	t.Helper()
	for _, r := range stored {
		if !kpl.IsAggregated(r.Data) {
			users = append(users, kpl.Record{PartitionKey: r.PartitionKey, Data: r.Data})
			continue
		}
		aggregates++
		recs, err := kpl.Decode(r.Data)
		if err != nil {
			t.Fatalf("stored aggregate does not decode: %v", err)
		}
		for _, u := range recs {
			if u.PartitionKey != r.PartitionKey {
				t.Fatalf("user record key %q in an aggregate with key %q", u.PartitionKey, r.PartitionKey)
			}
		}
		users = append(users, recs...)
	}
	return users, aggregates
}

func TestKinesisAggregation(t *testing.T) {
	tests := []struct {
		name     string
		records  int
		pad      int
		maxBytes config.Size
		keys     int // records get keys k0..k{keys-1} in turn; 0: none
		failRate float64
	}{
		{"small records share aggregates", 5000, 100, 51200, 0, 0},
		{"partial failures resend whole aggregates", 3000, 100, 8 << 10, 0, 0.3},
		{"a record too large to share goes alone", 50, 40 << 10, 51200, 0, 0},
		{"records with their own keys share only with the same key", 600, 10, 51200, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 5, FailEntryRate: tt.failRate})
			d := testDestination(srv.URL())
			d.Aggregation = config.Aggregation{Enabled: true, MaxBytes: tt.maxBytes}
			k := newTestKinesis(t, d)
			acks := newAckCounter(tt.records)
			bs := acks.batches(0, tt.records, 100, tt.pad)
			for _, b := range bs {
				for i := range b.Records {
					if tt.keys > 0 {
						var n int
						fmt.Sscanf(string(b.Records[i].Data), "record-%06d", &n)
						b.Records[i].PartitionKey = fmt.Sprintf("k%d", n%tt.keys)
					}
				}
			}
			runAll(t, k, bs, 60*time.Second)
			users, aggregates := userRecords(t, srv.Stored())
			seen := map[string]int{}
			for _, u := range users {
				seen[strings.TrimRight(string(u.Data), ".")]++
				if tt.keys > 0 {
					var n int
					fmt.Sscanf(string(u.Data), "record-%06d", &n)
					if want := fmt.Sprintf("k%d", n%tt.keys); u.PartitionKey != want {
						t.Fatalf("record %d stored with key %q, want %q", n, u.PartitionKey, want)
					}
				}
			}
			for i := range tt.records {
				if seen[recordData(i)] != 1 {
					t.Fatalf("%s stored %d times, want once", recordData(i), seen[recordData(i)])
				}
			}
			if got := len(acks.acked(t)); got != tt.records {
				t.Errorf("%d records acknowledged, want %d", got, tt.records)
			}
			for _, r := range srv.Stored() {
				if len(r.Data)+len(r.PartitionKey) > int(tt.maxBytes) && kpl.IsAggregated(r.Data) {
					t.Errorf("aggregate of %d bytes exceeds max_bytes %d", len(r.Data)+len(r.PartitionKey), tt.maxBytes)
				}
			}
			st := k.Stats()
			if st.RecordsStored != int64(tt.records) || st.ServiceRecords != int64(len(srv.Stored())) {
				t.Errorf("stats: %d user records in %d service records; server holds %d", st.RecordsStored, st.ServiceRecords, len(srv.Stored()))
			}
			packed := 0
			for _, r := range srv.Stored() {
				if kpl.IsAggregated(r.Data) {
					recs, _ := kpl.Decode(r.Data)
					packed += len(recs)
				}
			}
			if s := k.State(); s.Aggregates != int64(aggregates) || s.Packed != int64(packed) {
				t.Errorf("state counts %d aggregates of %d records; the server holds %d of %d", s.Aggregates, s.Packed, aggregates, packed)
			}
			switch {
			case tt.pad > 20<<10:
				if aggregates != 0 {
					t.Errorf("%d aggregates of records too large to share", aggregates)
				}
			case aggregates == 0 || len(srv.Stored()) > tt.records/5:
				t.Errorf("%d user records went into %d Kinesis records (%d aggregates): too little packing", tt.records, len(srv.Stored()), aggregates)
			}
		})
	}
}

func TestKinesisCompression(t *testing.T) {
	for _, kind := range []string{"gzip", "zstd"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{})
			d := testDestination(srv.URL())
			d.Compression = kind
			k := newTestKinesis(t, d)
			acks := newAckCounter(100)
			runAll(t, k, acks.batches(0, 100, 10, 200), 30*time.Second)
			dec, _ := zstd.NewReader(nil)
			defer dec.Close()
			seen := map[string]bool{}
			for _, r := range srv.Stored() {
				var plain []byte
				var err error
				if kind == "gzip" {
					var zr *gzip.Reader
					if zr, err = gzip.NewReader(bytes.NewReader(r.Data)); err == nil {
						plain, err = io.ReadAll(zr)
					}
				} else {
					plain, err = dec.DecodeAll(r.Data, nil)
				}
				if err != nil {
					t.Fatalf("stored record does not decompress: %v", err)
				}
				if len(r.Data) >= len(plain) {
					t.Errorf("compressed %d bytes into %d", len(plain), len(r.Data))
				}
				seen[strings.TrimRight(string(plain), ".")] = true
			}
			for i := range 100 {
				if !seen[recordData(i)] {
					t.Fatalf("%s missing", recordData(i))
				}
			}
		})
	}
}

// readDeadLetters reads every record of a dead-letter file, failing the
// test on any problem.
func readDeadLetters(t *testing.T, path string) []DeadRecord {
	t.Helper()
	recs, err := readAllDead(t, path)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestKinesisDeadLetters(t *testing.T) {
	tests := []struct {
		name      string
		aggregate bool
		setup     func(d *config.Destination)
		pad       int
	}{
		{"max_attempts", false, func(d *config.Destination) { d.Retry.MaxAttempts = 2 }, 0},
		{"max_record_age", false, func(d *config.Destination) { d.Retry.MaxRecordAge = config.Duration(100 * time.Millisecond) }, 0},
		{"aggregates are written record by record", true, func(d *config.Destination) { d.Retry.MaxAttempts = 2 }, 0},
		{"records too large for the stream", false, func(d *config.Destination) { d.Batch.MaxRecordBytes = 100 }, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{FailEntryRate: 1})
			d := testDestination(srv.URL())
			d.DeadLetterFile = filepath.Join(t.TempDir(), "dead.jsonl")
			d.Aggregation.Enabled = tt.aggregate
			tt.setup(d)
			k := newTestKinesis(t, d)
			acks := newAckCounter(30)
			runAll(t, k, acks.batches(0, 30, 10, tt.pad), 30*time.Second)
			if got := len(acks.acked(t)); got != 30 {
				t.Errorf("%d records acknowledged, want 30", got)
			}
			dead := readDeadLetters(t, d.DeadLetterFile)
			seen := map[string]int{}
			for _, r := range dead {
				if r.Destination != "test" || r.Stream != testStream || r.Error == "" {
					t.Errorf("dead letter %+v lacks its destination, stream or error", r)
				}
				seen[strings.TrimRight(string(r.Data), ".")]++
			}
			for i := range 30 {
				if seen[recordData(i)] != 1 {
					t.Fatalf("%s in the dead-letter file %d times, want once", recordData(i), seen[recordData(i)])
				}
			}
			if st := k.Stats(); st.DeadLettered != 30 || st.Dropped != 0 || st.Rejected != 0 {
				t.Errorf("stats %+v, want 30 dead-lettered", st)
			}
			if fi, err := os.Stat(d.DeadLetterFile); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("dead-letter file mode %v (%v), want 0600", fi.Mode().Perm(), err)
			}
		})
	}
}

func testFirehose(t *testing.T, endpoint string, aggregate bool) *Stream {
	t.Helper()
	d := testDestination(endpoint)
	d.Type, d.Stream, d.DeliveryStream = "firehose", "", testStream
	d.Batch.MaxBytes, d.Batch.MaxRecordBytes = 4<<20, 1000<<10
	d.Aggregation = config.Aggregation{Enabled: aggregate, MaxBytes: 4 << 10}
	k, err := NewFirehose(context.Background(), d, Options{
		Logger:      slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
	})
	if err != nil {
		t.Fatalf("NewFirehose: %v", err)
	}
	return k
}

func TestFirehose(t *testing.T) {
	for _, aggregate := range []bool{false, true} {
		t.Run(fmt.Sprintf("aggregate=%v", aggregate), func(t *testing.T) {
			t.Parallel()
			srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 9, FailEntryRate: 0.3, Streams: []string{testStream}})
			k := testFirehose(t, srv.URL(), aggregate)
			if err := k.Check(context.Background()); err != nil {
				t.Fatalf("Check: %v", err)
			}
			acks := newAckCounter(2000)
			runAll(t, k, acks.batches(0, 2000, 100, 20), 60*time.Second)
			seen := map[string]int{}
			stored := srv.FirehoseStored()
			for _, r := range stored {
				if !bytes.HasSuffix(r.Data, []byte("\n")) {
					t.Fatalf("Firehose record %q does not end with a newline", r.Data)
				}
				if len(r.Data) > 4<<10 && aggregate {
					t.Fatalf("Firehose record of %d bytes exceeds aggregation.max_bytes", len(r.Data))
				}
				for line := range strings.Lines(string(r.Data)) {
					seen[strings.TrimRight(strings.TrimSuffix(line, "\n"), ".")]++
				}
			}
			for i := range 2000 {
				if seen[recordData(i)] != 1 {
					t.Fatalf("%s stored %d times, want once", recordData(i), seen[recordData(i)])
				}
			}
			if got := len(acks.acked(t)); got != 2000 {
				t.Errorf("%d acknowledged, want 2000", got)
			}
			if aggregate && len(stored) > 2000/20 {
				t.Errorf("2000 lines in %d Firehose records: too little packing", len(stored))
			}
			if !aggregate && len(stored) != 2000 {
				t.Errorf("2000 lines in %d Firehose records, want one each", len(stored))
			}
		})
	}
}

func TestFirehoseCheckMissingStream(t *testing.T) {
	t.Parallel()
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Streams: []string{"other"}})
	k := testFirehose(t, srv.URL(), false)
	err := k.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), `firehose delivery stream "events" not found`) {
		t.Fatalf("Check = %v, want a not-found error naming the delivery stream", err)
	}
}

// TestKinesisShardAware: against a stream whose shards refuse more than
// their limits, the shard-aware sink paces each shard and is never
// throttled, while the same load sent without it is.
func TestKinesisShardAware(t *testing.T) {
	const (
		shards   = 4
		perShard = 64 << 10 // bytes per second
		records  = 6000     // of about 100 bytes: 2.3 seconds' worth of the stream's burst
	)
	for _, aware := range []bool{true, false} {
		t.Run(fmt.Sprintf("shard_aware=%v", aware), func(t *testing.T) {
			t.Parallel()
			srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{
				Shards: shards, ShardBytesPerSecond: perShard, ShardRecordsPerSecond: 1000,
			})
			d := testDestination(srv.URL())
			d.Aggregation = config.Aggregation{Enabled: true, MaxBytes: 4 << 10}
			d.ShardAware = config.ShardAware{Enabled: aware, Refresh: config.Duration(time.Minute),
				BytesPerSecond: perShard, RecordsPerSecond: 1000}
			k := newTestKinesis(t, d)
			acks := newAckCounter(records)
			runAll(t, k, acks.batches(0, records, 500, 87), 60*time.Second)
			users, _ := userRecords(t, srv.Stored())
			if len(users) != records || len(acks.acked(t)) != records {
				t.Fatalf("%d user records stored, %d acknowledged; want %d", len(users), len(acks.acked(t)), records)
			}
			c := srv.Counts()
			perShardStored := map[string]int{}
			for _, r := range srv.Stored() {
				perShardStored[r.ShardID]++
				if aware && r.ExplicitHashKey == "" {
					t.Fatalf("shard-aware record without an explicit hash key")
				}
			}
			if aware {
				if c.ShardThrottled != 0 {
					t.Errorf("shard-aware sink was throttled %d times", c.ShardThrottled)
				}
				if len(perShardStored) != shards {
					t.Errorf("records went to %d shards, want all %d: %v", len(perShardStored), shards, perShardStored)
				}
			} else if c.ShardThrottled == 0 {
				t.Errorf("the load was never throttled without shard awareness: the test does not exceed the limits")
			}
			t.Logf("shard_aware=%v: %d requests, %d throttled entries, per shard %v", aware, c.Requests, c.ShardThrottled, perShardStored)
		})
	}
}

// TestKinesisShardAwareRelistsWhenThrottled: after the stream is resharded
// from 4 shards to 2, the old map paces two lanes per real shard, which is
// throttled; the sink lists the shards again at once and carries on with
// the new map, losing nothing.
func TestKinesisShardAwareRelistsWhenThrottled(t *testing.T) {
	t.Parallel()
	const perShard = 32 << 10
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{
		Shards: 4, ShardBytesPerSecond: perShard, ShardRecordsPerSecond: 1000,
	})
	d := testDestination(srv.URL())
	d.Aggregation = config.Aggregation{Enabled: true, MaxBytes: 4 << 10}
	// Listed every 8s, and when throttled at most every 2s.
	d.ShardAware = config.ShardAware{Enabled: true, Refresh: config.Duration(8 * time.Second), BytesPerSecond: perShard, RecordsPerSecond: 1000}
	d.Batch.MaxAge = config.Duration(50 * time.Millisecond)
	var logs testfs.Buffer
	k, err := NewKinesis(context.Background(), d, Options{
		Logger:      slog.New(slog.NewTextHandler(&logs, nil)),
		credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	const records = 4000
	acks := newAckCounter(records)
	in, res := runSink(context.Background(), k)
	bs := acks.batches(0, records, 100, 87)
	send(t, in, bs[:5])
	testfs.Wait(t, 10*time.Second, "the first records", func() bool { return len(srv.Stored()) > 0 })
	srv.SetShards(2)
	send(t, in, bs[5:])
	close(in)
	if err := wait(t, res, 60*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := len(acks.acked(t)); got != records {
		t.Fatalf("%d acknowledged, want %d", got, records)
	}
	users, _ := userRecords(t, srv.Stored())
	if len(users) != records {
		t.Errorf("%d user records stored, want %d", len(users), records)
	}
	if !strings.Contains(logs.String(), "shards=2") {
		t.Errorf("the sink never used the new map of 2 shards:\n%s", logs.String())
	}
}
