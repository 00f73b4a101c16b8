package checkpoint

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kinetail/kinetail/tailer"
)

// viaReflection is what encoding/json writes for e (entryJSON): the form
// files had before appendJSON.
func viaReflection(t testing.TB, e Entry) []byte {
	w := entryJSON{
		Flow: e.Flow, Path: e.Path, Origin: e.Origin, ID: e.ID, Offset: e.Offset,
		Marker: e.Marker, Read: e.Read, MTime: e.MTime, Closed: e.Closed, Updated: e.Updated,
	}
	if !utf8.ValidString(e.Path) {
		w.PathBytes = []byte(e.Path)
	}
	if !utf8.ValidString(e.Origin) {
		w.OriginBytes = []byte(e.Origin)
	}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameEntryJSON checks that appendJSON writes what encoding/json wrote, up
// to how strings are escaped (both read back as the same values), and that
// the entry reads back exactly, paths byte for byte.
func sameEntryJSON(t testing.TB, e Entry) {
	t.Helper()
	got, _ := e.MarshalJSON()
	var a, b map[string]any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	want := viaReflection(t, e)
	if err := json.Unmarshal(want, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("entry %+v:\n got %s\nwant %s", e, got, want)
	}
	var back Entry
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if back.Path != e.Path || back.Origin != e.Origin || back.Flow != e.Flow && utf8.ValidString(e.Flow) ||
		back.ID != e.ID || back.Offset != e.Offset || back.Read != e.Read || back.Marker != e.Marker ||
		back.Closed != e.Closed || !back.MTime.Equal(e.MTime) || !back.Updated.Equal(e.Updated) {
		t.Fatalf("read back %+v, wrote %+v", back, e)
	}
}

func TestEntryJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 6, 17, 4, 5, 123456789, time.UTC)
	id := tailer.FileID{Dev: 2049, Inode: 1 << 40, Fingerprint: 1<<64 - 1, FingerprintLen: 1024}
	for _, e := range []Entry{
		{Flow: "f", Path: "/var/log/a.log", Origin: "/var/log/a.log", ID: id, Offset: 10, Updated: at},
		{Flow: "f", Path: "/var/log/a.log.1", Origin: "/var/log/a.log", ID: id, Offset: 1 << 40, Read: 1<<40 + 7, Marker: 99, MTime: at.In(time.FixedZone("x", 3600)), Closed: true, Updated: at},
		{Flow: "quote\"back\\slash", Path: "/tmp/<html>&amp;\n\t\r\b\f\x01\x1f\u2028\u2029é漢", Origin: "", ID: id, Updated: at},
		{Flow: "f", Path: "/tmp/bad\xff\xfe.log", Origin: "/tmp/bad\xc3.log", ID: id, Updated: at},
		{Flow: "", Path: "p", ID: tailer.FileID{}, Offset: 0, Updated: time.Time{}},
	} {
		sameEntryJSON(t, e)
	}
}

func FuzzEntryJSON(f *testing.F) {
	f.Add("flow", "/var/log/a.log", "/var/log/a.log", int64(5), uint64(7), false)
	f.Add("f\"", "/x/\xff<&>", "", int64(0), uint64(0), true)
	f.Fuzz(func(t *testing.T, flow, path, origin string, off int64, marker uint64, closed bool) {
		if off < 0 {
			off = -off
		}
		e := Entry{Flow: flow, Path: path, Origin: origin, Offset: off, Marker: marker, Closed: closed,
			ID: tailer.FileID{Dev: marker, Inode: uint64(off)}, Updated: time.Unix(0, off).UTC()}
		sameEntryJSON(t, e)
	})
}
