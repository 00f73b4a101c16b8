// BenchmarkWire: a whole Kinesis sink against servers in other processes,
// CPU, writes and bytes per request.

package sink

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/kinesistest"
)

// BenchmarkWire sends records through a whole Kinesis sink (batching,
// body, SigV4, TLS, answer) to a server in another process, over HTTP/1.1
// and HTTP/2, in JSON and in CBOR, and reports per million records the CPU
// the sink's process spent (client-cpu-s/M) and the server's process
// (server-cpu-s/M), and per request the writes on the client's sockets
// (each one a system call) and the bytes they carried.
//
// The servers are the fault server, run in a child process (this test
// binary, see TestMain) over TLS with httptest's certificate trusted
// through AWS_CA_BUNDLE, and kinesis-local over its TLS port. Records are
// 100-byte JSON lines, 500 to a request, 4 requests in flight. Run it with
// a fixed count, for example:
//
//	go test -run '^$' -bench 'BenchmarkWire/fault' -benchtime 1000000x -count 5 ./sink
//	go test -run '^$' -bench 'BenchmarkWire/kinesis-local' -benchtime 20000x ./sink
//
// kinesis-local takes about a millisecond of its own CPU per record, so its
// runs measure it more than the sink. Over HTTP/2 it answers some requests
// with GOAWAY (PROTOCOL_ERROR), and has been seen to stop granting
// flow-control window altogether, which stalls every request on the
// connection until the test binary's timeout.
func BenchmarkWire(b *testing.B) {
	fault := startFaultChild(b)
	local := kinesistest.StartServer(b)
	servers := []struct {
		name     string
		endpoint string
		pid      int
		insecure bool // kinesis-local's certificate names no host
		stream   func(b *testing.B) string
	}{
		{"fault", fault.url, fault.pid, false, func(*testing.B) string { return testStream }},
		{"kinesis-local", local.TLSEndpoint(), local.PID(), true, func(b *testing.B) string {
			// A stream per run: kinesis-local slows down as its shards fill.
			name := fmt.Sprintf("wire-%d", streamSeq.Add(1))
			if err := local.CreateStream(b.Context(), name, 4); err != nil {
				b.Fatal(err)
			}
			return name
		}},
	}
	for _, srv := range servers {
		for _, version := range []string{HTTP1, HTTP2} {
			for _, protocol := range []string{ProtocolJSON, ProtocolCBOR} {
				b.Run(fmt.Sprintf("%s/http%s/%s", srv.name, version, protocol), func(b *testing.B) {
					d := testDestination(srv.endpoint)
					d.Stream, d.HTTP.Version, d.Protocol = srv.stream(b), version, protocol
					runWire(b, d, srv.pid, srv.insecure)
				})
			}
		}
	}
}

var streamSeq atomic.Int64

// runWire sends b.N records to d and reports the figures; serverPID is the
// server's process.
func runWire(b *testing.B, d *config.Destination, serverPID int, insecure bool) {
	var conns connCounters
	k, err := NewKinesis(b.Context(), d, Options{
		Logger:      slog.New(slog.NewTextHandler(testWriter{b}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Rand:        rand.New(rand.NewPCG(1, 2)),
		credentials: credentials.NewStaticCredentialsProvider(kinesistest.TestAccessKeyID, kinesistest.TestSecretAccessKey, ""),
		tuneTransport: func(tr *http.Transport) {
			tr.TLSClientConfig.InsecureSkipVerify = insecure
			dial := tr.DialContext
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				conns.dials.Add(1)
				return &countingConn{Conn: c, n: &conns}, nil
			}
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	data := []byte(`{"time":"2024-05-01T12:00:00Z","host":"web-1","status":200,"path":"/index.html","bytes":5120}`)
	const per = 500
	batches := make(chan Batch, 4)
	go func() {
		defer close(batches)
		for sent := 0; sent < b.N; sent += per {
			bt := Batch{Records: make([]Record, min(per, b.N-sent))}
			for i := range bt.Records {
				bt.Records[i].Data = data
			}
			bt.Bytes = len(bt.Records) * len(data)
			batches <- bt
		}
	}()

	clientBefore, serverBefore := selfCPU(b), processCPU(b, serverPID)
	b.ResetTimer()
	if err := k.Run(context.Background(), batches); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	client, server := selfCPU(b)-clientBefore, processCPU(b, serverPID)-serverBefore

	st := k.Stats()
	if st.RecordsStored != int64(b.N) {
		b.Fatalf("%d records stored, want %d: %+v", st.RecordsStored, b.N, st)
	}
	perM := 1e6 / float64(b.N)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(client.Seconds()*perM, "client-cpu-s/M")
	b.ReportMetric(server.Seconds()*perM, "server-cpu-s/M")
	b.ReportMetric(float64(conns.writes.Load())/float64(st.Requests), "writes/req")
	b.ReportMetric(float64(conns.written.Load())/float64(st.Requests), "B-written/req")
	b.ReportMetric(float64(conns.reads.Load())/float64(st.Requests), "reads/req")
	b.ReportMetric(float64(conns.dials.Load()), "connections")
}

// connCounters count what the client's connections did.
type connCounters struct {
	dials, writes, written, reads atomic.Int64
}

// countingConn counts the writes and reads on a TCP connection: below TLS,
// so each is one system call.
type countingConn struct {
	net.Conn
	n *connCounters
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.n.writes.Add(1)
	n, err := c.Conn.Write(p)
	c.n.written.Add(int64(n))
	return n, err
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.n.reads.Add(1)
	return c.Conn.Read(p)
}

// selfCPU is the user and system CPU time this process has used.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU is the user and system CPU time process pid has used, from
// /proc/PID/stat (in clock ticks of 1/100 s, Linux's USER_HZ).
func processCPU(b *testing.B, pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name, in parentheses, may hold spaces: fields are
	// counted after its closing parenthesis, from field 3 (state).
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		b.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// faultChildEnv, set in a child process of the test binary, makes TestMain
// run a fault server instead of the tests.
const faultChildEnv = "KINETAIL_SINK_FAULT_CHILD"

// faultChild is a fault server in a child process.
type faultChild struct {
	url string
	pid int
}

// startFaultChild starts this test binary as a TLS fault server that keeps
// no records, and makes AWS_CA_BUNDLE trust it. It stops when b is done.
func startFaultChild(b *testing.B) faultChild {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), faultChildEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close() // the child stops when its input ends
		if err := cmd.Wait(); err != nil {
			b.Errorf("fault server child: %v", err)
		}
	})
	r := bufio.NewReader(stdout)
	url, err := r.ReadString('\n')
	if err != nil {
		b.Fatalf("fault server child: %v", err)
	}
	pem, err := io.ReadAll(r)
	if err != nil {
		b.Fatal(err)
	}
	bundle := filepath.Join(b.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, pem, 0o600); err != nil {
		b.Fatal(err)
	}
	b.Setenv("AWS_CA_BUNDLE", bundle)
	return faultChild{url: strings.TrimSpace(url), pid: cmd.Process.Pid}
}

// serveFaultChild is the child's side of startFaultChild: it prints the
// server's URL and certificate, closes its output, and serves until its
// input ends.
func serveFaultChild() int {
	s, err := kinesistest.StartFaultServer(kinesistest.FaultOptions{TLS: true, HTTP2: true, Discard: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	fmt.Println(s.URL())
	os.Stdout.Write(s.CertificatePEM())
	os.Stdout.Close()
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}
