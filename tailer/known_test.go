package tailer

import (
	"slices"
	"testing"
	"time"
)

func TestRegistry(t *testing.T) {
	content := []byte("first line of a generation\nsecond line\n")
	id := func(ino uint64, n int) FileID {
		return FileID{Dev: 1, Inode: ino, Fingerprint: fnv1a(content[:n]), FingerprintLen: n}
	}
	now := time.Unix(1000, 0)
	a := &gen{pos: Position{Path: "/l/a.log", ID: id(1, 10), MTime: now}}
	b := &gen{pos: Position{Path: "/l/a.log.1", Origin: "/l/a.log", ID: id(2, len(content)), MTime: now.Add(time.Second), Closed: true},
		loc: devIno{1, 9}, ended: now}
	empty := &gen{pos: Position{Path: "/l/b.log", ID: FileID{Dev: 1, Inode: 3}}}
	r := newRegistry()
	for _, g := range []*gen{a, b, empty} {
		r.add(g)
	}

	if got := r.withPrefix(content); !slices.Equal(got, []*gen{b, a}) {
		t.Errorf("withPrefix(content) = %v, want the longest fingerprint first", got)
	}
	if got := r.withPrefix(content[:12]); !slices.Equal(got, []*gen{a}) {
		t.Errorf("withPrefix(12 bytes) = %v, want a only", got)
	}
	if got := r.withPrefix([]byte("something else entirely")); len(got) != 0 {
		t.Errorf("withPrefix(other) = %v, want none (an empty fingerprint names no content)", got)
	}
	if got := r.byKey[devIno{1, 9}]; !slices.Equal(got, []*gen{b}) {
		t.Errorf("by the file it was read from: %v", got)
	}
	if !r.unfinished(devIno{1, 1}) || r.unfinished(devIno{1, 9}) || r.unfinished(devIno{1, 7}) {
		t.Error("unfinished: want a's file only (b is Closed, 7 is unknown)")
	}
	if got := r.newest("/l/a.log"); !got.Equal(now.Add(time.Second)) {
		t.Errorf("newest = %v, want b's MTime", got)
	}

	r.expire(now.Add(time.Minute), time.Hour)
	if len(r.byOrigin["/l/a.log"]) != 2 {
		t.Fatal("expired before the TTL")
	}
	r.expire(now.Add(2*time.Hour), time.Hour)
	if got := r.byOrigin["/l/a.log"]; !slices.Equal(got, []*gen{a}) {
		t.Errorf("after the TTL: %v, want the Position kept and the ended generation gone", got)
	}
	if len(r.byKey[devIno{1, 9}]) != 0 || len(r.withPrefix(content)) != 1 {
		t.Error("an expired generation is still indexed")
	}
	r.remove(a)
	r.remove(empty)
	if len(r.byKey) != 0 || len(r.byFP) != 0 || len(r.byOrigin) != 0 {
		t.Errorf("not empty after removing everything: %v %v %v", r.byKey, r.byFP, r.byOrigin)
	}
}
