package sink

import (
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestFNV64aMatchesStandardLibrary(t *testing.T) {
	for _, s := range []string{"", "a", "hello world", strings.Repeat("x", 1000)} {
		h := fnv.New64a()
		h.Write([]byte(s))
		if got, want := fnv64a([]byte(s)), h.Sum64(); got != want {
			t.Errorf("fnv64a(%q) = %x, want %x", s, got, want)
		}
	}
}

func TestPutHex64(t *testing.T) {
	b := make([]byte, 16)
	for _, tt := range []struct {
		v    uint64
		want string
	}{{0, "0000000000000000"}, {0xdeadbeef, "00000000deadbeef"}, {^uint64(0), "ffffffffffffffff"}} {
		putHex64(b, tt.v)
		if string(b) != tt.want {
			t.Errorf("putHex64(%x) = %s, want %s", tt.v, b, tt.want)
		}
	}
}

func TestExplicitKey(t *testing.T) {
	long := strings.Repeat("k", 257)
	wide := strings.Repeat("é", 256) // 512 bytes but 256 characters: allowed
	tests := []struct {
		name, key, want string
	}{
		{"short keys are kept", "user-42", "user-42"},
		{"256 multi-byte characters are kept", wide, wide},
		{"longer keys are hashed", long, "" /* checked below */},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := explicitKey(tt.key)
			if tt.want != "" {
				if got != tt.want {
					t.Errorf("explicitKey = %q, want %q", got, tt.want)
				}
				return
			}
			if len(got) != derivedKeyLen || got != explicitKey(tt.key) || got == explicitKey(long+"x") {
				t.Errorf("explicitKey(long) = %q, want a stable 16-char hash", got)
			}
		})
	}
}

func TestRequestPrepare(t *testing.T) {
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
				b := make([]byte, 16)
				putHex64(b, fnv64a(data))
				want = string(b)
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
			r := &request{}
			for i, k := range tt.keys {
				r.entries = append(r.entries, entry{data: []byte{byte('0' + i)}, key: k})
			}
			r.prepare("s", false, ks)
			if len(r.input.Records) != len(tt.keys) || *r.input.StreamName != "s" {
				t.Fatalf("input has %d records for stream %v, want %d for s", len(r.input.Records), r.input.StreamName, len(tt.keys))
			}
			seen := map[string]bool{}
			for i, rec := range r.input.Records {
				if string(rec.Data) != string(r.entries[i].data) {
					t.Errorf("record %d data %q, want %q", i, rec.Data, r.entries[i].data)
				}
				tt.check(t, rec.Data, tt.keys[i], *rec.PartitionKey)
				seen[*rec.PartitionKey] = true
			}
			if len(seen) != len(tt.keys) {
				t.Errorf("keys %v are not distinct", seen)
			}
		})
	}
}

func TestRequestPrepareByARN(t *testing.T) {
	r := &request{entries: []entry{{data: []byte("x"), key: "k"}}}
	arn := "arn:aws:kinesis:us-east-1:123456789012:stream/s"
	r.prepare(arn, true, &keySource{rng: rand.NewPCG(1, 2)})
	if r.input.StreamName != nil || r.input.StreamARN == nil || *r.input.StreamARN != arn {
		t.Errorf("StreamName %v, StreamARN %v; want only the ARN", r.input.StreamName, r.input.StreamARN)
	}
}

func TestRequestPrepareAllocations(t *testing.T) {
	ks := &keySource{rng: rand.NewPCG(1, 2)}
	r := &request{}
	for range 500 {
		r.entries = append(r.entries, entry{data: []byte("payload")})
	}
	r.prepare("s", false, ks) // grow the reusable slices once
	allocs := testing.AllocsPerRun(20, func() { r.prepare("s", false, ks) })
	// One string for all derived keys and one for the stream name pointer;
	// nothing per record.
	if allocs > 2 {
		t.Errorf("prepare of 500 records allocates %.0f times, want at most 2", allocs)
	}
}
