package checkpoint

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/testfs"
)

// holdEnv makes the test binary a process that holds a checkpoint's lock
// (see TestMain) until its standard input closes.
const holdEnv = "KINETAIL_CHECKPOINT_TEST_HOLD"

func TestMain(m *testing.M) {
	if path := os.Getenv(holdEnv); path != "" {
		os.Exit(holdLock(path))
	}
	os.Exit(m.Run())
}

func holdLock(path string) int {
	s, err := Open(path, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// Two Stores on one checkpoint conflict, in one process too (flock is per
// open file description); Close lets the next one in.
func TestOpenTakesTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.json")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, nil)
	want := fmt.Sprintf("checkpoint %s is in use by another kinetail (pid %d)", path, os.Getpid())
	if !errors.Is(err, ErrLocked) || err.Error() != want {
		t.Fatalf("second Open = %v; want ErrLocked saying %q", err, want)
	}
	if pid := strings.TrimSpace(string(mustRead(t, path+".lock"))); pid != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q, want this pid", pid)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := s.Save(sampleEntries(), time.Time{}); err == nil {
		t.Error("Save after Close succeeded without the lock")
	}
	s2, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}

// Another process holding the lock is named by its pid; when it dies
// (SIGKILL included) the lock is free.
func TestLockHeldByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.json")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), holdEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q, %v", line, err)
	}
	_, err = Open(path, nil)
	if want := fmt.Sprintf("(pid %d)", cmd.Process.Pid); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), want) {
		t.Errorf("Open while another process holds the lock = %v; want ErrLocked naming %s", err, want)
	}
	cmd.Process.Kill()
	cmd.Wait()
	s, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open after the holder died: %v", err)
	}
	s.Close()
}

// A symlink at the lock's name is not followed.
func TestLockRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	path, target := filepath.Join(dir, "cp.json"), filepath.Join(dir, "target")
	write(t, target, []byte("keep"))
	if err := os.Symlink(target, path+".lock"); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(path, nil); err == nil {
		s.Close()
		t.Fatal("Open followed a symlinked lock file")
	}
	if got := string(mustRead(t, target)); got != "keep" {
		t.Errorf("symlink target = %q, was written through", got)
	}
}

// When the state directory or the lock file is removed under a running
// agent, the next save puts them back, locks again and warns once.
func TestSaveRetakesLostLock(t *testing.T) {
	tests := []struct {
		name   string
		remove func(path string) error
		warn   string
	}{
		{"directory removed", func(p string) error { return os.RemoveAll(filepath.Dir(p)) },
			"checkpoint directory was removed; recreated it"},
		{"lock file removed", func(p string) error { return os.Remove(p + ".lock") },
			"checkpoint lock file was removed or replaced; locked it again"},
		{"directory removed after the lock check", nil,
			"checkpoint directory was removed; recreated it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state", "cp.json")
			var logs testfs.Buffer
			s, err := Open(path, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			save(t, s, withOffset(1))
			if tt.remove != nil {
				if err := tt.remove(path); err != nil {
					t.Fatal(err)
				}
			} else {
				// Between the lock check and the temporary file.
				s.step = func(name string) error {
					if name == "lock" {
						s.step = nil
						return os.RemoveAll(filepath.Dir(path))
					}
					return nil
				}
			}
			save(t, s, withOffset(2))
			save(t, s, withOffset(3))
			if n := strings.Count(logs.String(), tt.warn); n != 1 {
				t.Errorf("warned %d times, want once; logs:\n%s", n, logs.String())
			}
			if !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("not a warning: %s", logs.String())
			}
			if got := load(t, path).Entries; !equalEntries(got, withOffset(3)) {
				t.Errorf("Load = %+v, want the last save", got)
			}
			if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("directory: %v, %v; want mode 0700", fi, err)
			}
			if _, err := Open(path, nil); !errors.Is(err, ErrLocked) {
				t.Fatalf("Open beside the store = %v, want ErrLocked: the lock was not taken again", err)
			}
		})
	}
}

// An agent started while the directory was gone holds the lock in the new
// one: the first agent's saves fail with ErrLocked until it lets go.
func TestSaveFailsWhenAnotherTookTheNewLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "cp.json")
	s := open(t, path)
	save(t, s, withOffset(1))
	if err := os.RemoveAll(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	other := open(t, path)
	if err := s.Save(withOffset(2), time.Time{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Save = %v, want ErrLocked", err)
	}
	save(t, other, withOffset(3))
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	save(t, s, withOffset(4))
	if got := load(t, path).Entries; !equalEntries(got, withOffset(4)) {
		t.Errorf("Load = %+v, want the last save", got)
	}
}
