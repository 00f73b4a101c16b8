// Compressing each record's data on its own before it is queued
// (compression: gzip or zstd).

package sink

import (
	"bytes"
	"compress/gzip"

	"github.com/klauspost/compress/zstd"
)

// compressor compresses each record's data on its own, for consumers that
// decompress record by record. It is used by one goroutine.
type compressor struct {
	zstd *zstd.Encoder
	gz   *gzip.Writer
	buf  bytes.Buffer
}

// newCompressor returns nil for "none".
func newCompressor(kind string) *compressor {
	switch kind {
	case "gzip":
		return &compressor{gz: gzip.NewWriter(nil)}
	case "zstd":
		// A single goroutine and no concurrency: EncodeAll needs no
		// background workers.
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest))
		if err != nil {
			panic("zstd: " + err.Error()) // only on invalid options, which are fixed here
		}
		return &compressor{zstd: enc}
	}
	return nil
}

// compress returns a new slice holding data compressed.
func (c *compressor) compress(data []byte) []byte {
	if c.zstd != nil {
		return c.zstd.EncodeAll(data, make([]byte, 0, len(data)/2+64))
	}
	c.buf.Reset()
	c.gz.Reset(&c.buf)
	c.gz.Write(data) // writes to a bytes.Buffer cannot fail
	c.gz.Close()
	return bytes.Clone(c.buf.Bytes())
}
