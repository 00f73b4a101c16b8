package tailer

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/kinetail/kinetail/internal/testfs"
)

// BenchmarkIdleRescan follows 10,000 files of one line in 100 directories,
// read and parked, and has it rescan them b.N times: what one rescan of
// an idle flow costs (ns/op is per rescan, allocations too). Profile it
// with -cpuprofile.
func BenchmarkIdleRescan(b *testing.B) {
	const dirs, perDir = 100, 100
	d := testfs.New(b)
	for i := range dirs {
		dir := d.Path(fmt.Sprintf("d%03d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for j := range perDir {
			p := filepath.Join(dir, fmt.Sprintf("f%d.log", j))
			if err := os.WriteFile(p, []byte(fmt.Sprintf("%d-%d\n", i, j)), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		// An hour old, as the directories of idle files are: a time
		// set within the last seconds has every scan look again.
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(dir, old, old); err != nil {
			b.Fatal(err)
		}
	}
	h := start(b, Config{
		Paths:          []string{d.Path("*/*.log")},
		OpenFiles:      semaphore.NewWeighted(1024),
		RescanInterval: time.Hour,
		idleClose:      10 * time.Millisecond,
	})
	defer h.stop()
	testfs.Wait(b, time.Minute, "first lines", func() bool { return len(h.texts()) >= dirs*perDir })
	testfs.Wait(b, time.Minute, "every reader parked", func() bool { return h.tl.Stats().Files == 0 })
	b.ReportAllocs()
	b.ResetTimer()
	before := cpuTime(b)
	for range b.N {
		n := h.tl.stats.scans.Load()
		h.tl.watcher.rescanSoon()
		for h.tl.stats.scans.Load() == n {
			time.Sleep(time.Millisecond)
		}
	}
	// The wall clock per rescan is mostly the wait for it: the process's
	// CPU is what an idle host pays.
	b.ReportMetric(float64((cpuTime(b)-before).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// cpuTime is the CPU the process used so far, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
