package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kinetail/kinetail/internal/benchaccept"
)

// The acceptor runs in a child process of the driver: the same binary,
// started with acceptorEnv set. So its CPU time and memory are its own
// rusage, measured as exactly as the agent's, and neither includes the
// driver's work (generating logs, polling). The driver controls it over
// the child's stdin and stdout, one line per command and one per answer:
//
//	driver: {"Options": {...}, "Dir": "..."}   child: {"URL": "...", "CAFile": "..."}
//	driver: stats                               child: {"Requests": ..., ...}
//	driver: down | up | throttle 0.9            child: ok
//
// and the child stops its acceptor and exits when its stdin is closed.
const acceptorEnv = "KINETAIL_BENCH_ACCEPTOR"

// acceptorHello is the first line to the child, and acceptorReady its
// answer.
type acceptorHello struct {
	Options benchaccept.Options
	Dir     string // where the CA file goes, with TLS
}

type acceptorReady struct {
	URL    string
	CAFile string
}

// serveAcceptor is the child's side: it runs an acceptor and answers the
// driver's commands until in ends.
func serveAcceptor(in io.Reader, out io.Writer) error {
	r := bufio.NewReader(in)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read options: %w", err)
	}
	var hello acceptorHello
	if err := json.Unmarshal(line, &hello); err != nil {
		return fmt.Errorf("options: %w", err)
	}
	a, err := benchaccept.Start(hello.Options)
	if err != nil {
		return err
	}
	defer a.Close()
	ready := acceptorReady{URL: a.URL()}
	if hello.Options.TLS {
		if ready.CAFile, err = a.CAFile(hello.Dir); err != nil {
			return err
		}
	}
	w := bufio.NewWriter(out)
	reply := func(b []byte) error {
		w.Write(b)
		w.WriteByte('\n')
		return w.Flush()
	}
	b, _ := json.Marshal(ready)
	if err := reply(b); err != nil {
		return err
	}
	for {
		line, err := r.ReadString('\n')
		if errors.Is(err, io.EOF) && line == "" {
			return nil // the driver is done
		}
		if err != nil {
			return fmt.Errorf("read command: %w", err)
		}
		cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		var ans []byte
		switch cmd {
		case "stats":
			ans, _ = json.Marshal(a.Stats())
		case "down", "up":
			a.SetDown(cmd == "down")
			ans = []byte("ok")
		case "throttle":
			rate, err := strconv.ParseFloat(arg, 64)
			if err != nil || rate < 0 || rate > 1 {
				ans = []byte("error: throttle " + arg + ": want a number from 0 to 1")
				break
			}
			a.SetThrottle(rate)
			ans = []byte("ok")
		default:
			ans = []byte("error: unknown command " + strconv.Quote(cmd))
		}
		if err := reply(ans); err != nil {
			return err
		}
	}
}

// acceptorProc is the driver's side: a running child acceptor.
type acceptorProc struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	url    string
	caFile string
}

// startAcceptor starts a child acceptor with o; its CA file (with TLS)
// goes into dir.
func startAcceptor(o benchaccept.Options, dir string, stderr io.Writer) (*acceptorProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("acceptor: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), acceptorEnv+"=1")
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start acceptor: %w", err)
	}
	p := &acceptorProc{cmd: cmd, in: in, out: bufio.NewReader(out)}
	hello, _ := json.Marshal(acceptorHello{Options: o, Dir: dir})
	line, err := p.roundTrip(string(hello))
	if err != nil {
		p.Close()
		return nil, err
	}
	var ready acceptorReady
	if err := json.Unmarshal(line, &ready); err != nil {
		p.Close()
		return nil, fmt.Errorf("acceptor: %s", line)
	}
	p.url, p.caFile = ready.URL, ready.CAFile
	return p, nil
}

// roundTrip sends one line and reads the answer.
func (p *acceptorProc) roundTrip(line string) ([]byte, error) {
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		return nil, fmt.Errorf("acceptor: %w", err)
	}
	ans, err := p.out.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("acceptor: no answer to %.20q: %w", line, err)
	}
	ans = ans[:len(ans)-1]
	if msg, ok := strings.CutPrefix(string(ans), "error: "); ok {
		return nil, errors.New("acceptor: " + msg)
	}
	return ans, nil
}

func (p *acceptorProc) command(c string) error {
	ans, err := p.roundTrip(c)
	if err == nil && string(ans) != "ok" {
		err = fmt.Errorf("acceptor: %s: %s", c, ans)
	}
	return err
}

// Stats returns the acceptor's counts.
func (p *acceptorProc) Stats() (benchaccept.Stats, error) {
	var s benchaccept.Stats
	ans, err := p.roundTrip("stats")
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(ans, &s); err != nil {
		return s, fmt.Errorf("acceptor stats: %w", err)
	}
	return s, nil
}

// SetDown starts or ends an outage.
func (p *acceptorProc) SetDown(down bool) error {
	if down {
		return p.command("down")
	}
	return p.command("up")
}

// SetThrottle sets the share of entries refused.
func (p *acceptorProc) SetThrottle(rate float64) error {
	return p.command("throttle " + strconv.FormatFloat(rate, 'g', -1, 64))
}

// acceptorUsage is what the acceptor process used in its whole life.
type acceptorUsage struct {
	CPU        time.Duration
	PeakRSSMiB float64
}

// Close stops the child (it exits when its stdin closes; it is killed if
// it has not after 10 s) and returns its usage.
func (p *acceptorProc) Close() (acceptorUsage, error) {
	p.in.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		err = errors.Join(errors.New("acceptor did not exit; killed"), <-done)
	}
	var u acceptorUsage
	if ps := p.cmd.ProcessState; ps != nil {
		u.CPU = ps.UserTime() + ps.SystemTime()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			u.PeakRSSMiB = float64(ru.Maxrss) / 1024 // Linux reports KiB
		}
	}
	if err != nil {
		return u, fmt.Errorf("acceptor: %w", err)
	}
	return u, nil
}
