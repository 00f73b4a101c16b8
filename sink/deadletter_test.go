// Tests of the dead-letter file: round trip, mode, concurrent writers, torn
// lines, renames.

package sink

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func readAllDead(t *testing.T, path string) ([]DeadRecord, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []DeadRecord
	err = ReadDeadLetters(f, func(line int, rec DeadRecord) error {
		if line != len(recs)+1 {
			return fmt.Errorf("got line %d after %d records", line, len(recs))
		}
		recs = append(recs, rec)
		return nil
	})
	return recs, err
}

func TestDeadLetterRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	d, err := OpenDeadLetter(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC)
	want := []DeadRecord{
		{Time: at, Destination: "events", Stream: "s", PartitionKey: "k", ExplicitHashKey: "170141183460469231731687303715884105728",
			Data: []byte(`{"msg":"hi"}`), Error: "InvalidArgumentException: bad", Attempts: 3},
		{Time: at, Destination: "d\"q", Stream: "app-x", Data: []byte{0, 0xff, '\n', '"'}, Error: "quote \" newline \n bad utf8 \xff", Attempts: 1},
		{Time: at, Destination: "events", Data: []byte{}},
	}
	if err := d.Write(want[:2]); err != nil {
		t.Fatal(err)
	}
	if err := d.Write(want[2:]); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	raw, _ := os.ReadFile(path)
	first := strings.SplitAfter(string(raw), "\n")[0]
	if wantLine := `{"time":"2024-05-01T10:00:00.123456789Z","destination":"events","stream":"s","partition_key":"k","explicit_hash_key":"170141183460469231731687303715884105728","data":"eyJtc2ciOiJoaSJ9","error":"InvalidArgumentException: bad","attempts":3}` + "\n"; first != wantLine {
		t.Errorf("first line:\n%s\nwant:\n%s", first, wantLine)
	}
	if strings.Contains(string(raw), "partition_key\":\"\"") || strings.Contains(string(raw), "explicit_hash_key\":\"\"") {
		t.Errorf("empty keys are written:\n%s", raw)
	}

	got, err := readAllDead(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	want[1].Error = "quote \" newline \n bad utf8 \uFFFD" // invalid UTF-8 is replaced
	for i := range want {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) || g.Destination != w.Destination || g.Stream != w.Stream ||
			g.PartitionKey != w.PartitionKey || g.ExplicitHashKey != w.ExplicitHashKey ||
			!bytes.Equal(g.Data, w.Data) || g.Error != w.Error || g.Attempts != w.Attempts {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestDeadLetterModeAndDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dead.jsonl")
	d, err := OpenDeadLetter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Errorf("mode = %o, want 600", mode)
	}
	if _, err := OpenDeadLetter(filepath.Join(dir, "missing", "dead.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("open in a missing directory: err = %v, want ErrNotExist", err)
	}
	d.Close()
	if err := d.Write([]DeadRecord{{Destination: "x"}}); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: err = %v, want ErrClosed", err)
	}
}

// Writers sharing a DeadLetter, and a second DeadLetter on the same path,
// never interleave their lines.
func TestDeadLetterConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	a, err := OpenDeadLetter(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenDeadLetter(path)
	if err != nil {
		t.Fatal(err)
	}
	const writers, writes, perWrite = 4, 20, 5
	var wg sync.WaitGroup
	for w := range writers {
		d := a
		if w%2 == 1 {
			d = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range writes {
				recs := make([]DeadRecord, perWrite)
				for j := range recs {
					recs[j] = DeadRecord{Destination: "d", Stream: "s",
						Data: bytes.Repeat([]byte{byte('a' + w)}, 5000+j), Error: fmt.Sprintf("w%d-%d-%d", w, i, j)}
				}
				if err := d.Write(recs); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	a.Close()
	b.Close()
	got, err := readAllDead(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != writers*writes*perWrite {
		t.Fatalf("read %d records, want %d", len(got), writers*writes*perWrite)
	}
	seen := map[string]bool{}
	for i, r := range got {
		var w, n, j int
		if _, err := fmt.Sscanf(r.Error, "w%d-%d-%d", &w, &n, &j); err != nil {
			t.Fatalf("record %d: error %q", i, r.Error)
		}
		if !bytes.Equal(r.Data, bytes.Repeat([]byte{byte('a' + w)}, 5000+j)) {
			t.Fatalf("record %d (%s) has mixed data", i, r.Error)
		}
		// The records of one Write stay together and in order.
		if j > 0 && got[i-1].Error != fmt.Sprintf("w%d-%d-%d", w, n, j-1) {
			t.Fatalf("record %d (%s) follows %s", i, r.Error, got[i-1].Error)
		}
		seen[r.Error] = true
	}
	if len(seen) != writers*writes*perWrite {
		t.Errorf("%d distinct records, want %d", len(seen), writers*writes*perWrite)
	}
}

func TestDeadLetterLargeRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	d, err := OpenDeadLetter(path)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := d.Write([]DeadRecord{{Destination: "d", Data: data}, {Destination: "d", Data: []byte("small")}}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	got, err := readAllDead(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !bytes.Equal(got[0].Data, data) || string(got[1].Data) != "small" {
		t.Fatalf("large record did not round-trip: %d records", len(got))
	}
}

// A torn last line left by a crash is reported when reading, and cut off
// when the file is opened again for writing.
func TestDeadLetterTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	d, err := OpenDeadLetter(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := []DeadRecord{{Destination: "d", Data: []byte("one")}, {Destination: "d", Data: []byte("two")}}
	if err := d.Write(recs); err != nil {
		t.Fatal(err)
	}
	d.Close()
	whole, _ := os.ReadFile(path)
	torn := append(bytes.Clone(whole), `{"time":"2024-05-01T10:00:00Z","destination":"d","data":"dGhy`...)
	os.WriteFile(path, torn, 0o600)

	got, err := readAllDead(t, path)
	if !errors.Is(err, ErrIncompleteLastLine) || !strings.Contains(err.Error(), "line 3: incomplete last line") {
		t.Errorf("err = %v, want line 3: incomplete last line", err)
	}
	if len(got) != 2 {
		t.Errorf("complete lines before the torn one: %d records, want 2", len(got))
	}

	d, err = OpenDeadLetter(path)
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(path); !bytes.Equal(raw, whole) {
		t.Errorf("after reopening, file is\n%s\nwant\n%s", raw, whole)
	}
	if err := d.Write([]DeadRecord{{Destination: "d", Data: []byte("three")}}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	got, err = readAllDead(t, path)
	if err != nil || len(got) != 3 || string(got[2].Data) != "three" {
		t.Errorf("after repair and append: %d records, err %v", len(got), err)
	}
}

// After the file is renamed away (replayed) or removed, the next Write
// starts a new file at the path.
func TestDeadLetterFollowsRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dead.jsonl")
	d, err := OpenDeadLetter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	write := func(s string) {
		t.Helper()
		if err := d.Write([]DeadRecord{{Destination: "d", Data: []byte(s)}}); err != nil {
			t.Fatal(err)
		}
	}
	write("one")
	if err := os.Rename(path, path+".replayed"); err != nil {
		t.Fatal(err)
	}
	write("two")
	os.Remove(path)
	write("three")
	for file, want := range map[string]string{path + ".replayed": "one", path: "three"} {
		got, err := readAllDead(t, file)
		if err != nil || len(got) != 1 || string(got[0].Data) != want {
			t.Errorf("%s: %d records (%v), want just %q", file, len(got), err, want)
		}
	}
}

func TestReadDeadLettersErrors(t *testing.T) {
	good := `{"destination":"d","data":"YQ=="}` + "\n"
	tests := []struct {
		name, input, err string
		records          int
	}{
		{"empty", "", "", 0},
		{"blank lines are skipped", good + "\n  \n" + good, "", 2},
		{"unknown fields are ignored", `{"destination":"d","data":"","future":1}` + "\n", "", 1},
		{"not JSON", good + "nope\n", "line 2: invalid character", 1},
		{"bad base64", good + good + `{"destination":"d","data":"!!"}` + "\n", "line 3: illegal base64", 2},
		{"no destination", `{"data":"YQ=="}` + "\n", "line 1: no destination", 0},
		{"no data", `{"destination":"d"}` + "\n", "line 1: no data", 0},
		{"bad time", `{"destination":"d","data":"","time":"yesterday"}` + "\n", "line 1: ", 0},
		{"torn last line", good + `{"destination":"d"`, "line 2: incomplete last line", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			err := ReadDeadLetters(strings.NewReader(tt.input), func(int, DeadRecord) error { n++; return nil })
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
			if n != tt.records {
				t.Errorf("%d records before the error, want %d", n, tt.records)
			}
		})
	}
	stop := errors.New("stop")
	err := ReadDeadLetters(strings.NewReader(good+good), func(int, DeadRecord) error { return stop })
	if err != stop {
		t.Errorf("fn's error: got %v", err)
	}
}
