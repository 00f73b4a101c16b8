package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestBad checks that each testdata/bad/*.yaml fails with exactly the errors
// in the .err file next to it.
func TestBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no files in testdata/bad")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(file, data)
			if err == nil {
				t.Fatalf("Parse succeeded, want errors; config:\n%s", c.Summary())
			}
			if c != nil {
				t.Errorf("Parse returned a config with its error")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			for _, e := range errs {
				if e.File != file || e.Line < 1 && e.Msg == "" {
					t.Errorf("error without file or message: %#v", e)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// TestGood checks that each testdata/good/*.yaml loads and summarises to its
// .summary golden file, and checks chosen values directly.
func TestGood(t *testing.T) {
	checks := map[string]func(t *testing.T, c *Config){
		"minimal.yaml": func(t *testing.T, c *Config) {
			want := defaultAgent()
			if !reflect.DeepEqual(c.Agent, want) {
				t.Errorf("agent = %+v, want defaults %+v", c.Agent, want)
			}
			d := c.Destination("events")
			if d == nil {
				t.Fatal(`Destination("events") = nil`)
			}
			if d.Name != "events" || d.Line != 3 || d.PartitionKey != "random" || d.MaxInFlight != 4 ||
				d.Batch != (Batch{500, 5 * MiB, 1 * MiB, Duration(time.Second)}) ||
				d.Aggregation != (Aggregation{false, 51200}) ||
				d.Retry != (Retry{Duration(100 * time.Millisecond), Duration(10 * time.Second), 0, 0}) ||
				d.Timeouts != (Timeouts{Duration(2 * time.Second), Duration(10 * time.Second)}) {
				t.Errorf("destination defaults wrong: %+v", d)
			}
			f := c.Flows[0]
			if f.Line != 8 || f.InitialPosition != "end_of_file" || f.MaxLineBytes != 1*MiB-1024 ||
				f.PartialLineTimeout.D() != 5*time.Second || f.RescanInterval.D() != 10*time.Second ||
				len(f.Transforms) != 0 {
				t.Errorf("flow defaults wrong: %+v", f)
			}
			if c.Destination("nope") != nil {
				t.Error(`Destination("nope") != nil`)
			}
		},
		"full.yaml": func(t *testing.T, c *Config) {
			if c.Agent.ShutdownTimeout.D() != 90*time.Second || c.Agent.LogLevel != "debug" {
				t.Errorf("agent = %+v", c.Agent)
			}
			d := c.Destination("events")
			if d.Batch.MaxRecordBytes != 2000000 || d.Batch.MaxBytes != 10*MiB || d.Aggregation.MaxBytes != 25*KiB ||
				!d.Aggregation.Enabled || d.Retry.MaxAttempts != 7 || d.Retry.MaxBackoff.D() != time.Minute ||
				d.Protocol != "cbor" || d.HTTP.Version != "2" {
				t.Errorf("destination = %+v", d)
			}
			f := c.Flows[0]
			if len(f.Transforms) != 3 || f.Transforms[0].Singleline == nil || f.Transforms[0].Line != 43 {
				t.Fatalf("transforms = %+v", f.Transforms)
			}
			csv := f.Transforms[1].CSVToJSON
			if csv == nil || csv.Delimiter != "\t" || csv.OnError != OnErrorDrop || strings.Join(csv.Fields, ",") != "time,host,status" {
				t.Errorf("csv_to_json = %+v", csv)
			}
			if j := f.Transforms[2].JSON; j == nil || j.OnError != OnErrorPass {
				t.Errorf("json = %+v", j)
			}
			if a := c.Destination("audit"); a.Protocol != "cbor" || a.HTTP.Version != "1.1" {
				t.Errorf("audit: protocol %q, http.version %q, want kinesis's defaults cbor and 1.1", a.Protocol, a.HTTP.Version)
			}
			if a := c.Destination("archive"); a.Protocol != "json" || a.HTTP.Version != "1.1" {
				t.Errorf("archive: protocol %q, http.version %q, want json and 1.1", a.Protocol, a.HTTP.Version)
			}
			audit := c.Flows[1].Transforms
			if !audit[0].Singleline.NoTrim || !audit[0].Singleline.EscapeNewLine || *audit[1].Singleline != (Singleline{}) ||
				audit[2].CSVToJSON.Delimiter != "\t" || audit[3].JSON.OnError != OnErrorWrap {
				t.Errorf("audit transforms wrong: %v %v %v %v", audit[0], audit[1], audit[2], audit[3])
			}
		},
		"env.yaml": func(t *testing.T, c *Config) {
			if c.Agent.CheckpointFile != "/tmp/state/checkpoints.json" {
				t.Errorf("checkpoint_file = %q", c.Agent.CheckpointFile)
			}
			if d := c.Destination("events"); d.Stream != "my-stream" || d.Endpoint != "" {
				t.Errorf("stream, endpoint = %q, %q", d.Stream, d.Endpoint)
			}
			if p := c.Flows[0].Paths[0]; p != "/var/log/price$.log" {
				t.Errorf("path = %q, want $$ turned into $", p)
			}
		},
		"assume_role.yaml": func(t *testing.T, c *Config) {
			if d := c.Destination("events"); d.RoleExternalID != "tenant=7,eu@example.com/logs:a_b+c.d-e" {
				t.Errorf("role_external_id = %q", d.RoleExternalID)
			}
			if d := c.Destination("copy"); d.RoleExternalID != "" {
				t.Errorf("role_external_id = %q, want none", d.RoleExternalID)
			}
		},
		"anchors.yaml": func(t *testing.T, c *Config) {
			cp := c.Destination("copy")
			if cp.Stream != "copy" || cp.Type != "kinesis" || cp.Batch.MaxRecords != 250 || cp.Batch.MaxAge.D() != 2*time.Second {
				t.Errorf("merged destination = %+v", cp)
			}
		},
	}
	files, err := filepath.Glob("testdata/good/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			c, err := Load(file)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.File != file {
				t.Errorf("File = %q, want %q", c.File, file)
			}
			if check := checks[filepath.Base(file)]; check != nil {
				check(t, c)
			}
			got := c.Summary()
			golden := strings.TrimSuffix(file, ".yaml") + ".summary"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("summary differs from %s\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

func TestSummaryHidesCredentials(t *testing.T) {
	c, err := Load("testdata/good/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Summary()
	if strings.Contains(s, "hunter2") || strings.Contains(s, "admin") {
		t.Errorf("summary shows endpoint credentials:\n%s", s)
	}
	if !strings.Contains(s, "http://127.0.0.1:4568/") {
		t.Errorf("summary lacks the endpoint host:\n%s", s)
	}
}

// TestExample checks that the documented example loads with no variables
// set, so that every default in it is a working one.
func TestExample(t *testing.T) {
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	unset := func(string) (string, bool) { return "", false }
	c, err := parse("config.example.yaml", data, unset)
	if err != nil {
		t.Fatalf("example does not load:\n%v", err)
	}
	d := c.Destination("events")
	if d == nil || d.Stream != "app-events" || d.Region != "us-east-1" || d.Endpoint != "" {
		t.Errorf("events destination = %+v", d)
	}
	if c.Agent.CheckpointFile != "/var/lib/kinetail/checkpoints.json" {
		t.Errorf("checkpoint_file = %q", c.Agent.CheckpointFile)
	}
	if len(c.Flows) != 2 || c.Flows[0].Paths[0] != "/var/log/app/app/*.log" ||
		c.Flows[1].Paths[0] != "/var/log/app/web/**/*.csv" {
		t.Errorf("flows = %+v, %+v", c.Flows[0], c.Flows[1])
	}

	// With the variables the demo sets, it points at a local server.
	env := map[string]string{
		"KINETAIL_LOG_DIR":   "/tmp/demo/logs",
		"KINETAIL_STATE_DIR": "/tmp/demo/state",
		"KINETAIL_ENDPOINT":  "http://127.0.0.1:4568",
		"KINETAIL_STREAM":    "demo",
	}
	c, err = parse("config.example.yaml", data, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("example does not load with demo variables:\n%v", err)
	}
	if d := c.Destination("events"); d.Endpoint != "http://127.0.0.1:4568" || d.Stream != "demo" {
		t.Errorf("events destination = %+v", d)
	}
	if c.Flows[0].Paths[0] != "/tmp/demo/logs/app/*.log" || c.Agent.CheckpointFile != "/tmp/demo/state/checkpoints.json" {
		t.Errorf("paths or checkpoint file not expanded: %q, %q", c.Flows[0].Paths[0], c.Agent.CheckpointFile)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want ErrNotExist", err)
	}
}

func TestLoadFromDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kinetail.yaml")
	data := "destinations: {events: {type: kinesis, stream: s}}\nflows: [{name: a, paths: [/a], destination: events}]\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.File != path || c.Flows[0].Name != "a" {
		t.Errorf("loaded %+v", c)
	}
	if err := os.WriteFile(path, []byte("flows: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	var errs Errors
	if !errors.As(err, &errs) || errs[0].File != path || errs[0].Line != 1 {
		t.Errorf("Load of a bad file: %#v", err)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9731":  true,
		"127.1.2.3:80":    true,
		"[::1]:9731":      true,
		"localhost:9731":  true,
		"0.0.0.0:9731":    false,
		":9731":           false,
		"10.0.0.5:9731":   false,
		"metrics.local:1": false,
		"127.0.0.1":       false, // no port: not a valid address
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// Kinesis speaks CBOR unless told otherwise; Firehose only JSON.
func TestProtocolDefaults(t *testing.T) {
	for _, tt := range []struct {
		dest, want, wantErr string
	}{
		{"{type: kinesis, stream: s}", "cbor", ""},
		{"{type: kinesis, stream: s, protocol: json}", "json", ""},
		{"{type: firehose, delivery_stream: s}", "json", ""},
		{"{type: firehose, delivery_stream: s, protocol: cbor}", "", "firehose speaks only json"},
		{"{type: kinesis, stream: s, protocol: ion}", "", `unknown value "ion"`},
	} {
		doc := "destinations:\n  d: " + tt.dest + "\nflows:\n  - {name: f, paths: [/var/log/x.log], destination: d}\n"
		c, err := Parse("f.yaml", []byte(doc))
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want %q", tt.dest, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.dest, err)
		case c.Destination("d").Protocol != tt.want:
			t.Errorf("%s: protocol %q, want %q", tt.dest, c.Destination("d").Protocol, tt.want)
		}
	}
}
