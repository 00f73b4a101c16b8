package transform

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"go.uber.org/goleak"

	"github.com/kinetail/kinetail/config"

	"github.com/kinetail/kinetail/internal/testfs"
)

const imdsToken = "test-token"

// fakeIMDS is an instance metadata service speaking IMDSv2 on loopback: a
// PUT for a session token, then GETs that must carry it.
type fakeIMDS struct {
	srv *httptest.Server

	mu      sync.Mutex
	doc     map[string]string // the identity document
	tags    map[string]string // nil: tags in metadata not enabled (404)
	failDoc bool              // answer the document with a 500
	// hold, when set, makes the document request wait until it is closed;
	// arrived gets a value when such a request came in.
	hold    chan struct{}
	arrived chan struct{}

	docRequests atomic.Int32
	unauthed    atomic.Int32 // GETs without the token
}

func newFakeIMDS(t *testing.T) *fakeIMDS {
	f := &fakeIMDS{doc: map[string]string{
		"privateIp":        "10.1.2.3",
		"availabilityZone": "eu-west-1b",
		"instanceId":       "i-0123456789abcdef0",
		"instanceType":     "m7g.large",
		"accountId":        "123456789012",
		"imageId":          "ami-0abcdef1234567890",
		"region":           "eu-west-1",
		"architecture":     "arm64",
	}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIMDS) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
		if r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds") == "" {
			http.Error(w, "missing TTL", http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
		w.Write([]byte(imdsToken))
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method", http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("X-Aws-Ec2-Metadata-Token") != imdsToken {
		f.unauthed.Add(1)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch p := r.URL.Path; {
	case p == "/latest/dynamic/instance-identity/document":
		f.docRequests.Add(1)
		if hold := f.hold; hold != nil {
			f.arrived <- struct{}{}
			f.mu.Unlock()
			select {
			case <-hold:
			case <-r.Context().Done():
			}
			f.mu.Lock()
		}
		if f.failDoc {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(f.doc)
	case p == "/latest/meta-data/tags/instance" && f.tags != nil:
		var keys []string
		for k := range f.tags {
			keys = append(keys, k)
		}
		w.Write([]byte(strings.Join(keys, "\n")))
	case strings.HasPrefix(p, "/latest/meta-data/tags/instance/") && f.tags != nil:
		v, ok := f.tags[strings.TrimPrefix(p, "/latest/meta-data/tags/instance/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(v))
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeIMDS) set(fn func(f *fakeIMDS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// testClock is a clock the test moves; the background fetch reads it too.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *testClock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// checkNoLeaks fails t if goroutines are left once its cleanups (closing
// the fake IMDS) have run: registered first, it runs last.
func checkNoLeaks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

type ec2Fixture struct {
	imds  *fakeIMDS
	clock *testClock
	logs  *testfs.Buffer
	chain *Chain
	step  *addEC2Metadata
}

var ec2Start = time.Date(2024, 5, 6, 7, 8, 9, 500, time.UTC)

// newEC2Fixture builds a chain of [before..., add_ec2_metadata] talking to
// a fake IMDS. The client is always given the test endpoint and enabled
// explicitly, so neither the real service nor AWS_EC2_METADATA_* settings
// of the environment are involved.
func newEC2Fixture(t *testing.T, cfg config.AddEC2Metadata, before ...*config.Transform) *ec2Fixture {
	t.Helper()
	fx := &ec2Fixture{imds: newFakeIMDS(t), clock: newTestClock(ec2Start), logs: &testfs.Buffer{}}
	if cfg.Refresh == 0 {
		cfg.Refresh = config.Duration(time.Hour)
	}
	fx.chain = mustChain(t, before...)
	fx.step = newAddEC2Metadata(&cfg, ec2Options{
		imds: imds.Options{
			Endpoint:          fx.imds.srv.URL,
			ClientEnableState: imds.ClientEnabled,
			Retryer:           aws.NopRetryer{},
			HTTPClient:        fx.imds.srv.Client(),
		},
		now: fx.clock.now,
		log: slog.New(slog.NewTextHandler(fx.logs, nil)),
	})
	fx.chain.steps = append(fx.chain.steps, step{p: fx.step, onWrapped: fx.step}) // as newStep builds it
	t.Cleanup(fx.step.wg.Wait)
	return fx
}

func (fx *ec2Fixture) append(t *testing.T, line string) string {
	t.Helper()
	out, keep := fx.chain.Append(nil, []byte(line))
	if !keep {
		t.Fatalf("%q dropped: %v", line, fx.chain.LastError())
	}
	return string(out)
}

const ec2Fields = `"privateIp":"10.1.2.3","availabilityZone":"eu-west-1b","instanceId":"i-0123456789abcdef0",` +
	`"instanceType":"m7g.large","accountId":"123456789012","amiId":"ami-0abcdef1234567890","region":"eu-west-1",` +
	`"metadataTimestamp":"2024-05-06T07:08:09+0000"`

func TestAddEC2Metadata(t *testing.T) {
	checkNoLeaks(t)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"fields after the record's", `{"msg":"hi","n":1}`, `{"msg":"hi","n":1,` + ec2Fields + `}`},
		{"empty object", `{}`, `{` + ec2Fields + `}`},
		{"empty object with spaces", ` {  } `, `{` + ec2Fields + `}`},
		{"written compact", "{ \"a\" : [1, {\"b\": null}] }\t", `{"a":[1,{"b":null}],` + ec2Fields + `}`},
		{"a key of the agent's is kept and added again", `{"region":"x"}`, `{"region":"x",` + ec2Fields + `}`},
		{"an array is wrapped, with the fields", `[1,2]`, `{"raw":"[1,2]","error":"add_ec2_metadata: not a JSON object at offset 0",` + ec2Fields + `}`},
		{"a string is wrapped", `"s"`, `{"raw":"\"s\"","error":"add_ec2_metadata: not a JSON object at offset 0",` + ec2Fields + `}`},
		{"not JSON is wrapped", `{"a":`, `{"raw":"{\"a\":","error":"add_ec2_metadata: unexpected end of input at offset 5",` + ec2Fields + `}`},
		{"text is wrapped", `GET /index.html`, `{"raw":"GET /index.html","error":"add_ec2_metadata: invalid character looking for a value at offset 0",` + ec2Fields + `}`},
	}
	fx := newEC2Fixture(t, config.AddEC2Metadata{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fx.append(t, tt.in)
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Fatalf("invalid JSON: %s", got)
			}
		})
	}
	if n := fx.imds.docRequests.Load(); n != 1 {
		t.Errorf("identity document fetched %d times, want 1 (cached for refresh)", n)
	}
	if n := fx.imds.unauthed.Load(); n != 0 {
		t.Errorf("%d requests without the IMDSv2 token", n)
	}
	s := fx.chain.EC2Stats()
	if s != (EC2Stats{Fetches: 1}) {
		t.Errorf("EC2Stats = %+v, want one fetch and nothing else", s)
	}
	if st := fx.chain.Stats(); st.Wrapped != 4 || st.Records != uint64(len(tests)) {
		t.Errorf("Stats = %+v, want 4 wrapped of %d records", st, len(tests))
	}
}

func TestAddEC2MetadataAfterSteps(t *testing.T) {
	checkNoLeaks(t)
	fx := newEC2Fixture(t, config.AddEC2Metadata{},
		&config.Transform{LogToJSON: &config.LogToJSON{Format: "common_apache"}})
	got := fx.append(t, `127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326`)
	var rec map[string]any
	if err := json.Unmarshal([]byte(got), &rec); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if rec["host"] != "127.0.0.1" || rec["instanceId"] != "i-0123456789abcdef0" || rec["amiId"] != "ami-0abcdef1234567890" {
		t.Fatalf("record lacks its or the instance's fields: %s", got)
	}
}

// A line an earlier step wraps gets the instance's fields too.
func TestAddEC2MetadataWrapped(t *testing.T) {
	checkNoLeaks(t)
	fx := newEC2Fixture(t, config.AddEC2Metadata{}, &config.Transform{JSON: &config.JSON{}},
		&config.Transform{Filter: &config.Filter{Condition: config.Condition{LineMatches: "."}}})
	got := fx.append(t, `nope`)
	want := `{"raw":"nope","error":"json: invalid literal at offset 0",` + ec2Fields + `}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestAddEC2MetadataTags(t *testing.T) {
	checkNoLeaks(t)
	tests := []struct {
		name     string
		tags     map[string]string // on the instance; nil: not in metadata
		want     string            // the record's end
		errors   uint64
		warnings int
	}{
		{
			name:   "lower-cased keys in sorted order",
			tags:   map[string]string{"Name": "web-1", "team": "core", "Env": `pr"od`},
			want:   ec2Fields + `,"tags":{"env":"pr\"od","name":"web-1","team":"core"}}`,
			errors: 0,
		},
		{
			name:   "an instance without tags",
			tags:   map[string]string{},
			want:   ec2Fields + `,"tags":{}}`,
			errors: 0,
		},
		{
			name:     "tags not enabled in instance metadata",
			tags:     nil,
			want:     ec2Fields + `}`,
			errors:   1,
			warnings: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newEC2Fixture(t, config.AddEC2Metadata{Tags: true})
			fx.imds.set(func(f *fakeIMDS) { f.tags = tt.tags })
			got := fx.append(t, `{"a":1}`)
			if want := `{"a":1,` + tt.want; got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
			if s := fx.chain.EC2Stats(); s.FetchErrors != tt.errors {
				t.Errorf("FetchErrors = %d, want %d", s.FetchErrors, tt.errors)
			}
			if n := strings.Count(fx.logs.String(), "level=WARN"); n != tt.warnings {
				t.Errorf("%d warnings, want %d:\n%s", n, tt.warnings, fx.logs)
			}
		})
	}
}

func TestAddEC2MetadataRefreshInBackground(t *testing.T) {
	checkNoLeaks(t)
	fx := newEC2Fixture(t, config.AddEC2Metadata{Refresh: config.Duration(time.Minute)})
	first := `{` + ec2Fields + `}`
	if got := fx.append(t, `{}`); got != first {
		t.Fatalf("got  %s\nwant %s", got, first)
	}

	// Not due yet: no fetch.
	fx.clock.add(59 * time.Second)
	if got := fx.append(t, `{}`); got != first {
		t.Fatalf("before the refresh: got %s", got)
	}
	fx.step.wg.Wait()
	if n := fx.imds.docRequests.Load(); n != 1 {
		t.Fatalf("%d fetches before the refresh interval, want 1", n)
	}

	// Due: the fetch runs in the background and records keep the cached
	// fields while it waits for its answer.
	hold := make(chan struct{})
	fx.imds.set(func(f *fakeIMDS) {
		f.hold, f.arrived = hold, make(chan struct{}, 1)
		f.doc["instanceType"] = "m7g.xlarge"
	})
	fx.clock.add(2 * time.Second)
	for range 3 {
		if got := fx.append(t, `{}`); got != first {
			t.Fatalf("while refreshing: got %s, want the cached fields", got)
		}
	}
	select {
	case <-fx.imds.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the refresh never asked for the identity document")
	}
	if !fx.step.busy.Load() {
		t.Fatal("the record waited for the refresh")
	}
	fx.imds.set(func(f *fakeIMDS) { f.hold = nil })
	close(hold)
	fx.step.wg.Wait()

	want := strings.NewReplacer("m7g.large", "m7g.xlarge", "07:08:09", "07:09:10").Replace(first)
	if got := fx.append(t, `{}`); got != want {
		t.Fatalf("after the refresh: got  %s\nwant %s", got, want)
	}
	if n := fx.imds.docRequests.Load(); n != 2 {
		t.Errorf("%d fetches, want 2 (one refresh at a time)", n)
	}
}

func TestAddEC2MetadataFailure(t *testing.T) {
	checkNoLeaks(t)
	fx := newEC2Fixture(t, config.AddEC2Metadata{Refresh: config.Duration(10 * time.Second)})
	fx.imds.set(func(f *fakeIMDS) { f.failDoc = true })

	// Records pass unchanged, whatever they are, as in the agent.
	for _, line := range []string{`{"a":1}`, `not json`} {
		if got := fx.append(t, line); got != line {
			t.Fatalf("got %s, want the record unchanged", got)
		}
	}
	warnings := func() int { return strings.Count(fx.logs.String(), "level=WARN") }
	if n := warnings(); n != 1 {
		t.Fatalf("%d warnings after a failed fetch, want 1:\n%s", n, fx.logs)
	}
	if !strings.Contains(fx.logs.String(), "instance identity document") {
		t.Errorf("the warning does not say what failed:\n%s", fx.logs)
	}

	// Tried again after min(refresh, 1m); within the minute, no warning.
	fx.clock.add(11 * time.Second)
	fx.append(t, `{}`)
	fx.step.wg.Wait()
	if s := fx.chain.EC2Stats(); s != (EC2Stats{Fetches: 2, FetchErrors: 2, Unenriched: 3}) {
		t.Fatalf("EC2Stats = %+v", s)
	}
	if n := warnings(); n != 1 {
		t.Fatalf("%d warnings within a minute, want 1:\n%s", n, fx.logs)
	}

	// A minute after the first warning, the next failure warns again.
	fx.clock.add(time.Minute)
	fx.append(t, `{}`)
	fx.step.wg.Wait()
	if n := warnings(); n != 2 {
		t.Fatalf("%d warnings after a minute, want 2:\n%s", n, fx.logs)
	}

	// The service answers again: the next fetch enriches records.
	fx.imds.set(func(f *fakeIMDS) { f.failDoc = false })
	fx.clock.add(11 * time.Second)
	fx.append(t, `{}`) // starts the fetch
	fx.step.wg.Wait()
	got := fx.append(t, `{}`)
	if !strings.Contains(got, `"instanceId":"i-0123456789abcdef0"`) {
		t.Fatalf("after recovery: got %s", got)
	}
	if s := fx.chain.EC2Stats(); s.Fetches != 4 || s.FetchErrors != 3 {
		t.Fatalf("EC2Stats = %+v, want 4 fetches, 3 failed", s)
	}
}

func TestAddEC2MetadataDisabledByEnvironment(t *testing.T) {
	checkNoLeaks(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	f := newFakeIMDS(t)
	var logs testfs.Buffer
	p := newAddEC2Metadata(&config.AddEC2Metadata{Refresh: config.Duration(time.Hour)}, ec2Options{
		imds: imds.Options{Endpoint: f.srv.URL, Retryer: aws.NopRetryer{}, HTTPClient: f.srv.Client()},
		log:  slog.New(slog.NewTextHandler(&logs, nil)),
	})
	defer p.wg.Wait()
	out, err := p.Append(nil, []byte(`{"a":1}`))
	if err != nil || string(out) != `{"a":1}` {
		t.Fatalf("got %s, %v; want the record unchanged", out, err)
	}
	if n := f.docRequests.Load(); n != 0 {
		t.Fatalf("the disabled client made %d requests", n)
	}
	if p.fetchErrors.Load() != 1 || !strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("a disabled client is not reported: errors %d, logs %s", p.fetchErrors.Load(), &logs)
	}
}

func TestAddEC2MetadataAllocs(t *testing.T) {
	checkNoLeaks(t)
	fx := newEC2Fixture(t, config.AddEC2Metadata{})
	buf := make([]byte, 0, 4096)
	in := []byte(`{"host":"127.0.0.1","request":"GET /a.gif HTTP/1.0","response":"200","bytes":"2326"}`)
	buf, _ = fx.chain.Append(buf[:0], in) // the first fetch
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = fx.chain.Append(buf[:0], in)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per record, want 0", allocs)
	}
}

// The chain's owner decides where add_ec2_metadata's warnings go.
func TestNewWithOptionsLogger(t *testing.T) {
	checkNoLeaks(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	var logs testfs.Buffer
	c, err := NewWithOptions([]*config.Transform{{AddEC2Metadata: &config.AddEC2Metadata{}}},
		Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if out, keep := c.Append(nil, []byte(`{"a":1}`)); !keep || string(out) != `{"a":1}` {
		t.Fatalf("got %s, %v; want the record unchanged", out, keep)
	}
	if s := c.EC2Stats(); s.FetchErrors != 1 {
		t.Fatalf("EC2Stats = %+v, want one failed fetch", s)
	}
	if got := logs.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "transform=add_ec2_metadata") {
		t.Fatalf("the warning did not reach the given logger: %q", got)
	}
}
