package benchaccept

import (
	"hash/maphash"
	"testing"

	smithycbor "github.com/aws/smithy-go/encoding/cbor"
)

// cborBody encodes a PutRecords request with another CBOR implementation,
// the way an SDK of the CBOR protocol sends it (an ExplicitHashKey on
// every other record).
func cborBody(stream string, entries ...kinesisEntry) []byte {
	recs := make(smithycbor.List, len(entries))
	for i, e := range entries {
		m := smithycbor.Map{"Data": smithycbor.Slice(e.Data), "PartitionKey": smithycbor.String(e.PartitionKey)}
		if i%2 == 1 {
			m["ExplicitHashKey"] = smithycbor.String("170141183460469231731687303715884105728")
		}
		recs[i] = m
	}
	return smithycbor.Encode(smithycbor.Map{"StreamName": smithycbor.String(stream), "Records": recs})
}

// A body gives the same counts in either protocol.
func TestScanCBORLikeJSON(t *testing.T) {
	big := make([]byte, 30000)
	for _, tt := range []struct {
		name    string
		entries []kinesisEntry
	}{
		{"short records", []kinesisEntry{{[]byte("a"), "k"}, {[]byte("ab"), "k"}, {[]byte("abc\n"), "key"}}},
		{"records over a payload unit", []kinesisEntry{{big[:payloadUnit-1], "k"}, {big[:payloadUnit], "k"}, {big, "k"}}},
		{"lines and aggregates", []kinesisEntry{{[]byte("a\nb\n"), "k"}, {aggregate("c", "d\n", "e"), "k"}, {[]byte("x"), "<é>"}}},
		{"an empty record", []kinesisEntry{{[]byte{}, "k"}}},
	} {
		for _, countLines := range []bool{false, true} {
			js := newScanner(countLines, false, maphash.MakeSeed())
			want, err := js.scan(body(t, "bench", tt.entries...))
			if err != nil {
				t.Fatal(err)
			}
			cs := newScanner(countLines, false, maphash.MakeSeed())
			for range 2 { // reused buffers keep nothing from the last body
				got, err := cs.scanCBOR(cborBody("bench", tt.entries...))
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				if string(got.stream) != "bench" || counts(got) != counts(want) || got.userBytes != want.userBytes {
					t.Errorf("%s (lines %v): CBOR %+v, JSON %+v", tt.name, countLines, got, want)
				}
				if len(cs.entries) != len(js.entries) {
					t.Errorf("%s: %d entries, want %d", tt.name, len(cs.entries), len(js.entries))
				}
			}
		}
	}
}

func TestScanCBOR(t *testing.T) {
	tests := []struct {
		name    string
		hex     string
		want    putRecords // stream compared as a string
		wantErr bool
	}{{
		// {_ "StreamName": (_ "ben", "ch"), "Records": [_ {_ "Data": (_ h'61', h'0a62'),
		//  "PartitionKey": "k", "X": [1, {"y": null}]}]}
		name: "indefinite lengths everywhere, and a key it does not know",
		hex: "bf" + "6a53747265616d4e616d65" + "7f6362656e626368ff" +
			"675265636f726473" + "9f" + "bf" + "6444617461" + "5f4161420a62ff" +
			"6c506172746974696f6e4b6579" + "616b" + "6158" + "8201a16179f6" + "ff" + "ff" + "ff",
		want: putRecords{stream: []byte("bench"), records: 1, dataBytes: 3, units: 1, userRecords: 2, userBytes: 3},
	}, {
		// {"StreamARN": "arn:x/s", "Records": [{"PartitionKey": "kk", "Data": h''}]}
		name: "a stream ARN, the key before the data, empty data",
		hex: "a2" + "6953747265616d41524e" + "6761726e3a782f73" +
			"675265636f726473" + "81" + "a2" + "6c506172746974696f6e4b6579" + "626b6b" + "6444617461" + "40",
		want: putRecords{stream: []byte("arn:x/s"), records: 1, dataBytes: 0, units: 1, userRecords: 0}, // the key costs a unit
	}, {
		name:    "a record without a partition key",
		hex:     "a1" + "675265636f726473" + "81" + "a1" + "6444617461" + "4161",
		wantErr: true,
	}, {
		name:    "data as text",
		hex:     "a1" + "675265636f726473" + "81" + "a2" + "6444617461" + "6161" + "6c506172746974696f6e4b6579" + "616b",
		wantErr: true,
	}, {
		name:    "two Data values in one record",
		hex:     "a1" + "675265636f726473" + "81" + "a3" + "6444617461" + "4161" + "6444617461" + "4161" + "6c506172746974696f6e4b6579" + "616b",
		wantErr: true,
	}, {
		name:    "Records is not an array",
		hex:     "a1" + "675265636f726473" + "a0",
		wantErr: true,
	}, {
		name:    "a map key that is not text",
		hex:     "a1" + "01" + "02",
		wantErr: true,
	}, {
		name:    "a key without a value in an indefinite map",
		hex:     "bf" + "6a53747265616d4e616d65" + "ff",
		wantErr: true,
	}, {
		name:    "bytes after the body",
		hex:     "a0" + "00",
		wantErr: true,
	}, {
		name:    "not a map",
		hex:     "80",
		wantErr: true,
	}, {
		name:    "a truncated body",
		hex:     "a2" + "6a53747265616d4e616d65" + "6562656e6368" + "675265636f726473" + "82" + "a2" + "6444617461" + "4161",
		wantErr: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScanner(true, false, maphash.MakeSeed())
			got, err := s.scanCBOR(unhex(t, tt.hex))
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
			if counts(got) != counts(tt.want) || got.userBytes != tt.want.userBytes {
				t.Errorf("scan = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCBORStreamName(t *testing.T) {
	for _, tt := range []struct {
		hex, want string
		ok        bool
	}{
		{"", "", true},
		{"a0", "", true},
		{"a1" + "6a53747265616d4e616d65" + "6562656e6368", "bench", true},
		{"a2" + "6953747265616d41524e" + "6761726e3a782f73" + "654c696d6974" + "0a", "arn:x/s", true},
		{"a1" + "6a53747265616d4e616d65" + "01", "", false},
		{"81", "", false},
	} {
		got, err := cborStreamName(unhex(t, tt.hex))
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("cborStreamName(%s) = %q, %v; want %q, ok %v", tt.hex, got, err, tt.want, tt.ok)
		}
	}
}

func BenchmarkScanCBOR(b *testing.B) {
	line := []byte(`{"time":"2026-11-22T05:00:00.123Z","host":"host-17","method":"GET","path":"/api/v1/items/123456","status":"200","bytes":"5123"}` + "\n")
	entries := make([]kinesisEntry, 500)
	for i := range entries {
		entries[i] = kinesisEntry{line, "0123456789abcdef0123456789abcdef"}
	}
	body := cborBody("bench", entries...)
	s := newScanner(true, false, maphash.MakeSeed())
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := s.scanCBOR(body); err != nil {
			b.Fatal(err)
		}
	}
}
