package kinesistest

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestServerRoundTrip(t *testing.T) {
	s := StartServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	const stream = "round-trip"
	if err := s.CreateStream(ctx, stream, 2); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"k1": "first", "k2": "second\n", "k3": `{"third":3}`}
	var entries []types.PutRecordsRequestEntry
	for _, k := range []string{"k1", "k2", "k3"} {
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(k), Data: []byte(want[k])})
	}
	out, err := s.Client().PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
	if err != nil {
		t.Fatal(err)
	}
	if n := aws.ToInt32(out.FailedRecordCount); n != 0 {
		t.Fatalf("FailedRecordCount = %d, want 0", n)
	}

	recs, err := s.WaitForCount(ctx, stream, len(want))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(want) {
		t.Fatalf("read %d records, want %d: %+v", len(recs), len(want), recs)
	}
	seqs := map[string]bool{}
	for _, r := range recs {
		if got, ok := want[r.PartitionKey]; !ok || got != string(r.Data) {
			t.Errorf("record %q = %q, want %q", r.PartitionKey, r.Data, want[r.PartitionKey])
		}
		if r.Seq == "" || seqs[r.Seq] {
			t.Errorf("record %q has empty or repeated sequence number %q", r.PartitionKey, r.Seq)
		}
		seqs[r.Seq] = true
		if !strings.HasPrefix(r.Shard, "shardId-") {
			t.Errorf("record %q has shard %q", r.PartitionKey, r.Shard)
		}
	}

	// A stream that does not exist is an error, not an empty result.
	if _, err := s.ReadAll(ctx, "no-such-stream"); err == nil {
		t.Error("ReadAll of a missing stream succeeded")
	}
}

func TestServerListensOnLoopbackOnly(t *testing.T) {
	s := StartServer(t)
	for _, endpoint := range []string{s.Endpoint(), s.TLSEndpoint()} {
		u, err := url.Parse(endpoint)
		if err != nil {
			t.Fatal(err)
		}
		if u.Hostname() != "127.0.0.1" {
			t.Errorf("endpoint %s: host %s, want 127.0.0.1", endpoint, u.Hostname())
		}
		local, other := listeners(t, u.Port())
		if !local {
			t.Errorf("port %s: no listener on 127.0.0.1 in /proc/net/tcp", u.Port())
		}
		if len(other) > 0 {
			t.Errorf("port %s: also listening on %v", u.Port(), other)
		}
	}
}

// listeners reads /proc/net/tcp and tcp6 and reports whether a socket
// listens on 127.0.0.1:port and which other addresses listen on port.
func listeners(t *testing.T, port string) (loopback bool, other []string) {
	t.Helper()
	var p int
	if _, err := fmt.Sscanf(port, "%d", &p); err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprintf(":%04X", p)
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			if name == "/proc/net/tcp6" && os.IsNotExist(err) {
				continue // no IPv6 in this kernel
			}
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st ...; st 0A is LISTEN.
			if len(fields) < 4 || fields[3] != "0A" || !strings.HasSuffix(fields[1], suffix) {
				continue
			}
			if fields[1] == "0100007F"+suffix {
				loopback = true
			} else {
				other = append(other, filepath.Base(name)+" "+fields[1])
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return loopback, other
}

func TestStartWithoutNodeModules(t *testing.T) {
	_, err := Start(t.Context(), Options{Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "npm ci --prefix test/kinesis") {
		t.Fatalf("Start in an empty dir: err = %v, want one that says how to install", err)
	}
}

func TestCloseIsIdempotentAndKillsTheServer(t *testing.T) {
	s, err := Start(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	pid := s.cmd.Process.Pid
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !os.IsNotExist(err) {
		t.Errorf("server process %d still exists after Close (stat: %v)", pid, err)
	}
}

func TestCancelKillsTheServer(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s, err := Start(ctx, Options{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cancel()
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		t.Error("server still running 10s after its context ended")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}
}

func TestTestEnv(t *testing.T) {
	t.Setenv("AWS_PROFILE", "someone")
	t.Setenv("AWS_SESSION_TOKEN", "token")
	env := map[string]string{}
	for _, kv := range TestEnv("http://127.0.0.1:1234") {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := env[k]; dup {
			t.Errorf("%s set twice", k)
		}
		env[k] = v
	}
	want := map[string]string{
		"AWS_ACCESS_KEY_ID":         TestAccessKeyID,
		"AWS_SECRET_ACCESS_KEY":     TestSecretAccessKey,
		"AWS_REGION":                TestRegion,
		"AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL_KINESIS":  "http://127.0.0.1:1234",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN"} {
		if v, ok := env[k]; ok {
			t.Errorf("%s = %q leaked into the child's environment", k, v)
		}
	}
	if env["PATH"] != os.Getenv("PATH") {
		t.Error("PATH not passed through")
	}
}
