// Tests of the CBOR PutRecords body: same content as the JSON one, exact
// bytes, allocations.

package sink

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/kinetail/kinetail/internal/kinesistest"
	"github.com/kinetail/kinetail/internal/kpl"
)

// decodeCBORBody decodes a CBOR PutRecords body with the test server's own
// decoder, which shares no code with the encoder, and fails on anything but
// the members and types of a PutRecords request.
func decodeCBORBody(t testing.TB, body []byte) wireRequest {
	t.Helper()
	w, err := cborWireRequest(body)
	if err != nil {
		t.Fatalf("body is not a CBOR PutRecords request: %v\n%x", err, body)
	}
	return w
}

func cborWireRequest(body []byte) (wireRequest, error) {
	var w wireRequest
	v, err := kinesistest.DecodeCBOR(body)
	if err != nil {
		return w, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return w, fmt.Errorf("a %T, not a map", v)
	}
	for k, v := range m {
		switch k {
		case "StreamName", "StreamARN":
			s, ok := v.(string)
			if !ok {
				return w, fmt.Errorf("%s is a %T", k, v)
			}
			if k == "StreamName" {
				w.StreamName = &s
			} else {
				w.StreamARN = &s
			}
		case "Records":
			recs, ok := v.([]any)
			if !ok {
				return w, fmt.Errorf("Records is a %T", v)
			}
			w.Records = []wireRecord{}
			for _, r := range recs {
				e, ok := r.(map[string]any)
				if !ok {
					return w, fmt.Errorf("a record is a %T", r)
				}
				var rec wireRecord
				for k, v := range e {
					var ok bool
					switch k {
					case "Data":
						rec.Data, ok = v.([]byte)
					case "PartitionKey":
						rec.PartitionKey, ok = v.(string)
					case "ExplicitHashKey":
						rec.ExplicitHashKey, ok = v.(string)
						ok = ok && rec.ExplicitHashKey != "" // written only when there is one
					}
					if !ok {
						return w, fmt.Errorf("record member %s: %T %v", k, v, v)
					}
				}
				if rec.Data == nil || rec.PartitionKey == "" {
					return w, fmt.Errorf("record without Data or PartitionKey: %v", e)
				}
				w.Records = append(w.Records, rec)
			}
		default:
			return w, fmt.Errorf("unknown member %q", k)
		}
	}
	if w.Records == nil || (w.StreamName == nil) == (w.StreamARN == nil) {
		return w, fmt.Errorf("want Records and one of StreamName and StreamARN: %v", m)
	}
	return w, nil
}

// TestPutRecordsCBORMatchesJSON encodes the same requests in CBOR and in
// JSON and checks that both decode to the same records, and that the
// computed length is exact.
func TestPutRecordsCBORMatchesJSON(t *testing.T) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	tests := []struct {
		name    string
		stream  string
		byARN   bool
		entries []entry
	}{
		{"one record", "events", false, []entry{{data: []byte(`{"a":1}`), key: "k"}}},
		{"derived keys", "events", false, []entry{{data: []byte("x")}, {data: []byte("y")}, {data: []byte("")}}},
		{"data lengths around every head size", "events", false, []entry{
			{data: binary[:23], key: "a"}, {data: binary[:24], key: "b"}, {data: binary[:255], key: "c"},
			{data: binary, key: "d"}, {data: bytes.Repeat(binary, 256), key: "e"}, {data: bytes.Repeat(binary, 257), key: "f"},
		}},
		{"keys of every head size", "events", false, []entry{
			{data: []byte("1"), key: strings.Repeat("k", 23)}, {data: []byte("2"), key: strings.Repeat("k", 24)},
			{data: []byte("3"), key: strings.Repeat("k", 256)},
		}},
		{"keys in unicode and control characters", "events", false, []entry{
			{data: []byte("1"), key: `quote " and backslash \ and slash /`},
			{data: []byte("2"), key: "control \x00\x01\x1f\n\r\t\b\f"},
			{data: []byte("3"), key: "unicode ключ 日本 🎉 \u2028"},
		}},
		{"keys that are not UTF-8 are sent as JSON sends them", "events", false, []entry{
			{data: []byte("1"), key: "bad \xff byte"}, {data: []byte("2"), key: "\xe2\x82 cut rune"}, {data: []byte("3"), key: "\xc0\xaf"},
		}},
		{"a stream given by ARN", "arn:aws:kinesis:us-east-1:123456789012:stream/events", true, []entry{{data: []byte("x"), key: "k"}}},
		{"explicit hash keys", "events", false, []entry{
			{data: []byte("x"), key: "k", hash: "0"}, {data: []byte("y")},
			{data: []byte("z"), hash: "340282366920938463463374607431768211455"},
		}},
		{"25 records: a two-byte array head", "events", false, func() []entry {
			var es []entry
			for i := range 25 {
				es = append(es, entry{data: []byte{byte(i)}})
			}
			return es
		}()},
		{"500 records", "events", false, func() []entry {
			var es []entry
			for i := range 500 {
				es = append(es, entry{data: binary[:i%200], key: strings.Repeat("p", i%30)})
			}
			return es
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := &keySource{deterministic: true}
			body := appendPutRecordsCBOR([]byte("kept"), tt.stream, tt.byARN, tt.entries, ks, nil)
			if !bytes.HasPrefix(body, []byte("kept")) {
				t.Fatalf("appendPutRecordsCBOR did not append")
			}
			body = body[len("kept"):]
			if n := putRecordsCBORLen(tt.stream, tt.byARN, tt.entries); n != len(body) {
				t.Errorf("putRecordsCBORLen = %d, body has %d bytes", n, len(body))
			}
			got := decodeCBORBody(t, body)
			want := decodeBody(t, appendPutRecordsBody(nil, tt.stream, tt.byARN, tt.entries, ks, nil))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("CBOR body decodes to\n%+v\nthe JSON body to\n%+v", got, want)
			}
		})
	}
}

// The CBOR body uses the shortest heads and definite lengths: exactly the
// bytes RFC 8949's preferred serialization gives, checked here by hand for
// a small request.
func TestPutRecordsCBORBytes(t *testing.T) {
	entries := []entry{{data: []byte{0, 0xff}, key: "k"}, {data: []byte("d"), key: "é", hash: "7"}}
	got := appendPutRecordsCBOR(nil, "s", false, entries, nil, nil)
	want := "\xa2" + "\x6aStreamName" + "\x61s" + "\x67Records" + "\x82" +
		"\xa2" + "\x64Data" + "\x42\x00\xff" + "\x6cPartitionKey" + "\x61k" +
		"\xa3" + "\x64Data" + "\x41d" + "\x6cPartitionKey" + "\x62\xc3\xa9" + "\x6fExplicitHashKey" + "\x617"
	if string(got) != want {
		t.Errorf("body\n%x\nwant\n%x", got, want)
	}
}

func TestPutRecordsCBORKeys(t *testing.T) {
	ks := &keySource{rng: rand.NewPCG(1, 2)}
	entries := []entry{{data: []byte("a")}, {data: []byte("b")}, {data: []byte("c"), key: "mine"}}
	w := decodeCBORBody(t, appendPutRecordsCBOR(nil, "s", false, entries, ks, nil))
	seen := map[string]bool{}
	for i, rec := range w.Records {
		seen[rec.PartitionKey] = true
		if entries[i].key != "" {
			if rec.PartitionKey != entries[i].key {
				t.Errorf("record %d key %q, want %q", i, rec.PartitionKey, entries[i].key)
			}
			continue
		}
		if len(rec.PartitionKey) != derivedKeyLen || strings.Trim(rec.PartitionKey, hexDigits) != "" {
			t.Errorf("record %d key %q is not %d hex digits", i, rec.PartitionKey, derivedKeyLen)
		}
	}
	if len(seen) != 3 {
		t.Errorf("keys %v are not distinct", seen)
	}
}

func TestPutRecordsCBORPackedEntries(t *testing.T) {
	ks := &keySource{deterministic: true}
	src := []entry{{data: []byte("one")}, {data: []byte("two")}, {data: []byte("three")}}
	p := &kplPacker{ks: ks}
	agg, n := p.pack(src, 1000, "")
	if n != 3 || agg.parts == nil {
		t.Fatalf("pack took %d entries into %+v", n, agg)
	}
	entries := []entry{agg, {data: []byte("plain"), key: "k"}}
	var b builder
	body := appendPutRecordsCBOR(nil, "s", false, entries, ks, &b)
	if want := putRecordsCBORLen("s", false, entries); len(body) != want {
		t.Fatalf("body of %d bytes, putRecordsCBORLen said %d", len(body), want)
	}
	w := decodeCBORBody(t, body)
	if len(w.Records) != 2 || w.Records[0].PartitionKey != agg.key || string(w.Records[1].Data) != "plain" {
		t.Fatalf("body decodes to %+v", w)
	}
	recs, err := kpl.Decode(w.Records[0].Data)
	if err != nil || len(recs) != 3 || string(recs[2].Data) != "three" {
		t.Fatalf("aggregate decodes to %v, %v", recs, err)
	}
}

func TestPutRecordsCBORAllocations(t *testing.T) {
	ks := &keySource{rng: rand.NewPCG(1, 2)}
	var entries []entry
	for i := range 500 {
		e := entry{data: []byte(`{"time":"2024-05-01T12:00:00Z","host":"web-1","status":200}`)}
		switch i % 3 {
		case 0:
			e.key = "user-42"
		case 1:
			e.key, e.hash = "k\xff", "12345"
		}
		entries = append(entries, e)
	}
	body := appendPutRecordsCBOR(nil, "s", false, entries, ks, nil) // grow the buffer once
	allocs := testing.AllocsPerRun(20, func() { body = appendPutRecordsCBOR(body[:0], "s", false, entries, ks, nil) })
	if allocs != 0 {
		t.Errorf("building a CBOR body of 500 records into a reused buffer allocates %.0f times, want 0", allocs)
	}
}

func BenchmarkPutRecordsCBOR(b *testing.B) {
	ks := &keySource{rng: rand.NewPCG(1, 2)}
	entries := sameEntries(500, []byte(`{"time":"2024-05-01T12:00:00Z","host":"web-1","status":200,"path":"/index.html","bytes":5120}`), "")
	var body []byte
	b.SetBytes(int64(500 * len(entries[0].data)))
	for b.Loop() {
		body = appendPutRecordsCBOR(body[:0], "events", false, entries, ks, nil)
	}
}

// FuzzCBORBody encodes requests made of arbitrary data, keys and hash keys
// and checks that the test server's decoder reads back exactly what the
// JSON body carries, in exactly the computed number of bytes.
func FuzzCBORBody(f *testing.F) {
	f.Add([]byte("data"), "key", "", "events", uint8(1), false)
	f.Add([]byte{}, "", "340282366920938463463374607431768211455", "arn:aws:kinesis:us-east-1:1:stream/s", uint8(3), true)
	f.Add(bytes.Repeat([]byte{0xff}, 300), "\xff\xfe", "1", "s", uint8(30), false)
	f.Add([]byte("\x00"), strings.Repeat("é", 40), "", "", uint8(0), false)
	f.Fuzz(func(t *testing.T, data []byte, key, hash, stream string, n uint8, byARN bool) {
		entries := make([]entry, int(n)%40)
		for i := range entries {
			// Vary the records: some share the key, some derive theirs.
			entries[i] = entry{data: data[:len(data)*i/max(len(entries), 1)], hash: hash}
			if i%2 == 0 {
				entries[i].key = key
			}
		}
		ks := &keySource{deterministic: true}
		body := appendPutRecordsCBOR(nil, stream, byARN, entries, ks, nil)
		if want := putRecordsCBORLen(stream, byARN, entries); len(body) != want {
			t.Fatalf("body of %d bytes, putRecordsCBORLen said %d", len(body), want)
		}
		got, err := cborWireRequest(body)
		if err != nil {
			t.Fatalf("body does not decode: %v\n%x", err, body)
		}
		want := decodeBody(t, appendPutRecordsBody(nil, stream, byARN, entries, ks, nil))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("CBOR body decodes to\n%+v\nthe JSON body to\n%+v", got, want)
		}
	})
}
