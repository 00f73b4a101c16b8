package agent

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/internal/testfs"
)

// A thousand files with a backlog and a destination that is down: the heap
// stays under agent.memory_limit while the agent waits. Reading waits for
// budget; nothing it reads is held outside it, however many files are
// behind. Once the destination is back every line is stored. The peak while
// catching up is logged, not asserted: the in-process server's own
// allocations (it decodes every request) are in the same heap; make bench
// measures the agent's process alone. (Memory, not time: no clock is read
// for the verdict.)
func TestMemoryBoundedByLimitWithManyFilesAndOutage(t *testing.T) {
	const (
		files   = 1000
		perFile = 64 << 10 // bytes of lines each: 64 MB in all
		limit   = 24 << 20 // agent.memory_limit
	)
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	line := bytes.Repeat([]byte("m"), 99)
	var content bytes.Buffer
	for content.Len() < perFile {
		content.Write(line)
		content.WriteByte('\n')
	}
	for i := range files {
		if err := os.WriteFile(filepath.Join(logs, fmt.Sprintf("f%04d.log", i)), content.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lines := int64(files * (content.Len() / 100))

	srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Discard: true})
	srv.SetDown(true)
	cfg := newConfig(t, dir, srv.URL(), "")
	cfg.Agent.MemoryLimit = limit

	// As kinetail run does (cmd/agent): the collector works harder near
	// the limit instead of letting the heap grow with garbage.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(limit))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-sampling:
				return
			case <-time.After(5 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	// Down long enough for reading to stop: every reader has run into
	// the budget.
	var last int64 = -1
	waitLong(t, "reading to stop while the destination is down", func() bool {
		time.Sleep(500 * time.Millisecond)
		n := a.flows[0].tail.Stats().BytesRead
		stopped := n > 0 && n == last
		last = n
		return stopped
	})
	during := peak.Load()
	srv.SetDown(false)
	tick := time.Now()
	waitLong(t, "every line stored", func() bool {
		c := srv.Counts()
		if time.Since(tick) > 5*time.Second {
			tick = time.Now()
			t.Logf("stored %d of %d; tailer %+v", c.Entries-c.FailedEntries, lines, a.flows[0].tail.Stats())
		}
		return int64(c.Entries-c.FailedEntries) >= lines
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(sampling)
	<-sampled

	grew := func(p uint64) int64 { return int64(p) - int64(base.HeapAlloc) }
	t.Logf("heap above the test's own: %.1f MiB during the outage, %.1f MiB at most with the server's while catching up (memory_limit %d MiB, %d MB of lines in %d files)",
		float64(grew(during))/(1<<20), float64(grew(peak.Load()))/(1<<20), limit>>20, files*perFile/1000000, files)
	if grew(during) > limit {
		t.Errorf("heap grew by %d bytes during the outage, more than memory_limit %d", grew(during), limit)
	}
}

// waitLong is waitFor for the long waits of a test that moves 64 MB.
func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testfs.Wait(t, 3*time.Minute, what, cond)
}
