package tailer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/testfs"
)

// rewrittenAtRead is a file that is truncated and written again, past the
// reader's offset, just before the read at offset at: what a copytruncate
// and the application's next writes do if they fall between the reader's
// look at the file and its read.
type rewrittenAtRead struct {
	*os.File
	at      int64
	rewrite func()
}

func (f *rewrittenAtRead) ReadAt(p []byte, off int64) (int, error) {
	if f.rewrite != nil && off == f.at && len(p) > markerLen {
		f.rewrite()
		f.rewrite = nil
	}
	return f.File.ReadAt(p, off)
}

func TestReaderTruncatedBetweenCheckAndRead(t *testing.T) {
	lines := func(prefix string, n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "%s-%d %s\n", prefix, i, strings.Repeat("x", 40))
		}
		return b.String()
	}
	for _, tc := range []struct {
		name    string
		partial string // left unterminated by the first read
	}{
		{"at a line end", ""},
		{"with a partial line waiting", "a-9 xxxx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testfs.New(t)
			old := lines("a", 3) + tc.partial
			d.Write("f", old)
			var rf *rewrittenAtRead
			s := newSyncReaderOn(t, d.Path("f"), testOpts(), func(f *os.File) file {
				rf = &rewrittenAtRead{File: f}
				return rf
			})
			s.read()
			first := s.lines()
			if len(first) != 3 {
				t.Fatalf("first read: %v", first)
			}
			// The file grows; by the read, it was truncated and holds
			// new lines past the offset.
			d.Append("f", "tail of a-9, or a-10\n")
			rf.at = int64(len(old))
			rf.rewrite = func() {
				d.Truncate("f", 0)
				d.Append("f", lines("b", 10))
			}
			if err := s.r.checkTruncation(); err != nil {
				t.Fatalf("before the rewrite: %v", err)
			}
			if _, err := s.r.readAvailable(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := s.lines(); len(got) != len(first) {
				t.Fatalf("read the new generation on as the old one: %v", got[len(first):])
			}
			if err := s.r.checkTruncation(); !errors.Is(err, errTruncated) {
				t.Fatalf("checkTruncation after the read = %v, want errTruncated", err)
			}
		})
	}
}

// A reader parks as soon as it is idle while other files wait for a
// descriptor, without the wait after which it looks at its file again: a
// file cut to nothing before the reader's first read must be found
// truncated, not parked as read to its end. Parked, nothing looked at it
// again (its size stayed what the park saw), and the generation's lines,
// in the copy a copytruncate left, were never read nor reported lost.
func TestReaderTruncatedBeforeFirstReadUnderPressure(t *testing.T) {
	d := testfs.New(t)
	d.Write("app.log", strings.Repeat("a line\n", 100))
	o := testOpts()
	o.idleClose = time.Hour
	var pressure atomic.Bool
	pressure.Store(true)
	o.pressure = &pressure
	s := newSyncReader(t, d.Path("app.log"), o)
	if err := os.Truncate(d.Path("app.log"), 0); err != nil {
		t.Fatal(err)
	}
	err := s.r.run(context.Background(), func(*reader) bool { return false })
	if !errors.Is(err, errTruncated) {
		t.Errorf("run = %v, want errTruncated", err)
	}
}
