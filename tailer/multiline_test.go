package tailer

import (
	"bytes"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

// flushOp in a test's input calls Flush instead of adding a line.
const flushOp = "<flush>"

var (
	timestampStart = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} `)
	indentContinue = regexp.MustCompile(`^(\s|Caused by:)`)
)

// testLines turns the lines of an input (flushOp left out) into Lines with
// contiguous offsets from 1000, as a reader would emit them. A truncated
// line covers 5 more file bytes than it holds, as the reader skipped them.
func testLines(in []string, truncated map[int]bool) []Line {
	var lines []Line
	off := int64(1000)
	for _, s := range in {
		if s == flushOp {
			continue
		}
		l := Line{Start: off, End: off + int64(len(s)) + 1, Bytes: []byte(s)}
		if truncated[len(lines)] {
			l.Truncated = true
			l.End += 5
		}
		lines = append(lines, l)
		off = l.End
	}
	return lines
}

// wantRecord is an expected record: lines [from, to) of the input joined,
// returned by the call for input index at.
type wantRecord struct {
	from, to  int
	at        int
	text      string
	truncated bool
}

func TestGrouper(t *testing.T) {
	stackTrace := []string{
		"2024-05-01 12:00:00 INFO started",
		"2024-05-01 12:00:01 ERROR request failed",
		"java.lang.IllegalStateException: boom",
		"\tat com.example.Handler.handle(Handler.java:42)",
		"\tat com.example.Server.run(Server.java:7)",
		"Caused by: java.io.IOException: reset",
		"\t... 3 more",
		"2024-05-01 12:00:02 INFO recovered",
		flushOp,
	}
	tests := []struct {
		name      string
		cfg       MultilineConfig
		in        []string
		truncated map[int]bool // by line index, flushOp not counted
		want      []wantRecord
	}{
		{
			name: "java stack trace with a timestamp start pattern",
			cfg:  MultilineConfig{Start: timestampStart},
			in:   stackTrace,
			want: []wantRecord{
				{0, 1, 1, stackTrace[0], false},
				{1, 7, 7, strings.Join(stackTrace[1:7], "\n"), false},
				{7, 8, 8, stackTrace[7], false},
			},
		},
		{
			name: "continuation pattern for indented lines",
			cfg:  MultilineConfig{Continue: indentContinue},
			in: []string{
				"ERROR request failed",
				"\tat a.B.c(B.java:1)",
				"  at d.E.f(E.java:2)",
				"Caused by: java.io.IOException",
				"\t... 1 more",
				"INFO next",
				"INFO last",
				flushOp,
			},
			want: []wantRecord{
				{0, 5, 5, "ERROR request failed\n\tat a.B.c(B.java:1)\n  at d.E.f(E.java:2)\nCaused by: java.io.IOException\n\t... 1 more", false},
				{5, 6, 6, "INFO next", false},
				{6, 7, 7, "INFO last", false},
			},
		},
		{
			name: "leading lines without a start line form one record",
			cfg:  MultilineConfig{Start: timestampStart},
			in:   []string{"\tat a.B.c(B.java:1)", "\t... 2 more", "2024-05-01 12:00:00 ERROR x", "\tat y", flushOp},
			want: []wantRecord{
				{0, 2, 2, "\tat a.B.c(B.java:1)\n\t... 2 more", false},
				{2, 4, 4, "2024-05-01 12:00:00 ERROR x\n\tat y", false},
			},
		},
		{
			name: "continuation line with nothing pending begins a record",
			cfg:  MultilineConfig{Continue: indentContinue},
			in:   []string{"\tat orphan", "\tat orphan2", "head", "\tat x", flushOp},
			want: []wantRecord{
				{0, 2, 2, "\tat orphan\n\tat orphan2", false},
				{2, 4, 4, "head\n\tat x", false},
			},
		},
		{
			name: "a line after a flush begins a record",
			cfg:  MultilineConfig{Start: timestampStart},
			in:   []string{"2024-05-01 12:00:00 ERROR x", "\tat a", flushOp, "\tat late", "2024-05-01 12:00:01 INFO y", flushOp},
			want: []wantRecord{
				{0, 2, 2, "2024-05-01 12:00:00 ERROR x\n\tat a", false},
				{2, 3, 4, "\tat late", false},
				{3, 4, 5, "2024-05-01 12:00:01 INFO y", false},
			},
		},
		{
			name: "flush with nothing pending returns nothing",
			cfg:  MultilineConfig{Start: timestampStart},
			in:   []string{flushOp, "2024-05-01 12:00:00 a", flushOp, flushOp},
			want: []wantRecord{{0, 1, 2, "2024-05-01 12:00:00 a", false}},
		},
		{
			name: "max lines finishes a full record at once",
			cfg:  MultilineConfig{Start: regexp.MustCompile(`^S`), MaxLines: 3},
			in:   []string{"S1", "a", "b", "c", "d", "S2", flushOp},
			want: []wantRecord{
				{0, 3, 2, "S1\na\nb", false},
				{3, 5, 5, "c\nd", false},
				{5, 6, 6, "S2", false},
			},
		},
		{
			name: "max lines one makes every line a record",
			cfg:  MultilineConfig{Start: regexp.MustCompile(`^S`), MaxLines: 1},
			in:   []string{"S1", "a", "S2", flushOp},
			want: []wantRecord{{0, 1, 0, "S1", false}, {1, 2, 1, "a", false}, {2, 3, 2, "S2", false}},
		},
		{
			name: "max bytes finishes the record a line does not fit",
			cfg:  MultilineConfig{Start: regexp.MustCompile(`^S`), MaxBytes: 10},
			// "S1\nabcdefgh" would be 11 bytes; "abcdefgh\nx" is exactly 10.
			in: []string{"S1", "abcdefgh", "x", "S3", "ab", flushOp},
			want: []wantRecord{
				{0, 1, 1, "S1", false},
				{1, 3, 2, "abcdefgh\nx", false},
				{3, 5, 5, "S3\nab", false},
			},
		},
		{
			name: "a record of exactly max bytes is finished at once",
			cfg:  MultilineConfig{Continue: indentContinue, MaxBytes: 6},
			in:   []string{"ab", " cd", " f", flushOp},
			want: []wantRecord{{0, 2, 1, "ab\n cd", false}, {2, 3, 3, " f", false}},
		},
		{
			name: "a line longer than max bytes is cut",
			cfg:  MultilineConfig{Start: regexp.MustCompile(`^S`), MaxBytes: 5},
			in:   []string{"S1", "S123456789", "S2", flushOp},
			want: []wantRecord{
				{0, 1, 1, "S1", false},
				{1, 2, 1, "S1234", true},
				{2, 3, 3, "S2", false},
			},
		},
		{
			name:      "a truncated line marks its record",
			cfg:       MultilineConfig{Start: regexp.MustCompile(`^S`)},
			in:        []string{"S1", "long", "S2", "S3", "x", flushOp},
			truncated: map[int]bool{1: true, 3: true},
			want: []wantRecord{
				{0, 2, 2, "S1\nlong", true},
				{2, 3, 3, "S2", false},
				{3, 5, 5, "S3\nx", true},
			},
		},
		{
			name: "empty lines are kept",
			cfg:  MultilineConfig{Start: regexp.MustCompile(`^S`)},
			in:   []string{"S1", "", "", "S2", "", flushOp},
			want: []wantRecord{{0, 3, 3, "S1\n\n", false}, {3, 5, 5, "S2\n", false}},
		},
		{
			name: "start pattern matching inside a line",
			cfg:  MultilineConfig{Start: regexp.MustCompile(`ERROR`)},
			in:   []string{"x ERROR a", "detail", "y ERROR b", flushOp},
			want: []wantRecord{{0, 2, 2, "x ERROR a\ndetail", false}, {2, 3, 3, "y ERROR b", false}},
		},
		{
			name: "no pattern makes every line a record",
			cfg:  MultilineConfig{},
			in:   []string{"a", "b", flushOp},
			want: []wantRecord{{0, 1, 1, "a", false}, {1, 2, 2, "b", false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := testLines(tt.in, tt.truncated)
			g := newGrouper(tt.cfg)
			type gotRecord struct {
				rec Line
				at  int
			}
			var got []gotRecord
			var out []Line
			n := 0
			for i, s := range tt.in {
				if s == flushOp {
					out = g.Flush(out[:0])
					if g.Pending() {
						t.Fatalf("Pending() = true after Flush")
					}
				} else {
					out = g.Add(out[:0], lines[n])
					n++
				}
				for _, r := range out {
					r.Bytes = bytes.Clone(r.Bytes) // valid only until the next call
					got = append(got, gotRecord{r, i})
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d records, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g, want := got[i], Line{
					Start:     lines[w.from].Start,
					End:       lines[w.to-1].End,
					Bytes:     []byte(w.text),
					Truncated: w.truncated,
				}
				if g.rec.Start != want.Start || g.rec.End != want.End || string(g.rec.Bytes) != w.text ||
					g.rec.Truncated != w.truncated || g.at != w.at {
					t.Errorf("record %d = %+v %q at input %d, want %+v %q at input %d",
						i, g.rec, g.rec.Bytes, g.at, want, want.Bytes, w.at)
				}
			}
		})
	}
}

// TestGrouperOffsets checks exact offsets against numbers worked out by
// hand, including a truncated line whose skipped bytes lie inside the
// record.
func TestGrouperOffsets(t *testing.T) {
	g := newGrouper(MultilineConfig{Start: regexp.MustCompile(`^S`)})
	var out []Line
	out = g.Add(out, Line{Start: 0, End: 3, Bytes: []byte("S1")})
	out = g.Add(out, Line{Start: 3, End: 20, Bytes: []byte("abc"), Truncated: true})
	out = g.Add(out, Line{Start: 20, End: 22, Bytes: []byte("d")})
	if len(out) != 0 || !g.Pending() {
		t.Fatalf("got %d records and Pending() = %v before a start line, want 0 and true", len(out), g.Pending())
	}
	out = g.Add(out, Line{Start: 22, End: 25, Bytes: []byte("S2")})
	want := Line{Start: 0, End: 22, Bytes: []byte("S1\nabc\nd"), Truncated: true}
	if len(out) != 1 || out[0].Start != want.Start || out[0].End != want.End ||
		string(out[0].Bytes) != string(want.Bytes) || out[0].Truncated != want.Truncated {
		t.Fatalf("Add returned %+v, want [%+v]", out, want)
	}
	out = g.Flush(out[:0])
	if len(out) != 1 || out[0].Start != 22 || out[0].End != 25 || string(out[0].Bytes) != "S2" || out[0].Truncated {
		t.Fatalf("Flush returned %+v, want the record [22, 25) S2", out)
	}
}

// TestGrouperRecordsOutliveTheirCall checks the documented lifetime: both
// records returned by one Add are intact when it returns, and appending to
// out keeps earlier entries.
func TestGrouperRecordsOutliveTheirCall(t *testing.T) {
	g := newGrouper(MultilineConfig{Start: regexp.MustCompile(`^S`), MaxLines: 1})
	out := []Line{{Bytes: []byte("earlier")}}
	out = g.Add(out, Line{Start: 0, End: 5, Bytes: []byte("S111")})
	if len(out) != 2 || string(out[0].Bytes) != "earlier" || string(out[1].Bytes) != "S111" {
		t.Fatalf("Add = %q, want [earlier S111]", texts(out))
	}

	// "S123456" finishes "Sab" and begins a record that is full at once:
	// two records from one call, one in each buffer.
	g = newGrouper(MultilineConfig{Start: regexp.MustCompile(`^S`), MaxBytes: 4})
	out = g.Add(nil, Line{Start: 0, End: 4, Bytes: []byte("Sab")})
	out = g.Add(out, Line{Start: 4, End: 12, Bytes: []byte("S123456")})
	if len(out) != 2 || string(out[0].Bytes) != "Sab" || string(out[1].Bytes) != "S123" || !out[1].Truncated {
		t.Fatalf("records = %q, want [Sab S123]", texts(out))
	}
	out = g.Add(out[:0], Line{Start: 12, End: 15, Bytes: []byte("S2")})
	out = g.Add(out, Line{Start: 15, End: 18, Bytes: []byte("S3")})
	if len(out) != 1 || string(out[0].Bytes) != "S2" || out[0].Start != 12 || out[0].End != 15 {
		t.Fatalf("records = %q, want [S2]", texts(out))
	}
}

// TestGrouperDoesNotRetainLines checks that the grouper copies what it
// keeps: the reader reuses its buffer for the next lines.
func TestGrouperDoesNotRetainLines(t *testing.T) {
	g := newGrouper(MultilineConfig{Start: regexp.MustCompile(`^S`)})
	buf := []byte("S1")
	g.Add(nil, Line{Start: 0, End: 3, Bytes: buf})
	copy(buf, "zz")
	out := g.Flush(nil)
	if len(out) != 1 || string(out[0].Bytes) != "S1" {
		t.Fatalf("Flush = %q after the caller reused its buffer, want [S1]", texts(out))
	}
}

func texts(recs []Line) []string {
	s := make([]string, len(recs))
	for i, r := range recs {
		s[i] = string(r.Bytes)
	}
	return s
}

func TestGrouperAllocs(t *testing.T) {
	tests := []struct {
		name string
		cfg  MultilineConfig
	}{
		{"start", MultilineConfig{Start: timestampStart, MaxLines: 500, MaxBytes: 1 << 20}},
		{"continue", MultilineConfig{Continue: indentContinue, MaxLines: 500, MaxBytes: 1 << 20}},
		{"max lines", MultilineConfig{Start: timestampStart, MaxLines: 2}},
	}
	lines := benchLines()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGrouper(tt.cfg)
			out := make([]Line, 0, 4)
			records := 0
			round := func() {
				for _, l := range lines {
					out = g.Add(out[:0], l)
					records += len(out)
				}
			}
			round() // grow the buffers
			bufs := g.bufs
			allocs := testing.AllocsPerRun(50, round)
			// The race detector makes sync.Pool drop items, so regexp
			// matching allocates its machines then; the buffers must stay
			// put either way.
			if !builtWithRace() && allocs != 0 {
				t.Fatalf("grouping %d lines allocates %v times, want 0", len(lines), allocs)
			}
			for i := range bufs {
				if cap(g.bufs[i]) != cap(bufs[i]) || &g.bufs[i][:1][0] != &bufs[i][:1][0] {
					t.Fatalf("buffer %d was reallocated in steady state", i)
				}
			}
			if records == 0 {
				t.Fatal("no record was finished")
			}
		})
	}
}

func builtWithRace() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// benchLines is a log with a stack trace after every third event.
func benchLines() []Line {
	var in []string
	for i := range 30 {
		in = append(in, "2024-05-01 12:00:00 INFO GET /api/v1/orders?id=12345 200 1532 12ms")
		if i%3 == 2 {
			in = append(in,
				"java.lang.IllegalStateException: order 12345 is locked",
				"\tat com.example.orders.Service.update(Service.java:181)",
				"\tat com.example.orders.Handler.handle(Handler.java:42)",
				"Caused by: java.util.concurrent.TimeoutException",
				"\t... 12 more")
		}
	}
	return testLines(in, nil)
}

func BenchmarkGrouper(b *testing.B) {
	lines := benchLines()
	for _, bb := range []struct {
		name string
		cfg  MultilineConfig
	}{
		{"start", MultilineConfig{Start: timestampStart, MaxLines: 500, MaxBytes: 1 << 20}},
		{"continue", MultilineConfig{Continue: indentContinue, MaxLines: 500, MaxBytes: 1 << 20}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			g := newGrouper(bb.cfg)
			out := make([]Line, 0, 4)
			var n int64
			for _, l := range lines {
				n += int64(len(l.Bytes)) + 1
			}
			b.SetBytes(n)
			b.ReportAllocs()
			for b.Loop() {
				for _, l := range lines {
					out = g.Add(out[:0], l)
				}
			}
			b.ReportMetric(float64(b.N)*float64(len(lines))/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// FuzzGrouper checks that grouping never loses, reorders or invents bytes:
// the records cover the input lines exactly once, in order, each record is
// its lines joined with '\n' (cut only when a single line exceeds MaxBytes),
// and no record is split or joined against the rules.
func FuzzGrouper(f *testing.F) {
	f.Add([]byte("S1\na\n b\nS2\n\nc"), uint8(0), uint16(0), false)
	f.Add([]byte("x\n y\n z\nw\n!t\n v"), uint8(2), uint16(5), true)
	f.Add([]byte("S123456\nS\n~\n\n\nSabc\nab"), uint8(3), uint16(4), false)
	f.Add([]byte(""), uint8(1), uint16(1), true)
	start := regexp.MustCompile(`^S`)
	cont := regexp.MustCompile(`^\s`)
	f.Fuzz(func(t *testing.T, data []byte, maxLines uint8, maxBytes uint16, useContinue bool) {
		cfg := MultilineConfig{Start: start, MaxLines: int(maxLines % 8), MaxBytes: int(maxBytes % 64)}
		begins := func(b []byte) bool { return start.Match(b) }
		if useContinue {
			cfg = MultilineConfig{Continue: cont, MaxLines: cfg.MaxLines, MaxBytes: cfg.MaxBytes}
			begins = func(b []byte) bool { return !cont.Match(b) }
		}
		// A line starting with '!' comes truncated from the reader, and a
		// '~' line is a Flush.
		var in []string
		trunc := map[int]bool{}
		nlines := 0
		for _, s := range strings.Split(string(data), "\n") {
			if s == "~" {
				in = append(in, flushOp)
				continue
			}
			if strings.HasPrefix(s, "!") {
				trunc[nlines] = true
			}
			in = append(in, s)
			nlines++
		}
		lines := testLines(in, trunc)
		flushedBefore := map[int]bool{} // line index -> a Flush came just before it

		g := newGrouper(cfg)
		var recs []Line
		var out []Line
		n := 0
		for _, s := range in {
			if s == flushOp {
				out = g.Flush(out[:0])
				flushedBefore[n] = true
			} else {
				out = g.Add(out[:0], lines[n])
				n++
			}
			for _, r := range out {
				r.Bytes = bytes.Clone(r.Bytes)
				recs = append(recs, r)
			}
		}
		for _, r := range g.Flush(nil) {
			r.Bytes = bytes.Clone(r.Bytes)
			recs = append(recs, r)
		}
		if g.Pending() {
			t.Fatal("Pending() after Flush")
		}

		li := 0 // next input line
		for i, r := range recs {
			if li >= len(lines) || r.Start != lines[li].Start {
				t.Fatalf("record %d %+v does not start at line %d", i, r, li)
			}
			first := li
			var joined []byte
			truncated := false
			for li < len(lines) && lines[li].End <= r.End {
				if li > first {
					joined = append(joined, '\n')
					if begins(lines[li].Bytes) {
						t.Fatalf("line %d %q begins a record but was joined to record %d", li, lines[li].Bytes, i)
					}
				}
				joined = append(joined, lines[li].Bytes...)
				truncated = truncated || lines[li].Truncated
				li++
			}
			if li == first || r.End != lines[li-1].End {
				t.Fatalf("record %d %+v does not end at a line's end", i, r)
			}
			if cfg.MaxLines > 0 && li-first > cfg.MaxLines {
				t.Fatalf("record %d has %d lines, max %d", i, li-first, cfg.MaxLines)
			}
			want := joined
			if cfg.MaxBytes > 0 && len(joined) > cfg.MaxBytes {
				if li-first != 1 {
					t.Fatalf("record %d of %d lines exceeds max bytes: %q", i, li-first, joined)
				}
				want, truncated = joined[:cfg.MaxBytes], true
			}
			if !bytes.Equal(r.Bytes, want) || r.Truncated != truncated {
				t.Fatalf("record %d = %q truncated %v, want %q truncated %v", i, r.Bytes, r.Truncated, want, truncated)
			}
			// A record ends before a line that does not begin one only
			// when a Flush came, or the line would not fit.
			if li < len(lines) && !begins(lines[li].Bytes) && !flushedBefore[li] {
				fits := (cfg.MaxLines <= 0 || li-first < cfg.MaxLines) &&
					(cfg.MaxBytes <= 0 || len(joined)+1+len(lines[li].Bytes) <= cfg.MaxBytes)
				if fits {
					t.Fatalf("record %d ended before line %d %q, which fits", i, li, lines[li].Bytes)
				}
			}
		}
		if li != len(lines) {
			t.Fatalf("records cover %d of %d lines", li, len(lines))
		}
	})
}
