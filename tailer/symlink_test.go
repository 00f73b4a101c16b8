package tailer

import (
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/kinetail/kinetail/internal/testfs"
)

// logTo returns a debug-level logger writing text to buf.
func logTo(buf *testfs.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// A link in a followed directory to a file outside the globs (as if an
// attacker replaced x.log with a link to /etc/shadow) is read only with
// symlinks: follow; otherwise it is refused with one WARN naming link and
// target, however many scans see it.
func TestTailerSymlinkPolicy(t *testing.T) {
	tests := []struct {
		links Symlinks
		want  []string
	}{
		{LinksFollow, []string{"ok", "root:secret"}},
		{LinksWithin, []string{"ok"}},
		{LinksSkip, []string{"ok"}},
	}
	for _, tt := range tests {
		t.Run([]string{"within", "follow", "skip"}[tt.links], func(t *testing.T) {
			d := testfs.New(t)
			d.Write("logs/ok.log", "ok\n")
			d.Write("etc/shadow", "root:secret\n")
			d.Symlink(d.Path("etc/shadow"), "logs/x.log")
			var log testfs.Buffer
			h := start(t, Config{Paths: []string{d.Path("logs/*.log")}, Symlinks: tt.links, Logger: logTo(&log), StartAtEnd: false})
			h.waitTexts(len(tt.want))
			h.waitStat("three more scans", func(s Stats) bool { return s.Scans >= 4 })
			h.stop()
			sameSet(t, h.texts(), tt.want)
			warns := strings.Count(log.String(), "symbolic link not followed")
			if tt.links == LinksFollow {
				if warns != 0 {
					t.Errorf("%d warnings about links, want none", warns)
				}
				return
			}
			if warns != 1 {
				t.Errorf("%d warnings about the refused link over 4 scans, want 1:\n%s", warns, log.String())
			}
			if want := "path=" + d.Path("logs/x.log") + " target=" + d.Path("etc/shadow"); !strings.Contains(log.String(), want) {
				t.Errorf("log does not name link and target (%s):\n%s", want, log.String())
			}
		})
	}
}

// A link swapped to another file between the scan that accepted it and the
// open is not read: the file opened is checked against the one the scan
// resolved (device and inode), and the next scan refuses the new target.
func TestTailerSymlinkSwappedBeforeOpen(t *testing.T) {
	d := testfs.New(t)
	d.Write("pods/0.log", "ok\n")
	d.Write("etc/shadow", "root:secret\n")
	d.Symlink(d.Path("pods/0.log"), "logs/current.log")
	link := d.Path("logs/current.log")
	swapped := false
	cfg := Config{Paths: []string{d.Path("logs/*.log")}, AllowedRoots: []string{d.Path("pods")}}
	cfg.openFile = func(p string) (*os.File, error) {
		if p == link && !swapped {
			swapped = true
			if err := os.Remove(link); err != nil {
				return nil, err
			}
			if err := os.Symlink(d.Path("etc/shadow"), link); err != nil {
				return nil, err
			}
		}
		return os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	}
	var log testfs.Buffer
	cfg.Logger = logTo(&log)
	h := start(t, cfg)
	h.waitStat("scans after the swap", func(s Stats) bool { return s.Scans >= 4 })
	h.stop()
	if !swapped {
		t.Fatal("the link was never opened")
	}
	if got := h.texts(); len(got) != 0 {
		t.Fatalf("lines %q, want none: the link leads outside now", got)
	}
	if !strings.Contains(log.String(), "symbolic link not followed") {
		t.Errorf("the swapped link was not refused by the next scan:\n%s", log.String())
	}
}

// A FIFO (or a directory) matched by a glob is skipped with one debug line,
// and never blocks the tailer: the regular file beside it is read, and Run
// stops promptly.
func TestTailerSkipsFIFO(t *testing.T) {
	d := testfs.New(t)
	if err := syscall.Mkfifo(d.Path("pipe.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.Mkdir("dir.log")
	d.Write("app.log", "one\n")
	var log testfs.Buffer
	h := start(t, Config{Paths: []string{d.Path("*.log")}, Logger: logTo(&log)})
	h.waitTexts(1)
	h.waitStat("three more scans", func(s Stats) bool { return s.Scans >= 4 })
	d.Append("app.log", "two\n")
	h.waitTexts(2)
	h.stop()
	for _, p := range []string{"pipe.log", "dir.log"} {
		if n := strings.Count(log.String(), `msg="not a regular file; skipped" flow="" path=`+d.Path(p)); n != 1 {
			t.Errorf("%d debug lines for %s, want 1:\n%s", n, p, log.String())
		}
	}
	if s := h.tl.Stats(); s.OpenErrors != 0 {
		t.Errorf("OpenErrors = %d, want 0: a FIFO is not opened", s.OpenErrors)
	}
}
