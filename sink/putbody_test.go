// Tests of the JSON PutRecords body: same as encoding/json's, keys,
// allocations.

package sink

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/kinetail/kinetail/internal/kpl"
)

// wireRequest is a PutRecords body as encoding/json sees it.
type wireRequest struct {
	StreamName *string      `json:"StreamName,omitempty"`
	StreamARN  *string      `json:"StreamARN,omitempty"`
	Records    []wireRecord `json:"Records"`
}

type wireRecord struct {
	Data            []byte `json:"Data"`
	PartitionKey    string `json:"PartitionKey"`
	ExplicitHashKey string `json:"ExplicitHashKey,omitempty"`
}

func decodeBody(t *testing.T, body []byte) wireRequest {
	t.Helper()
	var w wireRequest
	d := json.NewDecoder(strings.NewReader(string(body)))
	d.DisallowUnknownFields()
	if err := d.Decode(&w); err != nil {
		t.Fatalf("body is not a PutRecords request: %v\n%s", err, body)
	}
	return w
}

func deterministicKey(data []byte) string {
	b := make([]byte, derivedKeyLen)
	putHex64(b, fnv64a(data))
	return string(b)
}

// TestPutRecordsBodyMatchesEncodingJSON compares the hand-written body with
// what encoding/json makes of the same request, after decoding both.
func TestPutRecordsBodyMatchesEncodingJSON(t *testing.T) {
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
		{"binary data of every length mod 3", "events", false, []entry{
			{data: binary, key: "a"}, {data: binary[:1], key: "b"}, {data: binary[:2], key: "c"}, {data: binary[:3], key: "d"},
		}},
		{"keys that need escaping", "events", false, []entry{
			{data: []byte("1"), key: `quote " and backslash \ and slash /`},
			{data: []byte("2"), key: "control \x00\x01\x1f\n\r\t\b\f"},
			{data: []byte("3"), key: "unicode ключ 日本 🎉 \u2028"},
			{data: []byte("4"), key: "html <&>"},
		}},
		{"a stream given by ARN", "arn:aws:kinesis:us-east-1:123456789012:stream/events", true, []entry{{data: []byte("x"), key: "k"}}},
		{"a stream name that needs escaping", "we\"ird\\", false, []entry{{data: []byte("x"), key: "k"}}},
		{"explicit hash keys", "events", false, []entry{
			{data: []byte("x"), key: "k", hash: "0"}, {data: []byte("y")},
			{data: []byte("z"), hash: "340282366920938463463374607431768211455"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := &keySource{deterministic: true}
			body := appendPutRecordsBody([]byte("garbage to be kept"), tt.stream, tt.byARN, tt.entries, ks, nil)
			if !strings.HasPrefix(string(body), "garbage to be kept") {
				t.Fatalf("appendPutRecordsBody did not append")
			}
			body = body[len("garbage to be kept"):]
			if n := putRecordsBodyLen(tt.stream, tt.byARN, tt.entries); n != len(body) {
				t.Errorf("putRecordsBodyLen = %d, body has %d bytes", n, len(body))
			}
			if !json.Valid(body) {
				t.Fatalf("body is not valid JSON: %s", body)
			}

			want := wireRequest{}
			if tt.byARN {
				want.StreamARN = &tt.stream
			} else {
				want.StreamName = &tt.stream
			}
			for _, e := range tt.entries {
				key := e.key
				if key == "" {
					key = deterministicKey(e.data)
				}
				want.Records = append(want.Records, wireRecord{Data: e.data, PartitionKey: key, ExplicitHashKey: e.hash})
			}
			wantBody, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := decodeBody(t, body), decodeBody(t, wantBody); !reflect.DeepEqual(got, want) {
				t.Errorf("body decodes to\n%+v\nencoding/json's to\n%+v", got, want)
			}
		})
	}
}

func TestPutRecordsBodyKeys(t *testing.T) {
	tests := []struct {
		name          string
		deterministic bool
		keys          []string
		check         func(t *testing.T, data []byte, explicit, got string)
	}{
		{"explicit keys are sent as given", false, []string{"a", "b", "c"}, func(t *testing.T, _ []byte, explicit, got string) {
			if got != explicit {
				t.Errorf("key %q, want %q", got, explicit)
			}
		}},
		{"deterministic keys hash the data", true, []string{"", "x", ""}, func(t *testing.T, data []byte, explicit, got string) {
			want := explicit
			if want == "" {
				want = deterministicKey(data)
			}
			if got != want {
				t.Errorf("key %q, want %q", got, want)
			}
		}},
		{"random keys are 16 hex digits", false, []string{"", "", ""}, func(t *testing.T, _ []byte, _, got string) {
			if len(got) != 16 || strings.Trim(got, "0123456789abcdef") != "" {
				t.Errorf("key %q is not 16 hex digits", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := &keySource{deterministic: tt.deterministic, rng: rand.NewPCG(1, 2)}
			var entries []entry
			for i, k := range tt.keys {
				entries = append(entries, entry{data: []byte{byte('0' + i)}, key: k})
			}
			w := decodeBody(t, appendPutRecordsBody(nil, "s", false, entries, ks, nil))
			if len(w.Records) != len(tt.keys) || w.StreamName == nil || *w.StreamName != "s" || w.StreamARN != nil {
				t.Fatalf("body has %d records for stream %v, want %d for s", len(w.Records), w.StreamName, len(tt.keys))
			}
			seen := map[string]bool{}
			for i, rec := range w.Records {
				if string(rec.Data) != string(entries[i].data) {
					t.Errorf("record %d data %q, want %q", i, rec.Data, entries[i].data)
				}
				tt.check(t, rec.Data, tt.keys[i], rec.PartitionKey)
				seen[rec.PartitionKey] = true
			}
			if len(seen) != len(tt.keys) {
				t.Errorf("keys %v are not distinct", seen)
			}
		})
	}
}

func TestPutRecordsBodyAllocations(t *testing.T) {
	ks := &keySource{rng: rand.NewPCG(1, 2)}
	var entries []entry
	for i := range 500 {
		e := entry{data: []byte(`{"time":"2024-05-01T12:00:00Z","host":"web-1","status":200}`)}
		if i%2 == 0 {
			e.key = "user-\"42\""
		}
		entries = append(entries, e)
	}
	body := appendPutRecordsBody(nil, "s", false, entries, ks, nil) // grow the buffer once
	allocs := testing.AllocsPerRun(20, func() { body = appendPutRecordsBody(body[:0], "s", false, entries, ks, nil) })
	if allocs != 0 {
		t.Errorf("building a body of 500 records into a reused buffer allocates %.0f times, want 0", allocs)
	}
}

func BenchmarkPutRecordsBody(b *testing.B) {
	ks := &keySource{rng: rand.NewPCG(1, 2)}
	entries := sameEntries(500, []byte(`{"time":"2024-05-01T12:00:00Z","host":"web-1","status":200,"path":"/index.html","bytes":5120}`), "")
	var body []byte
	b.SetBytes(int64(500 * len(entries[0].data)))
	for b.Loop() {
		body = appendPutRecordsBody(body[:0], "events", false, entries, ks, nil)
	}
}

// Packed entries are built while the body is written, and their length is
// known beforehand: the body holds each aggregate exactly once and has the
// length putRecordsBodyLen said.
func TestPutRecordsBodyPackedEntries(t *testing.T) {
	ks := &keySource{deterministic: true}
	src := []entry{{data: []byte("one")}, {data: []byte("two")}, {data: []byte("three")}}
	p := &kplPacker{ks: ks}
	agg, n := p.pack(src, 1000, "")
	if n != 3 || agg.parts == nil || agg.data != nil {
		t.Fatalf("pack took %d entries into %+v", n, agg)
	}
	entries := []entry{agg, {data: []byte("plain"), key: "k"}}
	var b builder
	body := appendPutRecordsBody(nil, "s", false, entries, ks, &b)
	if want := putRecordsBodyLen("s", false, entries); len(body) != want {
		t.Fatalf("body of %d bytes, putRecordsBodyLen said %d", len(body), want)
	}
	w := decodeBody(t, body)
	if len(w.Records) != 2 || w.Records[0].PartitionKey != agg.key || string(w.Records[1].Data) != "plain" {
		t.Fatalf("body decodes to %+v", w)
	}
	recs, err := kpl.Decode(w.Records[0].Data)
	if err != nil || len(recs) != 3 || string(recs[2].Data) != "three" {
		t.Fatalf("aggregate decodes to %v, %v", recs, err)
	}
}
