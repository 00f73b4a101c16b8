package benchaccept

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	smithycbor "github.com/aws/smithy-go/encoding/cbor"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every example of RFC 8949, appendix A (and a few more) is one whole item
// that skip steps over exactly.
func TestCBORSkip(t *testing.T) {
	for _, h := range []string{
		"00", "17", "1818", "1903e8", "1a000f4240", "1b000000e8d4a51000", "1bffffffffffffffff",
		"20", "3903e7", "3bffffffffffffffff",
		"f90000", "f93c00", "fa47c35000", "fb3ff199999999999a", "f97c00",
		"f4", "f5", "f6", "f7", "f0", "f8ff",
		"c074323031332d30332d32315432303a30343a30305a", "c11a514b67b0", "c1fb41d452d9ec200000",
		"d74401020304", "d818456449455446", "d82076687474703a2f2f7777772e6578616d706c652e636f6d",
		"40", "4401020304", "60", "6161", "6449455446", "62225c", "62c3bc", "63e6b0b4",
		"80", "83010203", "8301820203820405",
		"98190102030405060708090a0b0c0d0e0f101112131415161718181819",
		"a0", "a201020304", "a26161016162820203", "826161a161626163",
		"a56161614161626142616361436164614461656145",
		"5f42010243030405ff", "7f657374726561646d696e67ff",
		"9fff", "9f018202039f0405ffff", "9f01820203820405ff", "83018202039f0405ff", "83019f0203ff820405",
		"9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff",
		"bf61610161629f0203ffff", "826161bf61626163ff", "bf6346756ef563416d7421ff",
	} {
		b := unhex(t, h)
		d := &cborDecoder{b: b}
		if err := d.skip(0); err != nil || d.i != len(b) {
			t.Errorf("skip %s: err %v, stopped at %d of %d bytes", h, err, d.i, len(b))
		}
	}
}

func TestCBORSkipRejects(t *testing.T) {
	tests := []struct{ name, hex string }{
		{"reserved additional information", "1c"},
		{"an indefinite integer", "1f"},
		{"an indefinite tag", "df"},
		{"a break outside a container", "ff"},
		{"a truncated argument", "1901"},
		{"a truncated string", "4401"},
		{"a string longer than the input", "5bffffffffffffffff00"},
		{"an array longer than the input", "8501"},
		{"a map longer than the input", "bbffffffffffffffff"},
		{"an indefinite string with a chunk of another type", "5f6161ff"},
		{"an indefinite string inside an indefinite string", "5f5f4101ffff"},
		{"an unterminated indefinite array", "9f01"},
		{"an unterminated indefinite map", "bf616101"},
		{"nesting too deep", strings.Repeat("81", cborMaxDepth+2) + "00"},
		{"nothing", ""},
	}
	for _, tt := range tests {
		d := &cborDecoder{b: unhex(t, tt.hex)}
		if err := d.skip(0); err == nil {
			t.Errorf("%s (%s): skip succeeded", tt.name, tt.hex)
		}
	}
}

func TestCBORHead(t *testing.T) {
	tests := []struct {
		hex   string
		major byte
		arg   uint64
		indef bool
	}{
		{"00", cborUint, 0, false},
		{"17", cborUint, 23, false},
		{"1818", cborUint, 24, false},
		{"1903e8", cborUint, 1000, false},
		{"1a000f4240", cborUint, 1000000, false},
		{"1bffffffffffffffff", cborUint, 1<<64 - 1, false},
		{"3903e7", cborNegInt, 999, false},
		{"5f", cborBytes, 0, true},
		{"7f", cborText, 0, true},
		{"9f", cborArray, 0, true},
		{"bf", cborMap, 0, true},
		{"ff", cborSimple, 0, true}, // a break
		{"c1", cborTag, 1, false},
	}
	for _, tt := range tests {
		d := &cborDecoder{b: unhex(t, tt.hex)}
		major, arg, indef, err := d.head()
		if err != nil || major != tt.major || arg != tt.arg || indef != tt.indef {
			t.Errorf("head(%s) = %d, %d, %v, %v; want %d, %d, %v", tt.hex, major, arg, indef, err, tt.major, tt.arg, tt.indef)
		}
	}
}

func TestCBORStr(t *testing.T) {
	tests := []struct{ hex, want string }{
		{"40", ""},
		{"4401020304", "\x01\x02\x03\x04"},
		{"6449455446", "IETF"},
		{"62c3bc", "ü"},
		{"5f42010243030405ff", "\x01\x02\x03\x04\x05"},
		{"7f657374726561646d696e67ff", "streaming"},
		{"7fff", ""},
	}
	for _, tt := range tests {
		d := &cborDecoder{b: unhex(t, tt.hex)}
		major, arg, indef, err := d.head()
		if err != nil {
			t.Fatal(err)
		}
		// The scratch's earlier contents stay, and are not part of the
		// value.
		v, scratch, err := d.str(major, arg, indef, []byte("old"))
		if err != nil || string(v) != tt.want || !bytes.HasPrefix(scratch, []byte("old")) || d.i != len(d.b) {
			t.Errorf("str(%s) = %q, scratch %q, %v; want %q", tt.hex, v, scratch, err, tt.want)
		}
	}
}

func TestCBOREncode(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{0, "00"},
		{23, "17"},
		{24, "1818"},
		{255, "18ff"},
		{256, "190100"},
		{65535, "19ffff"},
		{65536, "1a00010000"},
		{int64(1) << 32, "1b0000000100000000"},
		{uint64(1<<64 - 1), "1bffffffffffffffff"},
		{-1, "20"},
		{-1000, "3903e7"},
		{false, "f4"},
		{true, "f5"},
		{nil, "f6"},
		{"", "60"},
		{"IETF", "6449455446"},
		{"ü", "62c3bc"},
		{[]byte{1, 2, 3, 4}, "4401020304"},
		{[]string{}, "80"},
		{[]any{1, []any{2, 3}, []any{4, 5}}, "8301820203820405"},
		{map[string]any{}, "a0"},
		{map[string]any{"b": []any{2, 3}, "a": 1}, "a26161016162820203"},
		{map[string]string{"e": "E", "a": "A", "c": "C", "b": "B", "d": "D"}, "a56161614161626142616361436164614461656145"},
		{time.Unix(1363896240, 0), "c11a514b67b0"},
		{strings.Repeat("x", 24), "7818" + strings.Repeat("78", 24)},
	}
	for _, tt := range tests {
		if got := hex.EncodeToString(appendCBORValue(nil, tt.v)); got != tt.want {
			t.Errorf("encode %#v = %s, want %s", tt.v, got, tt.want)
		}
	}
}

// The canned answers decode with another implementation, to the values
// the SDK reads.
func TestCBORCannedAnswers(t *testing.T) {
	c := makeCannedAnswers("bench")
	v, err := smithycbor.Decode(c.summary[1])
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := v.(smithycbor.Map)["StreamDescriptionSummary"].(smithycbor.Map)
	if sum["StreamName"] != smithycbor.String("bench") || sum["StreamStatus"] != smithycbor.String("ACTIVE") ||
		sum["OpenShardCount"] != smithycbor.Uint(1) {
		t.Errorf("summary = %v", sum)
	}
	ts, err := smithycbor.AsTime(sum["StreamCreationTimestamp"])
	if err != nil || time.Since(ts) > time.Hour || time.Since(ts) < 0 {
		t.Errorf("StreamCreationTimestamp = %v, %v: want a tagged time of now", ts, err)
	}
	for _, b := range [][]byte{c.stream[1], c.shards[1]} {
		if _, err := smithycbor.Decode(b); err != nil {
			t.Error(err)
		}
	}
}
