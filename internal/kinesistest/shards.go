package kinesistest

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"sort"
	"time"
)

// Paging limits of ListShards and DescribeStream.
const (
	defaultListShards     = 1000
	maxListShardsResults  = 1000
	maxListShardsRequest  = 10000
	defaultDescribeShards = 100
	maxDescribeShards     = 10000
)

// hashKeyPattern is the API's pattern for an ExplicitHashKey.
var hashKeyPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,38})$`)

// hashKeySpace is 2^128, one more than the largest hash key.
var hashKeySpace = new(big.Int).Lsh(big.NewInt(1), 128)

// faultShard is one shard of the fault server's shard model. All streams
// share the layout; token buckets are kept per stream and shard.
type faultShard struct {
	id         string
	start, end [16]byte // inclusive hash key range, big-endian
	startDec   string
	endDec     string
	startSeq   string
	endSeq     string // set once the shard is closed by SetShards
	parent     string
	adjacent   string
	generation int // 0 for the shards the server started with
	opened     time.Time
	closed     time.Time
}

func (sh *faultShard) open() bool { return sh.endSeq == "" }

// shardModel is the fault server's shards and per-shard limits. It is
// guarded by FaultServer.mu.
type shardModel struct {
	all     []*faultShard // every shard ever, in id order
	open    []*faultShard // the open shards, by start key
	gen     int
	buckets map[shardBucketKey]*shardBuckets
}

type shardBucketKey struct{ stream, shard string }

// shardBuckets hold one second's worth of a shard's limits, refilled
// continuously.
type shardBuckets struct {
	bytes, records float64
	last           time.Time
}

// faultSeq renders a sequence number.
func faultSeq(n uint64) string { return fmt.Sprintf("49%054d", n) }

// reshard closes the open shards and opens n new ones that split the hash
// key space evenly, as CreateStream does. s.mu is held.
func (s *FaultServer) reshard(n int) {
	n = max(n, 1)
	now := s.now()
	m := &s.sh
	old := m.open
	for _, sh := range old {
		sh.endSeq = faultSeq(s.seq)
		sh.closed = now
	}
	if len(m.all) > 0 {
		m.gen++
	}
	m.open = make([]*faultShard, n)
	total := big.NewInt(int64(n))
	for i := range n {
		start := evenSplit(i, total)
		end := new(big.Int).Sub(evenSplit(i+1, total), big.NewInt(1))
		sh := &faultShard{
			id:         fmt.Sprintf("shardId-%012d", len(m.all)),
			startDec:   start.String(),
			endDec:     end.String(),
			startSeq:   faultSeq(s.seq + 1),
			generation: m.gen,
			opened:     now,
		}
		start.FillBytes(sh.start[:])
		end.FillBytes(sh.end[:])
		if len(old) > 0 {
			sh.parent = shardAt(old, sh.start).id
			if adj := shardAt(old, sh.end); adj.id != sh.parent {
				sh.adjacent = adj.id
			}
		}
		m.all = append(m.all, sh)
		m.open[i] = sh
	}
	// Limits are per shard: the new shards start with full buckets.
	m.buckets = make(map[shardBucketKey]*shardBuckets)
}

// evenSplit returns floor(i * 2^128 / n).
func evenSplit(i int, n *big.Int) *big.Int {
	v := new(big.Int).Mul(big.NewInt(int64(i)), hashKeySpace)
	return v.Quo(v, n)
}

// shardAt returns the shard of open (sorted by start) that owns key.
func shardAt(open []*faultShard, key [16]byte) *faultShard {
	i := sort.Search(len(open), func(i int) bool { return bytes.Compare(open[i].start[:], key[:]) > 0 })
	return open[i-1]
}

// parseExplicitHashKey checks an ExplicitHashKey as the service does. It
// returns the answer's error type and message when the key is refused.
func parseExplicitHashKey(s string) (key [16]byte, errType, msg string) {
	if !hashKeyPattern.MatchString(s) {
		return key, "ValidationException", fmt.Sprintf("1 validation error detected: Value '%s' at 'explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})", s)
	}
	v, _ := new(big.Int).SetString(s, 10)
	if v.Cmp(hashKeySpace) >= 0 {
		return key, "InvalidArgumentException", fmt.Sprintf("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was %s", s)
	}
	v.FillBytes(key[:])
	return key, "", ""
}

// route returns the open shard an entry belongs to. Its ExplicitHashKey,
// if any, has been validated. s.mu is held.
func (s *FaultServer) route(e putEntry) *faultShard {
	var key [16]byte
	if e.ExplicitHashKey != "" {
		key, _, _ = parseExplicitHashKey(e.ExplicitHashKey)
	} else {
		key = md5.Sum([]byte(e.PartitionKey))
	}
	return shardAt(s.sh.open, key)
}

// admit applies the shard's limits to one entry and takes its share if it
// is within them. s.mu is held.
func (s *FaultServer) admit(stream string, sh *faultShard, e putEntry) bool {
	rateBytes := float64(s.opts.ShardBytesPerSecond)
	rateRecords := float64(s.opts.ShardRecordsPerSecond)
	if rateBytes <= 0 && rateRecords <= 0 {
		return true
	}
	now := s.now()
	k := shardBucketKey{stream, sh.id}
	b := s.sh.buckets[k]
	if b == nil {
		b = &shardBuckets{bytes: rateBytes, records: rateRecords, last: now}
		s.sh.buckets[k] = b
	}
	if now.After(b.last) {
		sec := now.Sub(b.last).Seconds()
		b.bytes = min(rateBytes, b.bytes+sec*rateBytes)
		b.records = min(rateRecords, b.records+sec*rateRecords)
		b.last = now
	}
	size := float64(len(e.Data) + len(e.PartitionKey))
	// A record larger than a second's worth passes when the bucket is
	// full, as a 1 MiB record does on a real shard.
	if rateBytes > 0 && b.bytes < min(size, rateBytes) {
		return false
	}
	if rateRecords > 0 && b.records < 1 {
		return false
	}
	b.bytes -= size
	b.records--
	return true
}

// throttleMessage is the service's message for an entry over its shard's
// limit.
func throttleMessage(shardID, stream string) string {
	return fmt.Sprintf("Rate exceeded for shard %s in stream %s under account %s.", shardID, stream, faultAccount)
}

// SetShards reshards every stream to n shards (0 counts as 1) that split
// the hash key space evenly. The shards open until now are closed: they
// get an EndingSequenceNumber and are no longer listed by ListShards with
// the AT_LATEST filter, and n shards with new ids take over their keys, so
// a client's cached shard map goes stale.
func (s *FaultServer) SetShards(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reshard(n)
}

// SetShardLimits changes the per-shard limits (0 is unlimited); every
// shard starts again with a second's worth.
func (s *FaultServer) SetShardLimits(bytesPerSecond, recordsPerSecond int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.ShardBytesPerSecond = bytesPerSecond
	s.opts.ShardRecordsPerSecond = recordsPerSecond
	s.sh.buckets = make(map[shardBucketKey]*shardBuckets)
}

// openShardCount returns the number of open shards. s.mu is not held.
func (s *FaultServer) openShardCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sh.open)
}

// shardJSON is a shard as ListShards and DescribeStream write it.
type shardJSON struct {
	ShardID               string            `json:"ShardId"`
	ParentShardID         string            `json:"ParentShardId,omitempty"`
	AdjacentParentShardID string            `json:"AdjacentParentShardId,omitempty"`
	HashKeyRange          map[string]string `json:"HashKeyRange"`
	SequenceNumberRange   map[string]string `json:"SequenceNumberRange"`
}

func (sh *faultShard) json() shardJSON {
	seq := map[string]string{"StartingSequenceNumber": sh.startSeq}
	if sh.endSeq != "" {
		seq["EndingSequenceNumber"] = sh.endSeq
	}
	return shardJSON{
		ShardID:               sh.id,
		ParentShardID:         sh.parent,
		AdjacentParentShardID: sh.adjacent,
		HashKeyRange:          map[string]string{"StartingHashKey": sh.startDec, "EndingHashKey": sh.endDec},
		SequenceNumberRange:   seq,
	}
}

// shardFilter selects shards as ListShards' ShardFilter does. Records
// never expire here, so the trim horizon is the server's start.
type shardFilter struct {
	Type    string    `json:"t,omitempty"`
	ShardID string    `json:"s,omitempty"`
	At      time.Time `json:"a"`
}

func (f shardFilter) match(sh *faultShard) bool {
	switch f.Type {
	case "", "FROM_TRIM_HORIZON":
		return true
	case "AT_TRIM_HORIZON":
		return sh.generation == 0
	case "AT_LATEST":
		return sh.open()
	case "AFTER_SHARD_ID":
		return sh.id > f.ShardID
	case "AT_TIMESTAMP":
		return !sh.opened.After(f.At) && (sh.open() || !sh.closed.Before(f.At))
	case "FROM_TIMESTAMP":
		return sh.open() || !sh.closed.Before(f.At)
	}
	return false
}

// listShardsToken is what a ListShards NextToken carries: the stream, the
// filter and where the next page starts in the list of all shards.
type listShardsToken struct {
	Stream string      `json:"n"`
	Filter shardFilter `json:"f"`
	Next   int         `json:"i"`
}

func (t listShardsToken) encode() string {
	b, _ := json.Marshal(t) // cannot fail: plain strings and numbers
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeListShardsToken(s string) (listShardsToken, bool) {
	var t listShardsToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &t) != nil || t.Stream == "" || t.Next < 0 {
		return t, false
	}
	return t, true
}

type listShardsInput struct {
	faultStreamRef
	NextToken               string          `json:"NextToken"`
	MaxResults              *int            `json:"MaxResults"`
	ExclusiveStartShardID   string          `json:"ExclusiveStartShardId"`
	StreamCreationTimestamp json.RawMessage `json:"StreamCreationTimestamp"`
	ShardFilter             *struct {
		Type      string   `json:"Type"`
		ShardID   string   `json:"ShardId"`
		Timestamp *float64 `json:"Timestamp"`
	} `json:"ShardFilter"`
}

func (s *FaultServer) listShards(w http.ResponseWriter, body []byte) {
	var in listShardsInput
	if !unmarshal(w, body, &in) {
		return
	}
	limit := defaultListShards
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxListShardsRequest {
			faultError(w, http.StatusBadRequest, "ValidationException",
				"1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and %d",
				*in.MaxResults, maxListShardsRequest)
			return
		}
		limit = min(*in.MaxResults, maxListShardsResults)
	}

	var tok listShardsToken
	if in.NextToken != "" {
		if in.StreamName != "" || in.ExclusiveStartShardID != "" || len(in.StreamCreationTimestamp) > 0 {
			faultError(w, http.StatusBadRequest, "InvalidArgumentException",
				"NextToken and StreamName, ExclusiveStartShardId or StreamCreationTimestamp cannot be provided together.")
			return
		}
		var ok bool
		if tok, ok = decodeListShardsToken(in.NextToken); !ok {
			faultError(w, http.StatusBadRequest, "InvalidArgumentException", "Invalid NextToken.")
			return
		}
		if !s.requireStream(w, tok.Stream) {
			return
		}
	} else {
		stream, ok := s.decode(w, body, &struct{}{}, &in.faultStreamRef)
		if !ok {
			return
		}
		tok.Stream = stream
		if in.ShardFilter != nil {
			f := shardFilter{Type: in.ShardFilter.Type, ShardID: in.ShardFilter.ShardID}
			switch f.Type {
			case "AFTER_SHARD_ID":
				if f.ShardID == "" {
					faultError(w, http.StatusBadRequest, "InvalidArgumentException", "ShardId must be given with the AFTER_SHARD_ID filter.")
					return
				}
			case "AT_TIMESTAMP", "FROM_TIMESTAMP":
				if in.ShardFilter.Timestamp == nil {
					faultError(w, http.StatusBadRequest, "InvalidArgumentException", "Timestamp must be given with the %s filter.", f.Type)
					return
				}
				f.At = time.UnixMilli(int64(*in.ShardFilter.Timestamp * 1000))
			case "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST":
			default:
				faultError(w, http.StatusBadRequest, "ValidationException",
					"1 validation error detected: Value '%s' at 'shardFilter.type' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]",
					f.Type)
				return
			}
			tok.Filter = f
		} else if in.ExclusiveStartShardID != "" {
			tok.Filter = shardFilter{Type: "AFTER_SHARD_ID", ShardID: in.ExclusiveStartShardID}
		}
	}

	s.mu.Lock()
	var page []shardJSON
	i := tok.Next
	for ; i < len(s.sh.all) && len(page) < limit; i++ {
		if sh := s.sh.all[i]; tok.Filter.match(sh) {
			page = append(page, sh.json())
		}
	}
	// Skip what the filter leaves out, so that the last page has no token.
	for i < len(s.sh.all) && !tok.Filter.match(s.sh.all[i]) {
		i++
	}
	more := i < len(s.sh.all)
	s.mu.Unlock()

	out := map[string]any{"Shards": page}
	if page == nil {
		out["Shards"] = []shardJSON{}
	}
	if more {
		tok.Next = i
		out["NextToken"] = tok.encode()
	}
	faultJSON(w, http.StatusOK, out)
}

func (s *FaultServer) describeStream(w http.ResponseWriter, body []byte) {
	var in struct {
		faultStreamRef
		Limit                 *int   `json:"Limit"`
		ExclusiveStartShardID string `json:"ExclusiveStartShardId"`
	}
	stream, ok := s.decode(w, body, &in, &in.faultStreamRef)
	if !ok {
		return
	}
	limit := defaultDescribeShards
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > maxDescribeShards {
			faultError(w, http.StatusBadRequest, "ValidationException",
				"1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d",
				*in.Limit, maxDescribeShards)
			return
		}
		limit = *in.Limit
	}
	s.mu.Lock()
	shards := []shardJSON{}
	more := false
	for _, sh := range s.sh.all {
		if sh.id <= in.ExclusiveStartShardID {
			continue
		}
		if len(shards) == limit {
			more = true
			break
		}
		shards = append(shards, sh.json())
	}
	s.mu.Unlock()
	faultJSON(w, http.StatusOK, map[string]any{
		"StreamDescription": map[string]any{
			"StreamName":              stream,
			"StreamARN":               faultStreamARN(stream),
			"StreamStatus":            "ACTIVE",
			"StreamModeDetails":       map[string]string{"StreamMode": "PROVISIONED"},
			"Shards":                  shards,
			"HasMoreShards":           more,
			"RetentionPeriodHours":    24,
			"StreamCreationTimestamp": faultEpoch(s.created(stream)),
			"EnhancedMonitoring":      []any{map[string]any{"ShardLevelMetrics": []string{}}},
			"EncryptionType":          "NONE",
		},
	})
}
