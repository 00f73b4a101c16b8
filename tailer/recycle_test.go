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
	if cap(b) != 112<<10 {
		t.Fatalf("Buffer(100 KiB): cap %d, want 112 KiB", cap(b))
	}
	b = append(b, "x"...)
	tl.Recycle(b)
	if again := tl.Buffer(110 << 10); len(again) != 0 || cap(again) != cap(b) || &again[:1][0] != &b[0] {
		t.Errorf("Buffer(110 KiB) after Recycle: len %d cap %d, not the buffer given back", len(again), cap(again))
	}
}

// Sizes of batches that differ by a little round to the same size, which
// take gives for any of them: at most a quarter more than asked.
func TestRecycledSize(t *testing.T) {
	tests := []struct{ n, want int }{
		{0, 0},
		{1000, 1000}, // not kept: as asked
		{minRecycled - 1, minRecycled - 1},
		{minRecycled, minRecycled},
		{minRecycled + 1, 80 << 10},
		{100 << 10, 112 << 10},
		{(DefaultBatchLines + DefaultBatchLines/16) * 100, 448 << 10}, // a batch of 100-byte lines
		{DefaultBatchBytes, DefaultBatchBytes},
		{DefaultBatchBytes + 1, DefaultBatchBytes + DefaultBatchBytes/4},
	}
	for _, tt := range tests {
		if got := recycledSize(tt.n); got != tt.want {
			t.Errorf("recycledSize(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
	for n := minRecycled; n <= 4<<20; n += 997 {
		r := recycledSize(n)
		if r < n || r > n+n/4 || recycledSize(r) != r {
			t.Fatalf("recycledSize(%d) = %d: want from n to n+n/4, and itself rounded", n, r)
		}
	}
}
