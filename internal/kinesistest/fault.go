package kinesistest

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Limits of the real service that the fault server enforces, so a client
// that exceeds them fails here as it would against Kinesis.
const (
	maxPutRecordsEntries = 500
	maxPutRecordsBytes   = 5 << 20 // data + partition keys of one request
	maxRecordData        = 1 << 20
	maxPartitionKeyRunes = 256
)

const (
	faultShardID = "shardId-000000000000" // the first shard's id
	faultAccount = "123456789012"
	faultRegion  = "us-east-1"
)

// FaultOptions sets which faults the server injects. Rates are fractions in
// [0, 1], decided per request (Error500Rate) or per entry (FailEntryRate)
// by a generator seeded with Seed, so a run is repeatable for a given order
// of requests.
type FaultOptions struct {
	Seed int64
	// FailEntryRate is the fraction of PutRecords entries answered with
	// ErrorCode ProvisionedThroughputExceededException (and of PutRecord
	// calls failed with that error).
	FailEntryRate float64
	// Error500Rate is the fraction of requests answered with HTTP 500 and
	// an InternalFailure body. The decision is made before anything is
	// stored, so a 500 never hides a stored record.
	Error500Rate float64
	// Latency is added to every request before it is answered.
	Latency time.Duration
	// Streams are the streams that exist; requests for others get 400
	// ResourceNotFoundException. Nil accepts any stream name.
	Streams []string

	// Shards is the number of open shards of every stream (0 counts as
	// 1). They split the 128-bit hash key space evenly, as CreateStream
	// does, and each entry goes to the shard that owns its
	// ExplicitHashKey, or else the MD5 of its partition key.
	Shards int
	// ShardBytesPerSecond and ShardRecordsPerSecond limit what each shard
	// of each stream accepts (bytes are data plus partition key), like
	// the service's 1 MiB and 1,000 records a second; 0 is unlimited.
	// Each limit is a token bucket holding one second's worth. An entry
	// over a limit is answered ProvisionedThroughputExceededException.
	ShardBytesPerSecond   int
	ShardRecordsPerSecond int

	// TLS serves HTTPS with httptest's certificate (see CertificatePEM)
	// instead of plain HTTP, offering HTTP/2 too when HTTP2 is set.
	TLS   bool
	HTTP2 bool
	// Discard keeps no records, only counts them (benchmarks): Stored
	// stays empty.
	Discard bool
}

// StoredRecord is one record the server has stored.
type StoredRecord struct {
	Stream       string
	PartitionKey string
	Data         []byte
	Seq          string
	// ShardID is the shard the record was routed to, and ExplicitHashKey
	// the key it was sent with, if any.
	ShardID         string
	ExplicitHashKey string
}

// FaultCounts counts what the server has seen.
type FaultCounts struct {
	Requests      int // every HTTP request, including rejected ones
	Entries       int // PutRecords entries and PutRecord calls received
	FailedEntries int // entries answered with an ErrorCode, for any reason
	// ShardThrottled counts the failed entries refused by the per-shard
	// limits, as opposed to those failed by FailEntryRate.
	ShardThrottled int
	Errors500      int // requests answered with an injected 500
	DownRejected   int // requests refused while the server was down
	// MaxBatchRecords and MaxBatchBytes are the largest PutRecords request
	// seen, in entries and in bytes of data plus partition keys.
	MaxBatchRecords int
	MaxBatchBytes   int
	// CBORRequests counts the requests made in CBOR, HTTP2Requests those
	// that came over HTTP/2.
	CBORRequests  int
	HTTP2Requests int
	// MaxConcurrent is the most requests the server was serving at once.
	MaxConcurrent int
}

// FaultServer is an in-process HTTP server on the loopback interface that
// speaks the Kinesis JSON 1.1 protocol (and its CBOR form, see
// fault_cbor.go) for the operations a producer uses,
// and injects partial failures, 500s, latency and outages. Code under test
// runs the real AWS SDK against it, never a mock of the SDK. It does not
// verify signatures but requires an Authorization header, as any signed
// request has one. It is safe for concurrent use.
type FaultServer struct {
	srv *httptest.Server

	mu      sync.Mutex
	opts    FaultOptions
	rng     *rand.Rand
	down    bool
	anyName bool                 // Streams was nil: every name exists
	streams map[string]time.Time // configured and created streams, with creation times
	stored  []StoredRecord
	seq     uint64
	counts  FaultCounts
	serving int              // requests being served now (MaxConcurrent)
	sh      shardModel       // shards and their limits, see shards.go
	now     func() time.Time // the limit model's clock; tests may replace it
	fh      firehoseState    // Firehose records, see firehose.go
}

// NewFaultServer starts a server on 127.0.0.1 on a free port; it is closed
// when the test ends.
func NewFaultServer(t testing.TB, o FaultOptions) *FaultServer {
	t.Helper()
	s, err := StartFaultServer(o)
	if err != nil {
		t.Fatalf("start fault server: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// StartFaultServer starts a server on 127.0.0.1 on a free port. The caller
// must call Close.
func StartFaultServer(o FaultOptions) (*FaultServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &FaultServer{
		opts: o,
		rng:  rand.New(rand.NewPCG(uint64(o.Seed), 0x6b696e6573697321)),
		now:  time.Now,
	}
	s.reshard(o.Shards)
	s.anyName = o.Streams == nil
	s.streams = make(map[string]time.Time, len(o.Streams))
	for _, name := range o.Streams {
		s.streams[name] = time.Now()
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	srv.Listener.Close()
	srv.Listener = ln
	if o.TLS {
		srv.EnableHTTP2 = o.HTTP2
		srv.StartTLS()
	} else {
		srv.Start()
	}
	s.srv = srv
	return s, nil
}

// URL is the server's base URL, to be used as the client's endpoint.
func (s *FaultServer) URL() string { return s.srv.URL }

// CertificatePEM returns the certificate of a TLS server in PEM, for a CA
// bundle (AWS_CA_BUNDLE) that makes clients trust it; nil without TLS. It
// is valid for 127.0.0.1.
func (s *FaultServer) CertificatePEM() []byte {
	c := s.srv.Certificate()
	if c == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// Close stops the server and waits for requests being answered.
func (s *FaultServer) Close() { s.srv.Close() }

// SetDown starts (true) or ends (false) an outage. While down, every request
// is answered 503 or has its connection closed without an answer.
func (s *FaultServer) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// SetOptions changes FailEntryRate, Error500Rate and Latency for requests
// that arrive from now on. Seed and Streams are not changed.
func (s *FaultServer) SetOptions(o FaultOptions) {
	s.mu.Lock()
	s.opts.FailEntryRate = o.FailEntryRate
	s.opts.Error500Rate = o.Error500Rate
	s.opts.Latency = o.Latency
	s.mu.Unlock()
}

// AddStream makes a stream exist, as if it had been created while running.
func (s *FaultServer) AddStream(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.streams[name]; !ok {
		s.streams[name] = time.Now()
	}
}

// Stored returns a copy of the stored records in arrival order.
func (s *FaultServer) Stored() []StoredRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StoredRecord, len(s.stored))
	copy(out, s.stored)
	return out
}

// Counts returns the counters so far.
func (s *FaultServer) Counts() FaultCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// faultErrorBody is the body of an error answer, as the service writes it.
type faultErrorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

func faultJSON(w http.ResponseWriter, status int, v any) {
	if wantsCBOR(w) {
		writeCBOR(w, status, v)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
	w.WriteHeader(status)
	// The client may be gone; nothing useful can be done about it here.
	_ = json.NewEncoder(w).Encode(v)
}

func faultError(w http.ResponseWriter, status int, typ, format string, args ...any) {
	faultJSON(w, status, faultErrorBody{Type: typ, Message: fmt.Sprintf(format, args...)})
}

func (s *FaultServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.counts.Requests++
	s.serving++
	s.counts.MaxConcurrent = max(s.counts.MaxConcurrent, s.serving)
	defer func() {
		s.mu.Lock()
		s.serving--
		s.mu.Unlock()
	}()
	if r.ProtoMajor == 2 {
		s.counts.HTTP2Requests++
	}
	down := s.down
	closeConn := down && s.rng.IntN(2) == 0
	latency := s.opts.Latency
	if down {
		s.counts.DownRejected++
	}
	s.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if down {
		if closeConn {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
		}
		faultError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "Service is unavailable (injected outage)")
		return
	}

	if r.Method != http.MethodPost {
		faultError(w, http.StatusBadRequest, "UnknownOperationException", "method %s not allowed", r.Method)
		return
	}
	if r.Header.Get("Authorization") == "" {
		faultError(w, http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token")
		return
	}
	switch ct := r.Header.Get("Content-Type"); ct {
	case "application/x-amz-json-1.1":
	case CBORContentType:
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "Firehose_") {
			faultError(w, http.StatusBadRequest, "SerializationException", "Firehose does not accept %q", ct)
			return
		}
		s.mu.Lock()
		s.counts.CBORRequests++
		s.mu.Unlock()
		w = cborAnswers{w}
	default:
		faultError(w, http.StatusBadRequest, "SerializationException", "unsupported content type %q", ct)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away
	}

	s.mu.Lock()
	fail500 := s.opts.Error500Rate > 0 && s.rng.Float64() < s.opts.Error500Rate
	if fail500 {
		s.counts.Errors500++
	}
	s.mu.Unlock()
	if fail500 {
		faultError(w, http.StatusInternalServerError, "InternalFailure", "Internal service failure (injected)")
		return
	}

	target := r.Header.Get("X-Amz-Target")
	if op, ok := strings.CutPrefix(target, "Firehose_20150804."); ok {
		s.serveFirehose(w, op, body)
		return
	}
	op, ok := strings.CutPrefix(target, "Kinesis_20131202.")
	if !ok {
		faultError(w, http.StatusBadRequest, "UnknownOperationException", "unknown target %q", target)
		return
	}
	switch op {
	case "PutRecords":
		s.putRecords(w, body)
	case "PutRecord":
		s.putRecord(w, body)
	case "DescribeStreamSummary":
		s.describeStreamSummary(w, body)
	case "DescribeStream":
		s.describeStream(w, body)
	case "ListShards":
		s.listShards(w, body)
	case "CreateStream":
		s.createStream(w, body)
	case "ListStreams":
		s.listStreams(w)
	default:
		faultError(w, http.StatusBadRequest, "UnknownOperationException", "operation %s is not supported by the fault server", op)
	}
}

// faultStreamRef names a stream either way the API allows.
type faultStreamRef struct {
	StreamName string `json:"StreamName"`
	StreamARN  string `json:"StreamARN"`
}

func (ref faultStreamRef) name() string {
	if ref.StreamName != "" {
		return ref.StreamName
	}
	if _, name, ok := strings.Cut(ref.StreamARN, ":stream/"); ok {
		return name
	}
	return ""
}

func faultStreamARN(name string) string {
	return "arn:aws:kinesis:" + faultRegion + ":" + faultAccount + ":stream/" + name
}

// decode parses the request body and resolves the stream; on failure it
// has answered the request and returns false. Callers hold no lock.
func (s *FaultServer) decode(w http.ResponseWriter, body []byte, v any, ref *faultStreamRef) (string, bool) {
	if !unmarshal(w, body, v) {
		return "", false
	}
	name := ref.name()
	if name == "" {
		faultError(w, http.StatusBadRequest, "ValidationException", "StreamName or StreamARN is required")
		return "", false
	}
	if !s.requireStream(w, name) {
		return "", false
	}
	return name, true
}

// unmarshal decodes a request body into v, in JSON or, for a request made
// in CBOR, in CBOR. On failure it has answered the request and returns
// false.
func unmarshal(w http.ResponseWriter, body []byte, v any) bool {
	var err error
	if wantsCBOR(w) {
		err = unmarshalCBOR(body, v)
	} else {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		faultError(w, http.StatusBadRequest, "SerializationException", "cannot decode request: %v", err)
		return false
	}
	return true
}

// requireStream reports whether a stream exists, and answers the request
// with ResourceNotFoundException if not. Callers hold no lock.
func (s *FaultServer) requireStream(w http.ResponseWriter, name string) bool {
	s.mu.Lock()
	known := s.known(name)
	s.mu.Unlock()
	if !known {
		faultError(w, http.StatusBadRequest, "ResourceNotFoundException",
			"Stream %s under account %s not found.", name, faultAccount)
	}
	return known
}

// known reports whether a stream exists. s.mu is held.
func (s *FaultServer) known(name string) bool {
	_, ok := s.streams[name]
	return ok || s.anyName
}

type putEntry struct {
	Data            []byte `json:"Data"`
	PartitionKey    string `json:"PartitionKey"`
	ExplicitHashKey string `json:"ExplicitHashKey,omitempty"`
}

type putRecordsInput struct {
	faultStreamRef
	Records []putEntry `json:"Records"`
}

type putRecordsResultEntry struct {
	SequenceNumber string `json:"SequenceNumber,omitempty"`
	ShardID        string `json:"ShardId,omitempty"`
	ErrorCode      string `json:"ErrorCode,omitempty"`
	ErrorMessage   string `json:"ErrorMessage,omitempty"`
}

type putRecordsOutput struct {
	FailedRecordCount int                     `json:"FailedRecordCount"`
	Records           []putRecordsResultEntry `json:"Records"`
	EncryptionType    string                  `json:"EncryptionType"`
}

// validEntry checks one entry against the service's limits. It returns
// the error type and message of the answer that refuses it, or "".
func validEntry(e putEntry) (errType, msg string) {
	n := utf8.RuneCountInString(e.PartitionKey)
	switch {
	case n < 1 || n > maxPartitionKeyRunes:
		return "ValidationException", fmt.Sprintf("1 validation error detected: partition key length %d is not within [1, %d]", n, maxPartitionKeyRunes)
	case len(e.Data) > maxRecordData:
		return "ValidationException", fmt.Sprintf("1 validation error detected: data length %d exceeds %d", len(e.Data), maxRecordData)
	case e.ExplicitHashKey != "":
		_, errType, msg = parseExplicitHashKey(e.ExplicitHashKey)
		return errType, msg
	}
	return "", ""
}

func (s *FaultServer) putRecords(w http.ResponseWriter, body []byte) {
	var in putRecordsInput
	stream, ok := s.decode(w, body, &in, &in.faultStreamRef)
	if !ok {
		return
	}
	if n := len(in.Records); n < 1 || n > maxPutRecordsEntries {
		faultError(w, http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length between 1 and %d (got %d)",
			maxPutRecordsEntries, n)
		return
	}
	size := 0
	for _, e := range in.Records {
		if typ, msg := validEntry(e); typ != "" {
			faultError(w, http.StatusBadRequest, typ, "%s", msg)
			return
		}
		size += len(e.Data) + len(e.PartitionKey)
	}
	if size > maxPutRecordsBytes {
		faultError(w, http.StatusBadRequest, "InvalidArgumentException", "Records size %d exceeds 5 MB limit", size)
		return
	}

	out := putRecordsOutput{Records: make([]putRecordsResultEntry, len(in.Records)), EncryptionType: "NONE"}
	s.mu.Lock()
	s.counts.Entries += len(in.Records)
	s.counts.MaxBatchRecords = max(s.counts.MaxBatchRecords, len(in.Records))
	s.counts.MaxBatchBytes = max(s.counts.MaxBatchBytes, size)
	for i, e := range in.Records {
		sh := s.route(e)
		injected := s.opts.FailEntryRate > 0 && s.rng.Float64() < s.opts.FailEntryRate
		if injected || !s.admit(stream, sh, e) {
			if !injected {
				s.counts.ShardThrottled++
			}
			s.counts.FailedEntries++
			out.FailedRecordCount++
			out.Records[i] = putRecordsResultEntry{
				ErrorCode:    "ProvisionedThroughputExceededException",
				ErrorMessage: throttleMessage(sh.id, stream),
			}
			continue
		}
		out.Records[i] = putRecordsResultEntry{SequenceNumber: s.store(stream, sh.id, e), ShardID: sh.id}
	}
	s.mu.Unlock()
	faultJSON(w, http.StatusOK, out)
}

// store appends a record and returns its sequence number. s.mu is held.
func (s *FaultServer) store(stream, shardID string, e putEntry) string {
	s.seq++
	seq := faultSeq(s.seq)
	if s.opts.Discard {
		return seq
	}
	s.stored = append(s.stored, StoredRecord{
		Stream: stream, PartitionKey: e.PartitionKey, Data: e.Data, Seq: seq,
		ShardID: shardID, ExplicitHashKey: e.ExplicitHashKey,
	})
	return seq
}

type putRecordInput struct {
	faultStreamRef
	putEntry
}

func (s *FaultServer) putRecord(w http.ResponseWriter, body []byte) {
	var in putRecordInput
	stream, ok := s.decode(w, body, &in, &in.faultStreamRef)
	if !ok {
		return
	}
	if typ, msg := validEntry(in.putEntry); typ != "" {
		faultError(w, http.StatusBadRequest, typ, "%s", msg)
		return
	}
	s.mu.Lock()
	s.counts.Entries++
	sh := s.route(in.putEntry)
	injected := s.opts.FailEntryRate > 0 && s.rng.Float64() < s.opts.FailEntryRate
	if injected || !s.admit(stream, sh, in.putEntry) {
		if !injected {
			s.counts.ShardThrottled++
		}
		s.counts.FailedEntries++
		s.mu.Unlock()
		faultError(w, http.StatusBadRequest, "ProvisionedThroughputExceededException", "%s", throttleMessage(sh.id, stream))
		return
	}
	seq := s.store(stream, sh.id, in.putEntry)
	s.mu.Unlock()
	faultJSON(w, http.StatusOK, map[string]string{"SequenceNumber": seq, "ShardId": sh.id, "EncryptionType": "NONE"})
}

// created returns when a known stream was created. s.mu is not held.
func (s *FaultServer) created(name string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.streams[name]; ok {
		return at
	}
	return time.Unix(1700000000, 0)
}

// faultEpoch renders a timestamp the way the JSON protocol does: seconds.
func faultEpoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func (s *FaultServer) describeStreamSummary(w http.ResponseWriter, body []byte) {
	var in faultStreamRef
	stream, ok := s.decode(w, body, &in, &in)
	if !ok {
		return
	}
	faultJSON(w, http.StatusOK, map[string]any{
		"StreamDescriptionSummary": map[string]any{
			"StreamName":              stream,
			"StreamARN":               faultStreamARN(stream),
			"StreamStatus":            "ACTIVE",
			"StreamModeDetails":       map[string]string{"StreamMode": "PROVISIONED"},
			"RetentionPeriodHours":    24,
			"StreamCreationTimestamp": faultEpoch(s.created(stream)),
			"EnhancedMonitoring":      []any{map[string]any{"ShardLevelMetrics": []string{}}},
			"EncryptionType":          "NONE",
			"OpenShardCount":          s.openShardCount(),
			"ConsumerCount":           0,
		},
	})
}

func (s *FaultServer) createStream(w http.ResponseWriter, body []byte) {
	var in struct {
		StreamName string `json:"StreamName"`
		ShardCount int    `json:"ShardCount"`
	}
	if !unmarshal(w, body, &in) {
		return
	}
	if in.StreamName == "" {
		faultError(w, http.StatusBadRequest, "ValidationException", "StreamName is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.streams[in.StreamName]; ok {
		faultError(w, http.StatusBadRequest, "ResourceInUseException",
			"Stream %s under account %s already exists.", in.StreamName, faultAccount)
		return
	}
	s.streams[in.StreamName] = time.Now()
	faultJSON(w, http.StatusOK, struct{}{})
}

func (s *FaultServer) listStreams(w http.ResponseWriter) {
	s.mu.Lock()
	names := make([]string, 0, len(s.streams))
	for name := range s.streams {
		names = append(names, name)
	}
	s.mu.Unlock()
	slices.Sort(names)
	summaries := make([]map[string]any, len(names))
	for i, name := range names {
		summaries[i] = map[string]any{
			"StreamName":   name,
			"StreamARN":    faultStreamARN(name),
			"StreamStatus": "ACTIVE",
		}
	}
	faultJSON(w, http.StatusOK, map[string]any{"StreamNames": names, "HasMoreStreams": false, "StreamSummaries": summaries})
}
