package tailer

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/kinetail/kinetail/internal/testfs"
)

func openFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func identify(t *testing.T, path string) FileID {
	t.Helper()
	id, err := Identify(openFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestIdentify(t *testing.T) {
	big := strings.Repeat("0123456789", 200)
	tests := []struct {
		name    string
		content string
		wantLen int
	}{
		{"an empty file has no fingerprint", "", 0},
		{"a short file is hashed whole", "hello\n", 6},
		{"a long file is hashed up to FingerprintSize", big, FingerprintSize},
	}
	d := testfs.New(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.Write("f", tt.content)
			f := openFile(t, d.Path("f"))
			// Identify must not move the descriptor's offset.
			if _, err := f.Seek(3, io.SeekStart); err != nil && tt.content != "" {
				t.Fatal(err)
			}
			before, _ := f.Seek(0, io.SeekCurrent)
			id, err := Identify(f)
			if err != nil {
				t.Fatal(err)
			}
			after, _ := f.Seek(0, io.SeekCurrent)
			if before != after {
				t.Errorf("offset moved from %d to %d", before, after)
			}
			if id.FingerprintLen != tt.wantLen {
				t.Errorf("FingerprintLen = %d, want %d", id.FingerprintLen, tt.wantLen)
			}
			if want := fnv1a([]byte(tt.content[:tt.wantLen])); id.Fingerprint != want {
				t.Errorf("Fingerprint = %x, want %x", id.Fingerprint, want)
			}
			fi, _ := f.Stat()
			k, _ := keyOf(fi)
			if id.key() != k || k.ino == 0 {
				t.Errorf("dev/inode = %v, want %v", id.key(), k)
			}
		})
	}
}

func TestFNV1a(t *testing.T) {
	// Published FNV-1a 64 test vectors.
	for in, want := range map[string]uint64{
		"":       0xcbf29ce484222325,
		"a":      0xaf63dc4c8601ec8c,
		"foobar": 0x85944171f73967e8,
	} {
		if got := fnv1a([]byte(in)); got != want {
			t.Errorf("fnv1a(%q) = %x, want %x", in, got, want)
		}
	}
}

func TestSame(t *testing.T) {
	base := FileID{Dev: 1, Inode: 2, Fingerprint: 3, FingerprintLen: 100}
	with := func(f func(*FileID)) FileID { id := base; f(&id); return id }
	tests := []struct {
		name string
		b    FileID
		want bool
	}{
		{"identical", base, true},
		{"other device", with(func(id *FileID) { id.Dev = 9 }), false},
		{"other inode (no fingerprint helps)", with(func(id *FileID) { id.Inode = 9 }), false},
		{"same length, other fingerprint (inode reused)", with(func(id *FileID) { id.Fingerprint = 4 }), false},
		{"empty fingerprint matches by inode", with(func(id *FileID) { id.Fingerprint, id.FingerprintLen = 0, 0 }), true},
		{"different lengths cannot be decided here", with(func(id *FileID) { id.FingerprintLen = 50 }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Same(base, tt.b); got != tt.want {
				t.Errorf("Same(a, b) = %v, want %v", got, tt.want)
			}
			if got := Same(tt.b, base); got != tt.want {
				t.Errorf("Same(b, a) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	d := testfs.New(t)
	d.Write("app.log", "first line\n")
	d.Write("other.log", "first line\n")
	want := identify(t, d.Path("app.log"))

	tests := []struct {
		name   string
		change func()
		path   string
		want   bool
	}{
		{"the same file", func() {}, "app.log", true},
		{"the file grew: the old prefix is re-hashed", func() { d.Append("app.log", "second line\n") }, "app.log", true},
		{"a copy with the same content is another inode", func() {}, "other.log", false},
		{"first byte rewritten in place (inode reused by new content)", func() {
			f, err := os.OpenFile(d.Path("app.log"), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("F"), 0); err != nil {
				t.Fatal(err)
			}
		}, "app.log", false},
		{"shorter than the fingerprint", func() { d.Truncate("app.log", 5) }, "app.log", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change()
			got, err := Matches(openFile(t, d.Path(tt.path)), want)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}
