package tailer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// FingerprintSize is the number of leading bytes hashed into a FileID once a
// file is at least that long.
const FingerprintSize = 1024

// FNV-1a, 64 bit.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnv1a(p []byte) uint64 { return fnvMore(fnvOffset, p) }

// devIno is the part of a FileID that is unique among files that are open:
// an inode cannot be reused while a descriptor still refers to it.
type devIno struct{ dev, ino uint64 }

func keyOf(fi os.FileInfo) (devIno, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return devIno{}, false
	}
	return devIno{uint64(st.Dev), st.Ino}, true
}

func (id FileID) key() devIno { return devIno{id.Dev, id.Inode} }

// Identify returns the identity of an open file: its device and inode, and a
// hash of its first min(size, FingerprintSize) bytes. It reads with ReadAt,
// so the descriptor's offset does not move.
func Identify(f *os.File) (FileID, error) { return fileID(f) }

func fileID(f file) (FileID, error) {
	fi, err := f.Stat()
	if err != nil {
		return FileID{}, fmt.Errorf("identify %s: %w", f.Name(), err)
	}
	k, ok := keyOf(fi)
	if !ok {
		return FileID{}, fmt.Errorf("identify %s: no device and inode", f.Name())
	}
	// Read what is there rather than trust the size: a decompressed view
	// only knows its size once it read that far.
	var buf [FingerprintSize]byte
	got, err := f.ReadAt(buf[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return FileID{}, fmt.Errorf("identify %s: %w", f.Name(), err)
	}
	return FileID{Dev: k.dev, Inode: k.ino, Fingerprint: fnv1a(buf[:got]), FingerprintLen: got}, nil
}

// Same reports whether a and b identify the same file. It is the one place
// that decides identity: the device and inode must be equal, and the
// fingerprints must be equal when they hash the same number of bytes. An
// empty fingerprint (the file was empty) matches any. When both lengths are
// non-zero but differ, Same cannot decide and returns false; the caller holds
// the file and asks Matches, which re-hashes the longer file's prefix.
func Same(a, b FileID) bool {
	if a.Dev != b.Dev || a.Inode != b.Inode {
		return false
	}
	switch {
	case a.FingerprintLen == b.FingerprintLen:
		return a.Fingerprint == b.Fingerprint
	case a.FingerprintLen == 0 || b.FingerprintLen == 0:
		return true
	}
	return false
}

// Matches reports whether the open file f is the file want identifies: same
// device and inode, and its first want.FingerprintLen bytes hash to
// want.Fingerprint. A file shorter than that does not match.
func Matches(f *os.File, want FileID) (bool, error) {
	return matches(f, want)
}

func matches(f file, want FileID) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("match %s: %w", f.Name(), err)
	}
	k, ok := keyOf(fi)
	if !ok || k != want.key() {
		return false, nil
	}
	return prefixMatches(f, want)
}

// prefixMatches reports whether the first want.FingerprintLen bytes of f
// hash to want.Fingerprint, whatever f's inode. It is how a copy of a file
// (copytruncate) is recognised.
func prefixMatches(f file, want FileID) (bool, error) {
	if want.FingerprintLen < 0 || want.FingerprintLen > FingerprintSize {
		return false, nil
	}
	// A buffer on the stack escapes through the interface: a kilobyte
	// allocated for each check, 11 MB at a restart of 10,000 files.
	buf := prefixBufs.Get().(*[FingerprintSize]byte)
	defer prefixBufs.Put(buf)
	n, err := f.ReadAt(buf[:want.FingerprintLen], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("match %s: %w", f.Name(), err)
	}
	if n < want.FingerprintLen {
		return false, nil
	}
	return fnv1a(buf[:n]) == want.Fingerprint, nil
}

// prefixBufs are prefixMatches' and readMarker's buffers.
var prefixBufs = sync.Pool{New: func() any { return new([FingerprintSize]byte) }}

// markerLen is how many bytes before an offset its marker hashes.
const markerLen = 64

// readMarker returns the marker of offset off in f: the hash of the bytes
// [max(off-markerLen, 0), off). It fails if the file is shorter than off.
func readMarker(f file, off int64) (uint64, error) {
	lo := max(off-markerLen, 0)
	// Pooled like prefixMatches' buffer: one on the stack escapes
	// through the interface, an allocation at every read's check.
	buf := prefixBufs.Get().(*[FingerprintSize]byte)
	defer prefixBufs.Put(buf)
	n, err := f.ReadAt(buf[:off-lo], lo)
	if n < int(off-lo) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, fmt.Errorf("marker of %s at %d: %w", f.Name(), off, err)
	}
	return fnv1a(buf[:n]), nil
}

// fnvMore continues an FNV-1a hash h over p.
func fnvMore(h uint64, p []byte) uint64 {
	for _, c := range p {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// statSize is sizeOf through f's Stat: a compressed copy's size is what was
// decompressed so far.
func statSize(f file) (int64, time.Time, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, time.Time{}, err
	}
	return fi.Size(), fi.ModTime(), nil
}
