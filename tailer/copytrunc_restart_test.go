package tailer

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kinetail/kinetail/internal/testfs"
)

// A file truncated by copytruncate while the agent was down: the rest after
// the saved offset is read from the rotated copy, then the new content from 0.
func TestCopyTruncateWhileStopped(t *testing.T) {
	for _, refill := range []bool{false, true} {
		name := map[bool]string{false: "new file shorter than the offset", true: "new file refilled past the offset"}[refill]
		t.Run(name, func(t *testing.T) {
			d := testfs.New(t)
			var old strings.Builder
			for i := 0; i < 200; i++ {
				old.WriteString("old line number " + string(rune('a'+i%26)) + "\n")
			}
			d.Write("app.log", old.String())
			f, err := os.Open(d.Path("app.log"))
			if err != nil {
				t.Fatal(err)
			}
			id, _ := Identify(f)
			off := int64(100 * len("old line number a\n")) // 100 lines acknowledged
			marker, _ := readMarker(f, off)
			f.Close()

			d.CopyTruncate("app.log", "app.log.1")
			fresh := "new-1\nnew-2\n"
			if refill {
				fresh = strings.Repeat("n", int(off)) + "\nnew-2\n"
			}
			d.Append("app.log", fresh)

			h := start(t, Config{
				Paths:     []string{d.Path("app.log")},
				Positions: []Position{{Path: d.Path("app.log"), ID: id, Offset: off, Marker: marker}},
			})
			got := h.waitTexts(102)
			h.stop()
			var fromCopy, fromNew []string
			for _, l := range got {
				if strings.HasPrefix(l, "old") {
					fromCopy = append(fromCopy, l)
				} else {
					fromNew = append(fromNew, l)
				}
			}
			if len(fromCopy) != 100 || len(fromNew) != 2 || !slices.Contains(fromNew, "new-2") {
				t.Fatalf("got %d lines from the copy (want the 100 after the offset) and %q from the new file", len(fromCopy), fromNew)
			}
		})
	}
}

// A file truncated while the agent was down, with no copy of it, after an
// earlier run had handed on lines past the saved offset that were never
// acknowledged: those lines are reported lost, as many bytes as that run
// read past the offset. The saved fingerprint covers only the first line
// (an older checkpoint's, or the file was that short when it was last
// identified), which the file holds again. (A file re-created on the same
// inode between the scan that decides on it and its open is found
// truncated by its reader instead: TestReopenedTruncatedKnowsWhatWasRead.)
func TestTruncatedWhileStoppedWithNoCopy(t *testing.T) {
	d := testfs.New(t)
	line := "old line, handed on and not acknowledged\n"
	d.Write("app.log", strings.Repeat(line, 100))
	f, err := os.Open(d.Path("app.log"))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := Identify(f)
	id = widen(id, line)
	off, read := int64(10*len(line)), int64(90*len(line))
	marker, _ := readMarker(f, off)
	f.Close()

	d.Truncate("app.log", 0)
	d.Append("app.log", line+"new-1\n")
	h := start(t, Config{
		Paths:     []string{d.Path("app.log")},
		Positions: []Position{{Path: d.Path("app.log"), ID: id, Offset: off, Read: read, Marker: marker}},
	})
	h.waitStat("the loss reported", func(s Stats) bool { return s.CopyTruncateLost != 0 || s.Lost != 0 })
	h.stop()
	if s := h.tl.Stats(); s.CopyTruncateLost+s.LostBytes != read-off {
		t.Errorf("%d bytes reported lost (%+v), want the %d bytes read past the offset", s.CopyTruncateLost+s.LostBytes, s, read-off)
	}
}

// A file re-created on the same inode between the scan that decided to
// resume its generation and the open: the reader finds it truncated at
// once, and the generation it ends with knows the file held what an
// earlier run read of it, so that the bytes handed on past the saved
// offset and never acknowledged are counted lost if no copy holds them
// (see account).
func TestReopenedTruncatedKnowsWhatWasRead(t *testing.T) {
	d := testfs.New(t)
	d.Write("app.log", "new\n") // what the re-created file holds now
	fi, err := os.Stat(d.Path("app.log"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := keyOf(fi)
	const off, read = 400, 3600
	id := FileID{Dev: key.dev, Inode: key.ino, Fingerprint: 1, FingerprintLen: 100}
	tl, err := New(fast(Config{Paths: []string{d.Path("app.log")}}))
	if err != nil {
		t.Fatal(err)
	}
	tl.watcher = &watcher{soon: make(chan struct{}, 1)} // what Run would start: the truncation asks it for a scan
	g := &gen{pos: Position{Path: d.Path("app.log"), ID: id, Offset: off, Read: read}}
	s := &opening{path: d.Path("app.log"), key: key, id: id, off: off, g: g,
		src: &Source{Path: d.Path("app.log"), ID: id}, ended: make(chan struct{}), once: new(sync.Once)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	if !tl.begin(ctx, s, &wg) {
		t.Fatal("begin found no descriptor")
	}
	wg.Wait() // the reader ends: its file is shorter than the offset
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if len(tl.ended) != 1 {
		t.Fatalf("%d generations ended, want 1", len(tl.ended))
	}
	if g := tl.ended[0]; !g.truncated || g.size != read {
		t.Fatalf("ended truncated=%v, known to %d bytes; want truncated, known to the %d an earlier run read", g.truncated, g.size, read)
	}
}
