package benchaccept

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"hash/maphash"
	"slices"
	"strings"
	"testing"
)

type kinesisEntry struct {
	Data         []byte
	PartitionKey string
}

// body encodes a PutRecords request the way a JSON encoder does: []byte as
// base64, and <, >, & in strings as \u escapes.
func body(t testing.TB, stream string, entries ...kinesisEntry) []byte {
	t.Helper()
	b, err := json.Marshal(struct {
		Records    []kinesisEntry
		StreamName string
	}{entries, stream})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// aggregate builds a KPL aggregated record holding the given user records:
// magic, an AggregatedRecord message, its MD5.
func aggregate(records ...string) []byte {
	m := field(nil, 1, []byte("pk")) // partition_key_table
	for _, r := range records {
		rec := []byte{1 << 3, 0} // partition_key_index: 0 (a varint field)
		rec = field(rec, 3, []byte(r))
		m = field(m, 3, rec) // records
	}
	sum := md5.Sum(m)
	out := append([]byte{0xF3, 0x89, 0x9A, 0xC2}, m...)
	return append(out, sum[:]...)
}

// field appends a length-delimited protobuf field.
func field(b []byte, num int, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(num)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func TestScan(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 30000)
	tests := []struct {
		name       string
		body       []byte
		countLines bool
		want       putRecords // stream compared as a string
		wantErr    bool
	}{{
		name: "data of every length modulo 3 decodes to its exact size",
		body: body(t, "s", kinesisEntry{[]byte("a"), "k"}, kinesisEntry{[]byte("ab"), "k"}, kinesisEntry{[]byte("abc"), "k"}, kinesisEntry{[]byte("abcd"), "k"}),
		want: putRecords{stream: []byte("s"), records: 4, dataBytes: 10, units: 4, userRecords: 4},
	}, {
		name: "a record over 25 KiB with its key costs two payload units",
		body: body(t, "s", kinesisEntry{big[:payloadUnit-1], "k"}, kinesisEntry{big[:payloadUnit], "k"}, kinesisEntry{big, "k"}),
		want: putRecords{stream: []byte("s"), records: 3, dataBytes: 2*payloadUnit - 1 + 30000, units: 1 + 2 + 2, userRecords: 3},
	}, {
		name: "escaped partition keys count their unescaped bytes",
		// "<é>" is \u003c, two bytes of é, \u003e: four bytes, so 25596
		// bytes of data plus the key fill exactly one unit.
		body: body(t, "s", kinesisEntry{big[:payloadUnit-4], "<é>"}),
		want: putRecords{stream: []byte("s"), records: 1, dataBytes: payloadUnit - 4, units: 1, userRecords: 1},
	}, {
		name: "escaped slashes in base64 data",
		body: []byte(`{"StreamName":"s","Records":[{"PartitionKey":"k","Data":"\/\/\/\/"}]}`),
		want: putRecords{stream: []byte("s"), records: 1, dataBytes: 3, units: 1, userRecords: 1},
	}, {
		name: "keys in any order, whitespace, a hash key and a stream ARN",
		body: []byte(`{ "Records" : [ { "PartitionKey" : "k", "ExplicitHashKey": "1", "Data" : "YWJj" },
			{"Data":"YQ==","PartitionKey":"\"Data\":\""} ], "StreamARN": "arn:aws:kinesis:us-east-1:1:stream/s" }`),
		want: putRecords{stream: []byte("arn:aws:kinesis:us-east-1:1:stream/s"), records: 2, dataBytes: 4, units: 2, userRecords: 2},
	}, {
		name:       "lines are counted when asked",
		body:       body(t, "s", kinesisEntry{[]byte("a\nb\n"), "k"}, kinesisEntry{[]byte("a\nb"), "k"}, kinesisEntry{[]byte("one\n"), "k"}),
		countLines: true,
		want:       putRecords{stream: []byte("s"), records: 3, dataBytes: 11, units: 3, userRecords: 5},
	}, {
		name:       "inner records of a KPL aggregate are counted",
		body:       body(t, "s", kinesisEntry{aggregate("a\n", "b", "c"), "k"}, kinesisEntry{[]byte("x"), "k"}),
		countLines: true,
		want:       putRecords{stream: []byte("s"), records: 2, dataBytes: int64(len(aggregate("a\n", "b", "c"))) + 1, units: 2, userRecords: 4},
	}, {
		name:    "a record without a partition key",
		body:    []byte(`{"StreamName":"s","Records":[{"Data":"YWJj"}]}`),
		wantErr: true,
	}, {
		name:    "base64 of a bad length",
		body:    []byte(`{"StreamName":"s","Records":[{"Data":"YWJ","PartitionKey":"k"}]}`),
		wantErr: true,
	}, {
		name:    "an unterminated string",
		body:    []byte(`{"StreamName":"s","Records":[{"Data":"YWJj`),
		wantErr: true,
	}, {
		name:       "bad base64 when decoding",
		body:       []byte(`{"StreamName":"s","Records":[{"Data":"YW!j","PartitionKey":"k"}]}`),
		countLines: true,
		wantErr:    true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScanner(tt.countLines, false, maphash.MakeSeed())
			// Scan twice with the same scanner: reused buffers must not leak
			// state from one body into the next.
			for range 2 {
				got, err := s.scan(tt.body)
				if tt.wantErr {
					if err == nil {
						t.Fatalf("scan succeeded: %+v", got)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if string(got.stream) != string(tt.want.stream) {
					t.Errorf("stream = %q, want %q", got.stream, tt.want.stream)
				}
				if counts(got) != counts(tt.want) {
					t.Errorf("scan = %+v, want %+v", got, tt.want)
				}
			}
		})
	}
}

func counts(p putRecords) [4]int64 {
	return [4]int64{p.records, p.dataBytes, p.units, p.userRecords}
}

func TestUserRecords(t *testing.T) {
	tests := []struct {
		data        string
		want, bytes int
		records     []string // as visited
	}{
		{"", 0, 0, nil},
		{"\n", 1, 1, []string{""}},
		{"a", 1, 1, []string{"a"}},
		{"a\n", 1, 2, []string{"a"}},
		{"a\nb", 2, 3, []string{"a", "b"}},
		{"a\nb\n", 2, 4, []string{"a", "b"}},
		{"a\n\nb\n", 3, 5, []string{"a", "", "b"}},
		{string(aggregate()), 0, 0, nil},
		{string(aggregate("x", "yz")), 2, 3, []string{"x", "yz"}},
		{string(aggregate("x\n", "")), 2, 2, []string{"x\n", ""}},
		// The magic without a valid message is plain data.
		{string([]byte{0xF3, 0x89, 0x9A, 0xC2}) + strings.Repeat("\xff", 17), 1, 21,
			[]string{string([]byte{0xF3, 0x89, 0x9A, 0xC2}) + strings.Repeat("\xff", 17)}},
	}
	for _, tt := range tests {
		if got, b := userRecords([]byte(tt.data), nil); got != tt.want || b != tt.bytes {
			t.Errorf("userRecords(%q) = %d, %d bytes; want %d, %d", tt.data, got, b, tt.want, tt.bytes)
		}
		var seen []string
		got, b := userRecords([]byte(tt.data), func(r []byte) { seen = append(seen, string(r)) })
		if got != tt.want || b != tt.bytes || !slices.Equal(seen, tt.records) {
			t.Errorf("userRecords(%q) visiting = %d, %d bytes, %q; want %d, %d, %q", tt.data, got, b, seen, tt.want, tt.bytes, tt.records)
		}
	}
}

// The scanner keeps one entry per record, in order, and with distinct a
// hash per user record, so the acceptor can store some entries and not
// others.
func TestScanEntries(t *testing.T) {
	body := body(t, "s",
		kinesisEntry{[]byte("a\nb\n"), "k"},
		kinesisEntry{aggregate("c", "d", "e"), "k"},
		kinesisEntry{[]byte("a"), "k"}, // the same user record as the first's
	)
	s := newScanner(false, true, maphash.MakeSeed())
	p, err := s.scan(body)
	if err != nil {
		t.Fatal(err)
	}
	if p.records != 3 || p.userRecords != 6 {
		t.Fatalf("scan = %+v, want 3 records of 6 user records", p)
	}
	wantUsers := []int64{2, 3, 1}
	wantEnds := []int{2, 5, 6}
	if len(s.entries) != 3 {
		t.Fatalf("%d entries, want 3", len(s.entries))
	}
	for i, e := range s.entries {
		if e.userRecords != wantUsers[i] || e.hashEnd != wantEnds[i] || e.units != 1 {
			t.Errorf("entry %d = %+v, want %d user records, hashes ending at %d, 1 unit", i, e, wantUsers[i], wantEnds[i])
		}
	}
	if s.hashes[0] != s.hashes[5] || s.hashes[0] == s.hashes[1] {
		t.Errorf("hashes %x: want the first and last equal (both \"a\"), the first two different", s.hashes)
	}
}

func TestAppendPadded(t *testing.T) {
	for _, tt := range []struct {
		v    uint64
		want string
	}{
		{0, "00000000000000000000"},
		{42, "00000000000000000042"},
		{18446744073709551615, "18446744073709551615"},
	} {
		if got := string(appendPadded([]byte("x"), tt.v)); got != "x"+tt.want {
			t.Errorf("appendPadded(%d) = %s", tt.v, got)
		}
	}
}

// BenchmarkScan scans a full PutRecords body of 500 JSON lines.
func BenchmarkScan(b *testing.B) {
	for _, countLines := range []bool{false, true} {
		name := "sizes"
		if countLines {
			name = "lines"
		}
		b.Run(name, func(b *testing.B) {
			line := []byte(`{"time":"2026-11-22T05:00:00.123Z","host":"host-17","method":"GET","path":"/api/v1/items/123456","status":"200","bytes":"5123"}` + "\n")
			entries := make([]kinesisEntry, 500)
			for i := range entries {
				entries[i] = kinesisEntry{line, "0123456789abcdef0123456789abcdef"}
			}
			body := body(b, "bench", entries...)
			s := newScanner(countLines, false, maphash.MakeSeed())
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := s.scan(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
