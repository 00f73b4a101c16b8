package sdnotify

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen stands in for systemd: a datagram socket named by NOTIFY_SOCKET.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	return c
}

func receive(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestSend(t *testing.T) {
	for _, name := range []string{filepath.Join(t.TempDir(), "notify"), "@kinetail-test-" + strconv.Itoa(os.Getpid())} {
		c := listen(t, name)
		n := New()
		if err := n.Send("READY=1", "STATUS=following 3 files"); err != nil {
			t.Fatal(err)
		}
		if got, want := receive(t, c), "READY=1\nSTATUS=following 3 files"; got != want {
			t.Fatalf("%s: got %q, want %q", name, got, want)
		}
		if err := n.Send(Reloading()...); err != nil {
			t.Fatal(err)
		}
		if got := receive(t, c); !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
			t.Fatalf("%s: got %q, want RELOADING=1 with MONOTONIC_USEC", name, got)
		}
		if err := n.Send("no equals sign"); err == nil {
			t.Fatal("a state without = was sent")
		}
	}
}

func TestNotUnderSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n := New()
	if n != nil {
		t.Fatalf("New() = %v without NOTIFY_SOCKET", n)
	}
	if err := n.Send("READY=1"); err != nil {
		t.Fatalf("a nil Notifier sends nothing and does not fail: %v", err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	tests := []struct {
		usec, pid string
		want      time.Duration
		err       bool
	}{
		{"", "", 0, false},
		{"20000000", "", 10 * time.Second, false},
		{"20000000", pid, 10 * time.Second, false},
		{"20000000", "1", 0, false}, // another process's watchdog
		{"x", "", 0, true},
		{"-5", "", 0, true},
	}
	for _, tt := range tests {
		t.Setenv("WATCHDOG_USEC", tt.usec)
		t.Setenv("WATCHDOG_PID", tt.pid)
		got, err := WatchdogInterval()
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v, %v; want %v, error %v", tt.usec, tt.pid, got, err, tt.want, tt.err)
		}
	}
}
