package tailer

import (
	"bufio"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// A rotated generation that logrotate compressed (compress, compresscmd)
// holds the rest of a file that was not read before the rotation. This
// file reads it back: unpacked decompresses forward on demand and offers
// the decompressed bytes by offset, the way the reader reads a plain file.

const (
	// unpackBack is how many decompressed bytes before the offset being
	// read stay in memory (or the length of the last read, if longer): the
	// reader checks the marker just before its offset and may read its
	// last buffer again.
	unpackBack = 64 << 10
	// unpackHead is how many leading decompressed bytes are kept apart,
	// for the fingerprint and the prefix batches carry.
	unpackHead = FingerprintSize
	// unpackSrcBuf is the read buffer on the compressed file.
	unpackSrcBuf = 32 << 10
	// maxDecoderWindow bounds the history a decoder allocates, which the
	// file's header asks for: 64 MiB is xz -9's dictionary and more than
	// any zstd level up to 19 uses; zstd --long or --ultra files are
	// refused rather than allowed to take hundreds of MiB.
	maxDecoderWindow = 64 << 20
)

// codec is a compression format.
type codec uint8

const (
	codecNone codec = iota // not compressed, or not in a format codecOf knows
	codecGzip
	codecBzip2
	codecXz
	codecZstd
	// Formats codecOf recognises but kinetail cannot read.
	codecLz4
	codecLzma
	codecCompress // Unix compress (LZW), .Z
	codecZip
	codecBrotli
)

func (c codec) String() string {
	switch c {
	case codecNone:
		return "none"
	case codecGzip:
		return "gzip"
	case codecBzip2:
		return "bzip2"
	case codecXz:
		return "xz"
	case codecZstd:
		return "zstd"
	case codecLz4:
		return "lz4"
	case codecLzma:
		return "lzma"
	case codecCompress:
		return "compress"
	case codecZip:
		return "zip"
	case codecBrotli:
		return "brotli"
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// readable reports whether openUnpacked can decompress c.
func (c codec) readable() bool { return c >= codecGzip && c <= codecZstd }

// codecOf reports the compression format of a file from its first bytes
// (at least 6 of them for xz) and, for formats kinetail cannot read, from
// its name: brotli and lzma files have no reliable signature. ok is true
// only for formats openUnpacked reads. A name with a readable format's
// extension whose bytes do not match (yet: logrotate may have just
// created it) gives codecNone.
func codecOf(head []byte, name string) (c codec, ok bool) {
	ext := codecOfExt(name)
	s := string(head)
	switch {
	case strings.HasPrefix(s, "\x1f\x8b"):
		c = codecGzip
	case len(s) >= 4 && strings.HasPrefix(s, "BZh") && '1' <= s[3] && s[3] <= '9':
		c = codecBzip2
	case strings.HasPrefix(s, "\xfd7zXZ\x00"):
		c = codecXz
	case strings.HasPrefix(s, "\x28\xb5\x2f\xfd"):
		c = codecZstd
	case len(s) >= 4 && s[0]&0xf0 == 0x50 && s[1:4] == "\x2a\x4d\x18":
		// A skippable frame, as pzstd writes first; lz4 has them too.
		c = codecZstd
		if ext == codecLz4 {
			c = codecLz4
		}
	case strings.HasPrefix(s, "\x04\x22\x4d\x18"), strings.HasPrefix(s, "\x02\x21\x4c\x18"):
		c = codecLz4
	case strings.HasPrefix(s, "\x1f\x9d"):
		c = codecCompress
	case strings.HasPrefix(s, "PK\x03\x04"):
		c = codecZip
	case !ext.readable():
		c = ext
	}
	return c, c.readable()
}

// codecOfExt reports the format a file name's extension stands for.
func codecOfExt(name string) codec {
	switch filepath.Ext(name) {
	case ".gz":
		return codecGzip
	case ".bz2":
		return codecBzip2
	case ".xz":
		return codecXz
	case ".zst", ".zstd":
		return codecZstd
	case ".lz4":
		return codecLz4
	case ".lzma":
		return codecLzma
	case ".Z", ".z":
		return codecCompress
	case ".zip":
		return codecZip
	case ".br":
		return codecBrotli
	}
	return codecNone
}

// compressedName reports whether name ends in the extension of a
// compression format, readable or not.
func compressedName(name string) bool { return codecOfExt(name) != codecNone }

// errUnsupported matches (errors.Is) every unsupportedError.
var errUnsupported = errors.New("compressed in a format kinetail cannot read")

// unsupportedError is returned by openUnpacked for a file it cannot
// decompress; codec is codecNone when the format is unknown.
type unsupportedError struct {
	name  string
	codec codec
}

func (e *unsupportedError) Is(target error) bool { return target == errUnsupported }

func (e *unsupportedError) Error() string {
	if e.codec == codecNone {
		return fmt.Sprintf("unpack %s: not in a compression format kinetail knows", e.name)
	}
	return fmt.Sprintf("unpack %s: compressed with %s, a format kinetail cannot read", e.name, e.codec)
}

// unpacked reads the decompressed bytes of a compressed file by offset. It
// decompresses forward as reads ask for later bytes and keeps a window of
// the most recent ones, plus the first unpackHead bytes, so the reader's
// pattern costs one decompression of the file: sequential reads, the
// marker before an offset, the prefix. A read before the window
// decompresses again from the start of the file: correct, slow and rare.
// Memory is the window (256 KiB for the reader's 64 KiB reads, twice
// what a read needs kept), 32 KiB of compressed input and the decoder's
// state, whatever the file's size.
//
// A stream that ends early (a file logrotate is still compressing) gives
// the bytes decoded so far, then the decoder's error; once the compressed
// file has grown, a later read starts decompressing again from the start.
//
// The methods are safe for concurrent use.
type unpacked struct {
	f     *os.File
	codec codec

	mu       sync.Mutex
	closed   bool
	sec      *io.SectionReader // the compressed bytes from offset 0, by pread
	src      *bufio.Reader     // over sec
	dec      io.Reader         // the decompressed stream; nil after an error
	gz       *gzip.Reader      // reused across restarts
	zd       *zstd.Decoder     // reused across restarts; closed by Close
	pos      int64             // decompressed bytes read from dec
	err      error             // dec's last error: io.EOF at the end
	seen     int64             // compressed bytes consumed when err happened
	retry    bool              // err may be the end of a file still growing
	win      []byte            // decompressed bytes [pos-len(win), pos)
	head     []byte            // the first min(pos, unpackHead) decompressed bytes
	last     int               // length of the previous read
	known    int64             // most decompressed bytes ever decoded: Stat's Size
	closeErr error
}

// openUnpacked detects f's compression format from its first bytes and
// returns a reader of its decompressed bytes, which owns f from then on.
// Where f is positioned does not matter: unpacked reads f with ReadAt. On
// error f is left open for the caller; an unreadable or unknown format is
// an *unsupportedError.
func openUnpacked(f *os.File) (*unpacked, error) {
	var magic [8]byte
	n, err := f.ReadAt(magic[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("unpack %s: %w", f.Name(), err)
	}
	c, ok := codecOf(magic[:n], f.Name())
	if !ok {
		return nil, &unsupportedError{name: f.Name(), codec: c}
	}
	u := &unpacked{f: f, codec: c}
	u.restart()
	return u, nil
}

// restart starts decompressing again from the start of the file. A
// decoder that cannot start (its header cut short) is kept as the
// stream's error, like a later one.
func (u *unpacked) restart() {
	u.sec = io.NewSectionReader(u.f, 0, math.MaxInt64)
	if u.src == nil {
		u.src = bufio.NewReaderSize(u.sec, unpackSrcBuf)
	} else {
		u.src.Reset(u.sec)
	}
	u.pos, u.err, u.win, u.head = 0, nil, u.win[:0], u.head[:0]
	if err := u.newDecoder(); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // a decoder's header is never empty
		}
		u.fail(err)
	}
}

func (u *unpacked) newDecoder() error {
	u.dec = nil
	switch u.codec {
	case codecGzip:
		// Multistream is on by default: members that gzip -c appended
		// are one stream.
		if u.gz == nil {
			gz, err := gzip.NewReader(u.src)
			if err != nil {
				return err
			}
			u.gz = gz
		} else if err := u.gz.Reset(u.src); err != nil {
			return err
		}
		u.dec = u.gz
	case codecBzip2:
		u.dec = bzip2.NewReader(u.src)
	case codecXz:
		// The xz decoder allocates the dictionary the header asks for,
		// with no limit of its own: look at it first. Only the first
		// block is checked; xz writes the same filters in every block.
		if dict := xzDictSize(u.f); dict > maxDecoderWindow {
			return fmt.Errorf("xz dictionary of %d MiB is over the limit of %d MiB", dict>>20, maxDecoderWindow>>20)
		}
		// The smallest DictCap lets the header's own size decide, rather
		// than at least the 8 MiB default.
		xr, err := xz.ReaderConfig{DictCap: lzma.MinDictCap}.NewReader(u.src)
		if err != nil {
			return err
		}
		u.dec = xr
	case codecZstd:
		if u.zd == nil {
			// One synchronous decoder: no goroutines, one window.
			zd, err := zstd.NewReader(u.src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(maxDecoderWindow))
			if err != nil {
				return err
			}
			u.zd = zd
		} else if err := u.zd.Reset(u.src); err != nil {
			return err
		}
		u.dec = u.zd
	default:
		return fmt.Errorf("no decoder for %s", u.codec)
	}
	return nil
}

// fail keeps the decoder's error. The end of the stream, or a stream cut
// short (all four decoders say io.ErrUnexpectedEOF), may only mean that
// the file is not complete yet: it is worth starting again once the file
// is longer than what the decoder had read. Other errors are for good.
func (u *unpacked) fail(err error) {
	u.err, u.dec = err, nil
	u.seen, _ = u.sec.Seek(0, io.SeekCurrent)
	u.retry = err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)
}

// grown reports whether the stream stopped at what was the end of the
// compressed file and the file is longer now.
func (u *unpacked) grown() bool {
	if !u.retry {
		return false
	}
	fi, err := u.f.Stat()
	return err == nil && fi.Size() > u.seen
}

// ReadAt reads len(p) decompressed bytes at offset off, with the
// semantics of io.ReaderAt: io.EOF at the end of the stream, or the
// decoder's error (wrapping io.ErrUnexpectedEOF for a stream cut short)
// for bytes past where decompression stopped.
func (u *unpacked) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > math.MaxInt64-int64(len(p)) {
		return 0, fmt.Errorf("unpack %s: read at offset %d out of range", u.f.Name(), off)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return 0, fmt.Errorf("unpack %s: %w", u.f.Name(), os.ErrClosed)
	}
	if len(p) == 0 {
		return 0, nil
	}
	end := off + int64(len(p))
	if end <= int64(len(u.head)) {
		return copy(p, u.head[off:]), nil
	}
	if off < u.pos-int64(len(u.win)) || (u.pos < end && u.err != nil && u.grown()) {
		u.restart()
	}
	u.fill(off, end)
	u.last = len(p)
	n := 0
	if off < u.pos {
		n = copy(p, u.win[off-(u.pos-int64(len(u.win))):])
	}
	switch {
	case n == len(p):
		return n, nil
	case u.err == io.EOF:
		return n, io.EOF
	}
	return n, fmt.Errorf("unpack %s at decompressed offset %d: %w", u.f.Name(), u.pos, u.err)
}

// fill decompresses until the window holds [off, end) or the stream
// stops. Making room, it keeps the bytes from off-back on.
func (u *unpacked) fill(off, end int64) {
	back := max(unpackBack, int64(u.last))
	// Twice what must stay: each slide frees at least half the window.
	if need := 2 * (back + end - off); int64(cap(u.win)) < need {
		u.win = append(make([]byte, 0, need), u.win...)
	}
	if u.head == nil {
		u.head = make([]byte, 0, unpackHead)
	}
	for stalls := 0; u.pos < end && u.err == nil; {
		if len(u.win) == cap(u.win) {
			start := u.pos - int64(len(u.win))
			from := min(max(off-back, start), u.pos)
			u.win = u.win[:copy(u.win, u.win[from-start:])]
		}
		free := u.win[len(u.win):cap(u.win)]
		n, err := u.dec.Read(free)
		if len(u.head) < unpackHead {
			u.head = append(u.head, free[:min(n, unpackHead-len(u.head))]...)
		}
		u.win = u.win[:len(u.win)+n]
		u.pos += int64(n)
		u.known = max(u.known, u.pos)
		switch {
		case err != nil:
			u.fail(err)
		case n > 0:
			stalls = 0
		default:
			if stalls++; stalls == 100 {
				u.fail(io.ErrNoProgress)
			}
		}
	}
}

// Stat describes the compressed file, except that Size is the number of
// decompressed bytes known so far, the total once the end of the stream
// was reached; it never decreases. Sys is the compressed file's, so its
// device and inode identify the generation.
func (u *unpacked) Stat() (os.FileInfo, error) {
	fi, err := u.f.Stat()
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return unpackedInfo{FileInfo: fi, size: u.known}, nil
}

// Name returns the compressed file's name.
func (u *unpacked) Name() string { return u.f.Name() }

// Close releases the decoder and closes the compressed file.
func (u *unpacked) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return u.closeErr
	}
	u.closed = true
	if u.zd != nil {
		u.zd.Close()
	}
	u.dec, u.gz, u.zd, u.src, u.win, u.head = nil, nil, nil, nil, nil, nil
	u.closeErr = u.f.Close()
	return u.closeErr
}

type unpackedInfo struct {
	os.FileInfo
	size int64
}

func (i unpackedInfo) Size() int64 { return i.size }

// xzDictSize returns the LZMA2 dictionary size the first block of an xz
// file declares, or 0 when its header cannot be read (the decoder then
// reports why).
func xzDictSize(r io.ReaderAt) int64 {
	const streamHeader = 12
	var b [streamHeader + 1024]byte // the block header is at most 1024 bytes
	n, _ := r.ReadAt(b[:], 0)
	p := b[:n]
	if len(p) <= streamHeader || p[streamHeader] == 0 { // 0: the index, no block
		return 0
	}
	size := (int(p[streamHeader]) + 1) * 4
	if len(p) < streamHeader+size {
		return 0
	}
	h := p[streamHeader+1 : streamHeader+size-4] // flags to padding, without the CRC
	if len(h) == 0 {
		return 0
	}
	flags := h[0]
	h = h[1:]
	varint := func() (uint64, bool) {
		v, k := binary.Uvarint(h)
		if k <= 0 {
			return 0, false
		}
		h = h[k:]
		return v, true
	}
	for _, sizeFlag := range []byte{0x40, 0x80} { // compressed, uncompressed size
		if flags&sizeFlag != 0 {
			if _, ok := varint(); !ok {
				return 0
			}
		}
	}
	for range int(flags&3) + 1 {
		id, ok1 := varint()
		plen, ok2 := varint()
		if !ok1 || !ok2 || plen > uint64(len(h)) {
			return 0
		}
		if id == 0x21 && plen == 1 { // LZMA2
			d, err := lzma.DecodeDictCap(h[0])
			if err != nil {
				return 0
			}
			return d
		}
		h = h[plen:]
	}
	return 0
}

// ended reports whether decompression reached the end of a complete
// stream (not one cut short, as a file still being compressed is).
func (u *unpacked) ended() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err == io.EOF
}
