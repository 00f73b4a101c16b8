package main

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/tailer"
	"github.com/kinetail/kinetail/transform"
)

// The -transforms mode measures each transform alone, in this process: a
// transform.Chain of one step (or none, for raw) runs over a generated
// corpus of 100-200 byte lines in the format that transform reads, in
// batches the way the agent's flow calls it (SetHeader and SetSource per
// batch, AppendLine per line into one reused buffer). It runs on one
// goroutine, so lines/s is per core.
//
//	go run ./internal/cmd/bench -transforms [-duration 1.5s] [-only log_to_json]
//
// -only keeps the rows whose name starts with its value.

const (
	corpusLines = 8192 // distinct lines per corpus, cycled
	batchLines  = 512  // lines per batch, as a tailer batch would hold
)

// transformCase is one row of the table: a chain config and the corpus it
// reads.
type transformCase struct {
	name   string
	cfgs   []*config.Transform
	gen    func(g *lineGen, b []byte) []byte // appends one line, no newline
	header string                            // the files' first line, for csv header: true
}

func transformCases() []transformCase {
	one := func(t config.Transform) []*config.Transform { return []*config.Transform{&t} }
	logToJSON := func(format string) []*config.Transform {
		return one(config.Transform{LogToJSON: &config.LogToJSON{Format: format}})
	}
	return []transformCase{
		{name: "raw (no transform)", gen: genCombined},
		{name: "singleline", cfgs: one(config.Transform{Singleline: &config.Singleline{}}), gen: genCombined},
		{name: "csv_to_json", cfgs: one(config.Transform{CSVToJSON: &config.CSVToJSON{
			Fields: []string{"time", "host", "method", "path", "status", "bytes", "agent"}}}), gen: genCSV},
		{name: "csv_to_json header", cfgs: one(config.Transform{CSVToJSON: &config.CSVToJSON{Header: true}}),
			gen: genCSV, header: "time,host,method,path,status,bytes,agent"},
		{name: "json", cfgs: one(config.Transform{JSON: &config.JSON{}}), gen: genJSON},
		{name: "log_to_json common_apache", cfgs: logToJSON("common_apache"), gen: genCommon},
		{name: "log_to_json combined_apache", cfgs: logToJSON("combined_apache"), gen: genCombined},
		{name: "log_to_json apache_error", cfgs: logToJSON("apache_error"), gen: genApacheError},
		{name: "log_to_json syslog", cfgs: logToJSON("syslog"), gen: genSyslog},
		{name: "log_to_json rfc3339_syslog", cfgs: logToJSON("rfc3339_syslog"), gen: genRFC3339Syslog},
		{name: "log_to_json rfc5424_syslog", cfgs: logToJSON("rfc5424_syslog"), gen: genRFC5424},
		{name: "log_to_json nginx_access", cfgs: logToJSON("nginx_access"), gen: genCombined},
		{name: "regex (4 named groups)", cfgs: one(config.Transform{Regex: &config.Regex{
			Pattern: `^(?P<host>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)"`}}), gen: genCombined},
		{name: "logfmt", cfgs: one(config.Transform{Logfmt: &config.Logfmt{}}), gen: genLogfmt},
		{name: "fields (types, rename)", cfgs: one(config.Transform{Fields: &config.Fields{
			Rename: map[string]string{"ip": "client", "ts": "time"},
			Types:  map[string]string{"status": "int", "bytes": "int", "time": "timestamp"}}}), gen: genJSON},
		{name: "fields (+ path, offset, record_id)", cfgs: one(config.Transform{Fields: &config.Fields{
			Rename: map[string]string{"ip": "client"}, Types: map[string]string{"status": "int"},
			Path: "path", Offset: "offset", RecordID: "record_id"}}), gen: genJSON},
		{name: "filter (drop /health)", cfgs: one(config.Transform{Filter: &config.Filter{
			Condition: config.Condition{Field: "path", Matches: `^/health`}}}), gen: genJSON},
		{name: "redact (email)", cfgs: one(config.Transform{Redact: &config.Redact{Patterns: []string{"email"}}}), gen: genJSON},
		{name: "add_metadata", cfgs: one(config.Transform{AddMetadata: &config.AddMetadata{
			Timestamp: true, Metadata: map[string]any{"env": "prod", "team": "web"}}}), gen: genCombined},
	}
}

// transformResult is one row.
type transformResult struct {
	Name        string  `json:"transform"`
	Lines       int64   `json:"lines"`
	AvgLine     float64 `json:"avg_line_bytes"` // without the newline
	LinesPerSec float64 `json:"lines_per_s"`
	MBPerSec    float64 `json:"mb_per_s"`
	NsPerLine   float64 `json:"ns_per_line"`
	AllocsLine  float64 `json:"allocs_per_line"`
	CPUPerGB    float64 `json:"cpu_s_per_gb"`
	Records     uint64  `json:"records"`
	Invalid     uint64  `json:"invalid"`
	OutBytes    int64   `json:"output_bytes"`
}

func runTransforms(o options, stdout, stderr io.Writer) error {
	var results []transformResult
	for _, tc := range transformCases() {
		if !strings.HasPrefix(tc.name, o.only) {
			continue
		}
		r, err := measureTransform(tc, o.duration)
		if err != nil {
			return fmt.Errorf("%s: %w", tc.name, err)
		}
		if r.Invalid > 0 {
			// The corpus must be valid input, or the row measures the
			// error path.
			return fmt.Errorf("%s: %d of %d lines were rejected by the transform", tc.name, r.Invalid, r.Lines)
		}
		fmt.Fprintf(stderr, "bench: %s: %.0f lines/s\n", tc.name, r.LinesPerSec)
		results = append(results, r)
	}
	if len(results) == 0 {
		return fmt.Errorf("no transform named %q", o.only)
	}
	printTransforms(stdout, results)
	return nil
}

// corpus generates the case's lines: deterministic, 100-200 bytes each.
func corpus(tc transformCase) [][]byte {
	g := &lineGen{rng: 0x9E3779B97F4A7C15, ms: 5 * 3_600_000}
	lines := make([][]byte, corpusLines)
	for i := range lines {
		// Lines outside 100-200 bytes are generated again, not cut: they
		// must stay valid input.
		for {
			l := tc.gen(g, nil)
			g.ms += int64(g.rand() % 997)
			if len(l) >= 100 && len(l) <= 200 {
				lines[i] = l
				break
			}
		}
	}
	return lines
}

func measureTransform(tc transformCase, d time.Duration) (transformResult, error) {
	chain, err := transform.New(tc.cfgs)
	if err != nil {
		return transformResult{}, err
	}
	lines := corpus(tc)
	var size int64
	for _, l := range lines {
		size += int64(len(l))
	}
	// Offsets as in a file of the corpus repeated; a csv header is the
	// first line, so lines start after it.
	header := []byte(tc.header)
	base := int64(0)
	if tc.header != "" {
		base = int64(len(header)) + 1
	}
	src := &tailer.Source{Flow: "bench", Path: "/var/log/bench/app.log",
		ID: tailer.FileID{Dev: 2049, Inode: 1234567, Fingerprint: 0x1234abcd5678ef00, FingerprintLen: tailer.FingerprintSize}}
	buf := make([]byte, 0, 256<<10)
	var out int64
	pass := func(off int64) int64 {
		for i := 0; i < len(lines); i += batchLines {
			chain.SetHeader(header)
			chain.SetSource(src)
			buf = buf[:0]
			for _, l := range lines[i:min(i+batchLines, len(lines))] {
				end := base + off + int64(len(l)) + 1
				buf, _ = chain.AppendLine(buf, l, base+off, end)
				off = end - base
			}
			out += int64(len(buf))
		}
		return off
	}
	off := pass(0) // warm up: buffers grow, regexps settle

	out = 0
	before := chain.Stats()
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	start := time.Now()
	passes := int64(0)
	for time.Since(start) < d {
		off = pass(off)
		passes++
	}
	wall := time.Since(start).Seconds()
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&ms1)
	after := chain.Stats()

	n := passes * int64(len(lines))
	in := passes * size
	r := transformResult{
		Name:        tc.name,
		Lines:       n,
		AvgLine:     float64(size) / float64(len(lines)),
		LinesPerSec: float64(n) / wall,
		MBPerSec:    float64(in) / 1e6 / wall,
		NsPerLine:   wall * 1e9 / float64(n),
		AllocsLine:  float64(ms1.Mallocs-ms0.Mallocs) / float64(n),
		CPUPerGB:    cpu / (float64(in) / 1e9),
		Records:     after.Records - before.Records,
		Invalid:     after.Invalid - before.Invalid,
		OutBytes:    out,
	}
	return r, nil
}

// cpuTime is the CPU time this process has used, user and system, in
// seconds: the transform's goroutine plus the garbage collector's.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func printTransforms(w io.Writer, rs []transformResult) {
	fmt.Fprintf(w, "| %-36s | %9s | %12s | %8s | %8s | %11s | %12s |\n",
		"transform", "line B", "lines/s", "MB/s", "ns/line", "allocs/line", "CPU-s per GB")
	fmt.Fprintf(w, "|%s|%s:|%s:|%s:|%s:|%s:|%s:|\n", dashes(38), dashes(10), dashes(13), dashes(9), dashes(9), dashes(12), dashes(13))
	for _, r := range rs {
		fmt.Fprintf(w, "| %-36s | %9.0f | %12s | %8.1f | %8.0f | %11.2f | %12.2f |\n",
			r.Name, r.AvgLine, thousands(r.LinesPerSec), r.MBPerSec, r.NsPerLine, r.AllocsLine, r.CPUPerGB)
	}
}

func dashes(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '-'
	}
	return string(b)
}

// thousands formats v rounded, with commas: 1,234,567.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	return string(b)
}

// Corpus generators. Each appends one line in its format, 100-200 bytes,
// from g's clock and random sequence.

var (
	benchUsers   = []string{"-", "-", "-", "frank", "alice", "deploy"}
	benchPaths   = []string{"/", "/index.html", "/api/v1/orders", "/api/v1/customers/search", "/static/js/app.min.js", "/health", "/images/products/large/sku-000123.jpg", "/api/v2/cart/items"}
	benchAgents  = []string{"Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15", "kube-probe/1.29", "Go-http-client/2.0"}
	benchRefs    = []string{"-", "https://example.com/", "https://www.example.com/products?page=2"}
	benchProgs   = []string{"sshd", "cron", "kernel", "systemd", "postfix/smtpd", "sudo"}
	benchMsgs    = []string{"Accepted publickey for deploy from 10.1.2.3 port 52144 ssh2: ED25519 SHA256:9f8e7d", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)", "Started Daily apt download activities.", "connect from mail-relay.example.net[203.0.113.7]", "deploy : TTY=pts/0 ; PWD=/srv/app ; USER=root ; COMMAND=/usr/bin/systemctl restart app"}
	benchLevels  = []string{"info", "info", "info", "warn", "error", "debug"}
	benchDomains = []string{"example.com", "mail.example.org", "corp.example.net"}
)

func pick(g *lineGen, s []string) string { return s[g.rand()%uint64(len(s))] }

func appendIP(b []byte, g *lineGen) []byte {
	r := g.rand()
	b = append(b, "10."...)
	b = strconv.AppendUint(b, r%256, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, r>>8%256, 10)
	b = append(b, '.')
	return strconv.AppendUint(b, r>>16%254+1, 10)
}

// appendPath appends a request path with a query of random length, which
// spreads line lengths over 100-200 bytes.
func appendPath(b []byte, g *lineGen) []byte {
	b = append(b, pick(g, benchPaths)...)
	if n := g.rand() % 48; n > 8 {
		b = append(b, "?q="...)
		for i := range n {
			b = append(b, byte('a'+(uint64(i)*7+uint64(g.ms))%26))
		}
	}
	return b
}

// clock returns g's time as a civil date in 2026 and advances it.
func (g *lineGen) clock() time.Time {
	g.ms++
	return time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).Add(time.Duration(g.ms) * time.Millisecond)
}

func genCommon(g *lineGen, b []byte) []byte {
	b = appendIP(b, g)
	b = append(b, " - "...)
	b = append(b, pick(g, benchUsers)...)
	b = append(b, " ["...)
	b = g.clock().AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, `] "GET `...)
	b = appendPath(b, g)
	b = append(b, ` HTTP/1.1" `...)
	b = append(b, statuses[g.rand()%uint64(len(statuses))]...)
	b = append(b, ' ')
	return strconv.AppendUint(b, g.rand()%100_000, 10)
}

func genCombined(g *lineGen, b []byte) []byte {
	b = genCommon(g, b)
	b = append(b, ` "`...)
	b = append(b, pick(g, benchRefs)...)
	b = append(b, `" "`...)
	b = append(b, pick(g, benchAgents)...)
	return append(b, '"')
}

func genCSV(g *lineGen, b []byte) []byte {
	b = g.clock().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, ",web-"...)
	b = strconv.AppendUint(b, g.rand()%64, 10)
	b = append(b, ',')
	b = append(b, methods[g.rand()%uint64(len(methods))]...)
	b = append(b, ',')
	b = appendPath(b, g)
	b = append(b, ',')
	b = append(b, statuses[g.rand()%uint64(len(statuses))]...)
	b = append(b, ',')
	b = strconv.AppendUint(b, g.rand()%100_000, 10)
	b = append(b, `,"`...)
	b = append(b, pick(g, benchAgents)...)
	return append(b, '"')
}

func genJSON(g *lineGen, b []byte) []byte {
	b = append(b, `{"ts":"`...)
	b = g.clock().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","ip":"`...)
	b = appendIP(b, g)
	b = append(b, `","method":"`...)
	b = append(b, methods[g.rand()%uint64(len(methods))]...)
	b = append(b, `","path":"`...)
	b = appendPath(b, g)
	b = append(b, `","status":"`...)
	b = append(b, statuses[g.rand()%uint64(len(statuses))]...)
	b = append(b, `","bytes":"`...)
	b = strconv.AppendUint(b, g.rand()%100_000, 10)
	b = append(b, `","user":"`...)
	if g.rand()%4 == 0 {
		b = append(b, "user"...)
		b = strconv.AppendUint(b, g.rand()%10_000, 10)
		b = append(b, '@')
		b = append(b, pick(g, benchDomains)...)
	} else {
		b = append(b, '-')
	}
	return append(b, `"}`...)
}

func genApacheError(g *lineGen, b []byte) []byte {
	b = append(b, '[')
	b = g.clock().AppendFormat(b, "Mon Jan 02 15:04:05.000000 2006")
	b = append(b, "] [core:error] [pid "...)
	b = strconv.AppendUint(b, g.rand()%60000+100, 10)
	b = append(b, ":tid "...)
	b = strconv.AppendUint(b, g.rand()%1e12, 10)
	b = append(b, "] [client "...)
	b = appendIP(b, g)
	b = append(b, "] File does not exist: /var/www/html"...)
	return appendPath(b, g)
}

func genSyslog(g *lineGen, b []byte) []byte {
	b = g.clock().AppendFormat(b, "Jan _2 15:04:05")
	b = append(b, " web-"...)
	b = strconv.AppendUint(b, g.rand()%64, 10)
	b = append(b, ' ')
	b = append(b, pick(g, benchProgs)...)
	b = append(b, '[')
	b = strconv.AppendUint(b, g.rand()%60000+100, 10)
	b = append(b, "]: "...)
	return append(b, pick(g, benchMsgs)...)
}

func genRFC3339Syslog(g *lineGen, b []byte) []byte {
	b = g.clock().AppendFormat(b, "2006-01-02T15:04:05.000000-07:00")
	b = append(b, " web-"...)
	b = strconv.AppendUint(b, g.rand()%64, 10)
	b = append(b, ' ')
	b = append(b, pick(g, benchProgs)...)
	b = append(b, '[')
	b = strconv.AppendUint(b, g.rand()%60000+100, 10)
	b = append(b, "]: "...)
	return append(b, pick(g, benchMsgs)...)
}

func genRFC5424(g *lineGen, b []byte) []byte {
	b = append(b, '<')
	b = strconv.AppendUint(b, g.rand()%192, 10)
	b = append(b, ">1 "...)
	b = g.clock().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, " web-"...)
	b = strconv.AppendUint(b, g.rand()%64, 10)
	b = append(b, ".example.com orders "...)
	b = strconv.AppendUint(b, g.rand()%60000+100, 10)
	b = append(b, ` ID47 [meta@32473 req="`...)
	b = strconv.AppendUint(b, g.rand(), 16)
	b = append(b, `"] order `...)
	b = strconv.AppendUint(b, g.rand()%1_000_000, 10)
	b = append(b, " accepted for customer "...)
	return strconv.AppendUint(b, g.rand()%100_000, 10)
}

func genLogfmt(g *lineGen, b []byte) []byte {
	b = append(b, "ts="...)
	b = g.clock().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, " level="...)
	b = append(b, pick(g, benchLevels)...)
	b = append(b, ` msg="request done" method=`...)
	b = append(b, methods[g.rand()%uint64(len(methods))]...)
	b = append(b, " path="...)
	b = appendPath(b, g)
	b = append(b, " status="...)
	b = append(b, statuses[g.rand()%uint64(len(statuses))]...)
	b = append(b, " took="...)
	b = strconv.AppendUint(b, g.rand()%5000, 10)
	return append(b, "us"...)
}
