package metrics

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// cloudWatchServer is an in-process CloudWatch endpoint for PutMetricData
// in the SDK's protocol (RPC v2 CBOR): it checks each request's SigV4
// signature header and keeps the metric data it was sent.
type cloudWatchServer struct {
	*httptest.Server
	t *testing.T

	mu       sync.Mutex
	fail     bool // answer 500 InternalFailure
	calls    int  // PutMetricData requests, failed ones included
	unsigned int  // requests without a valid SigV4 header for monitoring
	data     []cwDatum
}

type cwDatum struct {
	Namespace, Name, Unit, DimName, DimValue string
	Value                                    float64
}

var sigV4 = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDTEST/\d{8}/us-east-1/monitoring/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`)

func newCloudWatchServer(t *testing.T) *cloudWatchServer {
	s := &cloudWatchServer{t: t}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve)) // on 127.0.0.1, a free port
	t.Cleanup(s.Close)
	return s
}

func (s *cloudWatchServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path != "/service/GraniteServiceVersion20100801/operation/PutMetricData" {
		http.Error(w, "unexpected "+r.URL.Path, http.StatusNotFound)
		return
	}
	s.calls++
	if !sigV4.MatchString(r.Header.Get("Authorization")) {
		s.unsigned++
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	if s.fail {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write(kinesistest.AppendCBOR(nil, map[string]any{"__type": "InternalFailure", "message": "injected"}))
		return
	}
	v, err := kinesistest.DecodeCBOR(raw)
	if err != nil {
		s.t.Errorf("PutMetricData body: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	in, _ := v.(map[string]any)
	ns, _ := in["Namespace"].(string)
	list, _ := in["MetricData"].([]any)
	for _, x := range list {
		m, _ := x.(map[string]any)
		d := cwDatum{Namespace: ns}
		d.Name, _ = m["MetricName"].(string)
		d.Unit, _ = m["Unit"].(string)
		d.Value, _ = m["Value"].(float64)
		if dims, _ := m["Dimensions"].([]any); len(dims) == 1 {
			dm, _ := dims[0].(map[string]any)
			d.DimName, _ = dm["Name"].(string)
			d.DimValue, _ = dm["Value"].(string)
		}
		s.data = append(s.data, d)
	}
	w.Write(kinesistest.AppendCBOR(nil, map[string]any{}))
}

// take returns the data received since the last take, by "dim/name".
func (s *cloudWatchServer) take() map[string]cwDatum {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]cwDatum)
	for _, d := range s.data {
		key := d.DimValue + "/" + d.Name
		if _, dup := out[key]; dup {
			s.t.Errorf("%s sent twice in a round", key)
		}
		out[key] = d
	}
	s.data = nil
	return out
}

func awsTestEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
}

func TestCloudWatch(t *testing.T) {
	awsTestEnv(t)
	srv := newCloudWatchServer(t)
	var mu sync.Mutex
	st := sampleStatus()
	st.Destinations = append(st.Destinations,
		Destination{Name: "fh", Type: "firehose", Stream: "delivery", RecordSendAttempts: 10, RecordsSent: 40, ServiceRecordsSent: 10, BytesSent: 4000},
		Destination{Name: "tpl", Type: "kinesis", Stream: "app-%{service}", Template: true, DroppedNoStream: 3},
		Destination{Name: "local", Type: "file", RecordsSent: 99})
	snapshot := func(bool) *Status {
		mu.Lock()
		defer mu.Unlock()
		c := *st
		c.Destinations = append([]Destination(nil), st.Destinations...)
		return &c
	}
	cw, err := NewCloudWatch(context.Background(), CloudWatchOptions{
		Namespace: "kinetail-test", Interval: time.Minute, Region: "us-east-1", Endpoint: srv.URL, Snapshot: snapshot,
	})
	if err != nil {
		t.Fatal(err)
	}
	cw.now = func() time.Time { return t0.Add(90 * time.Second) }
	ctx := context.Background()

	if !cw.Send(ctx) {
		t.Fatal("first round failed")
	}
	got := srv.take()
	want := map[string]float64{
		"KinesisStream:app-events/BytesSent":          63000,
		"KinesisStream:app-events/RecordSendAttempts": 1100,
		"KinesisStream:app-events/RecordSendErrors":   115,
		"KinesisStream:app-events/RecordsSent":        985,
		"KinesisStream:app-events/ServiceErrors":      0,
		"DeliveryStream:delivery/RecordsSent":         40,
		"DeliveryStream:delivery/RecordSendErrors":    0,
		"web/BytesBehind":                             300,
		"web/OldestUnackedAgeSeconds":                 10,
	}
	check := func(round string, got map[string]cwDatum, want map[string]float64) {
		t.Helper()
		if len(got) != 12 {
			t.Errorf("%s: %d metric data, want 12 (5 per stream, 2 for the flow): %v", round, len(got), got)
		}
		for key, v := range want {
			d, ok := got[key]
			if !ok || d.Value != v || d.Namespace != "kinetail-test" {
				t.Errorf("%s: %s = %+v, want %v", round, key, d, v)
			}
		}
	}
	check("first round", got, want)
	if d := got["KinesisStream:app-events/BytesSent"]; d.Unit != "Bytes" || d.DimName != "Destination" {
		t.Errorf("BytesSent datum %+v", d)
	}
	if d := got["web/OldestUnackedAgeSeconds"]; d.Unit != "Seconds" || d.DimName != "Flow" {
		t.Errorf("lag datum %+v", d)
	}

	// CloudWatch fails: the SDK retries, gives up, and the counts wait.
	srv.mu.Lock()
	srv.fail, srv.calls = true, 0
	srv.mu.Unlock()
	mu.Lock()
	st.Destinations[0].RecordsSent += 100
	st.Destinations[0].RecordSendAttempts += 100
	st.Destinations[0].ServiceRecordsSent += 100
	mu.Unlock()
	if cw.Send(ctx) {
		t.Fatal("a round against a failing endpoint reported success")
	}
	srv.mu.Lock()
	attempts := srv.calls
	srv.fail = false
	srv.mu.Unlock()
	if attempts != 3 {
		t.Errorf("%d attempts at a failing endpoint, want 3 (retried)", attempts)
	}
	srv.take()

	mu.Lock()
	st.Destinations[0].RecordsSent += 20
	st.Destinations[0].RequestErrors += 2
	st.Destinations[0].RecordSendAttempts += 30
	st.Destinations[0].ServiceRecordsSent += 20
	mu.Unlock()
	if !cw.Send(ctx) {
		t.Fatal("round after the failure failed")
	}
	check("after a failed round", srv.take(), map[string]float64{
		"KinesisStream:app-events/RecordsSent":        120, // both rounds' counts
		"KinesisStream:app-events/RecordSendAttempts": 130,
		"KinesisStream:app-events/RecordSendErrors":   10,
		"KinesisStream:app-events/ServiceErrors":      2,
		"KinesisStream:app-events/BytesSent":          0,
		"DeliveryStream:delivery/RecordsSent":         0,
	})

	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.unsigned != 0 {
		t.Errorf("%d requests without a SigV4 signature for monitoring", srv.unsigned)
	}
}

// Run sends once per interval and once more when stopped.
func TestCloudWatchRun(t *testing.T) {
	awsTestEnv(t)
	srv := newCloudWatchServer(t)
	cw, err := NewCloudWatch(context.Background(), CloudWatchOptions{
		Namespace: "kinetail", Interval: time.Hour, Region: "us-east-1", Endpoint: srv.URL, Snapshot: func(bool) *Status { return sampleStatus() },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); cw.Run(ctx) }()
	cancel()
	<-done
	if got := srv.take(); len(got) != 7 || got["KinesisStream:app-events/RecordsSent"].Value != 985 {
		t.Errorf("the final round sent %v", got)
	}
}
