package transform

import (
	"encoding/binary"

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
// The prefix comes with each batch (tailer.Batch.Prefix, read by the
// tailer from its own descriptor). Without one (a caller that does not
// know the file's bytes), or with one that does not match the Source's
// fingerprint, the id falls back to fileHash of the FileID.
type recordIDs struct {
	src    *tailer.Source
	hash   uint64 // fileHash of src.ID
	prefix []byte // the current batch's Batch.Prefix
	valid  bool   // prefix starts with the bytes src's fingerprint hashed
	// The last prefix length hashed and its file hash: lines past the
	// first KiB all use the same one.
	n     int64
	nHash uint64
}

// set makes src the current file and prefix its first bytes.
func (r *recordIDs) set(src *tailer.Source, prefix []byte) {
	if src != r.src {
		r.src = src
		r.hash = fileHash(src.ID.Dev, src.ID.Inode, src.ID.Fingerprint)
		r.n = -1
	}
	if len(prefix) == len(r.prefix) && (len(prefix) == 0 || &prefix[0] == &r.prefix[0]) {
		return
	}
	r.prefix = prefix
	fl := src.ID.FingerprintLen
	r.valid = len(prefix) >= fl && fnvMore(fnvOffset, prefix[:fl]) == src.ID.Fingerprint
}

// of returns the file hash for a line of the current file that ends at
// end.
func (r *recordIDs) of(end int64) uint64 {
	id := r.src.ID
	n := min(end, tailer.FingerprintSize)
	if n <= 0 || n == int64(id.FingerprintLen) || !r.valid || int64(len(r.prefix)) < n {
		// The prefix is the one the FileID hashed, or it is not known.
		return r.hash
	}
	if n != r.n {
		r.n, r.nHash = n, fileHash(id.Dev, id.Inode, fnvMore(fnvOffset, r.prefix[:n]))
	}
	return r.nHash
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
