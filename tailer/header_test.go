package tailer

import (
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/testfs"
)

func TestTailerSkipHeaderLines(t *testing.T) {
	const content = "h1,h2\nr1\nr2\n"
	tests := []struct {
		name    string
		skip    int
		offset  int64 // resume point; 0 reads from the start
		want    []string
		headers bool // Config.Headers: each batch carries the first line
	}{
		{"header lines are not sent", 1, 0, []string{"r1", "r2"}, true},
		{"no skipping keeps the header as a line", 0, 0, []string{"h1,h2", "r1", "r2"}, true},
		{"resumed after the header", 1, 6, []string{"r1", "r2"}, true},
		{"resumed inside the header lines skips the rest of them", 2, 6, []string{"r2"}, true},
		{"resumed past the header lines", 1, 9, []string{"r2"}, true},
		{"a file of only header lines", 5, 0, nil, true},
		{"resumed past the header lines, no header kept", 1, 9, []string{"r2"}, false},
		{"resumed, no header lines, no header kept", 0, 6, []string{"r1", "r2"}, false},
		{"from the start, no header kept", 0, 0, []string{"h1,h2", "r1", "r2"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testfs.New(t)
			d.Write("a.csv", content)
			cfg := Config{Paths: []string{d.Path("a.csv")}, SkipHeaderLines: tt.skip, Headers: tt.headers}
			if tt.offset > 0 {
				cfg.Positions = []Position{{ID: identify(t, d.Path("a.csv")), Offset: tt.offset}}
			}
			h := start(t, cfg)
			testfs.Wait(t, waitFor, "the whole file", func() bool {
				h.mu.Lock()
				defer h.mu.Unlock()
				n := len(h.batches)
				return n > 0 && h.batches[n-1].End == int64(len(content))
			})
			h.stop()
			if got := h.texts(); !slices.Equal(got, tt.want) {
				t.Fatalf("lines: got %q, want %q", got, tt.want)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if b := h.batches[0]; b.Start != tt.offset {
				t.Errorf("first batch starts at %d, want %d: skipped lines must be covered", b.Start, tt.offset)
			}
			for _, b := range h.batches {
				if tt.headers && string(b.Header) != "h1,h2" {
					t.Errorf("Header = %q, want the first line", b.Header)
				}
				if !tt.headers && b.Header != nil {
					t.Errorf("Header = %q without Config.Headers, want nil", b.Header)
				}
			}
		})
	}
}

func TestTailerHeaderAfterTruncation(t *testing.T) {
	d := testfs.New(t)
	d.Write("a.csv", "a,b\n1\n")
	h := start(t, Config{Paths: []string{d.Path("a.csv")}, SkipHeaderLines: 1, Headers: true})
	h.waitTexts(1)
	d.Truncate("a.csv", 0)
	d.Append("a.csv", "x,y,z\n2\n")
	h.waitTexts(2)
	h.stop()
	if got := h.texts(); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("got %q", got)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var headers []string
	for _, b := range h.batches {
		headers = append(headers, string(b.Header))
	}
	if headers[0] != "a,b" || headers[len(headers)-1] != "x,y,z" {
		t.Fatalf("headers per batch: %q", headers)
	}
}

func TestReaderMarker(t *testing.T) {
	d := testfs.New(t)
	var b strings.Builder
	for i := range 300 {
		b.WriteString(strings.Repeat("m", i%90) + "\n")
	}
	d.Write("f", b.String())
	for _, rb := range []int{7, 64, 100, 4096} {
		for _, lines := range []int{1, 3, 50} {
			o := testOpts()
			o.readBuf, o.batchLines = rb, lines
			s := newSyncReader(t, d.Path("f"), o)
			s.read()
			f := openFile(t, d.Path("f"))
			for _, bt := range s.batches {
				want, err := readMarker(f, bt.End)
				if err != nil {
					t.Fatal(err)
				}
				if bt.Marker != want {
					t.Fatalf("readBuf %d: marker of batch ending at %d = %x, want %x", rb, bt.End, bt.Marker, want)
				}
			}
		}
	}
}

func TestReaderHugeLineMemory(t *testing.T) {
	const maxLine = 1 << 20
	d := testfs.New(t)
	d.Write("big", "")
	d.Truncate("big", 64<<20) // 64 MiB without a newline (sparse)
	d.Append("big", "\nafter\n")
	o := testOpts()
	o.maxLine = maxLine
	s := newSyncReader(t, d.Path("big"), o)
	s.read()
	if c := cap(s.r.stage); c > 2*maxLine {
		t.Fatalf("staging buffer grew to %d bytes for a line cut at %d", c, maxLine)
	}
	got := s.lines()
	if len(got) != 2 || !got[0].Truncated || len(got[0].Text) != maxLine || got[0].End != 64<<20+1 ||
		got[1].Text != "after" {
		t.Fatalf("got %d lines: first truncated=%v len=%d end=%d", len(got), got[0].Truncated, len(got[0].Text), got[0].End)
	}
}

func TestTailerFingerprintWidens(t *testing.T) {
	d := testfs.New(t)
	d.Write("app.log", "short\n")
	var mu sync.Mutex
	var ids []FileID
	cfg := Config{Paths: []string{d.Path("app.log")}}
	cfg.Hooks.OnWiden = func(_ *Source, id FileID) {
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
	}
	h := start(t, cfg)
	h.waitTexts(1)
	d.Append("app.log", "second line\n")
	h.waitTexts(2)
	d.Append("app.log", strings.Repeat("z", 2000)+"\n")
	h.waitTexts(3)
	h.stop()
	mu.Lock()
	defer mu.Unlock()
	if len(ids) == 0 {
		t.Fatal("OnWiden was never called")
	}
	last := ids[len(ids)-1]
	if want := identify(t, d.Path("app.log")); last != want || last.FingerprintLen != FingerprintSize {
		t.Fatalf("last identity %v, want %v", last, want)
	}
}

func TestMatchesSharedHeader(t *testing.T) {
	// Two CSV files with the same first 100 bytes on one inode (deleted
	// and re-created): a checkpoint of the first does not resume the
	// second once the fingerprint reaches past the header.
	header := strings.Repeat("col,", 24) + "end\n" // 100 bytes
	d := testfs.New(t)
	d.Write("a.csv", header+strings.Repeat("row of the first file\n", 60))
	f := openFile(t, d.Path("a.csv"))
	first, err := Identify(f)
	if err != nil {
		t.Fatal(err)
	}
	headerOnly := first
	headerOnly.FingerprintLen = 100
	headerOnly.Fingerprint = fnv1a([]byte(header))
	// Rewrite in place: same inode, same header, other rows.
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	d.Truncate("a.csv", 0)
	d.Append("a.csv", header+strings.Repeat("the second file's row\n", 60))
	second := openFile(t, d.Path("a.csv"))
	tests := []struct {
		name string
		id   FileID
		want bool
	}{
		{"a full fingerprint tells them apart", first, false},
		{"a fingerprint of 200 bytes tells them apart", widen(first, header+"row of the first file\n"), false},
		{"a fingerprint of the header alone cannot", headerOnly, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Matches(second, tt.id)
			if err != nil || got != tt.want {
				t.Fatalf("Matches = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// widen returns id with a fingerprint of the given leading content.
func widen(id FileID, prefix string) FileID {
	id.FingerprintLen = len(prefix)
	id.Fingerprint = fnv1a([]byte(prefix))
	return id
}

func TestTailerEdgeCases(t *testing.T) {
	t.Run("a symbolic link is identified by its target", func(t *testing.T) {
		d := testfs.New(t)
		d.Write("real/app.log", "one\n")
		d.Symlink(d.Path("real/app.log"), "app.log")
		h := start(t, Config{Paths: []string{d.Path("app.log")}, Symlinks: LinksFollow})
		h.waitTexts(1)
		h.stop()
		order, _ := h.sources()
		fi, err := os.Stat(d.Path("real/app.log"))
		if err != nil {
			t.Fatal(err)
		}
		if ino := fi.Sys().(*syscall.Stat_t).Ino; order[0].ID.Inode != ino {
			t.Fatalf("Source inode %d, target's %d", order[0].ID.Inode, ino)
		}
	})
	t.Run("a zero-length file is followed from its start", func(t *testing.T) {
		d := testfs.New(t)
		d.Write("app.log", "")
		h := start(t, Config{Paths: []string{d.Path("app.log")}, StartAtEnd: true})
		h.waitStat("open", func(s Stats) bool { return s.Files == 1 })
		d.Append("app.log", "first\n")
		h.waitTexts(1)
		h.stop()
	})
	t.Run("a directory removed and created again", func(t *testing.T) {
		d := testfs.New(t)
		d.Write("logs/app.log", "one\n")
		h := start(t, Config{Paths: []string{d.Path("logs/*.log")}, RescanInterval: 200 * time.Millisecond})
		h.waitTexts(1)
		d.Remove("logs/app.log")
		d.Remove("logs")
		h.waitStat("removal noticed", func(s Stats) bool { return s.Rotations == 1 })
		d.Write("logs/app.log", "two\n")
		h.waitTexts(2)
		d.Append("logs/app.log", "three\n")
		h.waitTexts(3)
		h.stop()
		sameSet(t, h.texts(), []string{"one", "two", "three"})
	})
}
