package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("destinations:\n  out: {type: kinesis, stream: s, strem: x}\nflows: []\n"), 0o600)
	badNames := filepath.Join(dir, "names.yaml")
	os.WriteFile(badNames, []byte("destinations:\n  out: {type: kinesis, stream: s}\nflows:\n  - name: a\n    paths: [/var/log/a.log]\n    transforms: [{log_to_json: {format: common_apache, custom_field_names: [x]}}]\n    destination: out\n"), 0o600)
	// The example keeps its checkpoint in $KINETAIL_STATE_DIR, which check
	// creates.
	t.Setenv("KINETAIL_STATE_DIR", filepath.Join(dir, "state"))
	notDir := filepath.Join(dir, "not-a-dir")
	os.WriteFile(notDir, nil, 0o600)
	badState := filepath.Join(dir, "state.yaml")
	os.WriteFile(badState, []byte("agent:\n  checkpoint_file: "+notDir+"/state/cp.json\ndestinations:\n  out: {type: kinesis, stream: s}\nflows:\n  - name: a\n    paths: [/var/log/a.log]\n    destination: out\n"), 0o600)
	missingDir, inUse, heldAddr := preflightConfigs(t, dir)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring expected on stdout
		stderr string // substring expected on stderr
	}{
		{"no command prints usage", nil, 2, "", "Usage:"},
		{"help", []string{"--help"}, 0, "kinetail run -c FILE", ""},
		{"help lists test", []string{"help"}, 0, "kinetail test -c FILE --flow NAME", ""},
		{"version", []string{"version"}, 0, "kinetail ", ""},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"run help", []string{"run", "--help"}, 0, "", "Usage: kinetail run"},
		{"check help", []string{"check", "-h"}, 0, "", "Usage: kinetail check"},
		{"check the example", []string{"check", "-c", "../../config.example.yaml"}, 0, "flows:", ""},
		{"check reports file:line:col", []string{"check", "-c", bad}, 1, "", bad + `:2:35: destination "out": unknown key "strem" (did you mean "stream"?)`},
		{"check builds the transforms", []string{"check", "-c", badNames}, 1, "", badNames + `:4: flow "a": `},
		{"check reports a checkpoint directory that cannot be created", []string{"check", "-c", badState}, 1, "", "checkpoint: directory " + notDir + "/state cannot be created"},
		{"check warns about a glob's missing directory and passes", []string{"check", "-c", missingDir}, 0, "OK", `warning: flow "a": directory ` + dir + "/nope does not exist"},
		{"check reports a metrics address another program uses", []string{"check", "-c", inUse}, 1, "", "error: agent.metrics.listen " + heldAddr + ": "},
		{"check a missing file", []string{"check", "-c", filepath.Join(dir, "nope.yaml")}, 1, "", "no such file"},
		{"run with a bad config fails before starting", []string{"run", "-c", bad}, 1, "", "unknown key"},
		{"stray argument", []string{"check", "-c", bad, "extra"}, 2, "", `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, strings.NewReader(""), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q does not contain %q", &stdout, tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q does not contain %q", &stderr, tt.stderr)
			}
		})
	}
}

const testConfig = `destinations:
  out: {type: kinesis, stream: s}
flows:
  - name: csv
    paths: [/var/log/a.csv]
    skip_header_lines: 2
    transforms: [{csv_to_json: {header: true}}]
    destination: out
  - name: meta
    paths: [/var/log/b.log]
    transforms:
      - json: {on_error: drop}
      - add_metadata: {timestamp: false, metadata: {env: prod, app: web}}
    destination: out
  - name: wrap
    paths: [/var/log/c.log]
    multiline: {start_pattern: '^\d'}
    transforms: [{json: {}}]
    destination: out
  - name: pass
    paths: [/var/log/d.log]
    transforms: [{json: {on_error: pass}}]
    destination: out
  - name: header
    paths: [/var/log/e.csv]
    transforms: [{csv_to_json: {header: true, on_error: drop}}]
    destination: out
  - name: raw
    paths: [/var/log/f.log]
    destination: out
  - name: annotated
    paths: [/var/log/g.log]
    transforms:
      - json: {on_error: wrap}
      - filter: {field: level, equals: debug}
      - fields: {record_id: id, path: path, offset: offset}
    destination: out
`

func TestTestCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kinetail.yaml")
	if err := os.WriteFile(cfg, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	one := filepath.Join(dir, "one.yaml")
	if err := os.WriteFile(one, []byte(strings.SplitAfter(testConfig, "destination: out\n")[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("destinations:\n  out: {type: kinesis, stream: s}\nflows:\n  - name: a\n    paths: [/var/log/a.log]\n    transforms: [{json: {on_eror: drop}}]\n    destination: out\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	input := filepath.Join(dir, "input.csv")
	if err := os.WriteFile(input, []byte("a,b\n# comment\n1,2\n\"x,3\n4,5"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string // the whole of stdout
		stderr string // a substring of stderr
	}{
		{
			name:   "records from stdin, metadata in key order, drops with their reason",
			args:   []string{"test", "-c", cfg, "--flow", "meta"},
			stdin:  "{ \"a\": 1 }\nnot json\n\n",
			stdout: `{"metadata":{"app":"web","env":"prod"},"data":"{\"a\":1}"}` + "\n" + "DROPPED (json: invalid literal at offset 0)\nDROPPED (json: unexpected end of input at offset 0)\n",
		},
		{
			name:   "- is stdin; wrapped records with their error; multiline is not applied",
			args:   []string{"test", "-c", cfg, "--flow", "wrap", "-"},
			stdin:  "{\"ok\":true}\n{bad\n",
			stdout: `{"ok":true}` + "\n" + `WRAPPED (json: want string for object key at offset 1): {"raw":"{bad","error":"json: want string for object key at offset 1"}` + "\n",
			stderr: `flow "wrap": multiline is not applied`,
		},
		{
			name:   "wrapped records get the record id, path and offset, and no filter drops them",
			args:   []string{"test", "-c", cfg, "--flow", "annotated"},
			stdin:  "{\"level\":\"info\"}\n{\"level\":\"debug\"}\nnot json\n",
			stdout: `{"level":"info","path":"-","offset":0,"id":"81d23fd7003c2305-0"}` + "\nFILTERED\n" + `WRAPPED (json: invalid literal at offset 0): {"raw":"not json","error":"json: invalid literal at offset 0","path":"-","offset":35,"id":"81d23fd7003c2305-35"}` + "\n",
		},
		{
			name:   "passed records",
			args:   []string{"test", "-c", cfg, "--flow", "pass"},
			stdin:  "[1, 2]\nnope",
			stdout: "[1,2]\nPASSED (json: invalid literal at offset 0): nope\n",
		},
		{
			name:   "a file with skipped header lines: the first is still the CSV header",
			args:   []string{"test", "-c", cfg, "--flow", "csv", input},
			stdout: "SKIPPED (skip_header_lines)\nSKIPPED (skip_header_lines)\n" + `{"a":"1","b":"2"}` + "\n" + `WRAPPED (csv_to_json: unterminated quoted field at offset 0): {"raw":"\"x,3","error":"csv_to_json: unterminated quoted field at offset 0"}` + "\n" + `{"a":"4","b":"5"}` + "\n",
		},
		{
			name:   "the header line of a file gives no record",
			args:   []string{"test", "-c", cfg, "--flow", "header", input},
			stdout: "HEADER\n" + `{"a":"# comment","b":null}` + "\n" + `{"a":"1","b":"2"}` + "\nDROPPED (csv_to_json: unterminated quoted field at offset 0)\n" + `{"a":"4","b":"5"}` + "\n",
		},
		{
			name:   "no transforms: raw lines, carriage returns kept",
			args:   []string{"test", "-c", cfg, "--flow", "raw"},
			stdin:  "a\r\nb\n",
			stdout: "a\r\nb\n",
		},
		{
			name:   "--flow may be left out when there is one flow",
			args:   []string{"test", "-c", one, input},
			stdout: "SKIPPED (skip_header_lines)\nSKIPPED (skip_header_lines)\n" + `{"a":"1","b":"2"}` + "\n" + `WRAPPED (csv_to_json: unterminated quoted field at offset 0): {"raw":"\"x,3","error":"csv_to_json: unterminated quoted field at offset 0"}` + "\n" + `{"a":"4","b":"5"}` + "\n",
		},
		{
			name:   "empty input",
			args:   []string{"test", "-c", cfg, "--flow", "meta"},
			stdout: "",
		},
		{
			name:   "unknown flow lists the flows",
			args:   []string{"test", "-c", cfg, "--flow", "nope"},
			code:   1,
			stderr: `no flow "nope"; flows: csv, meta, wrap, pass, header, raw, annotated`,
		},
		{
			name:   "--flow is needed when there are several flows",
			args:   []string{"test", "-c", cfg},
			code:   1,
			stderr: "--flow is required; flows: csv, meta",
		},
		{
			name:   "config errors have file:line",
			args:   []string{"test", "-c", bad, "--flow", "a"},
			code:   1,
			stderr: bad + `:6:`,
		},
		{
			name:   "a missing input file",
			args:   []string{"test", "-c", cfg, "--flow", "raw", filepath.Join(dir, "missing.log")},
			code:   1,
			stderr: "missing.log: no such file",
		},
		{
			name:   "two inputs",
			args:   []string{"test", "-c", cfg, "--flow", "raw", input, input},
			code:   2,
			stderr: `unexpected argument "` + input + `"`,
		},
		{
			name:   "help",
			args:   []string{"test", "--help"},
			stderr: "Usage: kinetail test -c FILE --flow NAME [INPUT|-]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d\nstderr: %s", code, tt.code, &stderr)
			}
			if stdout.String() != tt.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", &stdout, tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q does not contain %q", &stderr, tt.stderr)
			}
		})
	}
}

// preflightConfigs writes two valid configurations into dir that the host
// checks report on: one whose glob's directory does not exist (a warning)
// and one whose metrics address another program holds (an error) until
// the test ends, at heldAddr.
func preflightConfigs(t *testing.T, dir string) (missingDir, inUse, heldAddr string) {
	t.Helper()
	missingDir = filepath.Join(dir, "missing.yaml")
	os.WriteFile(missingDir, []byte("agent:\n  checkpoint_file: "+dir+"/state/cp.json\n  metrics: {listen: ''}\ndestinations:\n  out: {type: kinesis, stream: s}\nflows:\n  - name: a\n    paths: ["+dir+"/nope/*.log]\n    destination: out\n"), 0o600)
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Close() })
	go func() { // another program, which hangs up at once
		for {
			c, err := held.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	inUse = filepath.Join(dir, "inuse.yaml")
	os.WriteFile(inUse, []byte("agent:\n  checkpoint_file: "+dir+"/state/cp.json\n  metrics: {listen: '"+held.Addr().String()+"'}\ndestinations:\n  out: {type: kinesis, stream: s}\nflows:\n  - name: a\n    paths: ["+dir+"/*.yaml]\n    destination: out\n"), 0o600)
	return missingDir, inUse, held.Addr().String()
}
