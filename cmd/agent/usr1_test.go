package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/testfs"
	"github.com/kinetail/kinetail/metrics"
)

// syncBuffer is a log destination written by one goroutine and read by
// the test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixedStatus is a statusSource that counts its calls.
type fixedStatus struct {
	mu    sync.Mutex
	calls int
}

func (f *fixedStatus) Status() *metrics.Status {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	now := time.Now()
	s := &metrics.Status{Version: "v9", Started: now.Add(-time.Minute), Time: now,
		Flows: []metrics.Flow{{Name: "app", Running: true, LinesRead: 12,
			Files: []metrics.File{{Path: "/var/log/app.log", Offset: 10, Size: 30, BytesBehind: 20, State: metrics.FileReading}}}},
		Destinations: []metrics.Destination{{Name: "main", Type: "kinesis", Stream: "logs", RecordsSent: 7}},
	}
	s.Check()
	return s
}

func (f *fixedStatus) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// A real SIGUSR1 sent to the test process logs the table, once per signal,
// a line per record; the signal is caught, so the test binary lives on.
func TestSIGUSR1LogsStatusTable(t *testing.T) {
	tests := []struct {
		name  string
		json  bool
		check func(t *testing.T, logged string)
	}{
		{"text: one status record per line of the table", false, func(t *testing.T, logged string) {
			for _, want := range []string{
				`msg=status line="kinetail v9, up 1m0s, healthy"`,
				`line="flow app (running): 12 lines read`,
				`/var/log/app.log`,
				`line="main `,
			} {
				if !strings.Contains(logged, want) {
					t.Errorf("log lacks %q:\n%s", want, logged)
				}
			}
		}},
		{"json: one object per line", true, func(t *testing.T, logged string) {
			for line := range strings.Lines(logged) {
				var obj map[string]any
				if err := json.Unmarshal([]byte(line), &obj); err != nil {
					t.Fatalf("not a JSON object: %q", line)
				}
				if obj["msg"] != "status" || obj["level"] != "INFO" {
					t.Errorf("record %v: want msg status at INFO", obj)
				}
			}
			if !strings.Contains(logged, `"line":"flow app (running): 12 lines read`) {
				t.Errorf("no flow line in %s", logged)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out syncBuffer
			var h slog.Handler = slog.NewTextHandler(&out, nil)
			if tt.json {
				h = slog.NewJSONHandler(&out, nil)
			}
			src := &fixedStatus{}
			stop := logStatusOnSignal(t.Context(), src, slog.New(h))
			defer stop()

			if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			testfs.Wait(t, 5*time.Second, "the table in the log", func() bool { return strings.Contains(out.String(), "DESTINATION") })
			stop()
			if n := src.count(); n != 1 {
				t.Errorf("status read %d times for one signal", n)
			}
			tt.check(t, out.String())
		})
	}
}

// Once its context is done, the handler no longer logs; stop returns.
func TestSIGUSR1StopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	src := &fixedStatus{}
	var out syncBuffer
	stop := logStatusOnSignal(ctx, src, slog.New(slog.NewTextHandler(&out, nil)))
	cancel()
	stop()
	// Another handler keeps the process alive while this one is gone.
	keep := logStatusOnSignal(t.Context(), &fixedStatus{}, slog.New(slog.DiscardHandler))
	defer keep()
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	time.Sleep(50 * time.Millisecond)
	if n := src.count(); n != 0 || out.String() != "" {
		t.Errorf("a stopped handler logged %d times: %q", n, out.String())
	}
}
