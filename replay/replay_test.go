package replay

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/sink"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The HTTP transport keeps idle connections' goroutines for a while.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// replayConfig writes a configuration whose destinations send to endpoint
// and returns its path.
func replayConfig(t *testing.T, dir, endpoint string) string {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	dest := func(stream string) string {
		return fmt.Sprintf(`{type: kinesis, stream: %q, endpoint: %q, batch: {max_age: 10ms}, retry: {initial_backoff: 5ms, max_backoff: 20ms, max_attempts: 1}}`, stream, endpoint)
	}
	yaml := fmt.Sprintf(`agent:
  checkpoint_file: %[1]s/cp.json
destinations:
  events: %[2]s
  apps: %[3]s
  other: %[4]s
flows:
  - name: f
    paths: ["%[1]s/*.log"]
    destination: events
`, dir, dest("s"), dest("app-%{service}"), dest("o"))
	path := filepath.Join(dir, "kinetail.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeDead writes a dead-letter file of recs, plus tail as is.
func writeDead(t *testing.T, path string, recs []sink.DeadRecord, tail string) {
	t.Helper()
	d, err := sink.OpenDeadLetter(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Write(recs); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if tail != "" {
		f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		f.WriteString(tail)
		f.Close()
	}
}

var deadRecords = []sink.DeadRecord{
	{Destination: "events", Stream: "s", PartitionKey: "k1", Data: []byte(`{"n":1}`), Error: "InvalidArgumentException", Attempts: 3},
	{Destination: "apps", Stream: "app-a", PartitionKey: "k2", Data: []byte(`{"n":2,"service":"a"}`)},
	{Destination: "apps", Stream: "app-b", Data: []byte(`{"n":3,"service":"b"}`)},
	{Destination: "events", Data: []byte(`{"n":4}`)}, // no stream: the destination's
	{Destination: "events", Stream: "s", ExplicitHashKey: "0", Data: []byte(`{"n":5}`)},
}

func TestReplay(t *testing.T) {
	tests := []struct {
		name   string
		o      Options // Files, Stdout and Stderr are set by the test
		recs   []sink.DeadRecord
		tail   string // appended to the file as is
		failed bool
		stored []string // stream|partition key (* for any)|data, in any order
		stdout []string // substrings
		stderr string
		left   bool // the file is left in place
	}{
		{
			name:   "each record goes to its destination and stream, with its keys",
			recs:   deadRecords,
			stored: []string{`s|k1|{"n":1}`, `app-a|k2|{"n":2,"service":"a"}`, `app-b|*|{"n":3,"service":"b"}`, `s|*|{"n":4}`, `s|*|{"n":5}`},
			stdout: []string{"events       s       3        3", "apps         app-a   1        1", "apps         app-b   1        1", "5 records sent; renamed to "},
		},
		{
			name:   "--destination sends every record to that destination's stream",
			o:      Options{Destination: "other"},
			recs:   deadRecords[:3],
			stored: []string{`o|k1|{"n":1}`, `o|k2|{"n":2,"service":"a"}`, `o|*|{"n":3,"service":"b"}`},
			stdout: []string{"other        o       3        3"},
		},
		{
			name:   "--destination keeps the record's stream for a templated destination",
			o:      Options{Destination: "apps"},
			recs:   deadRecords[1:3],
			stored: []string{`app-a|k2|{"n":2,"service":"a"}`, `app-b|*|{"n":3,"service":"b"}`},
		},
		{
			name:   "--keep leaves the file",
			o:      Options{Keep: true},
			recs:   deadRecords[:1],
			stored: []string{`s|k1|{"n":1}`},
			stdout: []string{"1 records sent; kept (--keep)"},
			left:   true,
		},
		{
			name:   "a torn last line is skipped",
			recs:   deadRecords[:1],
			tail:   `{"destination":"events","data":"eyJ`,
			stored: []string{`s|k1|{"n":1}`},
			stderr: "line 2: incomplete last line",
		},
		{
			name:   "an unknown destination stops the replay before anything is sent",
			recs:   []sink.DeadRecord{deadRecords[0], {Destination: "nope", Data: []byte("x")}},
			failed: true,
			stderr: `line 2: destination "nope" is not defined`,
			left:   true,
		},
		{
			name:   "an unknown --destination",
			o:      Options{Destination: "nope"},
			recs:   deadRecords[:1],
			failed: true,
			stderr: `--destination: destination "nope" is not defined`,
			left:   true,
		},
		{
			name:   "a templated destination needs the record's stream",
			recs:   []sink.DeadRecord{{Destination: "apps", Data: []byte("x")}},
			failed: true,
			stderr: `line 1: no stream in the record, and destination "apps"'s stream is a template`,
			left:   true,
		},
		{
			name:   "a corrupt line",
			recs:   deadRecords[:1],
			tail:   "not json\n",
			failed: true,
			stderr: "line 2: invalid character",
			left:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Some entries fail and are resent: each is still stored once.
			fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Seed: 7, FailEntryRate: 0.3})
			dir := t.TempDir()
			cfg, err := config.Load(replayConfig(t, dir, fs.URL()))
			if err != nil {
				t.Fatal(err)
			}
			dead := filepath.Join(dir, "dead.jsonl")
			writeDead(t, dead, tt.recs, tt.tail)
			before, _ := os.ReadFile(dead)

			var stdout, stderr bytes.Buffer
			o := tt.o
			o.Files, o.Stdout, o.Stderr = []string{dead, dead}, &stdout, &stderr
			if ok := Run(context.Background(), cfg, o); ok == tt.failed {
				t.Errorf("Run = %v, want %v\nstdout: %s\nstderr: %s", ok, !tt.failed, &stdout, &stderr)
			}
			var stored []string
			for _, r := range fs.Stored() {
				stored = append(stored, r.Stream+"|"+r.PartitionKey+"|"+string(r.Data))
			}
			if len(stored) != len(tt.stored) {
				t.Errorf("stored %q, want %q", stored, tt.stored)
			}
			for _, want := range tt.stored {
				i := slices.IndexFunc(stored, func(s string) bool {
					w := strings.SplitN(want, "|", 3)
					g := strings.SplitN(s, "|", 3)
					return g[0] == w[0] && (w[1] == "*" || g[1] == w[1]) && g[2] == w[2]
				})
				if i < 0 {
					t.Errorf("%s not stored once; stored %q", want, stored)
					continue
				}
				stored = slices.Delete(stored, i, i+1)
			}
			if tt.failed && fs.Counts().Entries != 0 {
				t.Errorf("%d entries sent by a failed replay", fs.Counts().Entries)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout does not contain %q:\n%s", s, &stdout)
				}
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.stderr, &stderr)
			}
			after, err := os.ReadFile(dead)
			if tt.left {
				if err != nil || !bytes.Equal(after, before) {
					t.Errorf("the file was not left as it was (err %v)", err)
				}
				if _, err := os.Stat(dead + ".replayed"); err == nil {
					t.Error(".replayed file exists")
				}
			} else {
				if err == nil {
					t.Error("the file was not renamed")
				}
				if replayed, _ := os.ReadFile(dead + ".replayed"); !bytes.Equal(replayed, before) {
					t.Error(".replayed differs from the original file")
				}
			}
		})
	}
}

// An interrupted replay stops, says so, exits 1 and leaves the file.
func TestReplayInterrupted(t *testing.T) {
	fs := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{})
	fs.SetDown(true)
	dir := t.TempDir()
	cfgPath := replayConfig(t, dir, fs.URL())
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, "dead.jsonl")
	writeDead(t, dead, deadRecords[:2], "")
	before, _ := os.ReadFile(dead)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for fs.Counts().DownRejected < 3 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	var stdout, stderr bytes.Buffer
	if Run(ctx, cfg, Options{Files: []string{dead}, Stdout: &stdout, Stderr: &stderr}) {
		t.Error("Run = true, want false")
	}
	if fs.Counts().DownRejected < 3 {
		t.Errorf("cancelled before the sinks tried to send")
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr: %s", &stderr)
	}
	for _, want := range []string{"events       s       1        0", "0 of 2 records sent; left in place"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout does not contain %q:\n%s", want, &stdout)
		}
	}
	if after, _ := os.ReadFile(dead); !bytes.Equal(after, before) {
		t.Error("the file was changed")
	}
	if len(fs.Stored()) != 0 {
		t.Errorf("stored %d records while down", len(fs.Stored()))
	}
}
