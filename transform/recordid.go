package transform

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"syscall"

	"github.com/kinetail/kinetail/tailer"
)

// FNV-1a, 64 bit: the tailer's fingerprint hash, so that a prefix hashed
// here equals the fingerprint the tailer took of the same bytes.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvMore(h uint64, p []byte) uint64 {
	for _, c := range p {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// recordIDs computes the file part of record ids: the 64-bit FNV-1a hash of
// the file's device, inode and the hash of its first min(End, 1 KiB)
// bytes, where End is the offset just after the line (see fields).
//
// Why the prefix ends at the line: the bytes of a file up to a line's end
// exist as soon as the line does and never change while it is the same
// file, so they hash the same whenever the line is read, however long the
// file was when it was opened. The tailer's FileID hashes the first
// min(size at open, 1 KiB) bytes instead, which depends on when the file was
// opened; for a file that was 1 KiB or more at open, and a line ending at or
// past 1 KiB, both prefixes are the first KiB, and the id is the one
// earlier versions gave (fileHash of the FileID).
//
// The other prefixes are not in a tailer.Source, so for a file that was
// shorter than 1 KiB at open, or a line within its first KiB, the step
// reads the file's first KiB once (again when a later line ends past what
// was read), through Source.Path, after checking that the path still leads
// to the file's device and inode and that the bytes still hash to its
// fingerprint. If that fails (the file was rotated away or replaced
// meanwhile), the id falls back to fileHash of the FileID.
type recordIDs struct {
	src    *tailer.Source
	hash   uint64 // fileHash of src.ID
	head   []byte // src's first bytes (at most tailer.FingerprintSize), verified; empty if not read
	failed bool   // reading src's head failed; do not try again
	buf    []byte // reused for head across sources
}

// set makes src the current file.
func (r *recordIDs) set(src *tailer.Source) {
	if src == r.src {
		return
	}
	r.src = src
	r.hash = fileHash(src.ID.Dev, src.ID.Inode, src.ID.Fingerprint)
	r.head, r.failed = nil, false
}

// of returns the file hash for a line of the current file that ends at
// end.
func (r *recordIDs) of(end int64) uint64 {
	id := r.src.ID
	n := min(end, tailer.FingerprintSize)
	if n <= 0 || n == int64(id.FingerprintLen) {
		// The prefix is the one the FileID hashed (or the line's place is
		// not known).
		return r.hash
	}
	if int64(len(r.head)) < n && !r.failed {
		r.readHead()
		if int64(len(r.head)) < n {
			// The file no longer holds the line: do not read it again
			// for every line.
			r.failed = true
		}
	}
	if int64(len(r.head)) < n {
		return r.hash
	}
	return fileHash(id.Dev, id.Inode, fnvMore(fnvOffset, r.head[:n]))
}

// readHead reads the first bytes of the current file into r.head if the
// file at its path is still it.
func (r *recordIDs) readHead() {
	r.head = nil
	id := r.src.ID
	f, err := os.Open(r.src.Path)
	if err != nil {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || uint64(st.Dev) != id.Dev || st.Ino != id.Inode {
		return // another file has taken the path
	}
	if r.buf == nil {
		r.buf = make([]byte, tailer.FingerprintSize)
	}
	n, err := f.ReadAt(r.buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return
	}
	if n < id.FingerprintLen || fnvMore(fnvOffset, r.buf[:id.FingerprintLen]) != id.Fingerprint {
		return // rewritten since it was opened: not the same file
	}
	r.head = r.buf[:n]
}

// fileHash is the 64-bit FNV-1a hash of a device, an inode and a prefix
// hash, each as eight little-endian bytes. It is part of record ids, so it
// must never change between versions.
func fileHash(dev, inode, prefix uint64) uint64 {
	var b [24]byte
	binary.LittleEndian.PutUint64(b[0:], dev)
	binary.LittleEndian.PutUint64(b[8:], inode)
	binary.LittleEndian.PutUint64(b[16:], prefix)
	return fnvMore(fnvOffset, b[:])
}
