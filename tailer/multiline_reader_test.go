package tailer

import (
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/testfs"
)

// The reader groups lines into records: a record is sent when the next one
// starts, after the timeout, and when a rotated file is drained; batch ends
// never fall inside a record.
func TestReaderMultiline(t *testing.T) {
	d := testfs.New(t)
	d.Write("app.log", "2026-01-01 one\n  at a\n  at b\n2026-01-01 two\n")
	h := start(t, Config{
		Paths: []string{d.Path("app.log*")},
		Multiline: &MultilineConfig{
			Start:   regexp.MustCompile(`^\d{4}-`),
			Timeout: 200 * time.Millisecond,
		},
	})
	// "one" is finished by "two"; "two" waits for the timeout.
	got := h.waitTexts(2)
	if want := []string{"2026-01-01 one\n  at a\n  at b", "2026-01-01 two"}; !slices.Equal(got, want) {
		t.Fatalf("records = %q, want %q", got, want)
	}
	d.Append("app.log", "2026-01-01 three\n  at c\n")
	d.Rename("app.log", "old.log") // leaves the globs: drained, pending record sent
	got = h.waitTexts(3)
	h.stop()
	if got[2] != "2026-01-01 three\n  at c" {
		t.Fatalf("record after rotation = %q", got[2])
	}
	// "one" and "three" were made of several lines; "two" of one.
	if st := h.tl.Stats(); st.MultilineRecords != 2 || st.LinesRead != 3 {
		t.Errorf("stats: %d multiline records of %d, want 2 of 3", st.MultilineRecords, st.LinesRead)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, b := range h.batches {
		if n := len(b.Lines); n > 0 && b.End != b.Lines[n-1].End {
			t.Fatalf("batch ends at %d, inside or after its last record (ends %d)", b.End, b.Lines[n-1].End)
		}
	}
}
