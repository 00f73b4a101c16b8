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
	benchCSVLine  = `2024-05-01T12:00:00Z,192.168.10.24,GET,/api/v1/orders?id=12345,200,1532,"Mozilla/5.0 (X11, Linux)"`
	benchJSONLine = `{"ts":"2024-05-01T12:00:00Z", "ip":"192.168.10.24", "method":"GET", "path":"/api/v1/orders", "status":200}`
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
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			c := mustChain(b, bb.cfgs...)
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
