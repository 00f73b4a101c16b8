// Package sdnotify tells systemd what the service is doing, over the
// datagram socket named by $NOTIFY_SOCKET (the protocol of sd_notify(3):
// one datagram of newline-separated VAR=value assignments). It needs no
// cgo and no library: a unit with Type=notify waits for READY=1, and with
// WatchdogSec= restarts the service when WATCHDOG=1 stops coming.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Notifier sends states to systemd. The zero value and a nil *Notifier
// send nothing: not started by systemd, or not asked to notify.
type Notifier struct {
	addr *net.UnixAddr
}

// New returns a Notifier for $NOTIFY_SOCKET, or nil when it is not set.
// A path starting with @ is an abstract socket (net handles the @).
func New() *Notifier {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	return &Notifier{addr: &net.UnixAddr{Name: name, Net: "unixgram"}}
}

// Send sends states, such as "READY=1" and "STATUS=...", in one datagram.
func (n *Notifier) Send(states ...string) error {
	if n == nil {
		return nil
	}
	for _, s := range states {
		if !strings.Contains(s, "=") {
			return fmt.Errorf("sd_notify state %q: want VAR=value", s)
		}
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(strings.Join(states, "\n"))); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}

// Reloading is the state sent when a reload starts: RELOADING=1 with the
// time (CLOCK_MONOTONIC) it started, which systemd wants with it.
func Reloading() []string {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return []string{"RELOADING=1"}
	}
	usec := ts.Sec*1e6 + ts.Nsec/1e3
	return []string{"RELOADING=1", "MONOTONIC_USEC=" + strconv.FormatInt(usec, 10)}
}

// WatchdogInterval returns how often to send WATCHDOG=1 (half of
// $WATCHDOG_USEC), or 0 when the watchdog is off or meant for another
// process ($WATCHDOG_PID).
func WatchdogInterval() (time.Duration, error) {
	s := os.Getenv("WATCHDOG_USEC")
	if s == "" {
		return 0, nil
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0, nil
	}
	usec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || usec <= 0 {
		return 0, errors.New("WATCHDOG_USEC=" + s + ": not a positive number of microseconds")
	}
	return time.Duration(usec) * time.Microsecond / 2, nil
}
