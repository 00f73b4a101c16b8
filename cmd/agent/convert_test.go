package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kinetail/kinetail/config"
)

// writeAgentJSON writes an agent.json with one flow in dir, and a fragment
// with another in dir/agent.d, keeping every state file in dir.
func writeAgentJSON(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "agent.json")
	os.MkdirAll(filepath.Join(dir, "agent.d"), 0o755)
	os.WriteFile(path, []byte(`{
  "cloudwatch.emitMetrics": false,
  "kinesis.region": "us-east-1",
  "awsAccessKeyId": "AKIDEXAMPLE",
  "awsSecretAccessKey": "not-in-the-yaml",
  "checkpointFile": "`+dir+`/state/checkpoints",
  "flows": [{"filePattern": "`+dir+`/logs/*.log", "kinesisStream": "app",
             "dataProcessingOptions": [{"optionName": "LOGTOJSON", "logFormat": "SYSLOG"}]}]
}`), 0o600)
	os.WriteFile(filepath.Join(dir, "agent.d", "web.json"), []byte(`{"flows": [{"filePattern": "`+dir+`/logs/web.log", "deliveryStream": "web"}]}`), 0o600)
	return path
}

func TestConvert(t *testing.T) {
	dir := t.TempDir()
	agentJSON := writeAgentJSON(t, dir)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"convert", agentJSON}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, &stderr)
	}
	yaml := stdout.String()
	if strings.Contains(yaml, "not-in-the-yaml") || strings.Contains(yaml, "AKIDEXAMPLE") {
		t.Errorf("the converted YAML holds the credentials:\n%s", yaml)
	}
	yamlFile := filepath.Join(dir, "kinetail.yaml")
	os.WriteFile(yamlFile, stdout.Bytes(), 0o600)

	// check passes on both, and says what it read.
	for _, file := range []string{agentJSON, yamlFile} {
		stdout.Reset()
		stderr.Reset()
		if code := run([]string{"check", "-c", file}, strings.NewReader(""), &stdout, &stderr); code != 0 {
			t.Fatalf("check %s: exit %d: %s", file, code, &stderr)
		}
		if read := strings.Contains(stdout.String(), "Read as a Kinesis Agent configuration"); read != (file == agentJSON) {
			t.Errorf("check %s says it read a Kinesis Agent configuration: %t, want %t:\n%s", file, read, file == agentJSON, &stdout)
		}
	}
	fromJSON, aj, err := loadValidated(agentJSON)
	if err != nil {
		t.Fatal(err)
	}
	if aj == nil || aj.Env["AWS_SECRET_ACCESS_KEY"] != "not-in-the-yaml" {
		t.Errorf("the agent.json's credentials are not passed on for the AWS SDK: %v", aj)
	}
	fromYAML, err := config.Load(yamlFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromJSON.Flows) != 2 || fromJSON.Summary() != fromYAML.Summary() {
		t.Errorf("the agent.json and its conversion differ:\n%s\nconverted:\n%s", fromJSON.Summary(), fromYAML.Summary())
	}
	for i := range fromJSON.Flows {
		a, b := *fromJSON.Flows[i], *fromYAML.Flows[i]
		a.Line, b.Line, a.Transforms, b.Transforms = 0, 0, nil, nil
		if !reflect.DeepEqual(a, b) {
			t.Errorf("flow %d differs:\n%+v\n%+v", i, a, b)
		}
	}
}

func TestConvertErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "agent.json")
	os.WriteFile(bad, []byte("{\n  \"flows\": [{\"filePattern\": \"/a.log\"}]\n}\n"), 0o600)
	fragment := filepath.Join(dir, "extra.json")
	os.WriteFile(fragment, []byte(`{"flows": [{"filePattern": "/b.log", "kinesisStream": "b"}]}`), 0o600)
	good := writeAgentJSON(t, t.TempDir())
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no file", []string{"convert"}, 2, "", "name the agent.json"},
		{"a bad flow at its line", []string{"convert", bad}, 1, "", bad + ":2:13: flows[0]: kinesisStream or deliveryStream is required"},
		{"check says the same", []string{"check", "-c", bad}, 1, "", bad + ":2:13: flows[0]: kinesisStream or deliveryStream is required"},
		{"fragments named instead of agent.d", []string{"convert", good, fragment}, 0, "paths: [/b.log]", ""},
		{"a missing file", []string{"convert", filepath.Join(dir, "nope.json")}, 1, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, strings.NewReader(""), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("exit %d (want %d)\nstdout: %s\n(want %q)\nstderr: %s\n(want %q)", code, tt.code, &stdout, tt.stdout, &stderr, tt.stderr)
			}
		})
	}
}
