package tailer

import "testing"

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/var/log/nginx/*", "/var/log/nginx/access.log", true},
		{"/var/log/nginx/*", "/var/log/nginx/sub/access.log", false},
		{"/var/log/**/*.log", "/var/log/a/b/c.log", true},
		{"/var/log/**/*.log", "/var/log/c.log", true},
		{"/var/log/**/*.log", "/var/log/c.txt", false},
		{"/srv/*/logs/app.log", "/srv/api/logs/app.log", true},
	}
	for _, tt := range tests {
		g, err := CompileGlob(tt.pattern)
		if err != nil {
			t.Fatalf("CompileGlob(%q): %v", tt.pattern, err)
		}
		if got := g.Match(tt.path); got != tt.want {
			t.Errorf("Glob(%q).Match(%q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
	if _, err := CompileGlob("/var/[/x"); err == nil {
		t.Error("CompileGlob accepted a malformed pattern")
	}
}
