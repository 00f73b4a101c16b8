// Tests of the shard map: building, lookups, listing.

package sink

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/internal/sdkbody"
)

// rangeShard is an open shard for newShardMap.
func rangeShard(id, start, end string) types.Shard {
	return types.Shard{
		ShardId:             aws.String(id),
		HashKeyRange:        &types.HashKeyRange{StartingHashKey: aws.String(start), EndingHashKey: aws.String(end)},
		SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")},
	}
}

// closedShard is a shard that resharding has closed.
func closedShard(id, start, end string) types.Shard {
	s := rangeShard(id, start, end)
	s.SequenceNumberRange.EndingSequenceNumber = aws.String("2")
	return s
}

// evenShards returns n shards splitting the key space evenly, computed
// with math/big as an independent reference.
func evenShards(n int) []types.Shard {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	at := func(i int) *big.Int {
		v := new(big.Int).Mul(big.NewInt(int64(i)), space)
		return v.Quo(v, big.NewInt(int64(n)))
	}
	out := make([]types.Shard, n)
	for i := range out {
		end := new(big.Int).Sub(at(i+1), big.NewInt(1))
		out[i] = rangeShard(fmt.Sprintf("shardId-%012d", i), at(i).String(), end.String())
	}
	return out
}

func evenShardMap(t *testing.T, n int) *shardMap {
	t.Helper()
	m, err := newShardMap(evenShards(n))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNewShardMap(t *testing.T) {
	const (
		max  = maxHashKeyDecimal
		half = "170141183460469231731687303715884105728" // 2^127
		low  = "170141183460469231731687303715884105727"
	)
	tests := []struct {
		name    string
		shards  []types.Shard
		wantIDs string // in key order
		wantErr string
	}{
		{"one shard covers everything", []types.Shard{rangeShard("a", "0", max)}, "a", ""},
		{"shards are sorted by key", []types.Shard{rangeShard("b", half, max), rangeShard("a", "0", low)}, "a,b", ""},
		{"closed shards are left out", []types.Shard{
			closedShard("old", "0", max), rangeShard("a", "0", low), rangeShard("b", half, max),
		}, "a,b", ""},
		{"a one-key shard is fine", []types.Shard{
			rangeShard("a", "0", "0"), rangeShard("b", "1", max),
		}, "a,b", ""},
		{"no shards", nil, "", "no open shards"},
		{"only closed shards", []types.Shard{closedShard("old", "0", max)}, "", "no open shards"},
		{"a gap at the start", []types.Shard{rangeShard("a", "1", max)}, "", "hash keys 0 to 0 belong to no open shard (gap before shard a)"},
		{"a gap in the middle", []types.Shard{rangeShard("a", "0", "9"), rangeShard("b", "20", max)}, "", "hash keys 10 to 19 belong to no open shard (gap before shard b)"},
		{"a gap at the end", []types.Shard{rangeShard("a", "0", low)}, "", "hash keys from " + half + " up belong to no open shard (gap after shard a)"},
		{"an overlap", []types.Shard{rangeShard("a", "0", "10"), rangeShard("b", "5", max)}, "", "shards a and b overlap from hash key 5"},
		{"a shard listed twice", []types.Shard{rangeShard("a", "0", max), rangeShard("a", "0", max)}, "", "shards a and a overlap from hash key 0"},
		{"a shard after one that ends the space", []types.Shard{rangeShard("a", "0", max), rangeShard("b", "7", max)}, "", "shards a and b overlap from hash key 7"},
		{"no range", []types.Shard{{ShardId: aws.String("a")}}, "", `shard "a" has no hash key range`},
		{"a bad key", []types.Shard{rangeShard("a", "0", "2^128")}, "", `shard "a": ending hash key "2^128"`},
		{"a key out of range", []types.Shard{rangeShard("a", "0", "340282366920938463463374607431768211456")}, "", `shard "a": ending hash key`},
		{"a range that ends before it starts", []types.Shard{rangeShard("a", "5", "4")}, "", `shard "a" starts at 5 after its end 4`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := newShardMap(tt.shards)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, errShardMap) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("newShardMap: %v, want an error saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("newShardMap: %v", err)
			}
			var ids []string
			for _, s := range m.shards {
				ids = append(ids, s.id)
			}
			if got := strings.Join(ids, ","); got != tt.wantIDs {
				t.Errorf("shards %s, want %s", got, tt.wantIDs)
			}
		})
	}
}

func TestShardMapLookup(t *testing.T) {
	m, err := newShardMap([]types.Shard{
		rangeShard("c", "100", maxHashKeyDecimal),
		rangeShard("a", "0", "9"),
		rangeShard("b", "10", "99"),
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key  string
		want string
	}{
		{"0", "a"}, {"9", "a"}, {"10", "b"}, {"50", "b"}, {"99", "b"}, {"100", "c"},
		{"18446744073709551616", "c"}, {maxHashKeyDecimal, "c"},
	}
	for _, tt := range tests {
		h, err := parseHashKey(tt.key)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.shards[m.lookup(h)].id; got != tt.want {
			t.Errorf("lookup(%s) = %s, want %s", tt.key, got, tt.want)
		}
	}
	for i := range m.shards {
		if got := m.lookup(m.evenKey(i)); got != i {
			t.Errorf("evenKey(%d) is in shard %d", i, got)
		}
		if got, err := parseHashKey(m.explicitHashKey(i)); err != nil || m.lookup(got) != i {
			t.Errorf("explicitHashKey(%d) = %s (%v), not in the shard", i, m.explicitHashKey(i), err)
		}
	}
}

// Against every boundary of an even split (as CreateStream makes), the
// map agrees with math/big.
func TestShardMapEvenSplitBoundaries(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 7, 64, 1000} {
		m := evenShardMap(t, n)
		for i, s := range evenShards(n) {
			for _, k := range []string{*s.HashKeyRange.StartingHashKey, *s.HashKeyRange.EndingHashKey} {
				h, _ := parseHashKey(k)
				if got := m.lookup(h); got != i {
					t.Fatalf("%d shards: key %s found in shard %d, want %d", n, k, got, i)
				}
			}
		}
	}
}

// testKinesisClient is a real SDK client for a fault server. Its
// connections are closed when the test ends.
func testKinesisClient(t *testing.T, url string) *kinesis.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return kinesis.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
		BaseEndpoint: aws.String(url),
		HTTPClient:   sdkbody.Client{Next: &http.Client{Transport: tr}},
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	})
}

func TestListShardsFromServer(t *testing.T) {
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Shards: 4, Streams: []string{testStream}})
	c := testKinesisClient(t, srv.URL())
	ctx := context.Background()
	tests := []struct {
		name   string
		stream string
		byARN  bool
	}{
		{"by name", testStream, false},
		{"by ARN", "arn:aws:kinesis:us-east-1:123456789012:stream/" + testStream, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := listShards(ctx, c, tt.stream, tt.byARN)
			if err != nil {
				t.Fatalf("listShards: %v", err)
			}
			if len(m.shards) != 4 {
				t.Fatalf("%d shards, want 4", len(m.shards))
			}
			// 4 even shards: the top two bits of the MD5 choose one.
			for _, key := range []string{"a", "b", "c", "user-17", "user-18", "ключ", "x"} {
				h := hashKeyOf(key)
				if got, want := m.lookup(h), int(h[0]>>6); got != want {
					t.Errorf("key %q (hash %s) in shard %d, want %d", key, h, got, want)
				}
			}
		})
	}

	// The server routes by the same rules: the shard the map picks for a
	// key, or for the explicit key of shard i, is where the record goes.
	m, err := listShards(ctx, c, testStream, false)
	if err != nil {
		t.Fatal(err)
	}
	var recs []types.PutRecordsRequestEntry
	var want []string
	for i := range 40 {
		key := fmt.Sprintf("key-%d", i)
		recs = append(recs, types.PutRecordsRequestEntry{Data: []byte("d"), PartitionKey: aws.String(key)})
		want = append(want, m.shards[m.lookup(hashKeyOf(key))].id)
	}
	for i := range m.shards {
		recs = append(recs, types.PutRecordsRequestEntry{Data: []byte("d"), PartitionKey: aws.String("k"), ExplicitHashKey: aws.String(m.explicitHashKey(i))})
		want = append(want, m.shards[i].id)
	}
	if _, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(testStream), Records: recs}); err != nil {
		t.Fatal(err)
	}
	for i, r := range srv.Stored() {
		if r.ShardID != want[i] {
			t.Errorf("record %d (key %s, explicit %q) stored on %s, map says %s", i, r.PartitionKey, r.ExplicitHashKey, r.ShardID, want[i])
		}
	}

	if _, err := listShards(ctx, c, "missing", false); err == nil {
		t.Error("listShards of a missing stream succeeded")
	}
}

func TestListShardsPagesAndReshards(t *testing.T) {
	// More shards than one ListShards page holds (1,000).
	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Shards: 2100})
	c := testKinesisClient(t, srv.URL())
	ctx := context.Background()
	m, err := listShards(ctx, c, testStream, false)
	if err != nil {
		t.Fatalf("listShards: %v", err)
	}
	if len(m.shards) != 2100 || srv.Counts().Requests != 3 {
		t.Fatalf("%d shards in %d requests, want 2100 in 3", len(m.shards), srv.Counts().Requests)
	}

	srv.SetShards(3)
	fresh, err := listShards(ctx, c, testStream, false)
	if err != nil {
		t.Fatalf("listShards after resharding: %v", err)
	}
	if len(fresh.shards) != 3 || fresh.shards[0].id != "shardId-000000002100" {
		t.Fatalf("after resharding: %d shards starting with %s, want 3 new ones", len(fresh.shards), fresh.shards[0].id)
	}
	// The old map still resolves keys, but to shards that are closed.
	if old, now := m.shards[m.lookup(hashKeyOf("k"))].id, fresh.shards[fresh.lookup(hashKeyOf("k"))].id; old == now {
		t.Errorf("key k maps to %s before and after resharding", old)
	}
}

// Random partition keys spread evenly over even shards. The seed is
// fixed, so the counts are the same on every run; the bounds are wide
// (expected 250, standard deviation about 14).
func TestHashKeySpread(t *testing.T) {
	m := evenShardMap(t, 4)
	rng := rand.New(rand.NewPCG(42, 7))
	counts := make([]int, 4)
	var b [derivedKeyLen]byte
	for range 1000 {
		putHex64(b[:], rng.Uint64())
		counts[m.lookup(hashKeyOf(string(b[:])))]++
	}
	for i, n := range counts {
		if n < 150 || n > 350 {
			t.Errorf("shard %d got %d of 1000 keys, want 150 to 350 (all: %v)", i, n, counts)
		}
	}
}
