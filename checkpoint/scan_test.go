package checkpoint

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/kinetail/kinetail/tailer"
)

// scanFile must read every file it accepts exactly as encoding/json does,
// and accept what encode writes.
func FuzzScanFileMatchesJSON(f *testing.F) {
	for _, name := range []string{"testdata/version1.json", "testdata/version2.json", "testdata/version2-escaped.json"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	at := time.Date(2026, 12, 6, 17, 4, 5, 123456789, time.FixedZone("x", 3600))
	for _, es := range [][]Entry{
		benchEntries(3),
		{{Flow: "f", Path: badPath, Origin: "/x\xfe", Offset: 3, Read: 9, Marker: 1<<64 - 1, MTime: at, Closed: true, Updated: at}},
		{{Flow: "q\"uote", Path: "/tmp/é漢\t", ID: tailer.FileID{Dev: 1, Inode: 2, Fingerprint: 3, FingerprintLen: -1}}},
		{},
	} {
		data, err := Encode(es, savedAt)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(` { "entries" : [ { "flow" : "f" , "path" : "/p" , "offset" : -0 } ] , "version" : 2 } `))
	f.Add([]byte(`{"version":2,"entries":[{"Flow":"f","path":"/p"}]}`))
	f.Add([]byte(`{"version":2.0,"entries":[{"flow":"f","path":"/p","offset":01}]}`))
	f.Add([]byte(`{"version":2,"entries":[{"flow":"f","path":"/p","path_bytes":"L3A=","closed":false,"updated":"2026-01-02T03:04:05.5+01:00"}]}x`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ff, entries, ok := scanFile(data)
		if !ok {
			return
		}
		var want fileFormat
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("scanFile accepted what encoding/json refuses: %v", err)
		}
		var wantEntries []Entry
		if err := json.Unmarshal(want.Entries, &wantEntries); err != nil {
			t.Fatalf("scanFile accepted entries encoding/json refuses: %v", err)
		}
		if ff.Version != want.Version || ff.Checksum != want.Checksum || ff.Saved != want.Saved || string(ff.Entries) != string(want.Entries) {
			t.Fatalf("scanFile read %+v, encoding/json %+v", ff, want)
		}
		if (entries == nil) != (wantEntries == nil) || len(entries) != len(wantEntries) {
			t.Fatalf("scanFile read %d entries (nil %v), encoding/json %d (nil %v)", len(entries), entries == nil, len(wantEntries), wantEntries == nil)
		}
		for i, e := range entries {
			w := wantEntries[i]
			if e.Flow != w.Flow || e.Path != w.Path || e.Origin != w.Origin || e.ID != w.ID || e.Offset != w.Offset ||
				e.Marker != w.Marker || e.Read != w.Read || e.Closed != w.Closed || !sameTime(e.MTime, w.MTime) || !sameTime(e.Updated, w.Updated) {
				t.Fatalf("entry %d: scanFile read %+v, encoding/json %+v", i, e, w)
			}
		}
	})
}

// sameTime reports whether a and b are the same instant written with the
// same offset.
func sameTime(a, b time.Time) bool {
	_, ao := a.Zone()
	_, bo := b.Zone()
	return a.Equal(b) && ao == bo && a.IsZero() == b.IsZero()
}

// What encode writes is read without encoding/json.
func TestScanFileReadsEncode(t *testing.T) {
	data, err := Encode(benchEntries(50), savedAt)
	if err != nil {
		t.Fatal(err)
	}
	if _, entries, ok := scanFile(data); !ok || len(entries) != 50 {
		t.Fatalf("scanFile: ok %v, %d entries, want 50", ok, len(entries))
	}
}
