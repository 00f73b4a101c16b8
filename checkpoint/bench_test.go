package checkpoint

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/kinetail/kinetail/tailer"
)

// BenchmarkSave measures a save of a checkpoint of 10,000 followed files as
// the saver makes it: the tracker's snapshot, then the encoded file written,
// synced and renamed over the last one (the disk's fsync is in the figure).
func BenchmarkSave(b *testing.B) {
	const files = 10_000
	tr := NewTracker(benchEntries(files), time.Hour)
	s, err := Open(filepath.Join(b.TempDir(), "checkpoints.json"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Save(tr.Snapshot(), time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(files), "entries")
}

// BenchmarkDecode measures reading a checkpoint of 10,000 followed files,
// which a restart waits for before it looks at any file.
func BenchmarkDecode(b *testing.B) {
	const files = 10_000
	data, err := Encode(benchEntries(files), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// benchEntries returns n entries as a flow following n files in
// directories of a hundred makes them.
func benchEntries(n int) []Entry {
	now := time.Now()
	entries := make([]Entry, n)
	for i := range entries {
		p := fmt.Sprintf("/var/log/app/dir%03d/service-%05d.log", i/100, i)
		entries[i] = Entry{Flow: "app", Path: p, Origin: p,
			ID:     tailer.FileID{Dev: 2049, Inode: uint64(1_000_000 + i), Fingerprint: uint64(i) * 0x9e3779b97f4a7c15, FingerprintLen: 1024},
			Offset: int64(i) * 977, Read: int64(i) * 977, Marker: uint64(i), MTime: now, Updated: now}
	}
	return entries
}
