package preflight

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kinetail/kinetail/config"
)

// fakeHost is a host whose files are real (in a temp dir) but whose
// permissions, user and names are the test's.
func fakeHost(denied map[string]error) *host {
	h := newHost()
	h.open = func(path string) error {
		if err, ok := denied[filepath.Base(path)]; ok {
			return &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return nil
	}
	h.user = func() (string, string) { return "kinetail", "998" }
	h.owner = func(fs.FileInfo) (string, string) { return "root", "adm" }
	h.listen = func(string) error { return nil }
	h.isAgent = func(context.Context, string) bool { return false }
	h.checkpath = func(string) error { return nil }
	return h
}

func testConfig(dir string, paths ...string) *config.Config {
	return &config.Config{
		Agent: config.Agent{CheckpointFile: filepath.Join(dir, "state", "cp.json")},
		Flows: []*config.Flow{{Name: "app", Paths: paths}},
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	for _, name := range []string{"a.log", "b.log", "secure.log"} {
		os.WriteFile(filepath.Join(logs, name), []byte("x\n"), 0o640)
	}
	many := filepath.Join(dir, "many")
	os.MkdirAll(many, 0o755)
	manyDenied := make(map[string]error)
	for i := range maxUnreadable + 3 {
		name := fmt.Sprintf("f%02d.log", i)
		os.WriteFile(filepath.Join(many, name), nil, 0o600)
		manyDenied[name] = syscall.EACCES
	}
	os.WriteFile(filepath.Join(dir, "plain"), nil, 0o644)

	tests := []struct {
		name   string
		paths  []string
		denied map[string]error
		setup  func(h *host, cfg *config.Config)
		opts   Options
		want   []string // each finding's String(), in order
	}{
		{
			name:  "readable files in an existing directory give nothing",
			paths: []string{logs + "/*.log"},
		},
		{
			name:  "a glob whose directory does not exist is a warning",
			paths: []string{dir + "/nope/app/*.log", logs + "/a.log"},
			want:  []string{`warning: flow "app": directory ` + dir + `/nope/app does not exist: nothing matches ` + dir + `/nope/app/*.log until it is created`},
		},
		{
			name:  "the directory before a wildcard directory must exist",
			paths: []string{dir + "/gone/*/x/*.log"},
			want:  []string{`warning: flow "app": directory ` + dir + `/gone does not exist: nothing matches ` + dir + `/gone/*/x/*.log until it is created`},
		},
		{
			name:  "a glob through a file is a warning",
			paths: []string{dir + "/plain/*.log"},
			want:  []string{`warning: flow "app": ` + dir + `/plain is not a directory: nothing matches ` + dir + `/plain/*.log`},
		},
		{
			name:   "a file this user cannot read names the user, mode, owner and group",
			paths:  []string{logs + "/*.log"},
			denied: map[string]error{"secure.log": syscall.EACCES},
			want: []string{`warning: flow "app": ` + logs + `/secure.log cannot be read by user kinetail (uid 998): mode -rw-r-----, owner root, group adm` +
				` (add the user to the file's group, or give it an ACL: setfacl -m u:kinetail:r)`},
		},
		{
			name:   "a user without a name is named by uid",
			paths:  []string{logs + "/secure.log"},
			denied: map[string]error{"secure.log": syscall.EACCES},
			setup: func(h *host, cfg *config.Config) {
				h.user = func() (string, string) { return "", "998" }
				h.owner = func(fs.FileInfo) (string, string) { return "0", "" }
			},
			want: []string{`warning: flow "app": ` + logs + `/secure.log cannot be read by user uid 998: mode -rw-r-----, owner 0` +
				` (add the user to the file's group, or give it an ACL: setfacl -m u:998:r)`},
		},
		{
			name:   "another open error is shown as it is",
			paths:  []string{logs + "/a.log"},
			denied: map[string]error{"a.log": syscall.EMFILE},
			want:   []string{`warning: flow "app": ` + logs + `/a.log cannot be read: open ` + logs + `/a.log: too many open files`},
		},
		{
			name:   "past a few unreadable files, the rest are counted",
			paths:  []string{many + "/*.log"},
			denied: manyDenied,
			want: func() []string {
				var w []string
				for i := range maxUnreadable {
					w = append(w, fmt.Sprintf(`warning: flow "app": %s/f%02d.log cannot be read by user kinetail (uid 998): mode -rw-------, owner root, group adm`+
						` (add the user to the file's group, or give it an ACL: setfacl -m u:kinetail:r)`, many, i))
				}
				return append(w, `warning: flow "app": 3 more files cannot be read`)
			}(),
		},
		{
			name:  "a checkpoint directory that cannot be written is an error, first",
			paths: []string{dir + "/nope/*.log"},
			setup: func(h *host, cfg *config.Config) {
				h.checkpath = func(string) error { return errors.New("directory /x is not writable: permission denied") }
			},
			want: []string{
				"error: checkpoint: directory /x is not writable: permission denied",
				`warning: flow "app": directory ` + dir + `/nope does not exist: nothing matches ` + dir + `/nope/*.log until it is created`,
			},
		},
		{
			name:  "a metrics address in use by another program is an error",
			paths: []string{logs + "/a.log"},
			opts:  Options{Listen: true},
			setup: func(h *host, cfg *config.Config) {
				cfg.Agent.Metrics.Listen = "127.0.0.1:9731"
				h.listen = func(string) error { return errors.New("address already in use") }
			},
			want: []string{"error: agent.metrics.listen 127.0.0.1:9731: address already in use (another program uses it: choose another address, or empty to turn metrics off)"},
		},
		{
			name:  "a metrics address in use by a kinetail agent is fine (check before a reload)",
			paths: []string{logs + "/a.log"},
			opts:  Options{Listen: true},
			setup: func(h *host, cfg *config.Config) {
				cfg.Agent.Metrics.Listen = "127.0.0.1:9731"
				h.listen = func(string) error { return errors.New("address already in use") }
				h.isAgent = func(context.Context, string) bool { return true }
			},
		},
		{
			name:  "the metrics address is not tried unless asked",
			paths: []string{logs + "/a.log"},
			setup: func(h *host, cfg *config.Config) {
				cfg.Agent.Metrics.Listen = "127.0.0.1:9731"
				h.listen = func(string) error { return errors.New("address already in use") }
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fakeHost(tt.denied)
			cfg := testConfig(dir, tt.paths...)
			if tt.setup != nil {
				tt.setup(h, cfg)
			}
			var got []string
			for _, f := range h.check(t.Context(), cfg, tt.opts) {
				got = append(got, f.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// With the real host, a file of mode 000 is unreadable for anyone but root
// (whom CAP_DAC_OVERRIDE lets read it, as in CI): the warning follows who
// runs the test, never skipped.
func TestCheckRealUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret.log")
	if err := os.WriteFile(path, []byte("x\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	findings := Check(t.Context(), testConfig(dir, dir+"/*.log"), Options{})
	if os.Geteuid() == 0 {
		if len(findings) != 0 {
			t.Errorf("root can read any file, got %v", findings)
		}
		return
	}
	if len(findings) != 1 {
		t.Fatalf("findings %v, want one warning", findings)
	}
	f := findings[0]
	name, uid := currentUser()
	want := fmt.Sprintf("%s cannot be read by user %s (uid %s): mode ----------, owner ", path, name, uid)
	if f.Level != slog.LevelWarn || !strings.Contains(f.Message, want) {
		t.Errorf("finding %v, want a warning containing %q", f, want)
	}
}

// The real listen check: a port held by another program is an error, one
// held by a kinetail agent (answering /status) is not.
func TestCheckRealListen(t *testing.T) {
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go func() { // a program that hangs up on whatever it is sent
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/status" {
			w.Write([]byte(`{"version":"v1","healthy":true}`))
			return
		}
		http.NotFound(w, r)
	}))
	defer agent.Close()
	dir := t.TempDir()
	tests := []struct {
		name      string
		addr      string
		wantError bool
	}{
		{"free address", "127.0.0.1:0", false},
		{"held by another program", other.Addr().String(), true},
		{"held by a kinetail agent", agent.Listener.Addr().String(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(dir, dir+"/*.log")
			cfg.Agent.Metrics.Listen = tt.addr
			findings := Check(t.Context(), cfg, Options{Listen: true})
			if Errors(findings) != tt.wantError {
				t.Errorf("findings %v, want an error: %v", findings, tt.wantError)
			}
		})
	}
}
