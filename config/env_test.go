package config

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var testEnv = map[string]string{
	"HOME":   "/home/k",
	"EMPTY":  "",
	"NL":     "a\nb",
	"HASH":   "a # b",
	"FLOW":   "{a: 1}",
	"LIST":   "[/a, /b]",
	"N":      "500",
	"YES":    "true",
	"SECRET": "wJalrXUtnFEMI/K7MDENG",
}

func testLookup(k string) (string, bool) { v, ok := testEnv[k]; return v, ok }

// expandDoc parses in, expands its variables and returns the decoder and
// the value of the first key.
func expandDoc(t *testing.T, in string) (*decoder, *yaml.Node) {
	t.Helper()
	d := &decoder{file: "f.yaml", src: []byte(in), expanded: make(map[*yaml.Node]string)}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(in), &doc); err != nil {
		t.Fatal(err)
	}
	d.expandEnv(&doc, testLookup)
	return d, doc.Content[0].Content[1]
}

func TestExpandEnv(t *testing.T) {
	tests := []struct {
		name, in, want string
		tag            string // the value's ShortTag after expansion
	}{
		{name: "no variables", in: "a: b\n", want: "b", tag: "!!str"},
		{name: "set variable", in: "p: ${HOME}/x\n", want: "/home/k/x", tag: "!!str"},
		{name: "default unused", in: "p: ${HOME:-/root}\n", want: "/home/k", tag: "!!str"},
		{name: "default for unset", in: "p: ${NOPE:-/root}\n", want: "/root", tag: "!!str"},
		{name: "default for empty", in: "p: ${EMPTY:-x}\n", want: "x", tag: "!!str"},
		{name: "empty default leaves a null", in: "p: ${NOPE:-}\n", want: "", tag: "!!null"},
		{name: "quoted empty stays a string", in: "p: '${EMPTY}'\n", want: "", tag: "!!str"},
		{name: "dollar dollar", in: "p: a$$b$${HOME}\n", want: "a$b${HOME}", tag: "!!str"},
		{name: "lone dollar kept", in: "re: '^x$'\n", want: "^x$", tag: "!!str"},
		{name: "dollar and space kept", in: "q: $HOME $\n", want: "$HOME $", tag: "!!str"},
		{name: "comments are not expanded", in: "# ${NOPE}\na: ${HOME} # ${NOPE} $$\n", want: "/home/k", tag: "!!str"},
		{name: "a hash in a value is kept", in: "p: ${HASH}\n", want: "a # b", tag: "!!str"},
		{name: "a flow mapping in a value stays text", in: "p: ${FLOW}\n", want: "{a: 1}", tag: "!!str"},
		{name: "a flow list in a value stays text", in: "p: ${LIST}\n", want: "[/a, /b]", tag: "!!str"},
		{name: "a line break in a value is kept", in: "p: ${NL}\n", want: "a\nb", tag: "!!str"},
		{name: "unquoted number", in: "p: ${N}\n", want: "500", tag: "!!int"},
		{name: "quoted number stays a string", in: "p: \"${N}\"\n", want: "500", tag: "!!str"},
		{name: "unquoted boolean", in: "p: ${YES}\n", want: "true", tag: "!!bool"},
		{name: "explicit tag kept", in: "p: !!str ${N}\n", want: "500", tag: "!!str"},
		{name: "in a list", in: "p: [x, '${HOME}']\n", want: "", tag: "!!seq"},
		{name: "block scalar", in: "p: |\n  ${HOME}\n", want: "/home/k\n", tag: "!!str"},
		{name: "no final newline", in: "a: ${HOME}", want: "/home/k", tag: "!!str"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, v := expandDoc(t, tt.in)
			if len(d.errs) > 0 {
				t.Fatalf("unexpected errors: %v", d.errs)
			}
			if v.Kind == yaml.SequenceNode {
				if got := v.Content[1].Value; got != "/home/k" {
					t.Errorf("list item = %q, want /home/k", got)
				}
			} else if v.Value != tt.want {
				t.Errorf("value = %q, want %q", v.Value, tt.want)
			}
			if got := v.ShortTag(); got != tt.tag {
				t.Errorf("tag = %s, want %s", got, tt.tag)
			}
		})
	}
}

func TestExpandEnvKeysAsWritten(t *testing.T) {
	_, v := expandDoc(t, "m:\n  ${HOME}: ${HOME}\n")
	if k := v.Content[0].Value; k != "${HOME}" {
		t.Errorf("key = %q, want it as written", k)
	}
	if val := v.Content[1].Value; val != "/home/k" {
		t.Errorf("value = %q, want /home/k", val)
	}
}

func TestExpandEnvErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"unset", "a: 1\nb: x ${NOPE}\n", "f.yaml:2:6: environment variable NOPE is not set"},
		{"unset after multibyte", "b: é${NOPE}\n", "f.yaml:1:5: environment variable NOPE is not set"},
		{"double-quoted", "b: \"x ${NOPE}\"\n", "f.yaml:1:7: environment variable NOPE is not set"},
		{"after an escape: at the value", "b: \"\\t ${NOPE}\"\n", "f.yaml:1:4: environment variable NOPE is not set"},
		{"in a flow list", "b: [x, '${NOPE}']\n", "f.yaml:1:9: environment variable NOPE is not set"},
		{"block scalar: at the value", "b: |\n  x ${NOPE}\n", "f.yaml:1:4: environment variable NOPE is not set"},
		{"unterminated", "a: ${HOME\n", "f.yaml:1:4: unterminated ${"},
		{"bad name", "a: ${1X}\n", `f.yaml:1:4: invalid environment variable name "1X"`},
		{"empty name", "a: ${}\n", `f.yaml:1:4: invalid environment variable name ""`},
		{"nested default", "a: ${NOPE:-${HOME}}\n", "f.yaml:1:4: nested ${ in the default"},
		{"all errors", "a: ${A}\nb: ${B}\n", "f.yaml:1:4: environment variable A is not set\nf.yaml:2:4: environment variable B is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := expandDoc(t, tt.in)
			if len(d.errs) == 0 || !strings.HasPrefix(d.errs.Error(), tt.want) {
				t.Fatalf("errors = %q, want prefix %q", d.errs.Error(), tt.want)
			}
		})
	}
}

// TestParseEnvErrorStopsEarly checks that an unset variable is reported
// alone, without the noise of checking a document with holes in it.
func TestParseEnvErrorStopsEarly(t *testing.T) {
	_, err := parse("f.yaml", []byte("flows: ${NOPE}\n"), func(string) (string, bool) { return "", false })
	if err == nil || err.Error() != "f.yaml:1:8: environment variable NOPE is not set" {
		t.Errorf("got %v", err)
	}
}

// TestParseEnvValuesKeepStructure checks that what a variable holds stays
// inside the value it was written in: a " # " does not cut it short and a
// flow mapping does not become one.
func TestParseEnvValuesKeepStructure(t *testing.T) {
	doc := `agent:
  checkpoint_file: /tmp/${HASH}/c.json
destinations:
  d: {type: kinesis, stream: s, role_arn: "arn:aws:iam::1:role/${FLOW}"}
flows:
  - name: f
    paths:
      - /var/log/${HASH}.log
    destination: d
    transforms:
      - add_metadata: {metadata: {v: "${FLOW}", n: '${N}'}}
`
	c, err := parse("f.yaml", []byte(doc), testLookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Agent.CheckpointFile; got != "/tmp/a # b/c.json" {
		t.Errorf("checkpoint_file = %q", got)
	}
	if got := c.Destination("d").RoleARN; got != "arn:aws:iam::1:role/{a: 1}" {
		t.Errorf("role_arn = %q", got)
	}
	if got := c.Flows[0].Paths[0]; got != "/var/log/a # b.log" {
		t.Errorf("paths[0] = %q", got)
	}
	if m := c.Flows[0].Transforms[0].AddMetadata.Metadata; m["v"] != "{a: 1}" || m["n"] != "500" {
		t.Errorf("metadata = %v", m)
	}
}

// TestParseEnvNumbers checks that numbers, sizes, durations and booleans
// can come from variables.
func TestParseEnvNumbers(t *testing.T) {
	env := map[string]string{"N": "250", "SIZE": "2MiB", "AGE": "3s", "ON": "true"}
	doc := `destinations:
  d:
    type: kinesis
    stream: s
    batch:
      max_records: ${N}
      max_bytes: ${SIZE}
      max_age: ${AGE}
    aggregation:
      enabled: ${ON}
flows: [{name: f, paths: [/a], destination: d}]
`
	c, err := parse("f.yaml", []byte(doc), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	d := c.Destination("d")
	if d.Batch.MaxRecords != 250 || d.Batch.MaxBytes != 2*MiB || d.Batch.MaxAge.String() != "3s" || !d.Aggregation.Enabled {
		t.Errorf("batch = %+v, aggregation = %+v", d.Batch, d.Aggregation)
	}
}

// TestParseEnvSecretNotShown checks that a value from a variable is never
// shown in a message about it: the message names the variable.
func TestParseEnvSecretNotShown(t *testing.T) {
	secret := testEnv["SECRET"]
	tests := []struct{ name, doc, want string }{
		{
			name: "log level",
			doc:  "agent:\n  log_level: ${SECRET}\n",
			want: `f.yaml:2:14: agent.log_level: unknown level "${SECRET}" (use debug, info, warn or error)`,
		},
		{
			name: "a number",
			doc:  "destinations: {d: {type: kinesis, stream: s, max_in_flight: '${SECRET}'}}\n",
			want: `f.yaml:1:61: destination "d": max_in_flight: expected an integer, got a string "${SECRET}"`,
		},
		{
			name: "part of a value",
			doc:  "destinations: {d: {type: kinesis, stream: 'x-${SECRET}'}}\n",
			want: `f.yaml:1:43: destination "d": stream: "x-${SECRET}" is not a valid stream name`,
		},
		{
			name: "a regular expression",
			doc:  "flows: [{name: f, paths: [/a], multiline: {start_pattern: '(${SECRET}'}}]\n",
			want: `f.yaml:1:59: flow "f": multiline.start_pattern: invalid regular expression: missing closing )`,
		},
		{
			name: "a flow's name",
			doc:  "flows: [{name: '${SECRET}', paths: [/a]}]\n",
			want: `f.yaml:1:16: flow "${SECRET}": name: must be made of letters`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("f.yaml", []byte(tt.doc), testLookup)
			if err == nil {
				t.Fatal("parse succeeded")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "wJalr") {
				t.Errorf("error shows the secret:\n%v", err)
			}
			if !strings.Contains(err.Error()+"\n", tt.want) {
				t.Errorf("errors:\n%v\nwant a line starting %q", err, tt.want)
			}
		})
	}
}

func TestReplaceWords(t *testing.T) {
	tests := []struct {
		s     string
		pairs []string
		want  string
	}{
		{"got 5, want 1 to 500", []string{"5", "${N}"}, "got ${N}, want 1 to 500"},
		{`level "abc" x abc abcd`, []string{`"abc"`, `"${L}"`, "abc", "${L}"}, `level "${L}" x ${L} abcd`},
		{"a-b", []string{"a", "${A}", "b", "${A}"}, "${A}-${A}"},
		{"/x/y", []string{"/x", "${X}"}, "${X}/y"},
	}
	for _, tt := range tests {
		if got := replaceWords(tt.s, tt.pairs); got != tt.want {
			t.Errorf("replaceWords(%q, %q) = %q, want %q", tt.s, tt.pairs, got, tt.want)
		}
	}
}
