// The stream's shard map: listing shards and finding the shard of a hash
// key.

package sink

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// shard is one open shard: the inclusive range of hash keys it owns.
type shard struct {
	id         string
	start, end hashKey
	// startKey is start in decimal, made once so that sending an
	// aggregate with an explicit hash key costs no formatting.
	startKey string
}

// shardMap is a stream's open shards, sorted by start key. Together they
// cover the whole hash key space without gaps or overlaps, so every key
// belongs to exactly one of them. A map is read-only once built; a fresh
// one replaces it after resharding.
type shardMap struct {
	shards []shard
}

// errShardMap marks a shard list that does not describe a usable map.
var errShardMap = errors.New("sink: invalid shard map")

// newShardMap builds a map from the shards ListShards or DescribeStream
// returned. Closed shards (with an ending sequence number) are left out;
// the open ones must tile [0, 2^128-1] exactly, otherwise the map is stale
// or the listing was incomplete and the caller should list again.
func newShardMap(shards []types.Shard) (*shardMap, error) {
	m := &shardMap{shards: make([]shard, 0, len(shards))}
	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
			continue
		}
		if s.HashKeyRange == nil {
			return nil, fmt.Errorf("%w: shard %q has no hash key range", errShardMap, id)
		}
		start, err := parseHashKey(aws.ToString(s.HashKeyRange.StartingHashKey))
		if err != nil {
			return nil, fmt.Errorf("%w: shard %q: starting hash key %q: %w", errShardMap, id, aws.ToString(s.HashKeyRange.StartingHashKey), err)
		}
		end, err := parseHashKey(aws.ToString(s.HashKeyRange.EndingHashKey))
		if err != nil {
			return nil, fmt.Errorf("%w: shard %q: ending hash key %q: %w", errShardMap, id, aws.ToString(s.HashKeyRange.EndingHashKey), err)
		}
		if start.cmp(end) > 0 {
			return nil, fmt.Errorf("%w: shard %q starts at %s after its end %s", errShardMap, id, start, end)
		}
		m.shards = append(m.shards, shard{id: id, start: start, end: end, startKey: start.String()})
	}
	if len(m.shards) == 0 {
		return nil, fmt.Errorf("%w: no open shards", errShardMap)
	}
	slices.SortFunc(m.shards, func(a, b shard) int { return a.start.cmp(b.start) })

	want := hashKey{} // where the next shard must start
	for i, s := range m.shards {
		if c := s.start.cmp(want); c != 0 {
			if c > 0 {
				return nil, fmt.Errorf("%w: hash keys %s to %s belong to no open shard (gap before shard %s)", errShardMap, want, prevKey(s.start), s.id)
			}
			return nil, fmt.Errorf("%w: shards %s and %s overlap from hash key %s", errShardMap, m.shards[i-1].id, s.id, s.start)
		}
		next, wrapped := s.end.next()
		if wrapped {
			if i != len(m.shards)-1 {
				return nil, fmt.Errorf("%w: shards %s and %s overlap from hash key %s", errShardMap, s.id, m.shards[i+1].id, m.shards[i+1].start)
			}
			return m, nil
		}
		want = next
	}
	return nil, fmt.Errorf("%w: hash keys from %s up belong to no open shard (gap after shard %s)", errShardMap, want, m.shards[len(m.shards)-1].id)
}

// prevKey returns h-1 for h > 0.
func prevKey(h hashKey) hashKey {
	hi, lo := h.halves()
	if lo == 0 {
		hi--
	}
	return newHashKey(hi, lo-1)
}

// lookup returns the index of the shard that owns h. It does not
// allocate.
func (m *shardMap) lookup(h hashKey) int {
	// Find the last shard starting at or before h; the first starts at 0,
	// so there is one.
	lo, hi := 0, len(m.shards)
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if m.shards[mid].start.cmp(h) <= 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// evenKey returns a hash key inside shard i: a record sent with it as its
// ExplicitHashKey lands on that shard while the map is current.
func (m *shardMap) evenKey(i int) hashKey { return m.shards[i].start }

// explicitHashKey returns evenKey(i) in decimal, ready for the request
// body, without allocating.
func (m *shardMap) explicitHashKey(i int) string { return m.shards[i].startKey }

// listShards reads the open shards of a stream with ListShards. stream is a
// name, or an ARN when byARN is set.
func listShards(ctx context.Context, c *kinesis.Client, stream string, byARN bool) (*shardMap, error) {
	first := &kinesis.ListShardsInput{
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest},
	}
	if byARN {
		first.StreamARN = aws.String(stream)
	} else {
		first.StreamName = aws.String(stream)
	}
	var all []types.Shard
	in := first
	for {
		out, err := c.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list shards of stream %q: %w", stream, err)
		}
		all = append(all, out.Shards...)
		token := aws.ToString(out.NextToken)
		if token == "" {
			break
		}
		if in.NextToken != nil && *in.NextToken == token {
			return nil, fmt.Errorf("list shards of stream %q: the service returned the same page token twice", stream)
		}
		// The token names the stream and the filter; the API refuses
		// StreamName (and the other selectors) next to it.
		in = &kinesis.ListShardsInput{NextToken: aws.String(token)}
	}
	m, err := newShardMap(all)
	if err != nil {
		return nil, fmt.Errorf("stream %q: %w", stream, err)
	}
	return m, nil
}
