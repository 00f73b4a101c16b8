package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/kinetail/kinetail/agent"
	"github.com/kinetail/kinetail/metrics"
)

// statusSource is what SIGUSR1 shows.
type statusSource interface {
	Status() *metrics.Status
}

var _ statusSource = (*agent.Agent)(nil)

// logStatusOnSignal logs the status table, as `kinetail status` prints it,
// each time the process gets SIGUSR1, until ctx is done or stop is called;
// stop waits for that. It is for hosts where the metrics listener is off or
// out of reach: `kill -USR1` and the journal are enough. The signal is
// caught from when logStatusOnSignal returns, so a signal sent right after
// cannot kill the process.
//
// SIGQUIT is left alone on purpose: Go's default handler dumps every
// goroutine's stack, which is what an operator sends it for.
func logStatusOnSignal(ctx context.Context, src statusSource, log *slog.Logger) (stop func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer signal.Stop(c)
		for {
			select {
			case <-ctx.Done():
				return
			case <-c:
				logStatus(src, log)
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

// logStatus logs src's status table once: each line of it is one INFO
// record (msg=status line=…), readable in text mode and one JSON object per
// line in JSON mode, where a multi-line value would be one escaped string.
func logStatus(src statusSource, log *slog.Logger) {
	var b bytes.Buffer
	metrics.WriteTable(&b, src.Status()) // only the writer can fail, and a bytes.Buffer does not
	for line := range strings.Lines(b.String()) {
		if line = strings.TrimRight(line, "\n"); line != "" {
			log.Info("status", "line", line)
		}
	}
}

// agentStatus is the status of the agent running now: a reload replaces it.
type agentStatus struct{ a atomic.Pointer[agent.Agent] }

func (s *agentStatus) Status() *metrics.Status {
	if a := s.a.Load(); a != nil {
		return a.Status()
	}
	return &metrics.Status{}
}
