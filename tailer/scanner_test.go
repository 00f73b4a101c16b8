package tailer

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/testfs"
)

func TestScanner(t *testing.T) {
	d := testfs.New(t)
	for _, f := range []string{
		"logs/app.log", "logs/app.log.1", "logs/app.log.2.gz",
		"logs/a/x.log", "logs/a/b/c/deep.log", "logs/a/b/c/deep.txt",
		"logs/skip/s.log", "srv/one/logs/web.log", "srv/two/logs/web.log",
	} {
		d.Write(f, "x\n")
	}
	d.Mkdir("logs/dir.log") // a directory matching *.log is not a file
	d.Symlink("..", "logs/a/loop")
	d.Symlink("app.log", "logs/alias.log")
	d.Symlink("missing.log", "logs/dangling.log")
	if err := syscall.Mkfifo(d.Path("logs/fifo.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := d.Path

	tests := []struct {
		name     string
		include  []string
		exclude  []string
		want     []string
		wantErrs []string
	}{
		{
			name:    "literal path",
			include: []string{p("logs/app.log")},
			want:    []string{p("logs/app.log")},
		},
		{
			name:    "literal path that does not exist",
			include: []string{p("nope/app.log")},
		},
		{
			name:     "wildcard in the base name; links followed, fifo and dirs skipped",
			include:  []string{p("logs/*.log")},
			want:     []string{p("logs/alias.log"), p("logs/app.log")},
			wantErrs: []string{p("logs/dangling.log")},
		},
		{
			name:    "exclude by base name",
			include: []string{p("logs/app.log*")},
			exclude: []string{"*.gz"},
			want:    []string{p("logs/app.log"), p("logs/app.log.1")},
		},
		{
			name:    "wildcard directory",
			include: []string{p("srv/*/logs/*.log")},
			want:    []string{p("srv/one/logs/web.log"), p("srv/two/logs/web.log")},
		},
		{
			name:    "double star matches zero or more directories and does not loop",
			include: []string{p("logs/**/*.log")},
			exclude: []string{p("logs/skip/**"), "alias.log", "dangling.log"},
			want: []string{
				p("logs/a/b/c/deep.log"), p("logs/a/x.log"), p("logs/app.log"),
			},
		},
		{
			name:    "trailing double star matches every file below",
			include: []string{p("logs/a/**")},
			exclude: []string{p("logs/a/loop/**")},
			want:    []string{p("logs/a/b/c/deep.log"), p("logs/a/b/c/deep.txt"), p("logs/a/x.log")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewScanner(tt.include, tt.exclude)
			if err != nil {
				t.Fatal(err)
			}
			snap := s.Scan()
			got := slices.Sorted(maps.Keys(snap.Files))
			if !slices.Equal(got, tt.want) {
				t.Errorf("files:\n got %q\nwant %q", got, tt.want)
			}
			var errPaths []string
			for _, e := range snap.Errors {
				errPaths = append(errPaths, e.Path)
				if !errors.Is(e.Err, fs.ErrNotExist) {
					t.Errorf("error for %s: %v", e.Path, e.Err)
				}
			}
			if !slices.Equal(errPaths, tt.wantErrs) {
				t.Errorf("errors: got %q, want %q", errPaths, tt.wantErrs)
			}
		})
	}
}

func TestScannerSymlinkTargetIdentity(t *testing.T) {
	d := testfs.New(t)
	d.Write("real/app.log", "x\n")
	d.Symlink(d.Path("real/app.log"), "links/app.log")
	s, err := NewScanner([]string{d.Path("*/app.log")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap := s.Scan()
	a, _ := keyOf(snap.Files[d.Path("real/app.log")])
	b, _ := keyOf(snap.Files[d.Path("links/app.log")])
	if len(snap.Files) != 2 || a != b {
		t.Fatalf("link and target should both be found with the target's identity: %v %v %v", snap.Files, a, b)
	}
}

// A link to a file outside the globs (/etc/shadow, say) is followed only by
// follow; within follows links to files the globs match anyway or that lie
// under an allowed root; skip follows none. Refused links are reported
// with their targets.
func TestScannerSymlinkPolicies(t *testing.T) {
	d := testfs.New(t)
	d.Write("logs/app.log", "x\n")
	d.Write("secret/shadow", "root:x\n")
	d.Write("pods/ns_pod/app/0.log", "x\n")
	d.Write("elsewhere/deep/x.log", "x\n")
	d.Symlink(d.Path("secret/shadow"), "logs/evil.log")
	d.Symlink("app.log", "logs/alias.log")
	d.Symlink(d.Path("pods/ns_pod/app/0.log"), "logs/pod.log")
	d.Symlink(d.Path("elsewhere/deep"), "logs/sub")           // a directory link ** goes into
	d.Symlink(d.Path("secret"), "srv/evil")                   // a directory link a wildcard goes into
	d.Symlink(d.Path("secret/shadow"), "literal/current.log") // a link at a literal path
	p := d.Path
	globs := []string{p("logs/**/*.log"), p("srv/*/shadow"), p("literal/current.log")}
	outside := []Refusal{
		{p("literal/current.log"), p("secret/shadow")},
		{p("logs/evil.log"), p("secret/shadow")},
		{p("logs/sub/x.log"), p("elsewhere/deep/x.log")},
		{p("srv/evil/shadow"), p("secret/shadow")},
	}
	tests := []struct {
		name        string
		links       Symlinks
		roots       []string
		want        []string
		wantRefused []Refusal
	}{
		{
			name:  "follow reads every link",
			links: LinksFollow,
			want: []string{p("literal/current.log"), p("logs/alias.log"), p("logs/app.log"), p("logs/evil.log"),
				p("logs/pod.log"), p("logs/sub/x.log"), p("srv/evil/shadow")},
		},
		{
			name:        "within reads links to files the globs match",
			links:       LinksWithin,
			want:        []string{p("logs/alias.log"), p("logs/app.log")},
			wantRefused: append([]Refusal{{p("logs/pod.log"), p("pods/ns_pod/app/0.log")}}, outside...),
		},
		{
			name:        "within reads links into an allowed root",
			links:       LinksWithin,
			roots:       []string{p("pods")},
			want:        []string{p("logs/alias.log"), p("logs/app.log"), p("logs/pod.log")},
			wantRefused: outside,
		},
		{
			name:  "skip reads no link",
			links: LinksSkip,
			roots: []string{p("pods")},
			want:  []string{p("logs/app.log")},
			wantRefused: append([]Refusal{{p("logs/alias.log"), p("logs/app.log")},
				{p("logs/pod.log"), p("pods/ns_pod/app/0.log")}}, outside...),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewScanner(globs, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.SetLinks(tt.links, tt.roots)
			snap := s.Scan()
			if got := slices.Sorted(maps.Keys(snap.Files)); !slices.Equal(got, tt.want) {
				t.Errorf("files:\n got %q\nwant %q", got, tt.want)
			}
			got := slices.SortedFunc(slices.Values(snap.Refused), func(a, b Refusal) int { return strings.Compare(a.Path, b.Path) })
			want := slices.SortedFunc(slices.Values(tt.wantRefused), func(a, b Refusal) int { return strings.Compare(a.Path, b.Path) })
			if !slices.Equal(got, want) {
				t.Errorf("refused:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// Links in the literal directories a glob starts with are the operator's
// layout: a flow on /var/log/app/*.log where /var/log is a link reads its
// files, and a link among them to another file of the glob, by real path.
func TestScannerLinkedLiteralDirectory(t *testing.T) {
	d := testfs.New(t)
	d.Write("data/log/app/a.log", "x\n")
	d.Symlink("a.log", "data/log/app/current.log")
	d.Symlink(d.Path("data/log"), "var/log")
	s, err := NewScanner([]string{d.Path("var/log/app/*.log")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap := s.Scan()
	want := []string{d.Path("var/log/app/a.log"), d.Path("var/log/app/current.log")}
	if got := slices.Sorted(maps.Keys(snap.Files)); !slices.Equal(got, want) || len(snap.Refused) != 0 {
		t.Errorf("files %q, refused %q; want %q and none refused", got, snap.Refused, want)
	}
}

// Matched paths that are not regular files are reported as skipped.
func TestScannerSkipsSpecialFiles(t *testing.T) {
	d := testfs.New(t)
	d.Write("logs/app.log", "x\n")
	d.Mkdir("logs/dir.log")
	if err := syscall.Mkfifo(d.Path("logs/fifo.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := NewScanner([]string{d.Path("logs/*.log")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap := s.Scan()
	want := []Skip{{d.Path("logs/dir.log"), fs.ModeDir}, {d.Path("logs/fifo.log"), fs.ModeNamedPipe}}
	got := slices.SortedFunc(slices.Values(snap.Skipped), func(a, b Skip) int { return strings.Compare(a.Path, b.Path) })
	if !slices.Equal(got, want) || len(snap.Files) != 1 {
		t.Errorf("skipped %v (files %d), want %v and 1 file", got, len(snap.Files), want)
	}
}

func TestScannerDirs(t *testing.T) {
	d := testfs.New(t)
	d.Mkdir("var/log")
	d.Mkdir("srv/a/logs")
	s, err := NewScanner([]string{
		d.Path("var/log/app/current.log"), // app/ does not exist yet
		d.Path("srv/*/logs/*.log"),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Scan().Dirs
	want := []string{d.Path("srv"), d.Path("srv/a/logs"), d.Path("var/log")}
	if !slices.Equal(got, want) {
		t.Errorf("dirs:\n got %q\nwant %q", got, want)
	}
}

func TestNewScannerErrors(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
	}{
		{"relative include", []string{"logs/*.log"}, nil},
		{"bad pattern", []string{"/logs/[.log"}, nil},
		{"bad exclude", []string{"/logs/*.log"}, []string{"[z"}},
		{"root only", []string{"/"}, nil},
		{"** inside a segment", []string{"/logs/**.log"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewScanner(tt.include, tt.exclude); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestScannerMatch(t *testing.T) {
	s, err := NewScanner([]string{"/var/log/app*.log", "/srv/**/logs/*.log"}, []string{"*-debug.log", "/srv/tmp/**"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want bool
	}{
		{"/var/log/app.log", true},
		{"/var/log/app-1.log", true},
		{"/var/log/syslog", false},
		{"/var/log/app-debug.log", false},
		{"/srv/logs/a.log", true},
		{"/srv/x/y/logs/a.log", true},
		{"/srv/tmp/logs/a.log", false},
		{"/srv/x/logs/sub/a.log", false},
	}
	for _, tt := range tests {
		if got := s.Match(tt.path); got != tt.want {
			t.Errorf("Match(%s) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

// A scan does not read a directory again while it is unchanged, but still
// sees every change: names added, removed or replaced, and files written.
// An idle file keeps its FileInfo, so a rescan of idle files makes
// next to no garbage.
func TestScannerReusesUnchangedDirectories(t *testing.T) {
	d := testfs.New(t)
	for i := range 50 {
		d.Write(fmt.Sprintf("logs/f%02d.log", i), "x\n")
	}
	old := time.Now().Add(-time.Hour)
	settle := func() {
		// Changed long ago: a scan cannot tell a later change from none
		// when the time is within racyDir of the read.
		if err := os.Chtimes(d.Path("logs"), old, old); err != nil {
			t.Fatal(err)
		}
	}
	settle()
	s, err := NewScanner([]string{d.Path("logs/*.log")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := maps.Clone(s.Scan().Files)
	if len(first) != 50 {
		t.Fatalf("found %d files, want 50", len(first))
	}
	allocs := testing.AllocsPerRun(10, func() { s.Scan() })
	// One per file (the path lstat is given) and a few per scan; it was
	// five per file and more: entry, name, path, FileInfo, map.
	if allocs > 2*50 {
		t.Errorf("a scan of 50 unchanged files made %.0f allocations", allocs)
	}
	snap := s.Scan()
	for p, fi := range first {
		if snap.Files[p] != fi {
			t.Errorf("%s: the FileInfo of an unchanged file was made again", p)
		}
	}

	d.Append("logs/f00.log", "more\n")
	if fi := s.Scan().Files[d.Path("logs/f00.log")]; fi == nil || fi.Size() != 7 {
		t.Errorf("a write to a file in an unchanged directory was not seen: %v", fi)
	}

	d.Write("logs/new.log", "x\n")
	d.Remove("logs/f01.log")
	d.Rename("logs/f02.log", "logs/f02.log.1")
	d.Write("logs/f03.log", "replaced\n") // truncated in place: the same inode
	got := s.Scan().Files
	for p, want := range map[string]bool{"new.log": true, "f01.log": false, "f02.log": false, "f02.log.1": false, "f03.log": true} {
		if _, ok := got[d.Path("logs/"+p)]; ok != want {
			t.Errorf("%s found: %v, want %v", p, ok, want)
		}
	}
	if fi := got[d.Path("logs/f03.log")]; fi == nil || fi.Size() != 9 {
		t.Errorf("a file truncated and written again: %v", fi)
	}
	if n := len(got); n != 49 {
		t.Errorf("found %d files, want 49", n)
	}

	// Read again once the directory is settled: the new name is kept.
	settle()
	s.Scan()
	if _, ok := s.Scan().Files[d.Path("logs/new.log")]; !ok {
		t.Error("a file added before the directory settled is not found by a scan that reuses the listing")
	}
}

// A scan told of writes by a watch takes the files' FileInfos as they were,
// once the directory was under the same watch at the scan before; it looks
// at every file when asked to, or when the watch is another one.
func TestScannerTrustsWatchedDirectories(t *testing.T) {
	d := testfs.New(t)
	d.Write("logs/app.log", "x\n")
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(d.Path("logs"), old, old); err != nil {
		t.Fatal(err)
	}
	s, err := NewScanner([]string{d.Path("logs/*.log")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := uint64(1)
	watch := func(string) uint64 { return id }
	var written map[string]struct{}
	size := func(all bool) int64 {
		t.Helper()
		fi := s.scan(watch, all, written).Files[d.Path("logs/app.log")]
		if fi == nil {
			t.Fatal("app.log not found")
		}
		return fi.Size()
	}
	size(false) // listed
	size(false) // the same listing, first seen watched: looked at
	d.Append("logs/app.log", "y\n")
	if got := size(false); got != 2 {
		t.Errorf("size = %d, want the last one seen (2): the watch tells of writes", got)
	}
	if got := size(true); got != 4 {
		t.Errorf("size = %d, want 4 when every file is looked at", got)
	}
	d.Append("logs/app.log", "v\n")
	written = map[string]struct{}{d.Path("logs/app.log"): {}}
	if got := size(false); got != 6 {
		t.Errorf("size = %d, want 6 for a file the caller was told was written", got)
	}
	written = nil
	d.Append("logs/app.log", "z\n")
	id = 2 // watched anew: what happened in between was told to no one
	if got := size(false); got != 8 {
		t.Errorf("size = %d, want 8 under another watch", got)
	}
	d.Append("logs/app.log", "w\n")
	if got := s.Scan().Files[d.Path("logs/app.log")].Size(); got != 10 {
		t.Errorf("Scan: size = %d, want 10", got)
	}
}
