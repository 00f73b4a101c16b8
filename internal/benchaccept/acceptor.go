package benchaccept

import (
	"cmp"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
	// HTTP2 offers HTTP/2 besides HTTP/1.1 (by ALPN, so with TLS only).
	// Without it the acceptor speaks HTTP/1.1 as the service does for these
	// calls, whatever the client offers.
	HTTP2 bool
	// Stream is the one stream that exists; default "bench".
	Stream string
	// CountLines decodes each record's data to count the user records in
	// it: the inner records of a KPL aggregate, or else its newline-separated
	// records. Without it, every Kinesis record is one user record.
	CountLines bool
	// Distinct also counts the distinct user records stored (by a 64-bit
	// hash of each), so records sent again after an outage are told from
	// new ones. It implies CountLines and costs the acceptor CPU and
	// memory (a set of every record's hash).
	Distinct bool
	// Throttle is the share of PutRecords entries, from 0 to 1, answered
	// with ProvisionedThroughputExceededException instead of being stored,
	// drawn at random for each entry. SetThrottle changes it.
	Throttle float64
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
	// Distinct is the number of distinct user records stored, with
	// Options.Distinct (else 0): UserRecords - Distinct were duplicates.
	Distinct int64
	// Throttled counts entries refused with
	// ProvisionedThroughputExceededException (Options.Throttle); they are
	// in none of the counts above.
	Throttled int64
	// Refused counts connections reset while the acceptor was down.
	Refused int64
	// CBOR and HTTP2 count the PutRecords requests (of Requests) that came
	// in the CBOR protocol and over HTTP/2.
	CBOR, HTTP2 int64
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

	answers cannedAnswers
	// throttleMessage is the ErrorMessage of a throttled entry.
	throttleMessage string

	seq                                             atomic.Uint64
	requests, records, dataBytes, units, userRecord atomic.Int64
	userBytes, throttled, refused, cbor, http2      atomic.Int64
	first, last                                     atomic.Int64 // unix nanoseconds

	// throttle is the share of entries refused, as a threshold for a
	// uniform 64-bit draw; draws counts the draws.
	throttle, draws atomic.Uint64
	down            atomic.Bool
	connMu          sync.Mutex
	conns           map[net.Conn]struct{} // open connections, closed when going down

	seed     maphash.Seed
	seenMu   sync.Mutex
	seen     map[uint64]struct{} // hashes of the user records stored, with Distinct
	distinct atomic.Int64        // len(seen)

	scanners sync.Pool // *scanner
	bufs     sync.Pool // *[]byte, request bodies and responses
}

// Start listens on a free port of 127.0.0.1 and serves until Close.
func Start(o Options) (*Acceptor, error) {
	if o.Stream == "" {
		o.Stream = "bench"
	}
	if o.Throttle < 0 || o.Throttle > 1 {
		return nil, fmt.Errorf("benchaccept: throttle %v is not between 0 and 1", o.Throttle)
	}
	if o.HTTP2 && !o.TLS {
		return nil, errors.New("benchaccept: HTTP/2 needs TLS")
	}
	o.CountLines = o.CountLines || o.Distinct
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("benchaccept: listen: %w", err)
	}
	a := &Acceptor{
		opts:            o,
		served:          make(chan struct{}),
		conns:           map[net.Conn]struct{}{},
		seed:            maphash.MakeSeed(),
		answers:         makeCannedAnswers(o.Stream),
		throttleMessage: "Rate exceeded for shard " + shardID + " in stream " + o.Stream + " under account 000000000000.",
	}
	if o.Distinct {
		a.seen = map[uint64]struct{}{}
	}
	a.SetThrottle(o.Throttle)
	a.srv = &http.Server{
		Handler:           a,
		ReadHeaderTimeout: 10 * time.Second,
		ConnState:         a.connState,
		ErrorLog:          log.New(os.Stderr, "benchaccept: ", 0),
	}
	if !o.HTTP2 {
		// The service speaks HTTP/1.1 for these calls; so does the client
		// under test then.
		a.srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	scheme := "http"
	var l net.Listener = gate{ln.(*net.TCPListener), a}
	if o.TLS {
		cert, caPEM, err := selfSigned()
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("benchaccept: %w", err)
		}
		a.caPEM = caPEM
		a.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if o.HTTP2 {
			a.srv.TLSConfig.NextProtos = []string{"h2", "http/1.1"}
		}
		l = tls.NewListener(l, a.srv.TLSConfig)
		scheme = "https"
	}
	a.url = scheme + "://" + ln.Addr().String()
	go func() {
		defer close(a.served)
		a.srv.Serve(l) // returns ErrServerClosed after Close
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
		Distinct:     a.distinct.Load(),
		Throttled:    a.throttled.Load(),
		Refused:      a.refused.Load(),
		CBOR:         a.cbor.Load(),
		HTTP2:        a.http2.Load(),
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

// ServeHTTP answers one Kinesis call, in JSON or CBOR as it came.
func (a *Acceptor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.down.Load() {
		a.refuse(w)
		return
	}
	cbor := strings.HasPrefix(r.Header.Get("Content-Type"), cborContentType)
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if r.Method != http.MethodPost || !ok {
		writeError(w, cbor, http.StatusBadRequest, "UnknownOperationException", "not a Kinesis call")
		return
	}
	switch op {
	case "PutRecords":
		a.putRecords(w, r, cbor)
	case "DescribeStreamSummary":
		a.describe(w, r, cbor, a.answers.summary)
	case "DescribeStream":
		a.describe(w, r, cbor, a.answers.stream)
	case "ListShards":
		a.describe(w, r, cbor, a.answers.shards)
	default:
		writeError(w, cbor, http.StatusBadRequest, "UnknownOperationException", op+" is not supported")
	}
}

// describe answers a call about the stream with a canned body, if the call
// names the stream (or names none, as a ListShards NextToken call does).
func (a *Acceptor) describe(w http.ResponseWriter, r *http.Request, cbor bool, answer [2][]byte) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, cbor, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	var name string
	if cbor {
		name, err = cborStreamName(body)
	} else {
		var in struct{ StreamName, StreamARN string }
		err = json.Unmarshal(body, &in)
		name = cmp.Or(in.StreamName, in.StreamARN)
	}
	if err != nil {
		writeError(w, cbor, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	if name != "" && !a.isStream([]byte(name)) {
		writeError(w, cbor, http.StatusBadRequest, "ResourceNotFoundException", "Stream "+name+" not found")
		return
	}
	if cbor {
		writeAnswer(w, true, answer[1])
		return
	}
	writeAnswer(w, false, answer[0])
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

func (a *Acceptor) putRecords(w http.ResponseWriter, r *http.Request, cbor bool) {
	now := time.Now().UnixNano()
	a.first.CompareAndSwap(0, now)

	bp := a.buf()
	defer a.bufs.Put(bp)
	body, err := readBody(r, *bp)
	*bp = body[:0]
	if err != nil {
		writeError(w, cbor, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}

	sc, _ := a.scanners.Get().(*scanner)
	if sc == nil {
		sc = newScanner(a.opts.CountLines, a.opts.Distinct, a.seed)
	}
	defer a.scanners.Put(sc)
	var p putRecords
	if cbor {
		p, err = sc.scanCBOR(body)
	} else {
		p, err = sc.scan(body)
	}
	switch {
	case err != nil:
		writeError(w, cbor, http.StatusBadRequest, "SerializationException", err.Error())
		return
	case p.stream == nil || !a.isStream(p.stream):
		writeError(w, cbor, http.StatusBadRequest, "ResourceNotFoundException", "Stream "+string(p.stream)+" not found")
		return
	case p.records == 0 || p.records > 500:
		writeError(w, cbor, http.StatusBadRequest, "ValidationException", "PutRecords takes 1 to 500 records")
		return
	}

	// Which entries are stored: all, or those the throttle lets through.
	stored, failed := a.store(sc, &p)

	// The body has been scanned: its buffer now holds the response.
	seq := a.seq.Add(uint64(stored.records)) - uint64(stored.records)
	out := appendPutAnswer(body[:0], cbor, len(sc.entries), sc.failed, failed, seq, a.throttleMessage)
	*bp = out[:0]

	// Counted before the answer goes out: a client that has its answer
	// sees the counts it made (a test reads them at once). Time first,
	// counts after: whoever sees the counts complete also sees a Last at
	// or after the request that completed them.
	end := time.Now().UnixNano()
	for {
		prev := a.last.Load()
		if prev >= end || a.last.CompareAndSwap(prev, end) {
			break
		}
	}
	a.requests.Add(1)
	if cbor {
		a.cbor.Add(1)
	}
	if r.ProtoMajor == 2 {
		a.http2.Add(1)
	}
	a.throttled.Add(int64(failed))
	a.records.Add(stored.records)
	a.dataBytes.Add(stored.dataBytes)
	a.units.Add(stored.units)
	a.userRecord.Add(stored.userRecords)
	a.userBytes.Add(stored.userBytes)
	writeAnswer(w, cbor, out)
}

// store decides which entries of a scanned body are stored, recording the
// refused ones in sc.failed (nil when none is), and returns the totals of
// the stored ones and the number refused. With Distinct it adds the
// stored user records to the set of those seen.
func (a *Acceptor) store(sc *scanner, p *putRecords) (stored putRecords, failed int) {
	stored = *p
	sc.failed = sc.failed[:0]
	if thr := a.throttle.Load(); thr > 0 {
		stored = putRecords{}
		for _, e := range sc.entries {
			refuse := splitmix64(a.draws.Add(1)) < thr
			sc.failed = append(sc.failed, refuse)
			if refuse {
				failed++
				continue
			}
			stored.records++
			stored.dataBytes += e.dataBytes
			stored.units += e.units
			stored.userRecords += e.userRecords
			stored.userBytes += e.userBytes
		}
		if failed == 0 {
			sc.failed = sc.failed[:0]
		}
	}
	if a.seen != nil {
		a.seenMu.Lock()
		from := 0
		for i, e := range sc.entries {
			if len(sc.failed) == 0 || !sc.failed[i] {
				for _, h := range sc.hashes[from:e.hashEnd] {
					a.seen[h] = struct{}{}
				}
			}
			from = e.hashEnd
		}
		a.distinct.Store(int64(len(a.seen)))
		a.seenMu.Unlock()
	}
	return stored, failed
}

// SetThrottle sets the share of entries refused from now on, 0 to 1
// (clamped).
func (a *Acceptor) SetThrottle(rate float64) {
	var thr uint64
	switch {
	case rate >= 1:
		thr = math.MaxUint64
	case rate > 0:
		thr = uint64(rate * (1 << 64))
	}
	a.throttle.Store(thr)
}

// splitmix64 scrambles a counter into a uniform 64-bit value: draws from
// concurrent requests need no lock.
func splitmix64(x uint64) uint64 {
	x *= 0x9E3779B97F4A7C15
	x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
	x = (x ^ x>>27) * 0x94D049BB133111EB
	return x ^ x>>31
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
