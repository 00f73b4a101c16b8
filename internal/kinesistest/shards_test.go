package kinesistest

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// fakeClock replaces the server's clock; the test moves it by hand.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func withFakeClock(s *FaultServer) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	s.mu.Lock()
	s.now = c.now
	s.mu.Unlock()
	return c
}

// shardStart returns the first hash key of shard i of n evenly split
// shards, in decimal.
func shardStart(i, n int) string { return evenSplit(i, big.NewInt(int64(n))).String() }

// shardEnd returns the last hash key of shard i of n.
func shardEnd(i, n int) string {
	return new(big.Int).Sub(evenSplit(i+1, big.NewInt(int64(n))), big.NewInt(1)).String()
}

// toShards builds entries of size bytes (data plus the one-byte key), the
// first perShard[0] for shard 0 of n, then perShard[1] for shard 1, ...
func toShards(n, size int, perShard ...int) []types.PutRecordsRequestEntry {
	var out []types.PutRecordsRequestEntry
	for sh, count := range perShard {
		for range count {
			out = append(out, types.PutRecordsRequestEntry{
				Data:            make([]byte, size-1),
				PartitionKey:    aws.String("k"),
				ExplicitHashKey: aws.String(shardStart(sh, n)),
			})
		}
	}
	return out
}

// acceptedPerShard counts the stored entries of an answer by shard id, and
// checks that each failed one names its shard.
func acceptedPerShard(t *testing.T, out *kinesis.PutRecordsOutput) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i, r := range out.Records {
		if r.ErrorCode != nil {
			if *r.ErrorCode != "ProvisionedThroughputExceededException" || !strings.Contains(aws.ToString(r.ErrorMessage), "Rate exceeded for shard shardId-") {
				t.Errorf("entry %d failed with %s: %s", i, *r.ErrorCode, aws.ToString(r.ErrorMessage))
			}
			continue
		}
		got[aws.ToString(r.ShardId)]++
	}
	return got
}

func TestShardLimits(t *testing.T) {
	type step struct {
		advance  time.Duration
		perShard []int          // entries sent to shard 0, 1, ...
		accepted map[string]int // stored entries per shard id
	}
	const (
		s0 = "shardId-000000000000"
		s1 = "shardId-000000000001"
	)
	steady := make([]step, 30) // 90 records a second per shard for 3 s
	for i := range steady {
		steady[i] = step{100 * time.Millisecond, []int{9, 9}, map[string]int{s0: 9, s1: 9}}
	}
	tests := []struct {
		name           string
		opts           FaultOptions
		size           int
		steps          []step
		wantThrottled  int
		wantFailedOnly int // entries failed by injection
	}{
		{"a steady load below the limit is never throttled", FaultOptions{Shards: 2, ShardRecordsPerSecond: 100, ShardBytesPerSecond: 10000},
			10, steady, 0, 0},
		{"records over a shard's limit are throttled on that shard only", FaultOptions{Shards: 2, ShardRecordsPerSecond: 100},
			10, []step{
				{0, []int{300, 50}, map[string]int{s0: 100, s1: 50}},
				{500 * time.Millisecond, []int{100, 0}, map[string]int{s0: 50}},
				{10 * time.Second, []int{150, 0}, map[string]int{s0: 100}},
			}, 200 + 50 + 50, 0},
		{"bytes over a shard's limit are throttled", FaultOptions{Shards: 1, ShardBytesPerSecond: 1000},
			100, []step{
				{0, []int{25}, map[string]int{s0: 10}},
				{200 * time.Millisecond, []int{5}, map[string]int{s0: 2}},
			}, 15 + 3, 0},
		{"a record larger than a second's worth passes when the bucket is full", FaultOptions{Shards: 1, ShardBytesPerSecond: 50},
			100, []step{
				{0, []int{2}, map[string]int{s0: 1}},
				{time.Second, []int{1}, map[string]int{}}, // paying back the debt
				{time.Second, []int{1}, map[string]int{s0: 1}},
			}, 2, 0},
		{"injected failures are not counted as throttling", FaultOptions{Shards: 1, Seed: 5, FailEntryRate: 1, ShardRecordsPerSecond: 1},
			10, []step{{0, []int{3}, map[string]int{}}}, 0, 3},
		{"no limits take everything", FaultOptions{Shards: 3},
			1000, []step{{0, []int{500, 0, 0}, map[string]int{s0: 500}}}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewFaultServer(t, tt.opts)
			clock := withFakeClock(s)
			c := faultClient(s)
			sent, stored := 0, 0
			for i, st := range tt.steps {
				clock.advance(st.advance)
				recs := toShards(max(tt.opts.Shards, 1), tt.size, st.perShard...)
				sent += len(recs)
				out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: recs})
				if err != nil {
					t.Fatalf("step %d: PutRecords: %v", i, err)
				}
				got := acceptedPerShard(t, out)
				if fmt.Sprint(got) != fmt.Sprint(st.accepted) {
					t.Errorf("step %d: accepted per shard %v, want %v", i, got, st.accepted)
				}
				for _, n := range got {
					stored += n
				}
				if failed := len(recs) - sum(got); int(aws.ToInt32(out.FailedRecordCount)) != failed {
					t.Errorf("step %d: FailedRecordCount %d, want %d", i, aws.ToInt32(out.FailedRecordCount), failed)
				}
			}
			cnt := s.Counts()
			if cnt.ShardThrottled != tt.wantThrottled || cnt.FailedEntries != tt.wantThrottled+tt.wantFailedOnly || cnt.Entries != sent {
				t.Errorf("counts %+v, want %d throttled, %d failed, %d entries", cnt, tt.wantThrottled, tt.wantThrottled+tt.wantFailedOnly, sent)
			}
			if n := len(s.Stored()); n != stored {
				t.Errorf("%d records stored, %d answered as stored", n, stored)
			}
		})
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestShardLimitRealClock(t *testing.T) {
	s := NewFaultServer(t, FaultOptions{Shards: 1, ShardRecordsPerSecond: 100})
	start := time.Now()
	out, err := faultClient(s).PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: faultEntries(300)})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	accepted := 300 - int(aws.ToInt32(out.FailedRecordCount))
	// A second's worth, plus what the bucket earned while the request ran.
	if most := 100 + int(elapsed.Seconds()*100) + 1; accepted < 100 || accepted > most {
		t.Errorf("%d of 300 accepted in %v, want 100 to %d", accepted, elapsed, most)
	}
}

func TestShardPutRecordThrottled(t *testing.T) {
	s := NewFaultServer(t, FaultOptions{Shards: 2, ShardRecordsPerSecond: 1})
	withFakeClock(s)
	c := faultClient(s)
	in := &kinesis.PutRecordInput{StreamName: aws.String("s"), Data: []byte("x"), PartitionKey: aws.String("k"), ExplicitHashKey: aws.String(shardEnd(1, 2))}
	out, err := c.PutRecord(context.Background(), in)
	if err != nil || aws.ToString(out.ShardId) != "shardId-000000000001" {
		t.Fatalf("PutRecord = %+v, %v; want stored on shard 1", out, err)
	}
	var pte *types.ProvisionedThroughputExceededException
	if _, err := c.PutRecord(context.Background(), in); !errors.As(err, &pte) || !strings.Contains(err.Error(), "shardId-000000000001 in stream s") {
		t.Errorf("second PutRecord: %v, want throttling on shard 1", err)
	}
	if cnt := s.Counts(); cnt.ShardThrottled != 1 || cnt.FailedEntries != 1 {
		t.Errorf("counts %+v", cnt)
	}
}

func TestShardRouting(t *testing.T) {
	s := NewFaultServer(t, FaultOptions{Shards: 4})
	c := faultClient(s)
	max128 := new(big.Int).Sub(hashKeySpace, big.NewInt(1)).String()
	type routeCase struct {
		name      string
		key       string // partition key
		explicit  string // ExplicitHashKey, if any
		wantShard int
	}
	tests := []routeCase{
		{"zero goes to the first shard", "k", "0", 0},
		{"the largest key goes to the last shard", "k", max128, 3},
		{"a shard's first key goes to it", "k", shardStart(2, 4), 2},
		{"a shard's last key goes to it", "k", shardEnd(2, 4), 2},
		{"the key after a shard's end goes to the next", "k", shardStart(3, 4), 3},
	}
	// Partition keys go by their MD5: the top two bits choose of four.
	for _, key := range []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"} {
		digest := md5.Sum([]byte(key))
		tests = append(tests, routeCase{"partition key " + key + " goes by its MD5", key, "", int(digest[0] >> 6)})
	}
	var recs []types.PutRecordsRequestEntry
	for _, tt := range tests {
		e := types.PutRecordsRequestEntry{Data: []byte(tt.name), PartitionKey: aws.String(tt.key)}
		if tt.explicit != "" {
			e.ExplicitHashKey = aws.String(tt.explicit)
		}
		recs = append(recs, e)
	}
	out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	stored := s.Stored()
	for i, tt := range tests {
		want := fmt.Sprintf("shardId-%012d", tt.wantShard)
		if got := aws.ToString(out.Records[i].ShardId); got != want {
			t.Errorf("%s: answered shard %s, want %s", tt.name, got, want)
		}
		if stored[i].ShardID != want || stored[i].ExplicitHashKey != tt.explicit {
			t.Errorf("%s: stored on %s with key %q", tt.name, stored[i].ShardID, stored[i].ExplicitHashKey)
		}
	}

	bad := []struct{ key, code string }{
		{"-1", "ValidationException"},
		{"01", "ValidationException"},
		{"1e3", "ValidationException"},
		{hashKeySpace.String(), "InvalidArgumentException"},
		{"9999999999999999999999999999999999999999", "ValidationException"}, // 40 digits
	}
	for _, b := range bad {
		_, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{
			{Data: []byte("x"), PartitionKey: aws.String("k"), ExplicitHashKey: aws.String(b.key)},
		}})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != b.code {
			t.Errorf("ExplicitHashKey %s: %v, want %s", b.key, err, b.code)
		}
	}
	if n := len(s.Stored()); n != len(tests) {
		t.Errorf("%d stored, want %d: refused requests stored records", n, len(tests))
	}
}

// listAll pages through ListShards and returns the shards and the number
// of calls.
func listAll(t *testing.T, c *kinesis.Client, first *kinesis.ListShardsInput, maxResults int32) ([]types.Shard, int) {
	t.Helper()
	var all []types.Shard
	in := first
	in.MaxResults = aws.Int32(maxResults)
	for calls := 1; ; calls++ {
		out, err := c.ListShards(context.Background(), in)
		if err != nil {
			t.Fatalf("ListShards call %d: %v", calls, err)
		}
		all = append(all, out.Shards...)
		if out.NextToken == nil {
			return all, calls
		}
		if calls > 100 {
			t.Fatal("ListShards does not end")
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(maxResults)}
	}
}

// checkTiling fails unless shards are n open shards with the even split's
// ranges, in order.
func checkTiling(t *testing.T, shards []types.Shard, n int) {
	t.Helper()
	if len(shards) != n {
		t.Fatalf("%d shards, want %d", len(shards), n)
	}
	for i, sh := range shards {
		r := sh.HashKeyRange
		if r == nil || aws.ToString(r.StartingHashKey) != shardStart(i, n) || aws.ToString(r.EndingHashKey) != shardEnd(i, n) {
			t.Errorf("shard %d (%s): range %+v, want %s..%s", i, aws.ToString(sh.ShardId), r, shardStart(i, n), shardEnd(i, n))
		}
		if sh.SequenceNumberRange == nil || sh.SequenceNumberRange.StartingSequenceNumber == nil || sh.SequenceNumberRange.EndingSequenceNumber != nil {
			t.Errorf("shard %d: sequence range %+v, want open", i, sh.SequenceNumberRange)
		}
	}
}

func TestShardListPagination(t *testing.T) {
	s := NewFaultServer(t, FaultOptions{Shards: 7, Streams: []string{"s"}})
	c := faultClient(s)
	tests := []struct {
		name       string
		maxResults int32
		wantCalls  int
	}{
		{"one page", 1000, 1},
		{"pages of three", 3, 3},
		{"pages of one", 1, 7},
		{"a last page that is exactly full", 7, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shards, calls := listAll(t, c, &kinesis.ListShardsInput{StreamName: aws.String("s")}, tt.maxResults)
			checkTiling(t, shards, 7)
			if calls != tt.wantCalls {
				t.Errorf("%d calls, want %d", calls, tt.wantCalls)
			}
		})
	}

	first, err := c.ListShards(context.Background(), &kinesis.ListShardsInput{StreamARN: aws.String(faultStreamARN("s")), MaxResults: aws.Int32(2)})
	if err != nil || first.NextToken == nil {
		t.Fatalf("ListShards by ARN = %+v, %v; want a page and a token", first, err)
	}
	refused := []struct {
		name string
		in   *kinesis.ListShardsInput
		code string
	}{
		{"a token with a stream name", &kinesis.ListShardsInput{NextToken: first.NextToken, StreamName: aws.String("s")}, "InvalidArgumentException"},
		{"a token that is not one", &kinesis.ListShardsInput{NextToken: aws.String("garbage")}, "InvalidArgumentException"},
		{"an unknown filter", &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: &types.ShardFilter{Type: "SOMETIMES"}}, "ValidationException"},
		{"AFTER_SHARD_ID without a shard", &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAfterShardId}}, "InvalidArgumentException"},
		{"too many results", &kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(10001)}, "ValidationException"},
		{"an unknown stream", &kinesis.ListShardsInput{StreamName: aws.String("other")}, "ResourceNotFoundException"},
	}
	for _, tt := range refused {
		_, err := c.ListShards(context.Background(), tt.in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
}

func TestSetShards(t *testing.T) {
	s := NewFaultServer(t, FaultOptions{Shards: 2})
	c := faultClient(s)
	ctx := context.Background()
	if _, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: faultEntries(10)}); err != nil {
		t.Fatal(err)
	}
	s.SetShards(3)

	open, _ := listAll(t, c, &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}}, 2)
	checkTiling(t, open, 3)
	for i, sh := range open {
		if want := fmt.Sprintf("shardId-%012d", i+2); aws.ToString(sh.ShardId) != want {
			t.Errorf("open shard %d is %s, want %s", i, aws.ToString(sh.ShardId), want)
		}
	}
	// The middle new shard spans the boundary of the two old ones.
	if p, a := aws.ToString(open[1].ParentShardId), aws.ToString(open[1].AdjacentParentShardId); p != "shardId-000000000000" || a != "shardId-000000000001" {
		t.Errorf("middle shard's parents %s and %s", p, a)
	}

	all, _ := listAll(t, c, &kinesis.ListShardsInput{StreamName: aws.String("s")}, 1000)
	if len(all) != 5 {
		t.Fatalf("%d shards in all, want 5", len(all))
	}
	for _, sh := range all[:2] {
		if sh.SequenceNumberRange == nil || aws.ToString(sh.SequenceNumberRange.EndingSequenceNumber) != faultSeq(10) {
			t.Errorf("old shard %s: sequence range %+v, want closed after the 10th record", aws.ToString(sh.ShardId), sh.SequenceNumberRange)
		}
	}
	filtered := []struct {
		filter types.ShardFilter
		want   int
	}{
		{types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}, 2},
		{types.ShardFilter{Type: types.ShardFilterTypeFromTrimHorizon}, 5},
		{types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String("shardId-000000000002")}, 2},
		{types.ShardFilter{Type: types.ShardFilterTypeFromTimestamp, Timestamp: aws.Time(time.Now().Add(time.Hour))}, 3},
		{types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: aws.Time(time.Now().Add(-time.Hour))}, 0},
	}
	for _, f := range filtered {
		got, _ := listAll(t, c, &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: &f.filter}, 1)
		if len(got) != f.want {
			t.Errorf("filter %s: %d shards, want %d", f.filter.Type, len(got), f.want)
		}
	}

	desc, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("s"), Limit: aws.Int32(4)})
	if err != nil || len(desc.StreamDescription.Shards) != 4 || !aws.ToBool(desc.StreamDescription.HasMoreShards) {
		t.Fatalf("DescribeStream with limit 4 = %+v, %v; want 4 shards and more", desc, err)
	}
	rest, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("s"), ExclusiveStartShardId: aws.String("shardId-000000000003")})
	if err != nil || len(rest.StreamDescription.Shards) != 1 || aws.ToBool(rest.StreamDescription.HasMoreShards) ||
		aws.ToString(rest.StreamDescription.Shards[0].HashKeyRange.StartingHashKey) != shardStart(2, 3) {
		t.Errorf("DescribeStream after shard 3 = %+v, %v; want the last shard only", rest, err)
	}
	summary, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
	if err != nil || aws.ToInt32(summary.StreamDescriptionSummary.OpenShardCount) != 3 {
		t.Errorf("DescribeStreamSummary = %+v, %v; want 3 open shards", summary, err)
	}

	out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: toShards(3, 10, 1, 1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range out.Records {
		if want := fmt.Sprintf("shardId-%012d", i+2); aws.ToString(r.ShardId) != want {
			t.Errorf("after resharding, entry %d went to %s, want %s", i, aws.ToString(r.ShardId), want)
		}
	}
}
