package checkpoint

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kinetail/kinetail/tailer"
)

// viaReflection is what encoding/json writes for e (entryJSON), the form
// files had before appendJSON and the one Decode reads.
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
		got, _ := e.MarshalJSON()
		if want := viaReflection(t, e); !bytes.Equal(got, want) {
			t.Errorf("entry %+v:\n got %s\nwant %s", e, got, want)
		}
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
		got, _ := e.MarshalJSON()
		if want := viaReflection(t, e); !bytes.Equal(got, want) {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}
