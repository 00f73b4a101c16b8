package main

import (
	"bytes"
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
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring expected on stdout
		stderr string // substring expected on stderr
	}{
		{"no command prints usage", nil, 2, "", "Usage:"},
		{"help", []string{"--help"}, 0, "kinetail run -c FILE", ""},
		{"version", []string{"version"}, 0, "kinetail ", ""},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"run help", []string{"run", "--help"}, 0, "", "Usage: kinetail run"},
		{"check help", []string{"check", "-h"}, 0, "", "Usage: kinetail check"},
		{"check the example", []string{"check", "-c", "../../config.example.yaml"}, 0, "flows:", ""},
		{"check reports file:line:col", []string{"check", "-c", bad}, 1, "", bad + `:2:35: destination "out": unknown key "strem" (did you mean "stream"?)`},
		{"check builds the transforms", []string{"check", "-c", badNames}, 1, "", badNames + `:4: flow "a": `},
		{"check a missing file", []string{"check", "-c", filepath.Join(dir, "nope.yaml")}, 1, "", "no such file"},
		{"run with a bad config fails before starting", []string{"run", "-c", bad}, 1, "", "unknown key"},
		{"stray argument", []string{"check", "-c", bad, "extra"}, 2, "", `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
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
