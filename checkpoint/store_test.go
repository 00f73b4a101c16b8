package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/kinetail/kinetail/tailer"
)

func sampleEntries() []Entry {
	ts := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	return []Entry{
		{Flow: "web", Path: "/var/log/a.log", ID: tailer.FileID{Dev: 1, Inode: 2, Fingerprint: 3, FingerprintLen: 1024}, Offset: 4096, Updated: ts},
		{Flow: "app", Path: "/var/log/b.log", ID: tailer.FileID{Dev: 1, Inode: 9}, Offset: 0, Updated: ts},
	}
}

func TestStoreRoundTrip(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		t.Run(map[bool]string{false: "same store", true: "reopened store"}[reopen], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state", "checkpoints.json")
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Load()
			if err != nil || res.Existed || len(res.Entries) != 0 {
				t.Fatalf("first load = %+v, %v; want empty, not existed", res, err)
			}
			want := sampleEntries()
			for i := 0; i < 3; i++ { // several saves exercise the .prev rotation
				want[0].Offset += int64(i)
				if err := s.Save(want); err != nil {
					t.Fatal(err)
				}
			}
			if reopen {
				if s, err = Open(path); err != nil {
					t.Fatal(err)
				}
			}
			res, err = s.Load()
			if err != nil {
				t.Fatal(err)
			}
			if !res.Existed || res.Recovered != "" || !reflect.DeepEqual(res.Entries, want) {
				t.Fatalf("load = %+v, want %+v", res, want)
			}
			for _, name := range []string{path, path + ".prev"} {
				fi, err := os.Stat(name)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s mode = %v, want 0600", name, fi.Mode().Perm())
				}
			}
			matches, _ := filepath.Glob(path + ".tmp*")
			if len(matches) != 0 {
				t.Errorf("temporary files left behind: %v", matches)
			}
		})
	}
}

func TestStoreCorruption(t *testing.T) {
	good := sampleEntries()
	older := sampleEntries()
	older[0].Offset = 100
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
		{"unknown version falls back", func(t *testing.T, p string) {
			data, _ := os.ReadFile(p)
			write(t, p, []byte(replaceOnce(string(data), `"version":1`, `"version":7`)))
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
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Save(older); err != nil {
				t.Fatal(err)
			}
			if err := s.Save(good); err != nil {
				t.Fatal(err)
			}
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

func TestSaveFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cp.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want := sampleEntries()
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	// The temporary file cannot be created in a directory that is gone
	// (as root, permissions would not stop it).
	s2 := &Store{path: filepath.Join(dir, "sub", "cp.json")}
	if err := s2.Save(want); err == nil {
		t.Fatal("save into a missing directory succeeded")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.tmp*")); len(m) != 0 {
		t.Errorf("failed saves left temporary files: %v", m)
	}
	res, err := s.Load()
	if err != nil || !reflect.DeepEqual(res.Entries, want) {
		t.Fatalf("old checkpoint not intact: %+v, %v", res, err)
	}
}

func FuzzDecode(f *testing.F) {
	data, _ := Encode(sampleEntries())
	f.Add(data)
	f.Add([]byte(`{"version":1,"checksum":"00000000","entries":[]}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Encode(entries)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(again); err != nil {
			t.Fatalf("re-encoded checkpoint does not decode: %v", err)
		}
	})
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func replaceOnce(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	panic("pattern not found: " + old)
}
