package tailer

import "testing"

// A buffer for a few lines is as large as asked, so it holds no more budget
// than it needs; a batch-sized one is rounded up to a size recycled buffers
// share, and is reused once given back.
func TestBufferSizes(t *testing.T) {
	tl := &Tailer{recycle: recycler{size: DefaultBatchBytes, maxLines: DefaultBatchLines, keep: 4}}
	if b := tl.Buffer(200); cap(b) != 200 || len(b) != 0 {
		t.Errorf("Buffer(200): len %d cap %d, want 0 and 200", len(b), cap(b))
	}
	b := tl.Buffer(100 << 10)
	if cap(b) != 128<<10 {
		t.Fatalf("Buffer(100 KiB): cap %d, want 128 KiB", cap(b))
	}
	b = append(b, "x"...)
	tl.Recycle(b)
	if again := tl.Buffer(110 << 10); len(again) != 0 || cap(again) != cap(b) || &again[:1][0] != &b[0] {
		t.Errorf("Buffer(110 KiB) after Recycle: len %d cap %d, not the buffer given back", len(again), cap(again))
	}
}
