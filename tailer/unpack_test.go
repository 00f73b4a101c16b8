package tailer

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

var updateUnpack = flag.Bool("update-unpack", false,
	"rewrite the compressed fixtures in testdata/unpack with the bzip2, xz and pzstd commands")

// unpacked is what the reader reads a generation's bytes from.
var _ interface {
	io.ReaderAt
	Stat() (os.FileInfo, error)
	Close() error
	Name() string
} = (*unpacked)(nil)

// logLines returns about size bytes of log lines, the same for a seed.
func logLines(seed uint64, size int) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	verbs := []string{"GET", "POST", "PUT", "DELETE"}
	paths := []string{"/api/v1/items", "/api/v1/users", "/health", "/static/app.js", "/login"}
	users := []string{"alice", "bob", "carol", "-", "dave"}
	var b []byte
	for i := 0; len(b) < size; i++ {
		b = fmt.Appendf(b, "2024-05-01T12:%02d:%02d.%03dZ host-%d app[%d]: %s %s/%d status=%d bytes=%d ms=%d user=%s id=%016x\n",
			i/60000%60, i/1000%60, i%1000, rng.IntN(8), 1000+rng.IntN(50), verbs[rng.IntN(len(verbs))],
			paths[rng.IntN(len(paths))], rng.IntN(100000), []int{200, 200, 200, 404, 500}[rng.IntN(5)],
			rng.IntN(1<<20), rng.IntN(2000), users[rng.IntN(len(users))], rng.Uint64())
	}
	return b[:size]
}

// fixtureParts is the plain content of the fixtures in testdata/unpack,
// in the parts compressed separately where a tool writes several streams.
func fixtureParts() [][]byte {
	plain := logLines(3, 200<<10)
	return [][]byte{plain[:90<<10], plain[90<<10:]}
}

// unpackFixtures are made by real tools, which Go encoders do not imitate:
// bzip2 streams concatenated (as pbzip2 writes), xz in several blocks (as
// xz -T does), pzstd's skippable frame and several frames.
var unpackFixtures = []struct {
	name string
	cmd  []string // run on each part; the outputs are concatenated
}{
	{"lines.bz2", []string{"bzip2", "-1", "-c"}},
	{"lines.xz", []string{"xz", "-6", "-T2", "--block-size=65536", "-c"}},
	{"lines.zst", []string{"pzstd", "-p", "2", "-c", "-q"}},
}

func readFixture(t testing.TB, name string, cmd []string) []byte {
	t.Helper()
	path := filepath.Join("testdata", "unpack", name)
	if *updateUnpack {
		var out []byte
		for _, part := range fixtureParts() {
			c := exec.Command(cmd[0], cmd[1:]...)
			c.Stdin = bytes.NewReader(part)
			b, err := c.Output()
			if err != nil {
				t.Fatalf("%s: %v", strings.Join(cmd, " "), err)
			}
			out = append(out, b...)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// compressParts compresses each part on its own with a Go encoder and
// concatenates them, as appending with gzip -c does.
func compressParts(t testing.TB, c codec, parts ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, part := range parts {
		var w io.WriteCloser
		var err error
		switch c {
		case codecGzip:
			w = gzip.NewWriter(&buf)
		case codecXz:
			w, err = xz.WriterConfig{DictCap: 1 << 20}.NewWriter(&buf)
		case codecZstd:
			w, err = zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
		default:
			t.Fatalf("no Go encoder for %s", c)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(part); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// writeUnpacked writes data to a new file and opens it with openUnpacked.
func writeUnpacked(t testing.TB, name string, data []byte) (*unpacked, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// Where the descriptor is positioned must not matter.
	if _, err := f.Seek(int64(len(data)/2), io.SeekStart); err != nil {
		t.Fatal(err)
	}
	u, err := openUnpacked(f)
	if err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u, path
}

type unpackCase struct {
	name  string
	codec codec
	plain []byte
	data  []byte
}

func unpackCases(t testing.TB) []unpackCase {
	plain := logLines(1, 1<<20)
	cut := len(plain) / 3
	parts := fixtureParts()
	fixturePlain := bytes.Join(parts, nil)
	cases := []unpackCase{
		{"gzip", codecGzip, plain, compressParts(t, codecGzip, plain)},
		{"gzip with two members", codecGzip, plain, compressParts(t, codecGzip, plain[:cut], plain[cut:])},
		{"gzip with an empty member", codecGzip, plain, compressParts(t, codecGzip, nil, plain)},
		{"gzip of nothing", codecGzip, nil, compressParts(t, codecGzip, nil)},
		{"xz", codecXz, plain, compressParts(t, codecXz, plain)},
		{"xz with two streams", codecXz, plain, compressParts(t, codecXz, plain[:cut], plain[cut:])},
		{"zstd", codecZstd, plain, compressParts(t, codecZstd, plain)},
		{"zstd with two frames", codecZstd, plain, compressParts(t, codecZstd, plain[:cut], plain[cut:])},
		{"zstd after a skippable frame", codecZstd, plain,
			append([]byte("\x5e\x2a\x4d\x18\x03\x00\x00\x00abc"), compressParts(t, codecZstd, plain)...)},
	}
	for _, fx := range unpackFixtures {
		cases = append(cases, unpackCase{fx.name + " from " + fx.cmd[0], codecOfExt(fx.name), fixturePlain,
			readFixture(t, fx.name, fx.cmd)})
	}
	return cases
}

// TestUnpackedReaderPattern reads as the reader does: 64 KiB at a time,
// the 64 bytes before each offset, and the first KiB now and then.
func TestUnpackedReaderPattern(t *testing.T) {
	for _, tt := range unpackCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			u, path := writeUnpacked(t, "app.log.1"+extOf(tt.codec), tt.data)
			if u.codec != tt.codec {
				t.Fatalf("codec %s, want %s", u.codec, tt.codec)
			}
			if u.Name() != path {
				t.Errorf("Name() = %q, want %q", u.Name(), path)
			}
			want, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			wantKey, _ := keyOf(want)
			var got []byte
			buf := make([]byte, 64<<10)
			lastSize := int64(-1)
			for off := int64(0); ; {
				n, err := u.ReadAt(buf, off)
				got = append(got, buf[:n]...)
				off += int64(n)
				fi, serr := u.Stat()
				if serr != nil {
					t.Fatal(serr)
				}
				if fi.Size() < off || fi.Size() < lastSize {
					t.Fatalf("after reading to %d Size() = %d, was %d", off, fi.Size(), lastSize)
				}
				lastSize = fi.Size()
				if k, ok := keyOf(fi); !ok || k != wantKey || fi.Name() != filepath.Base(path) || fi.ModTime() != want.ModTime() {
					t.Fatalf("Stat() = %v %v %v, want the compressed file's %v %v %v", k, fi.Name(), fi.ModTime(),
						wantKey, want.Name(), want.ModTime())
				}
				checkRead(t, u, tt.plain, max(off-markerLen, 0), int(min(off, markerLen)))
				checkRead(t, u, tt.plain, 0, min(len(tt.plain), FingerprintSize))
				if err != nil {
					if err != io.EOF || n == len(buf) {
						t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want a short read and io.EOF", len(buf), off-int64(n), n, err)
					}
					break
				}
				if n != len(buf) {
					t.Fatalf("ReadAt at %d = %d bytes and no error", off-int64(n), n)
				}
			}
			if !bytes.Equal(got, tt.plain) {
				t.Fatalf("read %d bytes that differ from the %d plain ones", len(got), len(tt.plain))
			}
			if fi, _ := u.Stat(); fi.Size() != int64(len(tt.plain)) {
				t.Errorf("Size() at the end = %d, want %d", fi.Size(), len(tt.plain))
			}
			if n, err := u.ReadAt(buf[:1], int64(len(tt.plain))+5); n != 0 || err != io.EOF {
				t.Errorf("ReadAt past the end = %d, %v; want 0, io.EOF", n, err)
			}
		})
	}
}

func extOf(c codec) string {
	switch c {
	case codecGzip:
		return ".gz"
	case codecBzip2:
		return ".bz2"
	case codecXz:
		return ".xz"
	case codecZstd:
		return ".zst"
	}
	return ""
}

// checkRead reads n bytes at off and compares them with plain, the
// io.ReaderAt way: a short read only with an error, io.EOF at the end.
func checkRead(t testing.TB, u *unpacked, plain []byte, off int64, n int) {
	t.Helper()
	p := make([]byte, n)
	got, err := u.ReadAt(p, off)
	want := 0
	if off < int64(len(plain)) {
		want = min(n, len(plain)-int(off))
	}
	switch {
	case got != want:
		t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want %d bytes", n, off, got, err, want)
	case want < n && err != io.EOF:
		t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want io.EOF", n, off, got, err)
	case want == n && err != nil:
		t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want no error", n, off, got, err)
	case got > 0 && !bytes.Equal(p[:got], plain[off:off+int64(got)]):
		t.Fatalf("ReadAt(%d bytes, %d) read other bytes than the plain ones", n, off)
	}
}

// TestUnpackedRandomReads reads at offsets before, inside and after the
// window, including reads that start decompressing again.
func TestUnpackedRandomReads(t *testing.T) {
	plain := logLines(2, 400<<10)
	for _, c := range []codec{codecGzip, codecXz, codecZstd} {
		t.Run(c.String(), func(t *testing.T) {
			u, _ := writeUnpacked(t, "app.log"+extOf(c), compressParts(t, c, plain[:1000], plain[1000:]))
			rng := rand.New(rand.NewPCG(9, 9))
			off := int64(0)
			for range 200 {
				n := rng.IntN(100 << 10)
				switch rng.IntN(6) {
				case 0: // anywhere, past the end too
					off = rng.Int64N(int64(len(plain)) + 1000)
				case 1: // the marker before the last offset
					checkRead(t, u, plain, max(off-markerLen, 0), int(min(off, markerLen)))
					continue
				case 2: // the prefix
					off, n = 0, rng.IntN(FingerprintSize+1)
				case 3: // back a little
					off = max(off-rng.Int64N(64<<10), 0)
				default: // on
				}
				checkRead(t, u, plain, off, n)
				off = min(off+int64(n), int64(len(plain)))
			}
		})
	}
}

// TestUnpackedTruncated reads a file cut short, as one logrotate is still
// compressing: the bytes decoded before the cut, then an error; once the
// file is complete, all of it. A cut in the header leaves no bytes.
func TestUnpackedTruncated(t *testing.T) {
	plain := logLines(4, 400<<10)
	parts := fixtureParts()
	cases := []struct {
		codec codec
		plain []byte
		data  []byte
	}{
		{codecGzip, plain, compressParts(t, codecGzip, plain)},
		{codecXz, plain, compressParts(t, codecXz, plain)},
		{codecZstd, plain, compressParts(t, codecZstd, plain)},
		{codecBzip2, bytes.Join(parts, nil), readFixture(t, unpackFixtures[0].name, unpackFixtures[0].cmd)},
	}
	for _, tt := range cases {
		for _, cut := range []int{10, len(tt.data) * 3 / 4} {
			t.Run(fmt.Sprintf("%s cut at %d", tt.codec, cut), func(t *testing.T) {
				least := 0
				if cut > 10 {
					least = len(tt.plain) / 4 // many blocks before the cut
				}
				u, path := writeUnpacked(t, "app.log.1"+extOf(tt.codec), tt.data[:cut])
				var got []byte
				buf := make([]byte, 64<<10)
				var err error
				for off := int64(0); err == nil; {
					var n int
					n, err = u.ReadAt(buf, off)
					got = append(got, buf[:n]...)
					off += int64(n)
				}
				if err == io.EOF {
					t.Fatalf("a cut stream ended with io.EOF after %d bytes", len(got))
				}
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("error %v, want one wrapping io.ErrUnexpectedEOF", err)
				}
				if len(got) < least || !bytes.Equal(got, tt.plain[:len(got)]) {
					t.Fatalf("read %d bytes before the error (%v), want a prefix of the plain bytes, at least %d",
						len(got), err, least)
				}
				t.Logf("%d of %d bytes before the cut: %v", len(got), len(tt.plain), err)
				if fi, _ := u.Stat(); fi.Size() != int64(len(got)) {
					t.Errorf("Size() = %d, want the %d bytes decoded", fi.Size(), len(got))
				}
				// What was read stays readable; reading past it still fails.
				checkRead(t, u, tt.plain, int64(len(got))/2, min(len(got)/2, 1000))
				if _, err2 := u.ReadAt(buf, int64(len(got))); err2 == nil || err2 == io.EOF {
					t.Fatalf("reading past the cut again: %v, want the error", err2)
				}

				// The compressor finishes the file.
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.Write(tt.data[cut:]); err != nil {
					t.Fatal(err)
				}
				f.Close()
				checkRead(t, u, tt.plain, int64(len(got)), len(tt.plain)-len(got)+1)
				if fi, _ := u.Stat(); fi.Size() != int64(len(tt.plain)) {
					t.Errorf("Size() = %d at the end, want %d", fi.Size(), len(tt.plain))
				}
			})
		}
	}
}

// TestUnpackedCorrupt: a stream damaged in the middle gives its error
// (here the checksum's, or the deflate data's), and reading past it again
// does not start over.
func TestUnpackedCorrupt(t *testing.T) {
	plain := logLines(5, 300<<10)
	data := compressParts(t, codecGzip, plain)
	for i := len(data) / 2; i < len(data)/2+64; i++ {
		data[i] ^= 0x55
	}
	u, _ := writeUnpacked(t, "app.log.gz", data)
	buf := make([]byte, 64<<10)
	var off int64
	var err error
	for err == nil {
		var n int
		n, err = u.ReadAt(buf, off)
		off += int64(n)
	}
	if err == io.EOF {
		t.Fatalf("read %d bytes and io.EOF, want an error", off)
	}
	if _, err := u.ReadAt(buf, off); err == nil || err == io.EOF || u.retry {
		t.Fatalf("again: %v (retry %v), want the same error and no restart", err, u.retry)
	}
}

func TestCodecOf(t *testing.T) {
	cases := []struct {
		head, name string
		want       codec
		ok         bool
	}{
		{"\x1f\x8b\x08\x00", "app.log.1.gz", codecGzip, true},
		{"\x1f\x8b\x08\x00", "app.log.1", codecGzip, true},
		{"BZh91AY&SY", "app.log.2.bz2", codecBzip2, true},
		{"BZhx", "app.log.2.bz2", codecNone, false},
		{"\xfd7zXZ\x00\x00\x04", "app.log.xz", codecXz, true},
		{"\x28\xb5\x2f\xfd\x04\x00", "app.log.zst", codecZstd, true},
		{"\x28\xb5\x2f\xfd", "app.log.zstd", codecZstd, true},
		{"\x50\x2a\x4d\x18\x04\x00\x00\x00", "app.log.zst", codecZstd, true},
		{"\x50\x2a\x4d\x18\x04\x00\x00\x00", "app.log.lz4", codecLz4, false},
		{"\x04\x22\x4d\x18\x64\x40", "app.log.1", codecLz4, false},
		{"\x02\x21\x4c\x18", "app.log.lz4", codecLz4, false},
		{"\x1f\x9d\x90", "app.log.Z", codecCompress, false},
		{"PK\x03\x04", "logs.zip", codecZip, false},
		{"\x5d\x00\x00\x80\x00", "app.log.lzma", codecLzma, false},
		{"\x0b\x02\x80", "app.log.br", codecBrotli, false},
		{"anything", "app.log.z", codecCompress, false},
		{"2024-05-01 GET /", "app.log.gz", codecNone, false}, // not gzip after all
		{"", "app.log.gz", codecNone, false},                 // logrotate has just created it
		{"\x1f", "app.log.gz", codecNone, false},
		{"2024-05-01 GET /", "app.log.1", codecNone, false},
		{"", "", codecNone, false},
	}
	for _, tt := range cases {
		c, ok := codecOf([]byte(tt.head), tt.name)
		if c != tt.want || ok != tt.ok {
			t.Errorf("codecOf(%q, %q) = %s, %v; want %s, %v", tt.head, tt.name, c, ok, tt.want, tt.ok)
		}
	}
	names := map[codec]string{codecNone: "none", codecGzip: "gzip", codecBzip2: "bzip2", codecXz: "xz",
		codecZstd: "zstd", codecLz4: "lz4", codecLzma: "lzma", codecCompress: "compress", codecZip: "zip",
		codecBrotli: "brotli", codecBrotli + 1: "codec(10)"}
	for c, want := range names {
		if c.String() != want {
			t.Errorf("codec %d String() = %q, want %q", uint8(c), c.String(), want)
		}
	}
}

func TestCompressedName(t *testing.T) {
	for name, want := range map[string]bool{
		"app.log.1.gz": true, "app.log.2.bz2": true, "app.log.xz": true, "app.log.zst": true,
		"app.log.zstd": true, "app.log.lz4": true, "app.log.lzma": true, "app.log.Z": true,
		"app.log.z": true, "app.log.zip": true, "app.log.br": true,
		"app.log": false, "app.log.1": false, "app.gz.log": false, "app.log-20240501": false,
		"gz": false, "app.log.gzip": false, "app.log.tar": false,
	} {
		if got := compressedName(name); got != want {
			t.Errorf("compressedName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestUnpackedUnsupported(t *testing.T) {
	cases := []struct {
		name, data string
		want       codec
	}{
		{"app.log.1.lz4", "\x04\x22\x4d\x18\x64\x40\xa7", codecLz4},
		{"app.log.1.br", "\x1b\x03\x00\xf8", codecBrotli},
		{"app.log.1.Z", "\x1f\x9d\x90l", codecCompress},
		{"app.log.1", "2024-05-01 GET /\n", codecNone},
		{"app.log.1.gz", "", codecNone},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.name)
			if err := os.WriteFile(path, []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			u, err := openUnpacked(f)
			var ue *unsupportedError
			if !errors.As(err, &ue) || ue.codec != tt.want {
				t.Fatalf("openUnpacked = %v, %v; want an unsupportedError for %s", u, err, tt.want)
			}
			if tt.want != codecNone && !strings.Contains(err.Error(), "compressed with "+tt.want.String()+", a format kinetail cannot read") {
				t.Errorf("error %q does not say which format kinetail cannot read", err)
			}
		})
	}
}

// TestUnpackedXzDictLimit: an xz file that asks for a dictionary over
// the limit is refused before the decoder allocates it.
func TestUnpackedXzDictLimit(t *testing.T) {
	plain := logLines(6, 10<<10)
	data := compressParts(t, codecXz, plain)
	if got := xzDictSize(bytes.NewReader(data)); got != 1<<20 {
		t.Fatalf("xzDictSize = %d, want the 1 MiB the encoder used", got)
	}
	// Ask for 128 MiB in the first block header, with its CRC fixed.
	const hs = 12
	size := (int(data[hs]) + 1) * 4
	h := data[hs : hs+size]
	i := bytes.Index(h, []byte{0x21, 0x01})
	if i < 0 {
		t.Fatal("no LZMA2 filter in the block header")
	}
	h[i+2] = 30 // 2 << (30/2 + 11)
	crc := crc32.ChecksumIEEE(h[:size-4])
	h[size-4], h[size-3], h[size-2], h[size-1] = byte(crc), byte(crc>>8), byte(crc>>16), byte(crc>>24)
	if got := xzDictSize(bytes.NewReader(data)); got != 128<<20 {
		t.Fatalf("xzDictSize after the change = %d, want 128 MiB", got)
	}
	u, _ := writeUnpacked(t, "app.log.xz", data)
	_, err := u.ReadAt(make([]byte, 100), 0)
	if err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("ReadAt = %v, want the dictionary refused", err)
	}
	// Cut short, the header says nothing and the decoder reports why.
	for _, n := range []int{0, 12, 13, 20} {
		if got := xzDictSize(bytes.NewReader(data[:n])); got != 0 {
			t.Errorf("xzDictSize of %d bytes = %d, want 0", n, got)
		}
	}
}

// TestUnpackedMemoryBounded reads a large stream and checks that the
// memory held does not grow with it: what is live after reading the first
// 2 MiB and after reading it all differs by far less than the rest. The
// content repeats every 16 KiB, which the encoders are quick at (the
// decoders hold the same memory for any content).
func TestUnpackedMemoryBounded(t *testing.T) {
	plain := bytes.Repeat(logLines(7, 16<<10), 512) // 8 MiB
	fixture := bytes.Join(fixtureParts(), nil)
	cases := []struct {
		codec codec
		data  func() []byte
		size  int
	}{
		{codecGzip, func() []byte { return compressParts(t, codecGzip, plain) }, len(plain)},
		{codecXz, func() []byte { return compressParts(t, codecXz, plain) }, len(plain)},
		{codecZstd, func() []byte { return compressParts(t, codecZstd, plain) }, len(plain)},
		{codecBzip2, func() []byte { // 48 concatenated bzip2 streams
			return bytes.Repeat(readFixture(t, unpackFixtures[0].name, unpackFixtures[0].cmd), 24)
		}, 24 * len(fixture)},
	}
	for _, tt := range cases {
		t.Run(tt.codec.String(), func(t *testing.T) {
			u, _ := writeUnpacked(t, "app.log"+extOf(tt.codec), tt.data())
			buf := make([]byte, 64<<10)
			var off int64
			read := func(upto int64) {
				for off < upto {
					n, err := u.ReadAt(buf, off)
					off += int64(n)
					if err == io.EOF {
						return
					}
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			live := func() uint64 {
				var ms runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms)
				return ms.HeapAlloc
			}
			read(2 << 20)
			before := live()
			read(1 << 62)
			after := live()
			if off != int64(tt.size) {
				t.Fatalf("read %d bytes, want %d", off, tt.size)
			}
			t.Logf("%d KiB read; live heap %d KiB after 2 MiB, %d KiB at the end", off>>10, before>>10, after>>10)
			if after > before+(512<<10) {
				t.Errorf("live heap grew from %d KiB to %d KiB while reading %d KiB more",
					before>>10, after>>10, (off-2<<20)>>10)
			}
			runtime.KeepAlive(u)
		})
	}
}

// TestUnpackedClose also covers offsets out of range.
func TestUnpackedClose(t *testing.T) {
	u, _ := writeUnpacked(t, "app.log.zst", compressParts(t, codecZstd, []byte("one\ntwo\n")))
	checkRead(t, u, []byte("one\ntwo\n"), 4, 4)
	for _, off := range []int64{-1, math.MaxInt64 - 2} {
		if n, err := u.ReadAt(make([]byte, 4), off); n != 0 || err == nil || err == io.EOF {
			t.Errorf("ReadAt(4 bytes, %d) = %d, %v; want an error", off, n, err)
		}
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := u.ReadAt(make([]byte, 4), 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("ReadAt after Close: %v, want os.ErrClosed", err)
	}
	if err := u.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// FuzzUnpackedReadAt reads gzip of random data (in one or two members) at
// random offsets and lengths; every read must match the plain bytes.
func FuzzUnpackedReadAt(f *testing.F) {
	f.Add(uint64(1), uint32(300<<10), uint32(1000), []byte("\x00\x00\x10\x00\x01\x00\x02\x00\x00\x10\x03\xff\xff\x00\x40"))
	f.Add(uint64(2), uint32(70<<10), uint32(0), []byte("\x04\x00\x00\xff\xff\x00\x00\x00\x00\x01\x05\x00\x01\x00\x40"))
	f.Add(uint64(3), uint32(0), uint32(0), []byte("\x00\x00\x00\x00\x10"))
	f.Fuzz(func(t *testing.T, seed uint64, size, split uint32, ops []byte) {
		plain := fuzzPlain(seed, int(size%(256<<10)))
		cut := int(split) % (len(plain) + 1)
		u, _ := writeUnpacked(t, "app.log.gz", compressParts(t, codecGzip, plain[:cut], plain[cut:]))
		var off int64
		for ; len(ops) >= 5; ops = ops[5:] {
			a := int64(ops[1])<<8 | int64(ops[2])
			n := int(ops[3])<<8 | int(ops[4])
			switch ops[0] % 6 {
			case 0: // on from the last read
				n *= 2
			case 1: // the marker before the last offset
				off, n = max(off-markerLen, 0), int(min(off, markerLen))
			case 2: // the prefix
				off, n = 0, n%(FingerprintSize+1)
			case 3: // back
				off = max(off-a*8, 0)
			case 4: // anywhere, past the end too
				off = a * int64(len(plain)+100) >> 16
			case 5: // forward
				off += a * 8
			}
			checkRead(t, u, plain, off, n)
			off = min(off+int64(n), int64(len(plain)))
		}
	})
}

// fuzzPlain mixes runs of log lines, repeated bytes and random bytes, so
// deflate uses stored, fixed and dynamic blocks.
func fuzzPlain(seed uint64, size int) []byte {
	rng := rand.New(rand.NewPCG(seed, 11))
	lines := logLines(seed, 64<<10)
	b := make([]byte, 0, size)
	for len(b) < size {
		n := min(1+rng.IntN(32<<10), size-len(b))
		switch rng.IntN(3) {
		case 0:
			i := rng.IntN(len(lines) - n + 1)
			b = append(b, lines[i:i+n]...)
		case 1:
			b = append(b, bytes.Repeat([]byte{byte(rng.Uint32())}, n)...)
		default:
			for range n {
				b = append(b, byte(rng.Uint32()))
			}
		}
	}
	return b
}

// BenchmarkUnpackedGzip reads 16 MiB of log lines from gzip in 64 KiB
// steps, as the reader does; MB/s are decompressed bytes.
func BenchmarkUnpackedGzip(b *testing.B) {
	plain := logLines(8, 16<<20)
	data := compressParts(b, codecGzip, plain)
	path := filepath.Join(b.TempDir(), "app.log.gz")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		u, err := openUnpacked(f)
		if err != nil {
			b.Fatal(err)
		}
		var off int64
		for {
			n, err := u.ReadAt(buf, off)
			off += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if off != int64(len(plain)) {
			b.Fatalf("read %d bytes, want %d", off, len(plain))
		}
		u.Close()
	}
}
