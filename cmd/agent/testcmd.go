package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/tailer"
	"github.com/kinetail/kinetail/transform"
)

const testSummary = `Reads lines from INPUT (a file; "-" or none: standard input), runs them
through the flow's transforms as the agent would, and prints one line of
output for each line of input:

  RECORD                        the record sent
  WRAPPED (REASON): RECORD      an invalid line sent wrapped (on_error: wrap)
  PASSED (REASON): RECORD       an invalid line sent as is (on_error: pass)
  DROPPED (REASON)              an invalid line dropped (on_error: drop)
  FILTERED                      a record dropped by a filter step
  HEADER                        a CSV header line (csv_to_json header: true)
  SKIPPED (skip_header_lines)   a line the flow's skip_header_lines skips

The input stands for one followed file: its first line is the file's header
line, and offsets are counted from its start. multiline is not applied
(each line is one record), nor max_line_bytes. Nothing is sent anywhere,
but add_ec2_metadata does ask the instance metadata service.
Exits 1 if the configuration is invalid or the flow does not exist.`

func cmdTest(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var path, name string
	rest, code, ok := flagsArgs("test", "-c FILE --flow NAME [INPUT|-]", testSummary, args, 1, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&path, "c", "/etc/kinetail/kinetail.yaml", "configuration `file`")
		fs.StringVar(&name, "flow", "", "the `name` of the flow to test (may be left out when there is one flow)")
	})
	if !ok {
		return code
	}
	cfg, _, err := loadConfig(path)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	flow, err := findFlow(cfg, name)
	if err != nil {
		fmt.Fprintf(stderr, "kinetail test: %v\n", err)
		return 1
	}
	chain, err := transform.New(flow.Transforms)
	if err != nil {
		fmt.Fprintf(stderr, "%s:%d: flow %q: %v\n", path, flow.Line, flow.Name, err)
		return 1
	}
	in, inName := stdin, "-"
	if len(rest) == 1 && rest[0] != "-" {
		f, err := os.Open(rest[0])
		if err != nil {
			fmt.Fprintf(stderr, "kinetail test: %v\n", err)
			return 1
		}
		defer f.Close()
		in, inName = f, rest[0]
	}
	if flow.Multiline != nil {
		fmt.Fprintf(stderr, "kinetail test: flow %q: multiline is not applied here; each line is one record\n", flow.Name)
	}
	chain.SetSource(&tailer.Source{Flow: flow.Name, Path: inName})
	w := bufio.NewWriter(stdout)
	if err := testLines(chain, flow.SkipHeaderLines, in, w); err != nil {
		w.Flush()
		fmt.Fprintf(stderr, "kinetail test: read %s: %v\n", inName, err)
		return 1
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "kinetail test: %v\n", err)
		return 1
	}
	return 0
}

// findFlow returns the flow called name, or the only flow when name is
// empty.
func findFlow(cfg *config.Config, name string) (*config.Flow, error) {
	names := make([]string, 0, len(cfg.Flows))
	for _, f := range cfg.Flows {
		if f.Name == name || (name == "" && len(cfg.Flows) == 1) {
			return f, nil
		}
		names = append(names, f.Name)
	}
	if name == "" {
		return nil, fmt.Errorf("--flow is required; flows: %s", strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("no flow %q; flows: %s", name, strings.Join(names, ", "))
}

// testLines runs each line of in through chain and writes what it became.
// The chain's counters tell the outcomes apart: every line moves exactly
// one of them, or none when it gives a record unchanged by any policy.
func testLines(chain *transform.Chain, skip int, in io.Reader, w *bufio.Writer) error {
	r := bufio.NewReaderSize(in, 64<<10)
	var (
		off int64
		n   int
		out []byte
	)
	for {
		raw, err := r.ReadBytes('\n')
		if len(raw) > 0 {
			start := off
			off += int64(len(raw))
			line := bytes.TrimSuffix(raw, []byte("\n"))
			if n == 0 {
				// As the tailer does, a file's first line is its header
				// line, whether or not it is skipped.
				chain.SetHeader(line)
			}
			n++
			if n <= skip {
				w.WriteString("SKIPPED (skip_header_lines)\n")
			} else {
				before := chain.Stats()
				var keep bool
				out, keep = chain.AppendLine(out[:0], line, start, off)
				writeOutcome(w, before, chain.Stats(), chain.LastError(), out, keep)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func writeOutcome(w *bufio.Writer, before, after transform.Stats, lastErr error, out []byte, keep bool) {
	switch {
	case after.Header > before.Header:
		w.WriteString("HEADER")
	case after.Filtered > before.Filtered:
		w.WriteString("FILTERED")
	case after.Dropped > before.Dropped:
		fmt.Fprintf(w, "DROPPED (%v)", lastErr)
	case after.Passed > before.Passed:
		fmt.Fprintf(w, "PASSED (%v): %s", lastErr, out)
	case after.Wrapped > before.Wrapped:
		fmt.Fprintf(w, "WRAPPED (%v): %s", lastErr, out)
	case !keep:
		w.WriteString("DROPPED") // not reached: every drop is counted
	default:
		w.Write(out)
	}
	w.WriteByte('\n')
}
