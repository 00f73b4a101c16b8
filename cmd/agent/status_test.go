package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinetail/kinetail/checkpoint"
	"github.com/kinetail/kinetail/metrics"
	"github.com/kinetail/kinetail/tailer"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestStatusCommand(t *testing.T) {
	dir := t.TempDir()
	cp := filepath.Join(dir, "cp.json")
	log := filepath.Join(dir, "a.log")
	os.WriteFile(log, []byte("one\ntwo\nthree\n"), 0o644)
	fi, _ := os.Stat(log)
	f, _ := os.Open(log)
	id, err := tailer.Identify(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	store, err := checkpoint.Open(cp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Save([]checkpoint.Entry{{Flow: "app", Path: log, Origin: log, ID: id, Offset: 4, Read: 8}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	store.Close()
	cfg := filepath.Join(dir, "kinetail.yaml")
	os.WriteFile(cfg, []byte("agent:\n  checkpoint_file: "+cp+"\n  metrics: {listen: '"+freeAddr(t)+"'}\n"+
		"destinations:\n  out: {type: stdout}\nflows:\n  - name: app\n    paths: ["+log+"]\n    destination: out\n"), 0o600)

	t.Run("without an agent the checkpoint is shown", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"status", "-c", cfg}, nil, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, &stderr)
		}
		out := stdout.String()
		for _, want := range []string{"no agent answers at 127.0.0.1:", "from the checkpoint file", "1 entries"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		size := strconv.FormatInt(fi.Size(), 10)
		hasRow(t, out, "FLOW", "PATH", "OFFSET", "SIZE", "BEHIND", "STATE")
		hasRow(t, out, "app", log, "4", size, strconv.FormatInt(fi.Size()-4, 10), "open")
	})

	t.Run("a running agent's table", func(t *testing.T) {
		m := metrics.New(metrics.Options{Snapshot: func(bool) *metrics.Status {
			return &metrics.Status{Version: "v9", Started: time.Now().Add(-time.Minute), Time: time.Now(),
				Flows: []metrics.Flow{{Name: "app", Running: true, LinesRead: 3,
					Files: []metrics.File{{Path: log, Offset: 14, Size: 14, State: metrics.FileReading}}}},
				Destinations: []metrics.Destination{{Name: "out", Type: "stdout", RecordsSent: 3}}}
		}})
		srv, err := metrics.Listen("127.0.0.1:0", m, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx) }()
		defer func() { cancel(); <-done }()
		var stdout, stderr bytes.Buffer
		if code := run([]string{"status", "-c", cfg, "-addr", srv.Addr().String()}, nil, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, &stderr)
		}
		out := stdout.String()
		for _, want := range []string{"kinetail v9, up 1m0s, healthy", "flow app (running): 3 lines read"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		hasRow(t, out, log, "14", "14", "0", "reading")
		hasRow(t, out, "out", "-", "0.0", "0.0%", "3", "0", "-")
	})

	t.Run("no agent and no checkpoint", func(t *testing.T) {
		os.Remove(cp)
		var stdout, stderr bytes.Buffer
		if code := run([]string{"status", "-c", cfg}, nil, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "no checkpoint file") {
			t.Errorf("exit %d, stderr %q", code, &stderr)
		}
	})
}

// hasRow checks that out has a line made of fields (separated by spaces).
func hasRow(t *testing.T, out string, fields ...string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if slices.Equal(strings.Fields(line), fields) {
			return
		}
	}
	t.Errorf("no row %q in:\n%s", fields, out)
}
