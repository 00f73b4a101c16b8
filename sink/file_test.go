// Tests of the File sink: writing, rotation, retrying a failing disk,
// cancelling.

package sink

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/ack"
	"github.com/kinetail/kinetail/internal/testfs"
)

// localBatch makes a batch of records with the given data, all acknowledged
// to g (which may be nil).
func localBatch(g *ack.Group, data ...string) Batch {
	b := Batch{Records: make([]Record, len(data))}
	for i, d := range data {
		b.Records[i] = Record{Data: []byte(d), Ack: g}
		b.Bytes += len(d)
	}
	if g != nil {
		g.Add(len(data))
	}
	return b
}

// runToEnd runs s over batches, closes its input and returns Run's result.
func runToEnd(t *testing.T, s Sink, batches ...Batch) error {
	t.Helper()
	in := make(chan Batch, len(batches))
	for _, b := range batches {
		in <- b
	}
	close(in)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Run(ctx, in)
}

func readLocal(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFileWritesAndRotates(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes int64
		maxFiles int
		existing string // content of Path before Run
		batches  [][]string
		files    []string // content of Path, Path.1, …; the next one must not exist
		rotated  int64
	}{
		{
			name:    "records and newlines, exactly",
			batches: [][]string{{`{"a":1}`, `{"b":"x y"}`}, {""}, {"raw line"}},
			files:   []string{`{"a":1}` + "\n" + `{"b":"x y"}` + "\n\nraw line\n"},
		},
		{
			name:     "appends to an existing file",
			existing: "old\n",
			batches:  [][]string{{"new"}},
			files:    []string{"old\nnew\n"},
		},
		{
			name:     "a torn last line is cut before appending",
			existing: "{\"old\":1}\n{\"to",
			batches:  [][]string{{"new"}},
			files:    []string{"{\"old\":1}\nnew\n"},
		},
		{
			name:     "a file of other lines is not cut: its last line is ended",
			existing: "old\ntor",
			batches:  [][]string{{"new"}},
			files:    []string{"old\ntor\nnew\n"},
		},
		{
			name:     "rotation keeps max_files, the oldest is dropped",
			maxBytes: 8,
			maxFiles: 2,
			batches:  [][]string{{"aaa", "bbb"}, {"ccc"}, {"ddd", "eee", "fff"}, {"ggg"}},
			// Files of at most 8 bytes: aaa bbb | ccc ddd | eee fff | ggg.
			files:   []string{"ggg\n", "eee\nfff\n", "ccc\nddd\n"},
			rotated: 3,
		},
		{
			name:     "a batch is split at record boundaries",
			maxBytes: 10,
			maxFiles: 5,
			batches:  [][]string{{"1234", "5678", "90ab", "cdef"}},
			files:    []string{"90ab\ncdef\n", "1234\n5678\n"},
			rotated:  1,
		},
		{
			name:     "a record larger than max_bytes gets a file of its own",
			maxBytes: 4,
			maxFiles: 5,
			batches:  [][]string{{"a", "0123456789", "b"}},
			files:    []string{"b\n", "0123456789\n", "a\n"},
			rotated:  2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.jsonl")
			if tt.existing != "" {
				os.WriteFile(path, []byte(tt.existing), 0o600)
			}
			f, err := NewFile(FileOptions{Path: path, MaxBytes: tt.maxBytes, MaxFiles: tt.maxFiles})
			if err != nil {
				t.Fatal(err)
			}
			var acked atomic.Int64
			var batches []Batch
			records, size := 0, 0
			for _, data := range tt.batches {
				b := localBatch(nil, data...)
				for i := range b.Records {
					// Each record is in the file when it is acknowledged.
					want := string(b.Records[i].Data) + "\n"
					b.Records[i].Ack = ack.New(func() {
						if all := allFiles(path, len(tt.files)); !strings.Contains(all, want) {
							t.Errorf("record %q acknowledged before it was written", want)
						}
						acked.Add(1)
					})
					size += len(want)
				}
				records += len(data)
				batches = append(batches, b)
			}
			if err := runToEnd(t, f, batches...); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if n := acked.Load(); n != int64(records) {
				t.Errorf("acknowledged %d records, want %d", n, records)
			}
			for i, want := range tt.files {
				name := rotatedName(path, i)
				if got := readLocal(t, name); got != want {
					t.Errorf("%s = %q, want %q", filepath.Base(name), got, want)
				}
				if st, _ := os.Stat(name); tt.existing == "" && st.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %o, want 600", filepath.Base(name), st.Mode().Perm())
				}
			}
			if _, err := os.Stat(rotatedName(path, len(tt.files))); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s exists", filepath.Base(rotatedName(path, len(tt.files))))
			}
			st := f.Stats()
			if st.Records != int64(records) || st.Bytes != int64(size) || st.Rotations != tt.rotated || st.WriteErrors != 0 {
				t.Errorf("stats = %+v, want %d records, %d bytes, %d rotations", st, records, size, tt.rotated)
			}
		})
	}
}

func rotatedName(path string, i int) string {
	if i == 0 {
		return path
	}
	return path + "." + string(rune('0'+i))
}

func allFiles(path string, n int) string {
	var all []byte
	for i := range n + 1 {
		b, _ := os.ReadFile(rotatedName(path, i))
		all = append(all, b...)
	}
	return string(all)
}

// A write the disk refuses (here: the directory is gone) is retried until
// it succeeds, and nothing is acknowledged meanwhile.
func TestFileRetriesUntilWritten(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	os.Mkdir(dir, 0o755)
	path := filepath.Join(dir, "out.jsonl")
	f, err := NewFile(FileOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(dir)

	var done atomic.Bool
	g := ack.New(func() { done.Store(true) })
	in := make(chan Batch, 1)
	in <- localBatch(g, "one", "two")
	g.Done(1)
	ran := make(chan error, 1)
	go func() { ran <- f.Run(context.Background(), in) }()

	testfs.Wait(t, 10*time.Second, "two failed attempts", func() bool { return f.Stats().WriteErrors >= 2 })
	if done.Load() || g.Pending() != 2 {
		t.Fatalf("records acknowledged while the write fails (pending %d)", g.Pending())
	}
	os.Mkdir(dir, 0o755)
	testfs.Wait(t, 10*time.Second, "the acknowledgement", done.Load)
	if got := readLocal(t, path); got != "one\ntwo\n" {
		t.Errorf("file = %q", got)
	}
	close(in)
	if err := <-ran; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// Cancelling Run while a write fails returns ctx.Err() and acknowledges
// nothing.
func TestFileCancelledWhileFailing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	os.Mkdir(dir, 0o755)
	f, err := NewFile(FileOptions{Path: filepath.Join(dir, "out.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(dir)
	g := ack.New(nil)
	in := make(chan Batch, 1)
	in <- localBatch(g, "x")
	g.Done(1)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- f.Run(ctx, in) }()
	testfs.Wait(t, 10*time.Second, "a failed attempt", func() bool { return f.Stats().WriteErrors >= 1 })
	cancel()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if g.Pending() != 1 {
		t.Errorf("pending = %d, want 1 (nothing acknowledged)", g.Pending())
	}
}

func TestNewFileErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "plain"), nil, 0o600)
	tests := []struct {
		name string
		o    FileOptions
		err  string
	}{
		{"no path", FileOptions{}, "no path"},
		{"missing directory", FileOptions{Path: filepath.Join(dir, "nope", "out")}, "no such file"},
		{"directory is a file", FileOptions{Path: filepath.Join(dir, "plain", "out")}, "not a directory"},
		{"negative", FileOptions{Path: filepath.Join(dir, "out"), MaxFiles: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewFile(tt.o); err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestCutTornLine(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 100<<10) // longer than one backward read
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"whole lines", "{}\n[]\n", "{}\n[]\n"},
		{"torn", "{}\n[", "{}\n"},
		{"a long torn line", "{}\n" + string(big), "{}\n"},
		{"a long whole line", `"` + string(big) + "\"\n" + string(big), `"` + string(big) + "\"\n"},
		// Not kinetail's records: nothing is cut, the line is ended.
		{"a torn line in a foreign file", "root:x:0:0\nbin:x", "root:x:0:0\nbin:x\n"},
		{"only a torn line", "abc", "abc\n"},
		{"a whole foreign file", "root:x:0:0\n", "root:x:0:0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			os.WriteFile(path, []byte(tt.in), 0o600)
			f, size, err := openAppend(path, ownLine)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if got := readLocal(t, path); got != tt.want || size != int64(len(tt.want)) {
				t.Errorf("file is %q (size %d), want %q", tail(got), size, tail(tt.want))
			}
		})
	}
}

// tail shortens s for a message.
func tail(s string) string {
	if len(s) > 40 {
		return "…" + s[len(s)-40:]
	}
	return s
}

// A symbolic link at a path kinetail writes is refused, for the file sink
// and for dead letters, and the file it points to is left as it was
// (before, records were appended to it and its last line cut).
func TestWritersRefuseSymlink(t *testing.T) {
	open := map[string]func(path string) error{
		"file sink": func(path string) error {
			s, err := NewFile(FileOptions{Path: path})
			if err != nil {
				return err
			}
			_, err = s.writeSome([]Record{{Data: []byte(`{"a":1}`)}})
			return err
		},
		"dead letters": func(path string) error {
			d, err := OpenDeadLetter(path)
			if err == nil {
				d.Close()
			}
			return err
		},
	}
	for name, open := range open {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			victim := filepath.Join(dir, "victim")
			const content = "secret: keep\nno newline"
			if err := os.WriteFile(victim, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "out.jsonl")
			if err := os.Symlink(victim, path); err != nil {
				t.Fatal(err)
			}
			err := open(path)
			if !errors.Is(err, ErrSymlink) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want ErrSymlink naming %s", err, path)
			}
			if got := readLocal(t, victim); got != content {
				t.Errorf("the link's target changed to %q", got)
			}
		})
	}
}
