package transform

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kinetail/kinetail/config"
)

// Lines of about 100 bytes, like a typical access log or event line.
const (
	benchCSVLine      = `2024-05-01T12:00:00Z,192.168.10.24,GET,/api/v1/orders?id=12345,200,1532,"Mozilla/5.0 (X11, Linux)"`
	benchCombinedLine = `192.168.10.24 - frank [10/Oct/2024:13:55:36 -0700] "GET /api/v1/orders?id=12345 HTTP/1.1" 200 2326 "https://example.com/start" "Mozilla/5.0 (X11; Linux x86_64)"`
	benchSyslogLine   = `Oct 10 13:55:36 web-01 sshd[24321]: Accepted publickey for deploy from 192.168.10.24 port 52144 ssh2: ED25519 SHA256:abc`
	benchRFC5424Line  = `<165>1 2024-10-10T13:55:36.003Z web-01.example.com orders 4242 ID47 [meta@32473 req="abc123"] order 12345 accepted for customer 77`
	benchLogfmtLine   = `ts=2024-10-10T13:55:36Z level=info msg="order accepted" order_id=12345 customer=77 took=1.52ms path=/api/v1/orders`
	benchJSONLine     = `{"ts":"2024-05-01T12:00:00Z", "ip":"192.168.10.24", "method":"GET", "path":"/api/v1/orders", "status":200}`
)

var benchFields = []string{"ts", "ip", "method", "path", "status", "bytes", "agent"}

func BenchmarkChain(b *testing.B) {
	benches := []struct {
		name   string
		cfgs   []*config.Transform
		line   string
		header string // given to SetHeader before each line, as the agent does per batch
	}{
		{"raw", nil, benchCSVLine, ""},
		{"singleline", []*config.Transform{{Singleline: &config.Singleline{}}}, benchCSVLine, ""},
		{"csv", []*config.Transform{{CSVToJSON: &config.CSVToJSON{Fields: benchFields}}}, benchCSVLine, ""},
		{"csv_header", []*config.Transform{{CSVToJSON: &config.CSVToJSON{Header: true}}}, benchCSVLine, strings.Join(benchFields, ",")},
		{"json", []*config.Transform{{JSON: &config.JSON{}}}, benchJSONLine, ""},
		{"combined_apache", []*config.Transform{{LogToJSON: &config.LogToJSON{Format: "combined_apache"}}}, benchCombinedLine, ""},
		{"syslog", []*config.Transform{{LogToJSON: &config.LogToJSON{Format: "syslog"}}}, benchSyslogLine, ""},
		{"rfc5424", []*config.Transform{{LogToJSON: &config.LogToJSON{Format: "rfc5424_syslog"}}}, benchRFC5424Line, ""},
		{"logfmt", []*config.Transform{{Logfmt: &config.Logfmt{}}}, benchLogfmtLine, ""},
		{"add_brackets", []*config.Transform{{AddBrackets: &config.AddBrackets{}}}, benchCSVLine, ""},
		{"regex", []*config.Transform{{Regex: &config.Regex{
			Pattern: `^(?P<host>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d+) (?P<bytes>\d+|-)`}}},
			benchCombinedLine, ""},
		{"fields", []*config.Transform{{Fields: &config.Fields{
			Rename: map[string]string{"ip": "client"}, Remove: []string{"method"}, Add: map[string]string{"env": "prod"},
			Offset: "offset", Types: map[string]string{"status": "int", "ts": "timestamp"}}}}, benchJSONLine, ""},
		{"filter", []*config.Transform{{Filter: &config.Filter{Action: "drop", Condition: config.Condition{Field: "path", Matches: `^/health`}}}}, benchJSONLine, ""},
		{"redact", []*config.Transform{{Redact: &config.Redact{Patterns: config.RedactPatterns, Mask: "****"}}}, benchJSONLine, ""},
		{"redact_custom", []*config.Transform{{Redact: &config.Redact{Custom: []string{`\d+\.\d+\.\d+\.\d+`}, Mask: "****"}}}, benchJSONLine, ""},
		// An invalid line wrapped, then annotated with ids and metadata.
		{"wrap", []*config.Transform{{CSVToJSON: &config.CSVToJSON{Fields: benchFields}}}, benchCSVLine + `,"unterminated`, ""},
		{"wrap_annotated", []*config.Transform{{CSVToJSON: &config.CSVToJSON{Fields: benchFields}},
			{Fields: &config.Fields{RecordID: "id", Path: "path", Offset: "offset", Add: map[string]string{"env": "prod"}}},
			{AddMetadata: &config.AddMetadata{Metadata: map[string]any{"app": "web"}}}}, benchCSVLine + `,"unterminated`, ""},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			c := mustChain(b, bb.cfgs...)
			c.SetSource(testSource)
			line := []byte(bb.line)
			header := []byte(bb.header)
			// Records of a batch are appended to one buffer, reset per batch.
			buf := make([]byte, 0, 64<<10)
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				if len(buf) > 60<<10 {
					buf = buf[:0]
				}
				c.SetHeader(header)
				buf, _ = c.Append(buf, line)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkJSONCompact compares the hand-written compactor with
// encoding/json's Compact plus the UTF-8 check Compact lacks.
func BenchmarkJSONCompact(b *testing.B) {
	line := []byte(benchJSONLine)
	b.Run("handwritten", func(b *testing.B) {
		p := newJSON()
		dst := make([]byte, 0, 4096)
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if dst, err = p.Append(dst[:0], line); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		var buf bytes.Buffer
		buf.Grow(4096)
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if !utf8.Valid(line) {
				b.Fatal("invalid UTF-8")
			}
			if err := json.Compact(&buf, line); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAppendJSONString(b *testing.B) {
	for _, bb := range []struct{ name, s string }{
		{"ascii", benchCSVLine},
		{"escapes", `{"msg":"line one\nline two","path":"C:\\logs\\app.log","q":"\"quoted\""}`},
		{"utf8", "grüße aus köln — 東京 🙂 grüße aus köln — 東京 🙂 grüße aus köln — 東京 🙂"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			s := []byte(bb.s)
			dst := make([]byte, 0, 4096)
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				dst = AppendJSONString(dst[:0], s)
			}
		})
	}
}
