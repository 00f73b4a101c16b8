// Tests of the Stdout sink.

package sink

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kinetail/kinetail/internal/ack"
)

// writeLog records each Write call.
type writeLog struct {
	writes []string
	err    error
}

func (w *writeLog) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func TestStdout(t *testing.T) {
	w := &writeLog{}
	s := NewStdout(w)
	var acked atomic.Int64
	check := func(b Batch, writes int) Batch {
		for i := range b.Records {
			b.Records[i].Ack = ack.New(func() {
				// Acknowledged only once its batch was written.
				if len(w.writes) < writes {
					t.Errorf("record acknowledged before its write")
				}
				acked.Add(1)
			})
		}
		return b
	}
	err := runToEnd(t, s,
		check(localBatch(nil, `{"a":1}`, "two"), 1),
		Batch{}, // nothing to write: no write
		check(localBatch(nil, ""), 2),
		localBatch(nil, "no ack"),
	)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{"{\"a\":1}\ntwo\n", "\n", "no ack\n"}
	if strings.Join(w.writes, "|") != strings.Join(want, "|") {
		t.Errorf("writes = %q, want %q", w.writes, want)
	}
	if acked.Load() != 3 {
		t.Errorf("acknowledged %d, want 3", acked.Load())
	}
	if st := s.Stats(); st != (StdoutStats{Records: 4, Bytes: 20}) {
		t.Errorf("stats = %+v", st)
	}
}

func TestStdoutWriteError(t *testing.T) {
	broken := errors.New("broken pipe")
	s := NewStdout(&writeLog{err: broken})
	g := ack.New(nil)
	err := runToEnd(t, s, localBatch(g, "a", "b"))
	if !errors.Is(err, broken) {
		t.Errorf("Run = %v, want the write error", err)
	}
	if g.Pending() != 3 {
		t.Errorf("pending = %d, want 3: nothing acknowledged", g.Pending())
	}
	if s.Stats().WriteErrors != 1 {
		t.Errorf("stats = %+v", s.Stats())
	}
}

func TestStdoutCancelled(t *testing.T) {
	s := NewStdout(&writeLog{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx, make(chan Batch)); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}
