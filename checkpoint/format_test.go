package checkpoint

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kinetail/kinetail/tailer"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// badPath is a directory name that is not UTF-8, as a Latin-1 system or a
// careless script can make.
const badPath = "/srv/bad\xffdir/app.log"

var savedAt = time.Date(2026, 11, 22, 5, 0, 1, 250_000_000, time.UTC)

func sampleEntries() []Entry {
	ts := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	return []Entry{
		{Flow: "web", Path: "/var/log/a.log", Origin: "/var/log/a.log", ID: tailer.FileID{Dev: 1, Inode: 2, Fingerprint: 3, FingerprintLen: 1024},
			Offset: 4096, Marker: 77, Read: 8192, MTime: ts.Add(-time.Minute), Updated: ts},
		{Flow: "web", Path: "/var/log/a.log.1", Origin: "/var/log/a.log", ID: tailer.FileID{Dev: 1, Inode: 5, Fingerprint: 6, FingerprintLen: 1024},
			Offset: 100, Read: 100, Closed: true, Updated: ts},
		{Flow: "app", Path: "/var/log/b.log", Origin: "/var/log/b.log", ID: tailer.FileID{Dev: 1, Inode: 9}, Offset: 0, Updated: ts},
		{Flow: "app", Path: badPath, Origin: badPath, ID: tailer.FileID{Dev: 1, Inode: 10}, Offset: 12, Updated: ts},
	}
}

// The version 2 encoding is fixed by a golden file (go test -update
// rewrites it).
func TestEncodeGolden(t *testing.T) {
	got, err := Encode(sampleEntries(), savedAt)
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/version2.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode =\n%s\nwant (%s)\n%s", got, golden, want)
	}
	entries, saved, err := Decode(want)
	if err != nil {
		t.Fatal(err)
	}
	if !saved.Equal(savedAt) || !reflect.DeepEqual(entries, sampleEntries()) {
		t.Fatalf("Decode(golden) = %+v, %v; want %+v, %v", entries, saved, sampleEntries(), savedAt)
	}
}

// A version 2 file written by encoding/json (before the entries were
// encoded by hand; it escapes U+FFFD, < and >) loads the same.
func TestDecodeVersion2Escaped(t *testing.T) {
	data, err := os.ReadFile("testdata/version2-escaped.json")
	if err != nil {
		t.Fatal(err)
	}
	entries, saved, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !saved.Equal(savedAt) || !reflect.DeepEqual(entries, sampleEntries()) {
		t.Fatalf("Decode = %+v, %v; want %+v, %v", entries, saved, sampleEntries(), savedAt)
	}
}

// A file written by the version 1 encoder still loads; its entries carry
// no origin, which is read as the path.
func TestDecodeVersion1(t *testing.T) {
	data, err := os.ReadFile("testdata/version1.json")
	if err != nil {
		t.Fatal(err)
	}
	entries, saved, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	want := []Entry{
		{Flow: "web", Path: "/var/log/nginx/access.log", Origin: "/var/log/nginx/access.log",
			ID:     tailer.FileID{Dev: 2049, Inode: 131074, Fingerprint: 0x9e3779b97f4a7c15, FingerprintLen: 1024},
			Offset: 81920, Marker: 0x1234abcd5678ef90, Updated: ts},
		{Flow: "web", Path: "/var/log/nginx/access.log.1", Origin: "/var/log/nginx/access.log.1",
			ID:     tailer.FileID{Dev: 2049, Inode: 131070, Fingerprint: 42, FingerprintLen: 1024},
			Offset: 4096, Updated: ts.Add(-time.Hour)},
	}
	if !saved.IsZero() || !reflect.DeepEqual(entries, want) {
		t.Fatalf("Decode = %+v, %v; want %+v and no saved time", entries, saved, want)
	}
}

// Paths are bytes: one that is not UTF-8 survives exactly (through
// path_bytes), and one that is stays a plain string.
func TestPathsRoundTripByteForByte(t *testing.T) {
	in := []Entry{
		{Flow: "f", Path: badPath, Origin: "/srv/\x80\x81/app.log", Updated: savedAt},
		{Flow: "f", Path: "/var/log/ünïcode.log", Origin: "/var/log/ünïcode.log", Updated: savedAt},
	}
	data, err := Encode(in, savedAt)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Entries []map[string]any `json:"entries"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	bad, good := file.Entries[0], file.Entries[1]
	if bad["path_bytes"] != base64.StdEncoding.EncodeToString([]byte(badPath)) ||
		bad["origin_bytes"] != base64.StdEncoding.EncodeToString([]byte(in[0].Origin)) {
		t.Errorf("non-UTF-8 paths lack exact bytes: %v", bad)
	}
	if p, _ := bad["path"].(string); !strings.Contains(p, "\ufffd") || !strings.HasPrefix(p, "/srv/bad") {
		t.Errorf("display path = %q, want the lossy form", p)
	}
	if _, ok := good["path_bytes"]; ok {
		t.Errorf("a UTF-8 path is written as bytes too: %v", good)
	}
	if _, ok := good["origin_bytes"]; ok {
		t.Errorf("a UTF-8 origin is written as bytes too: %v", good)
	}
	out, _, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip = %+v, want %+v", out, in)
	}
}

// v2 builds a version 2 file from a saved string and an entries array,
// with a correct checksum unless sum is given.
func v2(saved, entries, sum string) []byte {
	if sum == "" {
		sum = checksum([]byte(saved), []byte(entries))
	}
	return fmt.Appendf(nil, `{"version":2,"checksum":%q,"saved":%q,"entries":%s}`, sum, saved, entries)
}

func TestDecode(t *testing.T) {
	const saved = "2026-11-22T05:00:01.25Z"
	entry := `{"flow":"f","path":"/a.log","id":{"dev":1,"inode":2},"offset":5,"updated":"2026-11-22T05:00:00Z"}`
	valid := v2(saved, "["+entry+"]", "")
	base := Entry{Flow: "f", Path: "/a.log", Origin: "/a.log", ID: tailer.FileID{Dev: 1, Inode: 2}, Offset: 5,
		Updated: time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)}
	tests := []struct {
		name string
		data []byte
		want []Entry // nil: ErrCorrupt
	}{
		{"an entry without origin has its path as origin", valid, []Entry{base}},
		{"path_bytes win over the display path",
			v2(saved, `[{"flow":"f","path":"/b\ufffd.log","path_bytes":"L2L/LmxvZw==","offset":0}]`, ""),
			[]Entry{{Flow: "f", Path: "/b\xff.log", Origin: "/b\xff.log"}}},
		{"no entries", v2(saved, `[]`, ""), []Entry{}},
		{"the checksum covers the saved time",
			[]byte(strings.Replace(string(valid), saved, "2026-11-22T05:00:02.25Z", 1)), nil},
		{"the checksum covers the entries",
			[]byte(strings.Replace(string(valid), `"offset":5`, `"offset":6`, 1)), nil},
		{"a version 2 file must say when it was saved", v2("", "["+entry+"]", ""), nil},
		{"an unparsable saved time", v2("yesterday", "["+entry+"]", ""), nil},
		{"an unknown version", []byte(strings.Replace(string(valid), `"version":2`, `"version":3`, 1)), nil},
		{"a negative offset", v2(saved, `[{"flow":"f","path":"/a","offset":-1}]`, ""), nil},
		{"a negative read end", v2(saved, `[{"flow":"f","path":"/a","offset":0,"read":-1}]`, ""), nil},
		{"an entry without a path", v2(saved, `[{"flow":"f","offset":0}]`, ""), nil},
		{"empty path_bytes", v2(saved, `[{"flow":"f","path":"/a","path_bytes":"","offset":0}]`, ""), nil},
		{"not JSON", []byte("{"), nil},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := Decode(tt.data)
			if tt.want == nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Decode = %+v, %v; want ErrCorrupt", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Decode = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzCheckpointDecode(f *testing.F) {
	for _, name := range []string{"testdata/version1.json", "testdata/version2.json"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	bad, _ := Encode([]Entry{{Flow: "f", Path: badPath, Origin: "/x\xfe", Offset: 3, Read: 9}}, savedAt)
	f.Add(bad)
	f.Add([]byte(`{"version":1,"checksum":"00000000","entries":[]}`))
	f.Add([]byte(``))
	f.Add([]byte(`[{"flow":"f","path":"/b","path_bytes":"L2L/LmxvZw==","origin":"/o","offset":1,"read":2,"mtime":"2026-01-02T03:04:05+01:00","closed":true}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b)
		// A mutated file rarely keeps its checksum: also read the input
		// as the entries of a file whose checksum matches.
		roundTrip(t, v2("2026-11-22T05:00:01Z", string(b), ""))
	})
}

// roundTrip checks that a checkpoint file that decodes encodes again to
// the same checkpoint.
func roundTrip(t *testing.T, data []byte) {
	entries, saved, err := Decode(data)
	if err != nil {
		return
	}
	again, err := Encode(entries, saved)
	if err != nil {
		t.Fatalf("decoded checkpoint does not encode: %v", err)
	}
	entries2, saved2, err := Decode(again)
	if err != nil {
		t.Fatalf("re-encoded checkpoint does not decode: %v\n%s", err, again)
	}
	if !saved2.Equal(saved) || !equalEntries(entries, entries2) {
		t.Fatalf("round trip changed the checkpoint:\n%+v %v\n%+v %v", entries, saved, entries2, saved2)
	}
}

// equalEntries compares entries by value, times as instants.
func equalEntries(a, b []Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if !x.MTime.Equal(y.MTime) || !x.Updated.Equal(y.Updated) {
			return false
		}
		x.MTime, y.MTime, x.Updated, y.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if x != y {
			return false
		}
	}
	return true
}
