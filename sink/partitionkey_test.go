// Tests of derived and explicit partition keys.

package sink

import (
	"hash/fnv"
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
		{"invalid UTF-8 is replaced", "a\xffb", "a\uFFFDb"},
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
