package agentjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/transform"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("differs from %s\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// withoutPositions returns a copy of c without the lines and file name it
// was read from, which differ between an agent.json and its YAML.
func withoutPositions(c *config.Config) config.Config {
	out := *c
	out.File = ""
	out.Destinations = map[string]*config.Destination{}
	for name, d := range c.Destinations {
		dd := *d
		dd.Line = 0
		out.Destinations[name] = &dd
	}
	out.Flows = nil
	for _, f := range c.Flows {
		ff := *f
		ff.Line = 0
		ff.Transforms = nil
		for _, tr := range f.Transforms {
			tt := *tr
			tt.Line = 0
			ff.Transforms = append(ff.Transforms, &tt)
		}
		ff.Routes = nil
		for _, r := range f.Routes {
			rr := *r
			rr.Line = 0
			ff.Routes = append(ff.Routes, &rr)
		}
		out.Flows = append(out.Flows, &ff)
	}
	return out
}

// TestGood loads each sample configuration in testdata/good (written from
// the keys the Kinesis Agent's README and the AWS developer guides
// document), compares its conversion and its check summary with the
// goldens, and loads the converted YAML again to the same configuration.
func TestGood(t *testing.T) {
	dirs, err := filepath.Glob("testdata/good/*/agent.json")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no samples in testdata/good: %v", err)
	}
	for _, file := range dirs {
		dir := filepath.Dir(file)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			res, err := Load(file)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			golden(t, filepath.Join(dir, "converted.yaml"), string(res.YAML))
			var check strings.Builder
			for _, n := range res.Notes {
				check.WriteString(n.Level.String() + " " + n.String() + "\n")
			}
			check.WriteString("\n" + res.Config.Summary())
			golden(t, filepath.Join(dir, "check.txt"), check.String())

			yamlFile := filepath.Join(t.TempDir(), "kinetail.yaml")
			if err := os.WriteFile(yamlFile, res.YAML, 0o644); err != nil {
				t.Fatal(err)
			}
			again, err := config.Load(yamlFile)
			if err != nil {
				t.Fatalf("the converted YAML does not load: %v", err)
			}
			if got, want := withoutPositions(again), withoutPositions(res.Config); !reflect.DeepEqual(got, want) {
				t.Errorf("the converted YAML loads to another configuration:\n%s\nwant:\n%s", got.Summary(), want.Summary())
			}
			if res.Config.File != file {
				t.Errorf("Config.File = %q, want %q", res.Config.File, file)
			}
		})
	}
}

// TestBad checks that each testdata/bad/*.json fails with exactly the
// errors in the .err file next to it, each at its file:line:col.
func TestBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in testdata/bad: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			res, err := Load(file)
			if err == nil {
				t.Fatalf("Load succeeded, want errors; YAML:\n%s", res.YAML)
			}
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want config.Errors: %v", err, err)
			}
			for _, e := range errs {
				if e.File != file || e.Line < 1 || e.Col < 1 {
					t.Errorf("error without its place in %s: %#v", file, e)
				}
			}
			golden(t, strings.TrimSuffix(file, ".json")+".err", err.Error()+"\n")
		})
	}
}

func TestFragments(t *testing.T) {
	main := []byte(`{"flows": [{"filePattern": "/var/log/a.log", "kinesisStream": "a"}]}`)
	tests := []struct {
		name      string
		fragments []string
		wantFlows []string
		wantErr   string
	}{
		{
			name:      "flows are appended in order",
			fragments: []string{`{"flows": [{"filePattern": "/var/log/b.log", "kinesisStream": "a"}]}`, `{"flows": [{"filePattern": "/var/log/c.log", "deliveryStream": "c"}]}`},
			wantFlows: []string{"log-a.log-a", "log-b.log-a", "log-c.log-c"},
		},
		{
			name:      "a fragment without flows adds none",
			fragments: []string{`{}`},
			wantFlows: []string{"log-a.log-a"},
		},
		{
			name:      "a broken fragment is an error, not skipped",
			fragments: []string{`{"flows": [`},
			wantErr:   "d/1.json:1:12: invalid JSON: unexpected end of file, expected a value",
		},
		{
			name:      "a fragment's bad flow is reported in that fragment",
			fragments: []string{`{"flows": [{"filePattern": "/var/log/b.log"}]}`},
			wantErr:   "d/1.json:1:12: d/1.json: flows[0]: kinesisStream or deliveryStream is required: the stream to send the lines to",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var names []string
			var data [][]byte
			for i, f := range tt.fragments {
				names = append(names, "d/"+string(rune('1'+i))+".json")
				data = append(data, []byte(f))
			}
			res, err := Parse("agent.json", main, names, data)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range res.Config.Flows {
				got = append(got, f.Name)
			}
			if !reflect.DeepEqual(got, tt.wantFlows) {
				t.Errorf("flows %v, want %v", got, tt.wantFlows)
			}
		})
	}
}

func TestLoadReadsAgentD(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("agent.json", `{"flows": [{"filePattern": "/var/log/a.log", "kinesisStream": "a"}]}`)
	write("agent.d/z.json", `{"flows": [{"filePattern": "/var/log/z.log", "kinesisStream": "a"}]}`)
	write("agent.d/b", `{"flows": [{"filePattern": "/var/log/b.log", "kinesisStream": "a"}]}`)
	write("agent.d/sub/ignored.json", `not read: a directory's files are not`)
	res, err := Load(filepath.Join(dir, "agent.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Config.Flows {
		got = append(got, f.Paths[0])
	}
	want := []string{"/var/log/a.log", "/var/log/b.log", "/var/log/z.log"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("paths %v, want %v", got, want)
	}
}

func TestValues(t *testing.T) {
	tests := []struct {
		json    string
		want    string // the flow's batch.max_records, or the error
		wantErr bool
	}{
		{json: `100`, want: "100"},
		{json: `"100"`, want: "100"},
		{json: `"0x64"`, want: "100"},
		{json: `"#64"`, want: "100"},
		{json: `"0144"`, want: "100"}, // octal, as Java's Integer.decode reads it
		{json: `"+100"`, want: "100"},
		{json: `100.0`, want: "100.0 is not a whole number", wantErr: true},
		{json: `" 100"`, want: `" 100" is not a whole number`, wantErr: true},
		{json: `true`, want: "expected a whole number, got a boolean", wantErr: true},
		{json: `0`, want: "0 is outside the valid range [1, 500]", wantErr: true},
		{json: `null`, want: "500"},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			doc := `{"flows": [{"filePattern": "/a.log", "kinesisStream": "s", "maxBufferSizeRecords": ` + tt.json + `}]}`
			res, err := Parse("agent.json", []byte(doc), nil, nil)
			if tt.wantErr {
				if err == nil || !strings.HasSuffix(err.Error(), tt.want) {
					t.Fatalf("error %v, want one ending %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Config.Destinations["s"].Batch.MaxRecords; tt.want != strconv.Itoa(got) {
				t.Errorf("max_records %d, want %s", got, tt.want)
			}
		})
	}
}

func TestBooleans(t *testing.T) {
	for _, tt := range []struct {
		json string
		want bool
		err  bool
	}{
		{`true`, true, false}, {`false`, false, false},
		{`"true"`, true, false}, {`"YES"`, true, false}, {`"t"`, true, false}, {`"y"`, true, false}, {`"1"`, true, false}, {`1`, true, false},
		{`"False"`, false, false}, {`"no"`, false, false}, {`"f"`, false, false}, {`"N"`, false, false}, {`"0"`, false, false}, {`0`, false, false},
		{`"maybe"`, false, true}, {`2`, false, true}, {`[]`, false, true},
	} {
		t.Run(tt.json, func(t *testing.T) {
			doc := `{"cloudwatch.emitMetrics": ` + tt.json + `, "flows": [{"filePattern": "/a.log", "kinesisStream": "s"}]}`
			res, err := Parse("agent.json", []byte(doc), nil, nil)
			if tt.err {
				if err == nil || !strings.HasPrefix(err.Error(), "agent.json:1:28: cloudwatch.emitMetrics: ") {
					t.Fatalf("error %v, want one at the value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Config.Agent.CloudWatch.Enabled; got != tt.want {
				t.Errorf("cloudwatch enabled %t, want %t", got, tt.want)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	for _, tt := range []struct {
		path, data string
		want       bool
	}{
		{"agent.json", `{"flows": [{"filePattern": "/a"}]}`, true},
		{"AGENT.JSON", `{"flows": []}`, true},
		{"agent.json", `{"flows": [ oops`, true},
		{"kinetail.json", `{"agent": {}, "destinations": {}, "flows": []}`, false},
		{"kinetail.yaml", `flows: []`, false},
		{"agent.yaml", `{"flows": [{"filePattern": "/a"}]}`, false},
	} {
		if got := Detect(tt.path, []byte(tt.data)); got != tt.want {
			t.Errorf("Detect(%s, %s) = %t, want %t", tt.path, tt.data, got, tt.want)
		}
	}
}

// TestDollarsStayLiteral checks that a value with $ reaches the
// configuration as written: the agent expands no variables.
func TestDollarsStayLiteral(t *testing.T) {
	doc := `{"flows": [{"filePattern": "/var/log/${APP}/$$x.log", "kinesisStream": "s", "multiLineStartPattern": "^a$"}]}`
	res, err := Parse("agent.json", []byte(doc), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := res.Config.Flows[0]
	if f.Paths[0] != "/var/log/${APP}/$$x.log" || f.Multiline.StartPattern != "^a$" {
		t.Errorf("paths %q, start_pattern %q: changed on the way", f.Paths[0], f.Multiline.StartPattern)
	}
}

// TestMetadataRecords runs the transforms an ADDMETADATA option becomes and
// checks that the record carries the metadata exactly as the agent.json
// gives it (the agent writes that JSON value as it is): strings YAML would
// read as something else stay strings, numbers keep their text, and nested
// objects and lists keep their values.
func TestMetadataRecords(t *testing.T) {
	tests := []struct{ name, metadata string }{
		{"strings that look like other things", `{"a": "yes", "b": "8080", "c": "null", "d": "true", "e": "2024-01-02", "f": "",
			"g": "a: b", "h": "#x", "i": "${HOME} $$", "j": "'q' \"dq\"", "k": "two\nlines\u2028", "l": "{x}", "m": "[x]", "n": "~", "o": "0x10"}`},
		{"numbers keep their text", `{"a": 1042, "b": 0.50, "c": -1e-3, "d": 123456789012345678901234567890, "e": -0, "f": 1E+3}`},
		{"booleans and null", `{"on": true, "off": false, "none": null}`},
		{"nested", `{"owner": {"name": "payments", "oncall": ["alice", {"n": 2, "tags": []}], "escalate": {"pager": true, "after": null}}, "empty": {}}`},
		{"keys YAML would read as other things", `{"yes": 1, "null": 2, "1": 3, "": 4, "a: b": {"#c": [5]}}`},
		{"empty", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"flows": [{"filePattern": "/a.log", "kinesisStream": "s", "dataProcessingOptions": [
				{"optionName": "ADDMETADATA", "timestamp": "false", "metadata": ` + tt.metadata + `}]}]}`
			res, err := Parse("agent.json", []byte(doc), nil, nil)
			if err != nil {
				t.Fatalf("%v\n%s", err, res.YAML)
			}
			chain, err := transform.New(res.Config.Flows[0].Transforms)
			if err != nil {
				t.Fatal(err)
			}
			rec, keep := chain.Append(nil, []byte("line"))
			if !keep {
				t.Fatalf("line dropped: %v", chain.LastError())
			}
			got, want := decodeNumbers(t, rec), decodeNumbers(t, []byte(`{"metadata": `+tt.metadata+`, "data": "line"}`))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("record %s\nwant the metadata of %s", rec, tt.metadata)
			}
		})
	}
}

// decodeNumbers decodes JSON with numbers as their text.
func decodeNumbers(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	return v
}
