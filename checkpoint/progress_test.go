package checkpoint

import (
	"errors"
	"testing"
	"time"

	"github.com/kinetail/kinetail/tailer"
)

func TestTrackerProgress(t *testing.T) {
	tr := NewTracker(nil, time.Hour)
	now := time.Unix(1000, 0)
	tr.now = func() time.Time { return now }
	a := &tailer.Source{Flow: "web", Path: "/b.log"}
	b := &tailer.Source{Flow: "app", Path: "/a.log"}
	tr.Open(a, tailer.Opened{Path: "/b.log", ID: tailer.FileID{Inode: 2}, Offset: 0})
	tr.Open(b, tailer.Opened{Path: "/a.log", ID: tailer.FileID{Inode: 1}, Offset: 7})

	g1 := tr.Begin(a, 100, 0, nil) // handed on at 1000
	now = now.Add(time.Second)
	g2 := tr.Begin(a, 250, 0, nil) // at 1001
	g1.Done(1)

	got := tr.Progress()
	if len(got) != 2 || got[0].Flow != "app" || got[1].Flow != "web" {
		t.Fatalf("Progress = %+v, want app's source then web's", got)
	}
	if p := got[0]; p.Acked != 7 || p.Read != 7 || !p.Oldest.IsZero() || !p.Reading || p.Finished {
		t.Errorf("opened source with nothing in flight: %+v", p)
	}
	if p := got[1]; p.Acked != 100 || p.Read != 250 || !p.Oldest.Equal(time.Unix(1001, 0)) || p.ID.Inode != 2 {
		t.Errorf("source with its second range in flight: %+v, want acked 100, read 250, oldest at 1001", p)
	}

	g2.Done(1)
	tr.Close(a, true)
	p := tr.Progress()[1]
	if p.Acked != 250 || !p.Oldest.IsZero() || p.Reading || !p.Finished {
		t.Errorf("drained and closed source: %+v", p)
	}
}

func TestSaverStatus(t *testing.T) {
	s, tr, _, failWrites := newTestSaver(t)
	if st := s.Status(); !st.LastOK.IsZero() || st.Err != nil || st.Failures != 0 {
		t.Fatalf("before any save: %+v", st)
	}
	failWrites(true)
	tr.Open(&tailer.Source{Flow: "f", Path: "/a"}, tailer.Opened{Path: "/a"})
	if err := s.Save(); !errors.Is(err, errDiskFull) {
		t.Fatalf("Save = %v, want %v", err, errDiskFull)
	}
	if st := s.Status(); !st.LastOK.IsZero() || !errors.Is(st.Err, errDiskFull) || st.Failures != 1 {
		t.Fatalf("after a failed save: %+v", st)
	}
	failWrites(false)
	before := time.Now()
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.LastOK.Before(before) || st.Err != nil || st.Failures != 1 {
		t.Fatalf("after a save that worked: %+v", st)
	}
}
