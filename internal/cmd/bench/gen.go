package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// minLine is the shortest line the generator writes: the longest unpadded
// line it makes, plus its newline.
const minLine = 80

// Formats of generated lines.
const (
	formatCSV    = "csv"    // lineGen.next: CSV access logs of a fixed length
	formatApache = "apache" // genApacheLine: Apache combined logs of varied lengths
)

// dataset describes generated logs: lines spread evenly over files, the
// files spread over directories, as logs/dNN/fNNNN.log under a directory
// (so the glob logs/*/*.log matches exactly them).
type dataset struct {
	format  string
	files   int
	dirs    int
	lines   int64
	lineLen int // for formatCSV, newline included
}

// key names the dataset's contents: two workloads with the same key read
// the same files.
func (d dataset) key() string {
	return fmt.Sprintf("%s-%dx%d-%d-%d", d.format, d.files, d.dirs, d.lines, d.lineLen)
}

// paths returns the files' paths relative to the dataset's directory.
func (d dataset) paths() []string {
	p := make([]string, d.files)
	for i := range p {
		p[i] = filepath.Join("logs", fmt.Sprintf("d%02d", i%d.dirs), fmt.Sprintf("f%04d.log", i))
	}
	return p
}

// linesIn returns how many of the lines file i holds.
func (d dataset) linesIn(i int) int64 {
	n := d.lines / int64(d.files)
	if int64(i) < d.lines%int64(d.files) {
		n++
	}
	return n
}

// generate writes the dataset under dir and syncs it, so the page cache's
// write-back does not run during the measurement, and returns its size in
// bytes.
func generate(dir string, d dataset) (size int64, err error) {
	switch {
	case d.files < 1 || d.dirs < 1 || d.dirs > d.files:
		return 0, fmt.Errorf("%d files in %d directories", d.files, d.dirs)
	case d.lines < int64(d.files):
		return 0, fmt.Errorf("%d lines are too few for %d files", d.lines, d.files)
	case d.format == formatCSV && d.lineLen < minLine:
		return 0, fmt.Errorf("line length %d is under the minimum of %d", d.lineLen, minLine)
	case d.format != formatCSV && d.format != formatApache:
		return 0, fmt.Errorf("unknown format %q", d.format)
	}
	for i, name := range d.paths() {
		// Each file gets its own clock and random sequence, so no two files
		// hold the same lines.
		g := &lineGen{rng: uint64(i)*0x9E3779B97F4A7C15 + 1, ms: int64(i) * 3_600_000}
		next := func(b []byte) []byte { return g.next(b, d.lineLen) }
		if d.format == formatApache {
			next = func(b []byte) []byte { return append(genApacheLine(g, b), '\n') }
		}
		n, err := writeFile(filepath.Join(dir, name), next, d.linesIn(i))
		if err != nil {
			return 0, err
		}
		size += n
	}
	return size, nil
}

// writeFile writes n lines made by next (each appends one line, newline
// included) to path, and returns the bytes written.
func writeFile(path string, next func([]byte) []byte, n int64) (size int64, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	line := make([]byte, 0, 512)
	for range n {
		line = next(line[:0])
		w.Write(line) // errors stick in w and surface at Flush
		size += int64(len(line))
	}
	if err := w.Flush(); err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("sync %s: %w", path, err)
	}
	return size, nil
}

// lineGen makes varied access-log CSV lines:
//
//	2026-11-22T05:00:00.123Z,host-17,GET,/api/v1/items/123456?q=abcd,200,5123
//
// The time advances a millisecond a line; the other fields come from a
// xorshift sequence. The query string pads the line to its length.
type lineGen struct {
	rng uint64
	ms  int64 // since 2026-11-22T00:00:00Z
}

var (
	methods  = []string{"GET", "GET", "GET", "GET", "POST", "PUT", "DELETE", "HEAD"}
	statuses = []string{"200", "200", "200", "200", "200", "201", "204", "301", "304", "404", "500", "503"}
)

func (g *lineGen) rand() uint64 {
	g.rng ^= g.rng << 13
	g.rng ^= g.rng >> 7
	g.rng ^= g.rng << 17
	return g.rng
}

// next appends one line of exactly n bytes, newline included.
func (g *lineGen) next(b []byte, n int) []byte {
	start := len(b)
	ms := g.ms % 86_400_000
	g.ms++
	b = append(b, "2026-11-22T"...)
	b = appendDigits(b, uint64(ms/3_600_000), 2)
	b = append(b, ':')
	b = appendDigits(b, uint64(ms/60_000%60), 2)
	b = append(b, ':')
	b = appendDigits(b, uint64(ms/1000%60), 2)
	b = append(b, '.')
	b = appendDigits(b, uint64(ms%1000), 3)
	b = append(b, "Z,host-"...)
	r := g.rand()
	b = appendDigits(b, r%64, 2)
	b = append(b, ',')
	b = append(b, methods[r>>8%uint64(len(methods))]...)
	b = append(b, ",/api/v1/items/"...)
	b = appendDigits(b, r>>16%1_000_000, 6)
	b = append(b, "?q="...)
	// Pad after the query key: the longest fields that follow are ",503"
	// and ",99999", plus the newline.
	tail := len(b) - start
	status := statuses[r>>40%uint64(len(statuses))]
	size := r >> 48 % 100_000
	width := 1
	for x := size; x >= 10; x /= 10 {
		width++
	}
	pad := n - tail - 1 - len(status) - 1 - width - 1
	for i := range pad {
		b = append(b, byte('a'+(int(r)+i)%26))
	}
	b = append(b, ',')
	b = append(b, status...)
	b = append(b, ',')
	b = strconv.AppendUint(b, size, 10)
	return append(b, '\n')
}

// appendDigits appends v as exactly width decimal digits.
func appendDigits(b []byte, v uint64, width int) []byte {
	for range width {
		b = append(b, '0')
	}
	for i := len(b) - 1; i >= len(b)-width; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// parseSize reads a byte count: a number with an optional unit B, KB, MB,
// GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
	}
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 {
		return 0, errors.New("size " + strconv.Quote(s) + ": want a positive number with an optional unit (KB, MB, GB, KiB, MiB, GiB)")
	}
	return int64(v * float64(mult)), nil
}
