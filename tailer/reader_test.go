package tailer

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/kinetail/kinetail/internal/testfs"
)

// gotLine is a Line copied out of its batch, for comparisons.
type gotLine struct {
	Start, End int64
	Text       string
	Truncated  bool
}

func (l gotLine) String() string {
	return fmt.Sprintf("[%d,%d) %q trunc=%v", l.Start, l.End, l.Text, l.Truncated)
}

func testOpts() readerOpts {
	return readerOpts{
		maxLine:    1 << 20,
		batchLines: DefaultBatchLines,
		batchBytes: DefaultBatchBytes,
		readBuf:    defaultReadBuf,
	}
}

// syncReader drives a reader from the test goroutine, without a Tailer.
type syncReader struct {
	t       testing.TB
	r       *reader
	batches []Batch
}

func newSyncReader(t testing.TB, path string, o readerOpts) *syncReader {
	t.Helper()
	return newSyncReaderOn(t, path, o, func(f *os.File) file { return f })
}

// newSyncReaderOn is newSyncReader reading through wrap(the file).
func newSyncReaderOn(t testing.TB, path string, o readerOpts, wrap func(*os.File) file) *syncReader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	id, err := Identify(f)
	if err != nil {
		t.Fatal(err)
	}
	s := &syncReader{t: t}
	s.r = newReader(&o, &counters{}, slog.New(slog.DiscardHandler), wrap(f), id.key(),
		&Source{Path: path, ID: id}, 0, func(_ context.Context, b Batch) error {
			s.batches = append(s.batches, b)
			return nil
		})
	return s
}

func (s *syncReader) read() {
	s.t.Helper()
	if _, err := s.r.readAvailable(context.Background()); err != nil {
		s.t.Fatal(err)
	}
}

func (s *syncReader) flushPartial() {
	s.t.Helper()
	if err := s.r.flushPartial(context.Background()); err != nil {
		s.t.Fatal(err)
	}
}

// lines checks the batch invariants and returns all lines in order.
func (s *syncReader) lines() []gotLine {
	s.t.Helper()
	return checkBatches(s.t, s.batches)
}

func checkBatches(t testing.TB, batches []Batch) []gotLine {
	t.Helper()
	var out []gotLine
	var next int64
	for i, b := range batches {
		if b.End <= b.Start {
			t.Fatalf("batch %d covers nothing: [%d, %d)", i, b.Start, b.End)
		}
		var held int64
		for _, l := range b.Lines {
			held += int64(len(l.Bytes))
		}
		// Skipped header lines may precede the first line, or be all
		// the batch covers.
		if b.Size < held || (len(b.Lines) > 0 && (b.Start > b.Lines[0].Start || b.End != b.Lines[len(b.Lines)-1].End)) {
			t.Fatalf("batch %d: Start %d End %d Size %d do not match its lines (%d bytes)", i, b.Start, b.End, b.Size, held)
		}
		if i > 0 && b.Start != next {
			t.Fatalf("batch %d starts at %d, previous ended at %d", i, b.Start, next)
		}
		for j, l := range b.Lines {
			if j > 0 && l.Start != b.Lines[j-1].End {
				t.Fatalf("batch %d line %d starts at %d, previous ended at %d", i, j, l.Start, b.Lines[j-1].End)
			}
			if cap(l.Bytes) != len(l.Bytes) {
				t.Fatalf("batch %d line %d: appending to Bytes would overwrite the next line", i, j)
			}
			out = append(out, gotLine{l.Start, l.End, string(l.Bytes), l.Truncated})
		}
		next = b.End
	}
	return out
}

// wantLines is the reference splitter: every line of content (the last one
// only if flushPartial), with maxLine applied.
func wantLines(content []byte, maxLine int, partial bool) []gotLine {
	var out []gotLine
	var start int64
	for len(content) > 0 {
		i := bytes.IndexByte(content, '\n')
		n := i + 1
		if i < 0 {
			if !partial {
				break
			}
			i, n = len(content), len(content)
		}
		text := content[:i]
		trunc := len(text) > maxLine
		if trunc {
			text = text[:maxLine]
		}
		out = append(out, gotLine{start, start + int64(n), string(text), trunc})
		start += int64(n)
		content = content[n:]
	}
	return out
}

func equalLines(t testing.TB, got, want []gotLine) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("line %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}

func TestReaderLines(t *testing.T) {
	tests := []struct {
		name       string
		content    string
		readBuf    int
		batchLines int
		maxLine    int
		want       []gotLine
	}{
		{
			name:    "exact offsets",
			content: "a\nbb\n\nccc\n",
			want:    []gotLine{{0, 2, "a", false}, {2, 5, "bb", false}, {5, 6, "", false}, {6, 10, "ccc", false}},
		},
		{
			name:    "lines across read-buffer boundaries",
			content: "hello world\nsecond line here\nx\n",
			readBuf: 5,
			want:    []gotLine{{0, 12, "hello world", false}, {12, 29, "second line here", false}, {29, 31, "x", false}},
		},
		{
			name:    "read buffer of one byte",
			content: "ab\ncd\n",
			readBuf: 1,
			want:    []gotLine{{0, 3, "ab", false}, {3, 6, "cd", false}},
		},
		{
			name:    "carriage return is kept, invalid UTF-8 and NUL pass through",
			content: "win\r\n\xff\xfe\x00bad\x00\n\x00\n",
			want:    []gotLine{{0, 5, "win\r", false}, {5, 13, "\xff\xfe\x00bad\x00", false}, {13, 15, "\x00", false}},
		},
		{
			name:    "an unterminated last line waits",
			content: "done\npart",
			want:    []gotLine{{0, 5, "done", false}},
		},
		{
			name:    "long lines are cut, the rest skipped up to the newline",
			content: "0123456789\nabc\n01234\n",
			maxLine: 4,
			readBuf: 3,
			want:    []gotLine{{0, 11, "0123", true}, {11, 15, "abc", false}, {15, 21, "0123", true}},
		},
		{
			name:       "small batches stay contiguous",
			content:    "1\n2\n3\n4\n5\n",
			batchLines: 2,
			want:       []gotLine{{0, 2, "1", false}, {2, 4, "2", false}, {4, 6, "3", false}, {6, 8, "4", false}, {8, 10, "5", false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testfs.New(t)
			d.Write("f", tt.content)
			o := testOpts()
			if tt.readBuf > 0 {
				o.readBuf = tt.readBuf
			}
			if tt.batchLines > 0 {
				o.batchLines = tt.batchLines
			}
			if tt.maxLine > 0 {
				o.maxLine = tt.maxLine
			}
			s := newSyncReader(t, d.Path("f"), o)
			s.read()
			equalLines(t, s.lines(), tt.want)
			if tt.batchLines > 0 && len(s.batches) < len(tt.want)/tt.batchLines {
				t.Errorf("%d batches for %d lines with BatchLines %d", len(s.batches), len(tt.want), tt.batchLines)
			}
		})
	}
}

func TestReaderPartialCompletedLater(t *testing.T) {
	d := testfs.New(t)
	d.Write("f", "abc")
	s := newSyncReader(t, d.Path("f"), testOpts())
	s.read()
	if len(s.batches) != 0 {
		t.Fatalf("partial line was sent: %v", s.lines())
	}
	d.Append("f", "def\nxy")
	s.read()
	equalLines(t, s.lines(), []gotLine{{0, 7, "abcdef", false}})
	s.flushPartial()
	equalLines(t, s.lines(), []gotLine{{0, 7, "abcdef", false}, {7, 9, "xy", false}})
	d.Append("f", "z\n")
	s.read()
	equalLines(t, s.lines(), []gotLine{{0, 7, "abcdef", false}, {7, 9, "xy", false}, {9, 11, "z", false}})
}

func TestReaderHugeLine(t *testing.T) {
	const maxLine = 1 << 20
	d := testfs.New(t)
	f := d.OpenAppend("f")
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for range 5 {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.WriteString("\nnext\nlast\n"); err != nil {
		t.Fatal(err)
	}
	o := testOpts()
	o.maxLine = maxLine
	s := newSyncReader(t, d.Path("f"), o)
	s.read()
	if c := cap(s.r.stage); c > maxLine+o.batchBytes+o.readBuf {
		t.Errorf("staging buffer grew to %d bytes", c)
	}
	got := s.lines()
	const end = 5<<20 + 1
	equalLines(t, got[1:], []gotLine{{end, end + 5, "next", false}, {end + 5, end + 10, "last", false}})
	if h := got[0]; h.Start != 0 || h.End != end || len(h.Text) != maxLine || !h.Truncated {
		t.Fatalf("huge line: [%d,%d) %d bytes truncated=%v", h.Start, h.End, len(h.Text), h.Truncated)
	}
}

func FuzzReaderChunking(f *testing.F) {
	f.Add([]byte("a\nbb\nccc"), []byte{1, 2, 3})
	f.Add([]byte("0123456789abcdef\n\n\r\n\x00\xff\n"), []byte{16, 1, 0, 7})
	f.Add([]byte("no newline at all"), []byte{5})
	f.Fuzz(func(t *testing.T, content, chunks []byte) {
		content = content[:min(len(content), 1<<16)]
		o := testOpts()
		o.maxLine = 8
		o.readBuf = 5
		o.batchLines = 3
		o.batchBytes = 16
		d := testfs.New(t)
		d.Write("f", "")
		w := d.OpenAppend("f")
		s := newSyncReader(t, d.Path("f"), o)
		rest := content
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if i < len(chunks) {
				n = min(n, int(chunks[i])+1)
			}
			if _, err := w.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
			s.read()
		}
		s.flushPartial()
		equalLines(t, s.lines(), wantLines(content, o.maxLine, true))
	})
}

func BenchmarkReader(b *testing.B) {
	d := testfs.New(b)
	line := strings.Repeat("x", 99) + "\n"
	const n = 100_000
	d.Write("f", strings.Repeat(line, n))
	f, err := os.Open(d.Path("f"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	o := testOpts()
	var lines int
	b.SetBytes(int64(n * len(line)))
	b.ReportAllocs()
	for b.Loop() {
		r := newReader(&o, &counters{}, slog.New(slog.DiscardHandler), f, devIno{}, &Source{}, 0,
			func(_ context.Context, b Batch) error { lines += len(b.Lines); return nil })
		if _, err := r.readAvailable(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
}

// heldBudget is a Budget that never waits and counts what is held.
type heldBudget struct{ held int64 }

func (b *heldBudget) Acquire(_ context.Context, n int64) error { b.held += n; return nil }
func (b *heldBudget) TryAcquire(n int64) bool                  { b.held += n; return true }
func (b *heldBudget) Release(n int64)                          { b.held -= n }

// The last batch of a file read in a backlog holds budget for its own few
// lines, not for the room of a whole batch (640 KiB here) the reader would
// take without knowing that the file ends sooner: a thousand files ending
// at once would otherwise hold the flow's budget with a few lines each,
// and reading would wait on a sink that waits for more lines. What the reader and its batches hold is still
// exactly what they took.
func TestReaderShortLastBatch(t *testing.T) {
	line := strings.Repeat("x", 99) + "\n"
	tests := []struct {
		name  string
		lines int
		tail  string // unterminated, left staged
	}{
		{"a hundred lines after a full batch", DefaultBatchLines + 100, ""},
		{"and a partial line", DefaultBatchLines + 100, "partial"},
		{"one line", DefaultBatchLines + 1, ""},
	}
	for _, tt := range tests {
		for _, recycled := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/recycled=%v", tt.name, recycled), func(t *testing.T) {
				d := testfs.New(t)
				d.Write("app.log", strings.Repeat(line, tt.lines)+tt.tail)
				o := testOpts()
				var budget heldBudget
				o.budget = &budget
				if recycled {
					o.recycle = &recycler{size: o.batchBytes, maxLines: o.batchLines, keep: 4}
				}
				s := newSyncReader(t, d.Path("app.log"), o)
				s.read()
				if got := len(s.lines()); got != tt.lines {
					t.Fatalf("%d lines read, want %d", got, tt.lines)
				}
				var sizes int64
				for _, b := range s.batches {
					sizes += b.Size
				}
				if sizes+s.r.held != budget.held {
					t.Errorf("batches hold %d and the reader %d, but %d is taken", sizes, s.r.held, budget.held)
				}
				last := s.batches[len(s.batches)-1]
				n := int64(len(last.Lines))
				// Its lines, and at most the rest of the read that ended
				// the batch before it (split into this one's stage),
				// rounded up to a size recycled buffers fit: at most a
				// quarter more.
				rest := int64(defaultReadBuf) + (defaultReadBuf/int64(len(line))+1)*lineBytes
				if most := (n*(int64(len(line))+lineBytes) + rest + 4<<10) * 5 / 4; last.Size > most {
					t.Errorf("the last batch of %d lines holds %d bytes of budget, want at most %d", n, last.Size, most)
				}
			})
		}
	}
}

// The last batch of a file fits the recycled buffer of another file's
// last batch a little shorter: sized exactly to what each file held, the
// last batches of a thousand files of a few hundred KB fitted no recycled
// buffer, and each was allocated and collected.
func TestReaderLastBatchReusesRecycled(t *testing.T) {
	line := strings.Repeat("x", 99) + "\n"
	d := testfs.New(t)
	d.Write("a.log", strings.Repeat(line, DefaultBatchLines+900))
	d.Write("b.log", strings.Repeat(line, DefaultBatchLines+950))
	o := testOpts()
	o.recycle = &recycler{size: o.batchBytes, maxLines: o.batchLines, keep: 4}
	a := newSyncReader(t, d.Path("a.log"), o)
	a.read()
	for _, b := range a.batches {
		o.recycle.putBuffer(b.buf)
	}
	b := newSyncReader(t, d.Path("b.log"), o)
	b.read()
	if len(a.batches) != 2 || len(b.batches) != 2 {
		t.Fatalf("%d and %d batches, want 2 each", len(a.batches), len(b.batches))
	}
	for i := range 2 {
		if unsafe.SliceData(b.batches[i].buf) != unsafe.SliceData(a.batches[i].buf) {
			t.Errorf("batch %d of b.log was read into a new buffer of %d bytes, not a.log's of %d", i, cap(b.batches[i].buf), cap(a.batches[i].buf))
		}
	}
}

// A generation the checkpoint does not know waits for its save before its
// first read, holding no budget: files starting at once then all go on
// after one save, instead of as many as the budget holds with their first
// batches read. Its lines are still handed on only after the save.
func TestReaderSyncsBeforeFirstRead(t *testing.T) {
	d := testfs.New(t)
	d.Write("app.log", strings.Repeat("a line\n", 1000))
	o := testOpts()
	var budget heldBudget
	o.budget = &budget
	var s *syncReader
	syncs := 0
	o.hooks.Sync = func(context.Context) error {
		syncs++
		if budget.held != 0 || s.r.off != 0 || len(s.batches) != 0 {
			t.Errorf("the save was waited for holding %d bytes of budget, at offset %d, after %d batches", budget.held, s.r.off, len(s.batches))
		}
		return nil
	}
	s = newSyncReader(t, d.Path("app.log"), o)
	s.r.sync = true
	s.read()
	if syncs != 1 {
		t.Errorf("%d saves waited for, want 1", syncs)
	}
	if got := len(s.lines()); got != 1000 {
		t.Errorf("%d lines, want 1000", got)
	}
}

// TestReaderWidensBeforeHandingOn checks that every batch is handed on
// only once the checkpoint can name its generation by all the bytes of its
// first KiB the batches cover. A fingerprint left at the bytes the file
// held when it was opened (one byte of a partial line, say) matches a file
// re-created on the same inode that starts alike, and the lines handed on
// but not yet delivered would be lost without a warning after a restart.
func TestReaderWidensBeforeHandingOn(t *testing.T) {
	long := strings.Repeat("z", 2000) + "\n"
	tests := []struct {
		name       string
		opened     string   // the file when its identity is taken
		appends    []string // written after, one read each
		wantWidths []int    // the fingerprints published, in order
	}{
		{"opened empty", "", []string{"b-1 first\n"}, []int{10}},
		{"opened at one byte of a partial line", "b", []string{"-78 xx\n"}, []int{8}},
		{"widened again as it grows", "short\n", []string{"second\n", "third\n"}, []int{13, 19}},
		{"to a full fingerprint", "b", []string{"-1\n", long}, []int{4, FingerprintSize}},
		{"opened with a full fingerprint", long, []string{"more\n"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testfs.New(t)
			d.Write("app.log", tt.opened)
			o := testOpts()
			var published, durable FileID
			var widths []int
			o.hooks.OnWiden = func(_ *Source, id FileID) {
				published = id
				widths = append(widths, id.FingerprintLen)
			}
			o.hooks.Sync = func(context.Context) error {
				durable = published
				return nil
			}
			s := newSyncReader(t, d.Path("app.log"), o)
			durable = s.r.id // as if saved when the reader was opened
			content := tt.opened
			s.r.emit = func(_ context.Context, b Batch) error {
				want := min(int(b.End), FingerprintSize)
				if durable.FingerprintLen < want || durable.Fingerprint != fnv1a([]byte(content[:durable.FingerprintLen])) {
					t.Errorf("batch [%d,%d) handed on while the checkpoint's fingerprint covers %d bytes, want %d",
						b.Start, b.End, durable.FingerprintLen, want)
				}
				s.batches = append(s.batches, b)
				return nil
			}
			s.read()
			for _, a := range tt.appends {
				d.Append("app.log", a)
				content += a
				s.read()
			}
			if !slices.Equal(widths, tt.wantWidths) {
				t.Errorf("fingerprints published %v, want %v", widths, tt.wantWidths)
			}
			if got, want := len(s.lines()), strings.Count(content, "\n"); got != want {
				t.Errorf("%d lines, want %d", got, want)
			}
		})
	}
}
