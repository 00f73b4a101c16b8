package kinesistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/kinetail/kinetail/internal/sdkbody"
)

// Test credentials and region. kinesis-local accepts any signature; the
// access key is not a 12-digit account id, so every request lands in the
// mock's default account.
const (
	TestAccessKeyID     = "AKIDTESTKINETAIL0000"
	TestSecretAccessKey = "kinetail-test-secret"
	TestRegion          = "us-east-1"
)

const (
	readyTimeout = 60 * time.Second
	pollInterval = 100 * time.Millisecond
	// stderrTail is how much of the server's output is kept for errors.
	stderrTail = 8 << 10
)

// Options configures Start.
type Options struct {
	// Dir is the directory holding package.json and node_modules. Default:
	// test/kinesis under the module root (the nearest directory above the
	// working directory that contains go.mod).
	Dir string
	// Stderr, if set, also receives the server's stdout and stderr.
	Stderr io.Writer
}

// Record is one record read back from a stream.
type Record struct {
	PartitionKey string
	Data         []byte
	Seq          string
	Shard        string
}

// Server is a running kinesis-local process.
type Server struct {
	cmd       *exec.Cmd
	plainURL  string
	tlsURL    string
	transport *http.Transport
	client    *kinesis.Client
	output    *tailBuffer

	exited  chan struct{} // closed when the process has been waited for
	waitErr error         // set before exited is closed

	closeOnce sync.Once
	closeErr  error
}

// Start runs kinesis-local on two free loopback ports (plain HTTP and TLS)
// and returns once it answers API calls. The process is killed when ctx ends
// or Close is called. Start installs nothing: the Node modules must already
// be installed in o.Dir.
func Start(ctx context.Context, o Options) (*Server, error) {
	dir := o.Dir
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return nil, fmt.Errorf("kinesistest: %w", err)
		}
		dir = filepath.Join(root, "test", "kinesis")
	}
	mainJS := filepath.Join(dir, "node_modules", "kinesis-local", "main.js")
	if _, err := os.Stat(mainJS); err != nil {
		return nil, fmt.Errorf("kinesistest: kinesis-local is not installed (%w): run `npm ci --prefix test/kinesis` (make test does that)", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("kinesistest: kinesis-local needs Node.js: %w", err)
	}

	// The ports are picked by binding and releasing them, so another process
	// may take one before the server binds it; then the server exits early
	// and Start tries again with new ports.
	var errs []error
	for range 3 {
		s, err := start(ctx, node, dir, o.Stderr)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil || !errors.Is(err, errExited) {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// errExited marks a server that stopped before it answered.
var errExited = errors.New("server exited before it answered")

func start(ctx context.Context, node, dir string, stderr io.Writer) (*Server, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, fmt.Errorf("kinesistest: %w", err)
	}
	plain, tls := ports[0], ports[1]

	cmd := exec.CommandContext(ctx, node, "-r", "./loopback.js", filepath.Join("node_modules", "kinesis-local", "main.js"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"KINESIS_MOCK_CERT_PATH="+filepath.Join(dir, "node_modules", "kinesis-local", "server.json"),
		"KINESIS_MOCK_PLAIN_PORT="+strconv.Itoa(plain),
		"KINESIS_MOCK_TLS_PORT="+strconv.Itoa(tls),
		"LOG_LEVEL=WARN",
		"CREATE_STREAM_DURATION=0ms",
		"DELETE_STREAM_DURATION=0ms",
		"AWS_REGION="+TestRegion,
		"SHOULD_PERSIST_DATA=false",
	)
	out := &tailBuffer{max: stderrTail}
	var w io.Writer = out
	if stderr != nil {
		w = io.MultiWriter(out, stderr)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	// Output is copied by goroutines; do not let a stuck pipe hold Wait.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("kinesistest: start %s: %w", node, err)
	}

	s := &Server{
		cmd:      cmd,
		plainURL: "http://127.0.0.1:" + strconv.Itoa(plain),
		tlsURL:   "https://127.0.0.1:" + strconv.Itoa(tls),
		output:   out,
		exited:   make(chan struct{}),
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	s.transport = http.DefaultTransport.(*http.Transport).Clone()
	s.transport.Proxy = nil // loopback only, whatever the environment says
	s.client = kinesis.New(kinesis.Options{
		Region:       TestRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(TestAccessKeyID, TestSecretAccessKey, ""),
		BaseEndpoint: aws.String(s.plainURL),
		HTTPClient:   sdkbody.Client{Next: &http.Client{Transport: s.transport}},
		// Tests make many calls, some failing on purpose: a client-side
		// retry budget would turn those into unrelated failures later.
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) { o.RateLimiter = ratelimit.None }),
	})

	if err := s.waitReady(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// waitReady polls ListStreams until the server answers.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var lastErr error
	for {
		callCtx, callCancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := s.client.ListStreams(callCtx, &kinesis.ListStreamsInput{}, func(o *kinesis.Options) { o.RetryMaxAttempts = 1 })
		callCancel()
		if err == nil {
			return nil
		}
		lastErr = err
		select {
		case <-s.exited:
			return fmt.Errorf("kinesistest: %w (%v); output:\n%s", errExited, s.waitErr, s.output.String())
		case <-ctx.Done():
			return fmt.Errorf("kinesistest: server at %s did not answer: %w (last error: %v); output:\n%s",
				s.plainURL, ctx.Err(), lastErr, s.output.String())
		case <-time.After(pollInterval):
		}
	}
}

// StartServer starts a server for the test and closes it when the test and
// its subtests are done. It fails the test if the server cannot start.
func StartServer(t testing.TB) *Server {
	t.Helper()
	s, err := Start(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close kinesis-local: %v", err)
		}
	})
	return s
}

// Endpoint returns the plain HTTP endpoint, http://127.0.0.1:PORT.
func (s *Server) Endpoint() string { return s.plainURL }

// TLSEndpoint returns the HTTPS endpoint. Its certificate is kinesis-local's
// own self-signed one.
func (s *Server) TLSEndpoint() string { return s.tlsURL }

// Client returns a Kinesis client for Endpoint with the test credentials.
func (s *Server) Client() *kinesis.Client { return s.client }

// PID returns the server's process id, for measuring the CPU it uses.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Output returns the last bytes the server wrote to stdout and stderr.
func (s *Server) Output() string { return s.output.String() }

// Close kills the server's process group and waits for it to exit. It
// reports an error only if the server had stopped by itself before.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		select {
		case <-s.exited:
			if s.waitErr != nil && s.cmd.ProcessState != nil && !killedBySignal(s.cmd.ProcessState) {
				s.closeErr = fmt.Errorf("kinesistest: server had exited: %w; output:\n%s", s.waitErr, s.output.String())
			}
		default:
			if err := killGroup(s.cmd.Process.Pid); err != nil {
				s.closeErr = fmt.Errorf("kinesistest: kill server: %w", err)
			}
			<-s.exited
		}
		s.transport.CloseIdleConnections()
	})
	return s.closeErr
}

// CreateStream creates a provisioned stream and waits until it is ACTIVE.
func (s *Server) CreateStream(ctx context.Context, name string, shards int) error {
	_, err := s.client.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name),
		ShardCount: aws.Int32(int32(shards)),
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", name, err)
	}
	for {
		out, err := s.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("describe stream %s: %w", name, err)
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stream %s not active (%s): %w", name, out.StreamDescriptionSummary.StreamStatus, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ReadAll returns every record of every shard of stream, in shard order and
// within a shard in sequence order.
func (s *Server) ReadAll(ctx context.Context, stream string) ([]Record, error) {
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
	for {
		out, err := s.client.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list shards of %s: %w", stream, err)
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			break
		}
		// A NextToken request must not name the stream.
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}

	var recs []Record
	for _, sh := range shards {
		it, err := s.client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName:        aws.String(stream),
			ShardId:           sh.ShardId,
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			return nil, fmt.Errorf("shard iterator for %s/%s: %w", stream, aws.ToString(sh.ShardId), err)
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := s.client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			if err != nil {
				return nil, fmt.Errorf("get records from %s/%s: %w", stream, aws.ToString(sh.ShardId), err)
			}
			for _, r := range out.Records {
				recs = append(recs, Record{
					PartitionKey: aws.ToString(r.PartitionKey),
					Data:         r.Data,
					Seq:          aws.ToString(r.SequenceNumber),
					Shard:        aws.ToString(sh.ShardId),
				})
			}
			// An open shard always has a next iterator; an empty page at the
			// tip means this shard is read to its end.
			if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	return recs, nil
}

// WaitForCount polls ReadAll until stream holds at least n records. On
// timeout it returns what it last read along with the error.
func (s *Server) WaitForCount(ctx context.Context, stream string, n int) ([]Record, error) {
	for {
		recs, err := s.ReadAll(ctx, stream)
		if err == nil && len(recs) >= n {
			return recs, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return recs, fmt.Errorf("wait for %d records in %s: have %d: %w", n, stream, len(recs), err)
		case <-time.After(pollInterval):
		}
	}
}

// TestEnv returns the environment for a kinetail child process under test:
// the current environment without any AWS settings, plus dummy credentials,
// the test region, no EC2 metadata lookups and no shared config files. A
// non-empty endpoint becomes the Kinesis endpoint of the SDK's default
// configuration.
func TestEnv(endpoint string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"AWS_ACCESS_KEY_ID="+TestAccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+TestSecretAccessKey,
		"AWS_REGION="+TestRegion,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
	)
	if endpoint != "" {
		env = append(env, "AWS_ENDPOINT_URL_KINESIS="+endpoint)
	}
	return env
}

// killGroup kills the process group led by pid. A group that is already
// gone is not an error.
func killGroup(pid int) error {
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

func killedBySignal(ps *os.ProcessState) bool {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// FreeAddr returns a loopback address whose port was free a moment ago, for
// a server a harness starts (an agent's metrics listener).
func FreeAddr() (string, error) {
	ports, err := freePorts(1)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])), nil
}

// freePorts returns n distinct loopback TCP ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	lns := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// moduleRoot walks up from the working directory to the directory that
// holds go.mod.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod in %s or above", wd)
		}
		dir = parent
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(bytes.TrimSpace(b.buf))
}
