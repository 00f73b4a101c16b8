package benchaccept

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	targetPrefix = "Kinesis_20131202."
	shardID      = "shardId-000000000000"
	// maxBody bounds one request body: 10 MiB of data (a raised stream's
	// limit) grows by a third as base64, plus keys and JSON.
	maxBody = 16 << 20
	// seqPrefix starts every sequence number; a zero-padded counter follows,
	// so numbers are unique and grow like the service's do.
	seqPrefix = "4960000000000000000000000000"
)

// Options configures an Acceptor.
type Options struct {
	// TLS serves HTTPS with a certificate made at start (see CAFile).
	TLS bool
	// Stream is the one stream that exists; default "bench".
	Stream string
	// CountLines decodes each record's data to count the user records in
	// it: the inner records of a KPL aggregate, or else its newline-separated
	// records. Without it, every Kinesis record is one user record.
	CountLines bool
}

// Stats counts what PutRecords requests delivered.
type Stats struct {
	Requests    int64 // PutRecords requests answered
	Records     int64 // Kinesis records stored
	DataBytes   int64 // decoded data bytes
	UserRecords int64 // see Options.CountLines
	// UserBytes is the data of the user records (inside aggregates), with
	// CountLines; else DataBytes.
	UserBytes int64
	// PayloadUnits sums ceil((data + partition key) / 25 KiB) over records,
	// as the service meters PUT payload units.
	PayloadUnits int64
	// First is when the first PutRecords request arrived and Last when the
	// most recent one was answered (zero before any).
	First, Last time.Time
}

// Acceptor is a running server. Its methods are safe for concurrent use.
type Acceptor struct {
	opts   Options
	url    string
	srv    *http.Server
	served chan struct{}
	caPEM  []byte

	summary, stream, shards []byte // canned answers

	seq                                             atomic.Uint64
	requests, records, dataBytes, units, userRecord atomic.Int64
	userBytes                                       atomic.Int64
	first, last                                     atomic.Int64 // unix nanoseconds

	scanners sync.Pool // *scanner
	bufs     sync.Pool // *[]byte, request bodies and responses
}

// Start listens on a free port of 127.0.0.1 and serves until Close.
func Start(o Options) (*Acceptor, error) {
	if o.Stream == "" {
		o.Stream = "bench"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("benchaccept: listen: %w", err)
	}
	a := &Acceptor{opts: o, served: make(chan struct{})}
	a.cannedAnswers()
	a.srv = &http.Server{
		Handler:           a,
		ReadHeaderTimeout: 10 * time.Second,
		// The service speaks HTTP/1.1 for these calls; so does the client
		// under test then.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:     log.New(os.Stderr, "benchaccept: ", 0),
	}
	scheme := "http"
	if o.TLS {
		cert, caPEM, err := selfSigned()
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("benchaccept: %w", err)
		}
		a.caPEM = caPEM
		a.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, a.srv.TLSConfig)
		scheme = "https"
	}
	a.url = scheme + "://" + ln.Addr().String()
	go func() {
		defer close(a.served)
		a.srv.Serve(ln) // returns ErrServerClosed after Close
	}()
	return a, nil
}

// URL returns the endpoint, https://127.0.0.1:PORT (http without TLS).
func (a *Acceptor) URL() string { return a.url }

// CAFile writes the server's certificate as PEM into dir, for AWS_CA_BUNDLE,
// and returns the file's path.
func (a *Acceptor) CAFile(dir string) (string, error) {
	if a.caPEM == nil {
		return "", errors.New("benchaccept: no certificate: TLS is off")
	}
	path := filepath.Join(dir, "benchaccept-ca.pem")
	if err := os.WriteFile(path, a.caPEM, 0o644); err != nil {
		return "", fmt.Errorf("benchaccept: %w", err)
	}
	return path, nil
}

// Stats returns the counts so far.
func (a *Acceptor) Stats() Stats {
	s := Stats{
		Requests:     a.requests.Load(),
		Records:      a.records.Load(),
		DataBytes:    a.dataBytes.Load(),
		PayloadUnits: a.units.Load(),
		UserRecords:  a.userRecord.Load(),
		UserBytes:    a.userBytes.Load(),
	}
	if t := a.first.Load(); t != 0 {
		s.First = time.Unix(0, t)
	}
	if t := a.last.Load(); t != 0 {
		s.Last = time.Unix(0, t)
	}
	return s
}

// Close stops the server, closing open connections, and waits for it.
func (a *Acceptor) Close() {
	a.srv.Close()
	<-a.served
}

// ServeHTTP answers one Kinesis JSON call.
func (a *Acceptor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if r.Method != http.MethodPost || !ok {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "not a Kinesis call")
		return
	}
	switch op {
	case "PutRecords":
		a.putRecords(w, r)
	case "DescribeStreamSummary":
		a.describe(w, r, a.summary)
	case "DescribeStream":
		a.describe(w, r, a.stream)
	case "ListShards":
		a.describe(w, r, a.shards)
	default:
		writeError(w, http.StatusBadRequest, "UnknownOperationException", op+" is not supported")
	}
}

// describe answers a call about the stream with a canned body, if the call
// names the stream (or names none, as a ListShards NextToken call does).
func (a *Acceptor) describe(w http.ResponseWriter, r *http.Request, answer []byte) {
	var in struct{ StreamName, StreamARN string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	name := in.StreamName
	if name == "" && in.StreamARN != "" {
		name = in.StreamARN
	}
	if name != "" && !a.isStream([]byte(name)) {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "Stream "+name+" not found")
		return
	}
	writeJSON(w, answer)
}

func (a *Acceptor) isStream(name []byte) bool {
	s := a.opts.Stream
	if string(name) == s {
		return true
	}
	// An ARN: arn:aws:kinesis:REGION:ACCOUNT:stream/NAME.
	n := len(name) - len(s)
	return n > 0 && name[n-1] == '/' && string(name[n:]) == s && strings.HasPrefix(string(name), "arn:")
}

func (a *Acceptor) putRecords(w http.ResponseWriter, r *http.Request) {
	now := time.Now().UnixNano()
	a.first.CompareAndSwap(0, now)

	bp := a.buf()
	defer a.bufs.Put(bp)
	body, err := readBody(r, *bp)
	*bp = body[:0]
	if err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}

	sc, _ := a.scanners.Get().(*scanner)
	if sc == nil {
		sc = &scanner{countLines: a.opts.CountLines}
	}
	p, err := sc.scan(body)
	a.scanners.Put(sc)
	switch {
	case err != nil:
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	case p.stream == nil || !a.isStream(p.stream):
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "Stream "+string(p.stream)+" not found")
		return
	case p.records == 0 || p.records > 500:
		writeError(w, http.StatusBadRequest, "ValidationException", "PutRecords takes 1 to 500 records")
		return
	}

	// The body has been scanned: its buffer now holds the response.
	seq := a.seq.Add(uint64(p.records)) - uint64(p.records)
	out := append(body[:0], `{"FailedRecordCount":0,"Records":[`...)
	for i := range p.records {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"SequenceNumber":"`+seqPrefix...)
		out = appendPadded(out, seq+uint64(i)+1)
		out = append(out, `","ShardId":"`+shardID+`"}`...)
	}
	out = append(out, "]}"...)
	*bp = out[:0]
	writeJSON(w, out)

	// Time first, counts after: whoever sees the counts complete also sees
	// a Last at or after the answer that completed them.
	end := time.Now().UnixNano()
	for {
		prev := a.last.Load()
		if prev >= end || a.last.CompareAndSwap(prev, end) {
			break
		}
	}
	a.requests.Add(1)
	a.records.Add(p.records)
	a.dataBytes.Add(p.dataBytes)
	a.units.Add(p.units)
	a.userRecord.Add(p.userRecords)
	a.userBytes.Add(p.userBytes)
}

func (a *Acceptor) buf() *[]byte {
	if bp, ok := a.bufs.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

// readBody reads the request body into buf, growing it as needed.
func readBody(r *http.Request, buf []byte) ([]byte, error) {
	if r.ContentLength > maxBody {
		return buf, fmt.Errorf("body of %d bytes is over %d", r.ContentLength, maxBody)
	}
	if n := int(r.ContentLength); n > 0 {
		if cap(buf) < n {
			buf = make([]byte, 0, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return buf[:0], fmt.Errorf("read body: %w", err)
		}
		return buf, nil
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf[:0], fmt.Errorf("read body: %w", err)
		}
		if len(buf) > maxBody {
			return buf[:0], fmt.Errorf("body is over %d bytes", maxBody)
		}
	}
}

// appendPadded appends v as 20 decimal digits.
func appendPadded(b []byte, v uint64) []byte {
	var d [20]byte
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:]...)
}

func writeJSON(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/x-amz-json-1.1"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.Write(body)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{typ, msg})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	w.Write(b)
}

// cannedAnswers builds the bodies of the describe calls, which never change.
func (a *Acceptor) cannedAnswers() {
	name := a.opts.Stream
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/" + name
	created := time.Now().Unix()
	shard := map[string]any{
		"ShardId":             shardID,
		"HashKeyRange":        map[string]string{"StartingHashKey": "0", "EndingHashKey": "340282366920938463463374607431768211455"},
		"SequenceNumberRange": map[string]string{"StartingSequenceNumber": seqPrefix + "00000000000000000000"},
	}
	common := map[string]any{
		"StreamName":              name,
		"StreamARN":               arn,
		"StreamStatus":            "ACTIVE",
		"StreamModeDetails":       map[string]string{"StreamMode": "PROVISIONED"},
		"RetentionPeriodHours":    24,
		"StreamCreationTimestamp": created,
		"EnhancedMonitoring":      []any{map[string]any{"ShardLevelMetrics": []string{}}},
		"EncryptionType":          "NONE",
	}
	summary := map[string]any{"OpenShardCount": 1, "ConsumerCount": 0}
	stream := map[string]any{"Shards": []any{shard}, "HasMoreShards": false}
	for k, v := range common {
		summary[k] = v
		stream[k] = v
	}
	a.summary = mustJSON(map[string]any{"StreamDescriptionSummary": summary})
	a.stream = mustJSON(map[string]any{"StreamDescription": stream})
	a.shards = mustJSON(map[string]any{"Shards": []any{shard}})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only fixed maps of strings and numbers above
	}
	return b
}
