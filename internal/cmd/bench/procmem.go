package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// memStatus reads a process's resident memory now (VmRSS) and its peak
// (VmHWM, since start or since resetPeak), in MiB, from
// /proc/PID/status.
func memStatus(pid int) (rss, peak float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	field := func(name string) (float64, error) {
		_, rest, ok := bytes.Cut(b, []byte("\n"+name+":"))
		if !ok {
			return 0, fmt.Errorf("/proc/%d/status has no %s", pid, name)
		}
		v, _, _ := bytes.Cut(rest, []byte("\n"))
		kib, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/status: %s: %w", pid, name, err)
		}
		return float64(kib) / 1024, nil
	}
	if rss, err = field("VmRSS"); err != nil {
		return 0, 0, err
	}
	if peak, err = field("VmHWM"); err != nil {
		return 0, 0, err
	}
	return rss, peak, nil
}

// resetPeak makes the kernel count a process's peak resident memory
// (VmHWM) again from its current one (Linux 4.0 and later), so the peak of
// one phase of a run can be read apart from the phases before it.
func resetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}
