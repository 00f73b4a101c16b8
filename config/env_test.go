package config

import (
	"strings"
	"testing"
)

func TestExpandEnv(t *testing.T) {
	env := map[string]string{
		"HOME":  "/home/k",
		"EMPTY": "",
		"NL":    "a\nb",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name, in, want string
		wantErr        string
	}{
		{name: "no variables", in: "a: b\n", want: "a: b\n"},
		{name: "set variable", in: "p: ${HOME}/x\n", want: "p: /home/k/x\n"},
		{name: "default unused", in: "p: ${HOME:-/root}\n", want: "p: /home/k\n"},
		{name: "default for unset", in: "p: ${NOPE:-/root}\n", want: "p: /root\n"},
		{name: "default for empty", in: "p: ${EMPTY:-x}\n", want: "p: x\n"},
		{name: "empty default", in: "p: ${NOPE:-}\n", want: "p: \n"},
		{name: "set but empty", in: "p: '${EMPTY}'\n", want: "p: ''\n"},
		{name: "dollar dollar", in: "p: a$$b$${HOME}\n", want: "p: a$b${HOME}\n"},
		{name: "lone dollar kept", in: "re: '^x$'\nq: $HOME $\n", want: "re: '^x$'\nq: $HOME $\n"},
		{name: "comment line kept", in: "  # ${NOPE} $$\na: ${HOME}\n", want: "  # ${NOPE} $$\na: /home/k\n"},
		{name: "no final newline", in: "a: ${HOME}", want: "a: /home/k"},
		{name: "unset", in: "a: 1\nb: x ${NOPE}\n", wantErr: "f.yaml:2:6: environment variable NOPE is not set"},
		{name: "unset after multibyte", in: "b: é${NOPE}\n", wantErr: "f.yaml:1:5: environment variable NOPE is not set"},
		{name: "line break", in: "a: ${NL}\n", wantErr: "f.yaml:1:4: environment variable NL contains a line break"},
		{name: "unterminated", in: "a: ${HOME\n", wantErr: "f.yaml:1:4: unterminated ${"},
		{name: "bad name", in: "a: ${1X}\n", wantErr: `f.yaml:1:4: invalid environment variable name "1X"`},
		{name: "empty name", in: "a: ${}\n", wantErr: `f.yaml:1:4: invalid environment variable name ""`},
		{name: "nested default", in: "a: ${NOPE:-${HOME}}\n", wantErr: "f.yaml:1:4: nested ${ in the default"},
		{
			name:    "all errors",
			in:      "a: ${A}\nb: ${B}\n",
			wantErr: "f.yaml:1:4: environment variable A is not set\nf.yaml:2:4: environment variable B is not set",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &decoder{file: "f.yaml"}
			got := string(d.expandEnv([]byte(tt.in), lookup))
			if tt.wantErr != "" {
				if len(d.errs) == 0 || !strings.HasPrefix(d.errs.Error(), tt.wantErr) {
					t.Fatalf("errors = %q, want prefix %q", d.errs.Error(), tt.wantErr)
				}
				return
			}
			if len(d.errs) > 0 {
				t.Fatalf("unexpected errors: %v", d.errs)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if strings.Count(got, "\n") != strings.Count(tt.in, "\n") {
				t.Errorf("line count changed: %q", got)
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
