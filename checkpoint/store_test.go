package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func save(t *testing.T, s *Store, entries []Entry) {
	t.Helper()
	if err := s.Save(entries, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// load reads the checkpoint at path as a starting agent would, without
// taking the lock (the Store under test may hold it).
func load(t *testing.T, path string) LoadResult {
	t.Helper()
	res, err := (&Store{path: path}).Load()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// withOffset returns sampleEntries with the first offset set to off, so
// successive saves are told apart.
func withOffset(off int64) []Entry {
	e := sampleEntries()
	e[0].Offset = off
	return e
}

func temps(t *testing.T, path string) []string {
	t.Helper()
	m, err := filepath.Glob(path + ".tmp*")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStoreRoundTrip(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		t.Run(map[bool]string{false: "same store", true: "reopened store"}[reopen], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state", "checkpoints.json")
			s := open(t, path)
			res, err := s.Load()
			if err != nil || res.Existed || len(res.Entries) != 0 {
				t.Fatalf("first load = %+v, %v; want empty, not existed", res, err)
			}
			var want []Entry
			before := time.Now()
			for i := range 3 { // several saves exercise the .prev rotation
				want = withOffset(int64(4096 + i))
				save(t, s, want)
			}
			after := time.Now()
			if reopen {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s = open(t, path)
			}
			res, err = s.Load()
			if err != nil {
				t.Fatal(err)
			}
			if !res.Existed || res.Recovered != "" || !reflect.DeepEqual(res.Entries, want) {
				t.Fatalf("load = %+v, want %+v", res, want)
			}
			if res.Saved.Before(before) || res.Saved.After(after) {
				t.Errorf("Saved = %v, not the time of the last save (between %v and %v)", res.Saved, before, after)
			}
			for _, name := range []string{path, path + ".prev", path + ".lock"} {
				fi, err := os.Stat(name)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s mode = %v, want 0600", name, fi.Mode().Perm())
				}
			}
			if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("directory: %v, %v; want mode 0700", fi, err)
			}
			if m := temps(t, path); len(m) != 0 {
				t.Errorf("temporary files left behind: %v", m)
			}
		})
	}
}

// A version 1 checkpoint (as the previous release wrote it) loads, with
// the file's modification time as its saved time; the next save writes
// version 2 and keeps the version 1 file as the previous copy.
func TestLoadVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.json")
	v1, err := os.ReadFile("testdata/version1.json")
	if err != nil {
		t.Fatal(err)
	}
	write(t, path, v1)
	mtime := time.Date(2026, 11, 22, 5, 0, 3, 0, time.UTC)
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	res, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !res.Saved.Equal(mtime) {
		t.Errorf("Saved = %v, want the file's mtime %v", res.Saved, mtime)
	}
	if len(res.Entries) != 2 || res.Entries[0].Origin != res.Entries[0].Path {
		t.Fatalf("entries = %+v, want two with origin = path", res.Entries)
	}
	save(t, s, res.Entries)
	if data, _ := os.ReadFile(path); !strings.HasPrefix(string(data), `{"version":2,`) {
		t.Errorf("saved file is not version 2: %s", data)
	}
	if prev, _ := os.ReadFile(path + ".prev"); string(prev) != string(v1) {
		t.Errorf("previous copy is not the version 1 file: %s", prev)
	}
	if again := load(t, path); !reflect.DeepEqual(again.Entries, res.Entries) {
		t.Errorf("after a save = %+v, want %+v", again.Entries, res.Entries)
	}
}

func TestStoreCorruption(t *testing.T) {
	good := withOffset(4096)
	older := withOffset(100)
	tests := []struct {
		name    string
		corrupt func(t *testing.T, path string)
		want    []Entry // nil: Load must fail
		reason  bool    // Recovered must be set
	}{
		{"truncated file falls back to previous copy", func(t *testing.T, p string) {
			data, _ := os.ReadFile(p)
			write(t, p, data[:len(data)/2])
		}, older, true},
		{"zero-filled file falls back to previous copy", func(t *testing.T, p string) {
			data, _ := os.ReadFile(p)
			write(t, p, make([]byte, len(data)))
		}, older, true},
		{"flipped offset digit fails the checksum", func(t *testing.T, p string) {
			data, _ := os.ReadFile(p)
			write(t, p, []byte(replaceOnce(string(data), `"offset":4096`, `"offset":9096`)))
		}, older, true},
		{"changed saved time fails the checksum", func(t *testing.T, p string) {
			data, _ := os.ReadFile(p)
			write(t, p, regexp.MustCompile(`"saved":"\d{4}`).ReplaceAll(data, []byte(`"saved":"1999`)))
		}, older, true},
		{"unknown version falls back", func(t *testing.T, p string) {
			data, _ := os.ReadFile(p)
			write(t, p, []byte(replaceOnce(string(data), `"version":2`, `"version":7`)))
		}, older, true},
		{"missing main file after an interrupted save uses the previous copy", func(t *testing.T, p string) {
			os.Remove(p)
		}, older, true},
		{"stale temporary file is ignored", func(t *testing.T, p string) {
			write(t, p+".tmp123", []byte("{garbage"))
		}, good, false},
		{"both copies corrupt is an error, not a silent restart", func(t *testing.T, p string) {
			write(t, p, []byte("{"))
			write(t, p+".prev", []byte("{"))
		}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cp.json")
			s := open(t, path)
			save(t, s, older)
			save(t, s, good)
			tt.corrupt(t, path)
			res, err := s.Load()
			if tt.want == nil {
				if err == nil || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Load() = %+v, %v; want ErrCorrupt", res, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Entries, tt.want) {
				t.Fatalf("entries = %+v, want %+v", res.Entries, tt.want)
			}
			if (res.Recovered != "") != tt.reason {
				t.Fatalf("Recovered = %q, want set=%v", res.Recovered, tt.reason)
			}
		})
	}
}

// A save after Load fell back to the previous copy replaces the corrupt
// main file but keeps the good previous copy, which is moved on only once
// the main file holds a good checkpoint.
func TestSaveKeepsGoodPreviousOverCorruptMain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.json")
	oldest, old, first, second := withOffset(1), withOffset(2), withOffset(3), withOffset(4)
	s := open(t, path)
	save(t, s, oldest)
	save(t, s, old)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	write(t, path+".prev", mustRead(t, path)) // .prev: old
	write(t, path, []byte(`{"version":2,"checksum":"00000000"`))

	s = open(t, path)
	res, err := s.Load()
	if err != nil || res.Recovered == "" || !reflect.DeepEqual(res.Entries, old) {
		t.Fatalf("Load = %+v, %v; want old entries recovered from .prev", res, err)
	}
	save(t, s, first)
	if got := entriesIn(t, path+".prev"); !reflect.DeepEqual(got, old) {
		t.Fatalf("after the first save .prev = %+v, want the good old entries", got)
	}
	if got := load(t, path).Entries; !reflect.DeepEqual(got, first) {
		t.Fatalf("after the first save main = %+v, want %+v", got, first)
	}
	save(t, s, second)
	if got := entriesIn(t, path+".prev"); !reflect.DeepEqual(got, first) {
		t.Fatalf("after the second save .prev = %+v, want %+v", got, first)
	}
}

var errInjected = errors.New("injected failure")

// crash stands for the process dying in the middle of Save.
type crash struct{}

// saveOrCrash runs s.Save(entries) and reports whether it crashed.
func saveOrCrash(s *Store, entries []Entry) (err error, crashed bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	return s.Save(entries, time.Time{}), false
}

// A save that fails, or a process that dies, after any step of Save leaves
// a checkpoint that loads: the previous entries before the rename, the new
// ones after it; never an error, never nothing. The next save works, and
// the previous copy it leaves is good.
func TestSaveFailpoints(t *testing.T) {
	steps := []struct {
		name    string
		renamed bool // the new file is in place
	}{
		{"lock", false}, {"write", false}, {"sync", false}, {"close", false},
		{"prev", false}, {"rename", true}, {"syncdir", true},
	}
	older, old, next, last := withOffset(1), withOffset(2), withOffset(3), withOffset(4)
	for _, step := range steps {
		for _, died := range []bool{false, true} {
			t.Run(step.name+map[bool]string{false: " fails", true: " crashes"}[died], func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "cp.json")
				s := open(t, path)
				save(t, s, older)
				save(t, s, old)
				s.step = func(name string) error {
					if name != step.name {
						return nil
					}
					if died {
						panic(crash{})
					}
					return errInjected
				}
				err, crashed := saveOrCrash(s, next)
				s.step = nil
				if crashed != died || !died && !errors.Is(err, errInjected) {
					t.Fatalf("Save = %v, crashed %v; want the injected failure", err, crashed)
				}

				want, prev := old, old
				if step.renamed {
					want, prev = next, next
				}
				res := load(t, path)
				if !equalEntries(res.Entries, want) {
					t.Fatalf("Load after the failure = %+v, want %+v", res.Entries, want)
				}
				if (res.Recovered != "") != (step.name == "prev") {
					t.Errorf("Recovered = %q; want set only when the main file was moved away", res.Recovered)
				}

				if died {
					// The process is gone: its lock with it. The next
					// agent removes what the dead one left.
					s.Close()
					s = open(t, path)
					if _, err := s.Load(); err != nil {
						t.Fatal(err)
					}
				}
				if m := temps(t, path); len(m) != 0 {
					t.Errorf("temporary files left: %v", m)
				}
				save(t, s, last)
				if got := load(t, path).Entries; !equalEntries(got, last) {
					t.Fatalf("Load after the next save = %+v, want %+v", got, last)
				}
				if got := entriesIn(t, path+".prev"); !equalEntries(got, prev) {
					t.Fatalf(".prev after the next save = %+v, want %+v", got, prev)
				}
			})
		}
	}
}

func TestCheckDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	write(t, file, nil)
	state := filepath.Join(dir, "new", "state")
	if err := CheckDir(filepath.Join(state, "cp.json")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("directory: %v, %v; want created with mode 0700", fi, err)
	}
	if des, _ := os.ReadDir(state); len(des) != 0 {
		t.Errorf("check left files: %v", des)
	}
	err := CheckDir(filepath.Join(file, "state", "cp.json"))
	if err == nil || !strings.Contains(err.Error(), filepath.Join(file, "state")) {
		t.Fatalf("CheckDir under a regular file = %v, want an error naming the directory", err)
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// entriesIn decodes one checkpoint file, without falling back.
func entriesIn(t *testing.T, name string) []Entry {
	t.Helper()
	entries, _, err := readFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func replaceOnce(s, old, new string) string {
	if !strings.Contains(s, old) {
		panic("pattern not found: " + old)
	}
	return strings.Replace(s, old, new, 1)
}

// A symbolic link at the checkpoint's path (or its previous copy's) is
// refused by Open with a clear error; one planted after Open is not read
// by Load and is replaced, not written through, by Save.
func TestStoreRefusesSymlink(t *testing.T) {
	for _, at := range []string{"", ".prev"} {
		t.Run("link at checkpoints.json"+at, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "checkpoints.json")
			other := filepath.Join(dir, "other")
			os.WriteFile(other, []byte("not a checkpoint"), 0o600)
			if err := os.Symlink(other, path+at); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path, nil)
			if !errors.Is(err, ErrSymlink) || !strings.Contains(err.Error(), path+at+":") {
				t.Fatalf("Open: err = %v, want ErrSymlink naming %s", err, path+at)
			}
			// The lock was given back: once the link is gone, Open works.
			os.Remove(path + at)
			open(t, path)
		})
	}
	t.Run("link planted after Open", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "checkpoints.json")
		s := open(t, path)
		other := filepath.Join(dir, "other")
		os.WriteFile(other, []byte("keep"), 0o600)
		if err := os.Symlink(other, path); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("Load: err = %v, want the link refused", err)
		}
		save(t, s, withOffset(7))
		if b, _ := os.ReadFile(other); string(b) != "keep" {
			t.Errorf("the link's target was written: %q", b)
		}
		if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("after Save, %s is %v (err %v), want a regular file", path, fi.Mode(), err)
		}
		if got := load(t, path).Entries[0].Offset; got != 7 {
			t.Errorf("saved offset %d, want 7", got)
		}
	})
}

// A save writes its entries a chunk at a time, with the checksum put in
// place at the end: the file is byte for byte what Encode makes, and loads
// back, for checkpoints of one chunk and of many.
func TestSaveInChunks(t *testing.T) {
	for _, n := range []int{0, 1, 50, 2_000} {
		t.Run(fmt.Sprint(n, " entries"), func(t *testing.T) {
			entries := benchEntries(n)
			want, err := Encode(entries, savedAt)
			if err != nil {
				t.Fatal(err)
			}
			if n >= 2_000 && len(want) < 4*saveChunk {
				t.Fatalf("%d bytes: not several chunks", len(want))
			}
			path := filepath.Join(t.TempDir(), "checkpoints.json")
			s := open(t, path)
			if err := s.Save(entries, savedAt); err != nil {
				t.Fatal(err)
			}
			if got := mustRead(t, path); !bytes.Equal(got, want) {
				t.Fatalf("saved file (%d bytes) differs from Encode's (%d bytes)", len(got), len(want))
			}
			res, err := s.Load()
			if err != nil {
				t.Fatal(err)
			}
			again, err := Encode(res.Entries, res.Saved)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Entries) != n || !bytes.Equal(again, want) {
				t.Fatalf("load: %d entries saved at %v, not the %d saved", len(res.Entries), res.Saved, n)
			}
		})
	}
}
