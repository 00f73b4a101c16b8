// Tests of 128-bit hash keys: parsing, printing, ordering, lookups.

package sink

import (
	"crypto/md5"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

const maxHashKeyDecimal = "340282366920938463463374607431768211455" // 2^128-1

func TestParseHashKey(t *testing.T) {
	tests := []struct {
		in      string
		wantErr bool
	}{
		{"0", false},
		{"1", false},
		{"9", false},
		{"10", false},
		{"9999999999999999999", false},  // 10^19-1, one chunk of String
		{"10000000000000000000", false}, // 10^19
		{"18446744073709551615", false}, // 2^64-1
		{"18446744073709551616", false}, // 2^64
		{"85070591730234615865843651857942052864", false}, // 2^126
		{maxHashKeyDecimal, false},
		{"340282366920938463463374607431768211456", true},  // 2^128
		{"340282366920938463463374607431768211465", true},  // carries out in the last digit
		{"999999999999999999999999999999999999999", true},  // 39 nines
		{"1000000000000000000000000000000000000000", true}, // 40 digits
		{"", true},
		{"00", true},
		{"01", true},
		{"-1", true},
		{"+1", true},
		{" 1", true},
		{"1 ", true},
		{"1.0", true},
		{"1e3", true},
		{"0x10", true},
		{"１", true}, // a full-width digit
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			h, err := parseHashKey(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseHashKey(%q) = %s, want an error", tt.in, h)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseHashKey(%q): %v", tt.in, err)
			}
			want, _ := new(big.Int).SetString(tt.in, 10)
			if got := new(big.Int).SetBytes(h[:]); got.Cmp(want) != 0 {
				t.Errorf("parseHashKey(%q) holds %s", tt.in, got)
			}
			if s := h.String(); s != tt.in {
				t.Errorf("String() = %q, want %q", s, tt.in)
			}
		})
	}
}

func TestHashKeyStringMatchesBig(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		var h hashKey
		for j := range h {
			h[j] = byte(rng.Uint32())
		}
		// Also keys with long runs of zero bytes, where chunks of the
		// decimal form need their leading zeros.
		if i%2 == 1 {
			clear(h[:rng.IntN(16)])
		}
		want := new(big.Int).SetBytes(h[:]).String()
		if got := h.String(); got != want {
			t.Fatalf("String of %x = %s, want %s", h[:], got, want)
		}
		if back, err := parseHashKey(want); err != nil || back != h {
			t.Fatalf("parseHashKey(%s) = %x, %v", want, back[:], err)
		}
	}
}

func TestHashKeyOf(t *testing.T) {
	tests := []struct {
		key     string
		wantHex string
	}{
		{"", "d41d8cd98f00b204e9800998ecf8427e"},
		{"a", "0cc175b9c0f1b6a831c399e269772661"},
		{"partition-key-1", ""},
		{"ключ", ""},
		{strings.Repeat("k", 256), ""},
	}
	for _, tt := range tests {
		h := hashKeyOf(tt.key)
		want := md5.Sum([]byte(tt.key))
		if h != hashKey(want) {
			t.Errorf("hashKeyOf(%q) = %x, want %x", tt.key, h[:], want[:])
		}
		if tt.wantHex != "" {
			if got := new(big.Int).SetBytes(h[:]).Text(16); strings.TrimLeft(tt.wantHex, "0") != got {
				t.Errorf("hashKeyOf(%q) = %s, want %s", tt.key, got, tt.wantHex)
			}
		}
	}
}

func TestHashKeyCmp(t *testing.T) {
	mk := func(s string) hashKey {
		h, err := parseHashKey(s)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	tests := []struct {
		a, b string
		want int
	}{
		{"0", "0", 0},
		{"0", "1", -1},
		{"1", "0", 1},
		{"18446744073709551615", "18446744073709551616", -1}, // the low half is larger
		{"18446744073709551616", "18446744073709551615", 1},
		{maxHashKeyDecimal, maxHashKeyDecimal, 0},
		{"340282366920938463463374607431768211454", maxHashKeyDecimal, -1},
	}
	for _, tt := range tests {
		if got := mk(tt.a).cmp(mk(tt.b)); got != tt.want {
			t.Errorf("cmp(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestHashKeyNext(t *testing.T) {
	tests := []struct {
		in, want string
		wrapped  bool
	}{
		{"0", "1", false},
		{"18446744073709551615", "18446744073709551616", false},
		{maxHashKeyDecimal, "0", true},
	}
	for _, tt := range tests {
		h, _ := parseHashKey(tt.in)
		got, wrapped := h.next()
		if got.String() != tt.want || wrapped != tt.wrapped {
			t.Errorf("next(%s) = %s, %v; want %s, %v", tt.in, got, wrapped, tt.want, tt.wrapped)
		}
	}
}

func TestHashKeyLookupDoesNotAllocate(t *testing.T) {
	m := evenShardMap(t, 16)
	keys := []string{"k", "some-partition-key", strings.Repeat("x", 256)}
	var sink int
	allocs := testing.AllocsPerRun(100, func() {
		for _, k := range keys {
			sink += m.lookup(hashKeyOf(k))
		}
	})
	if allocs != 0 {
		t.Errorf("hashKeyOf and lookup allocate %.1f times per run", allocs)
	}
	_ = sink
}

func BenchmarkHashKeyLookup(b *testing.B) {
	m, err := newShardMap(evenShards(64))
	if err != nil {
		b.Fatal(err)
	}
	keys := []string{"0123456789abcdef", "user-1234", strings.Repeat("k", 64)}
	var sink int
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sink += m.lookup(hashKeyOf(keys[i%len(keys)]))
	}
	_ = sink
}
