package transform

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/tailer"
)

func TestFields(t *testing.T) {
	tests := []struct {
		name string
		cfg  config.Fields
		in   string
		want string
	}{
		{"nothing to do is a compact copy", config.Fields{}, ` {"b": 1, "a" : [1, 2]} `, `{"b":1,"a":[1,2]}`},
		{"rename in place", config.Fields{Rename: map[string]string{"a": "x", "c": "y"}},
			`{"a":1,"b":2,"c":3}`, `{"x":1,"b":2,"y":3}`},
		{"rename an escaped key to a unicode name", config.Fields{Rename: map[string]string{"é": "ü\"q"}},
			`{"\u00e9":"v"}`, `{"ü\"q":"v"}`},
		{"a renamed field replaces one with its new name", config.Fields{Rename: map[string]string{"a": "b"}},
			`{"b":"old","a":"new"}`, `{"b":"new"}`},
		{"two fields renamed to one name: the first stays", config.Fields{Rename: map[string]string{"a": "x", "b": "x"}},
			`{"b":2,"a":1}`, `{"x":2}`},
		{"swap", config.Fields{Rename: map[string]string{"a": "b", "b": "a"}},
			`{"a":1,"b":2}`, `{"b":1,"a":2}`},
		{"remove", config.Fields{Remove: []string{"a", "missing"}}, `{"a":1,"b":2,"a":3}`, `{"b":2}`},
		{"remove everything", config.Fields{Remove: []string{"a"}}, `{"a":1}`, `{}`},
		{"keep", config.Fields{Keep: []string{"c", "a"}}, `{"a":1,"b":2,"c":{"d":3}}`, `{"a":1,"c":{"d":3}}`},
		{"keep uses new names", config.Fields{Rename: map[string]string{"a": "x"}, Keep: []string{"x"}},
			`{"a":1,"b":2}`, `{"x":1}`},
		{"add sorted after the fields", config.Fields{Add: map[string]string{"z": "1", "env": "prod \"eu\""}},
			`{"b":2}`, `{"b":2,"env":"prod \"eu\"","z":"1"}`},
		{"add to an empty object", config.Fields{Add: map[string]string{"env": "prod"}}, `{}`, `{"env":"prod"}`},
		{"add to an emptied object", config.Fields{Keep: []string{"none"}, Add: map[string]string{"env": "prod"}},
			`{"a":1}`, `{"env":"prod"}`},
		{"an added field replaces the record's", config.Fields{Add: map[string]string{"env": "prod"}},
			`{"env":"dev","a":1}`, `{"a":1,"env":"prod"}`},
		{"keep does not remove added fields", config.Fields{Keep: []string{"a"}, Add: map[string]string{"env": "prod"}},
			`{"a":1,"b":2}`, `{"a":1,"env":"prod"}`},
		{"path offset and record id", config.Fields{Path: "file", Offset: "off", RecordID: "id"},
			`{"a":1}`, `{"a":1,"file":"/var/log/app \"1\".log","off":4096,"id":"` + testRecordHash + `-4096"}`},
		{"dynamic fields win over static ones", config.Fields{Offset: "off", Add: map[string]string{"off": "x", "a": "y"}},
			`{}`, `{"a":"y","off":4096}`},
		{"types", config.Fields{Types: map[string]string{"i": "int", "f": "float", "b": "bool", "t": "timestamp"}},
			`{"i":" 42 ","f":"1.5","b":"Yes","t":"10/Oct/2024:13:55:36 -0700","x":"7"}`,
			`{"i":42,"f":1.5,"b":true,"t":"2024-10-10T13:55:36-07:00","x":"7"}`},
		{"types that do not convert are left", config.Fields{Types: map[string]string{"i": "int", "f": "float", "b": "bool", "t": "timestamp", "o": "int"}},
			`{"i":"4x","f":"NaN","b":"maybe","t":"yesterday","o":{"a":"1"}}`,
			`{"i":"4x","f":"NaN","b":"maybe","t":"yesterday","o":{"a":"1"}}`},
		{"types use new names and escapes", config.Fields{Rename: map[string]string{"n": "count"}, Types: map[string]string{"count": "int"}},
			`{"n":"\u0031\u0032"}`, `{"count":12}`},
		{"non-string values are not converted", config.Fields{Types: map[string]string{"i": "int", "b": "bool"}},
			`{"i":1.5,"b":1}`, `{"i":1.5,"b":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, &config.Transform{Fields: &tt.cfg})
			c.SetSource(testSource)
			got, keep := c.AppendLine([]byte("prev|"), []byte(tt.in), 4096, 4200)
			if !keep || string(got) != "prev|"+tt.want {
				t.Fatalf("fields(%s)\n got %s, %v\nwant %s", tt.in, got, keep, tt.want)
			}
			if !json.Valid(got[len("prev|"):]) {
				t.Fatalf("output %s is not valid JSON", got)
			}
		})
	}
}

var testSource = &tailer.Source{Flow: "f", Path: `/var/log/app "1".log`,
	ID: tailer.FileID{Dev: 2049, Inode: 131073, Fingerprint: 0x1234abcd5678ef00, FingerprintLen: 1024}}

// testRecordHash is fileHash(testSource.ID), worked out independently: the
// record id format must never change, since consumers compare ids across
// agent versions.
const testRecordHash = "5a2c48b882dfbd6a"

func TestFieldsHostAndUnknownSource(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	c := mustChain(t, &config.Transform{Fields: &config.Fields{Host: "host", Path: "path", Offset: "off", RecordID: "id"}})
	// No SetSource: path and record_id are left out.
	got, _ := c.Append(nil, []byte(`{"a":1}`))
	want := `{"a":1,"host":` + string(AppendJSONString(nil, []byte(host))) + `,"off":0}`
	if string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestFieldsRecordIDStable(t *testing.T) {
	c := mustChain(t, &config.Transform{Fields: &config.Fields{RecordID: "id"}})
	id := func(src *tailer.Source, start int64) string {
		c.SetSource(src)
		out, _ := c.AppendLine(nil, []byte(`{}`), start, start+2000)
		var rec struct{ ID string }
		if err := json.Unmarshal(out, &rec); err != nil {
			t.Fatal(err)
		}
		return rec.ID
	}
	rotated := *testSource
	rotated.Path = "/var/log/app.log.1"
	other := *testSource
	other.ID.Inode++
	if a, b := id(testSource, 10), id(&rotated, 10); a != b {
		t.Errorf("the id changes when the file is renamed: %s, %s", a, b)
	}
	if a, b := id(testSource, 10), id(&other, 10); a == b {
		t.Errorf("two files give the same id %s", a)
	}
	if a, b := id(testSource, 10), id(testSource, 20); a == b || !strings.HasSuffix(b, "-20") {
		t.Errorf("ids of two lines: %s, %s", a, b)
	}
}

// wantRecordID is the record id of the line [start, end) of a file whose
// bytes are content, worked out with hash/fnv: the hash of the device,
// inode (little-endian) and the FNV-1a hash of the first min(end, 1 KiB)
// bytes.
func wantRecordID(t *testing.T, path string, content []byte, start, end int64) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	prefix := fnv.New64a()
	prefix.Write(content[:min(end, 1024)])
	h := fnv.New64a()
	binary.Write(h, binary.LittleEndian, [3]uint64{uint64(st.Dev), st.Ino, prefix.Sum64()})
	return fmt.Sprintf("%016x-%d", h.Sum64(), start)
}

// openSource identifies path as the tailer does when it opens it.
func openSource(t *testing.T, path string) *tailer.Source {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id, err := tailer.Identify(f)
	if err != nil {
		t.Fatal(err)
	}
	return &tailer.Source{Flow: "f", Path: path, ID: id}
}

// A line's record id does not depend on how long the file was when it was
// opened: the tailer's fingerprint widens as a short file grows, the id
// does not.
func TestFieldsRecordIDSameAsFileGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	var content []byte
	type line struct{ start, end int64 }
	var lines []line
	write := func(n int) {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for range n {
			l := fmt.Sprintf("{\"n\":%d,\"pad\":\"%s\"}\n", len(lines), strings.Repeat("x", 40))
			if _, err := f.WriteString(l); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, line{int64(len(content)), int64(len(content) + len(l))})
			content = append(content, l...)
		}
	}
	ids := func(src *tailer.Source) []string {
		c := mustChain(t, &config.Transform{Fields: &config.Fields{RecordID: "id"}})
		c.SetSource(src)
		// As the tailer does: the file's first bytes, up to a KiB.
		c.SetPrefix(content[:min(len(content), tailer.FingerprintSize)])
		var got []string
		for _, l := range lines {
			out, keep := c.AppendLine(nil, content[l.start:l.end-1], l.start, l.end)
			var rec struct{ ID string }
			if err := json.Unmarshal(out, &rec); !keep || err != nil {
				t.Fatalf("record %s: %v", out, err)
			}
			got = append(got, rec.ID)
		}
		return got
	}

	write(3) // 168 bytes
	short := openSource(t, path)
	if short.ID.FingerprintLen >= tailer.FingerprintSize {
		t.Fatalf("fingerprint of %d bytes; the test needs a short file", short.ID.FingerprintLen)
	}
	first := ids(short)
	write(40) // past 1 KiB, read through the same Source
	grown := ids(short)
	// A restart: the file is opened again, now longer than a KiB.
	long := openSource(t, path)
	if long.ID.FingerprintLen != tailer.FingerprintSize {
		t.Fatalf("fingerprint of %d bytes, want %d", long.ID.FingerprintLen, tailer.FingerprintSize)
	}
	restarted := ids(long)
	for i, l := range lines {
		want := wantRecordID(t, path, content, l.start, l.end)
		if i < len(first) && first[i] != want {
			t.Errorf("line %d of the short file: id %s, want %s", i, first[i], want)
		}
		if grown[i] != want || restarted[i] != want {
			t.Errorf("line %d: id %s read on, %s after a restart; want %s", i, grown[i], restarted[i], want)
		}
	}
	// Lines past the first KiB keep the id of earlier versions, made from
	// the file identity.
	last := lines[len(lines)-1]
	old := fmt.Sprintf("%016x-%d", fileHash(long.ID.Dev, long.ID.Inode, long.ID.Fingerprint), last.start)
	if restarted[len(lines)-1] != old {
		t.Errorf("id past the first KiB = %s, want the identity's %s", restarted[len(lines)-1], old)
	}

	// The file truncated and written again in place (same inode): the same
	// offsets give other ids.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	lines, content = lines[:0], content[:0]
	write(1)
	content[len(content)-4] = 'y' // differ from the first generation's line 0
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	reused := ids(openSource(t, path))
	if reused[0] == first[0] || reused[0] != wantRecordID(t, path, content, 0, lines[0].end) {
		t.Errorf("a new file on the same inode: id %s, first generation's %s", reused[0], first[0])
	}
}

// Without the file's first bytes, or with bytes that are not the Source's
// (they do not hash to its fingerprint), the id falls back to the
// identity's hash.
func TestFieldsRecordIDWithoutPrefix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	if err := os.WriteFile(path, []byte("{}\n{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := openSource(t, path)
	want := fmt.Sprintf(`{"id":"%016x-0"}`, fileHash(src.ID.Dev, src.ID.Inode, src.ID.Fingerprint))
	for _, prefix := range [][]byte{nil, []byte("[]\n[]\n")} {
		c := mustChain(t, &config.Transform{Fields: &config.Fields{RecordID: "id"}})
		c.SetSource(src)
		c.SetPrefix(prefix)
		if out, _ := c.AppendLine(nil, []byte(`{}`), 0, 3); string(out) != want {
			t.Errorf("prefix %q: got %s, want %s", prefix, out, want)
		}
	}
}

func TestFieldsInvalid(t *testing.T) {
	c := mustChain(t, &config.Transform{Fields: &config.Fields{Remove: []string{"a"}}})
	for _, in := range []string{"plain text", `["a"]`, `{"a":1`, "{\"a\":\"\xff\"}"} {
		got, keep := c.Append(nil, []byte(in))
		var rec struct{ Raw, Error string }
		if !keep || json.Unmarshal(got, &rec) != nil || !strings.HasPrefix(rec.Error, "fields: ") {
			t.Fatalf("fields(%q) = %s, %v; want it wrapped with a fields error", in, got, keep)
		}
	}
	if s := c.Stats(); s.Wrapped != 4 || s.Records != 4 {
		t.Fatalf("Stats() = %+v, want 4 wrapped records", s)
	}
}

func TestNewFieldsErrors(t *testing.T) {
	tests := []struct {
		cfg  config.Fields
		want string
	}{
		{config.Fields{Types: map[string]string{"a": "date"}}, `fields: types: a: unknown type "date"`},
		{config.Fields{Host: "x", RecordID: "x"}, `fields: host and record_id are both named "x"`},
	}
	for _, tt := range tests {
		_, err := New([]*config.Transform{{Fields: &tt.cfg}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) error = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestConvert(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	now := func() time.Time { return time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC) }
	tests := []struct {
		typ      fieldType
		in, want string // want "" means: not converted
	}{
		{typeInt, "42", "42"},
		{typeInt, "-0042", "-42"},
		{typeInt, "+7", "7"},
		{typeInt, "9223372036854775807", "9223372036854775807"},
		{typeInt, "-9223372036854775808", "-9223372036854775808"},
		{typeInt, "9223372036854775808", ""},
		{typeInt, "99999999999999999999999", ""},
		{typeInt, "1.0", ""},
		{typeInt, "", ""},
		{typeInt, "-", ""},
		{typeFloat, "1.5", "1.5"},
		{typeFloat, "-2e10", "-2e10"},
		{typeFloat, ".5", "0.5"},
		{typeFloat, "+3", "3"},
		{typeFloat, "1e400", "1e400"}, // already a JSON number, copied as is
		{typeFloat, "Inf", ""},
		{typeFloat, "abc", ""},
		{typeBool, "true", "true"},
		{typeBool, "FALSE", "false"},
		{typeBool, "1", "true"},
		{typeBool, "no", "false"},
		{typeBool, "Yes", "true"},
		{typeBool, "y", ""},
		{typeBool, "truest", ""},
		{typeTimestamp, "2024-05-01T12:00:00Z", `"2024-05-01T12:00:00Z"`},
		{typeTimestamp, "2024-05-01t12:00:00.120z", `"2024-05-01T12:00:00.12Z"`},
		{typeTimestamp, "2024-05-01 12:00:00.123456789+05:30", `"2024-05-01T12:00:00.123456789+05:30"`},
		{typeTimestamp, "2024-05-01T12:00:00-00:00", `"2024-05-01T12:00:00Z"`},
		{typeTimestamp, "2024-02-30T12:00:00Z", ""},
		{typeTimestamp, "2024-05-01T24:00:00Z", ""},
		{typeTimestamp, "2024-05-01T12:00:00", ""},
		{typeTimestamp, "2024-05-01T12:00:00+0530", ""},
		{typeTimestamp, "10/Oct/2024:13:55:36 -0700", `"2024-10-10T13:55:36-07:00"`},
		{typeTimestamp, "10/Oct/2024:13:55:36 +0000", `"2024-10-10T13:55:36Z"`},
		{typeTimestamp, "10/Foo/2024:13:55:36 -0700", ""},
		{typeTimestamp, "Mar  5 07:08:09", `"2024-03-05T07:08:09+01:00"`},
		{typeTimestamp, "Mar 15 07:08:09", `"2024-03-15T07:08:09+01:00"`},
		{typeTimestamp, "Dec 31 23:59:59", `"2023-12-31T23:59:59+01:00"`}, // more than a month ahead: last year
		{typeTimestamp, "Apr 10 00:00:00", `"2024-04-10T00:00:00+01:00"`}, // less than a month ahead
		{typeTimestamp, "Feb 30 07:08:09", ""},
		{typeTimestamp, "Mar 5 7:08:09", ""},
		{typeTimestamp, "1714564800", `"2024-05-01T12:00:00Z"`},
		{typeTimestamp, "1714564800.25", `"2024-05-01T12:00:00.25Z"`},
		{typeTimestamp, "1714564800123", `"2024-05-01T12:00:00.123Z"`},
		{typeTimestamp, "1714564800123456", `"2024-05-01T12:00:00.123456Z"`},
		{typeTimestamp, "1714564800123456789", `"2024-05-01T12:00:00.123456789Z"`},
		{typeTimestamp, "17145648001234567890", ""},
		{typeTimestamp, "1714564800.", ""},
		{typeTimestamp, "-5", ""},
	}
	p := &fields{loc: berlin, now: now}
	for _, tt := range tests {
		in := []byte(`{"v":` + string(AppendJSONString(nil, []byte(tt.in))) + `}`)
		if err := p.obj.scan("test", in); err != nil {
			t.Fatal(err)
		}
		want := tt.want
		if want == "" {
			want = string(in[5 : len(in)-1])
		}
		got := p.appendConverted([]byte("x"), in, &p.obj.members[0], tt.typ)
		if string(got) != "x"+want {
			t.Errorf("convert %q to type %d = %s, want %s", tt.in, tt.typ, got[1:], want)
		}
		if !json.Valid(got[1:]) {
			t.Errorf("convert %q to type %d gives invalid JSON %s", tt.in, tt.typ, got[1:])
		}
	}
	// Epoch times may be JSON numbers too.
	in := []byte(`{"v":1714564800}`)
	if err := p.obj.scan("test", in); err != nil {
		t.Fatal(err)
	}
	if got := p.appendConverted(nil, in, &p.obj.members[0], typeTimestamp); string(got) != `"2024-05-01T12:00:00Z"` {
		t.Errorf("convert the number 1714564800 to a timestamp = %s", got)
	}
}

func TestFieldsAllocs(t *testing.T) {
	c := mustChain(t, &config.Transform{Fields: &config.Fields{
		Rename: map[string]string{"ip": "client"}, Remove: []string{"method"},
		Add: map[string]string{"env": "prod"}, Path: "path", Offset: "offset", RecordID: "id",
		Types: map[string]string{"status": "int", "ts": "timestamp"},
	}})
	c.SetSource(testSource)
	in := []byte(`{"ts":"2024-05-01T12:00:00+02:00","ip":"192.168.10.24","method":"GET","status":"200","k\u00e9y":1}`)
	buf := make([]byte, 0, 4096)
	buf, _ = c.AppendLine(buf, in, 1, 2)
	want := `{"ts":"2024-05-01T12:00:00+02:00","client":"192.168.10.24","status":200,"k\u00e9y":1,"env":"prod","path":"/var/log/app \"1\".log","offset":1,"id":"` + testRecordHash + `-1"}`
	if string(buf) != want {
		t.Fatalf("got  %s\nwant %s", buf, want)
	}
	allocs := testing.AllocsPerRun(100, func() { buf, _ = c.AppendLine(buf[:0], in, 1, 2) })
	if allocs != 0 {
		t.Fatalf("fields allocates %v times per record, want 0", allocs)
	}
}
