package tailer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// compressedExts are names of rotated copies that were compressed: their
// bytes cannot match the fingerprint, so they are not even opened.
var compressedExts = []string{".gz", ".bz2", ".xz", ".zst", ".lz4", ".lzma", ".z", ".Z", ".zip", ".br"}

func compressed(name string) bool {
	for _, ext := range compressedExts {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// recoverCopy runs when the followed file was truncated: with logrotate's
// copytruncate the bytes we had not read yet are now only in the copy.
// It looks in the file's directory for a file that starts with our
// fingerprint, holds the bytes just before our offset that we read, and is
// at least as long as that offset, and reads it from our offset to its end
// under the same Source. Bytes written between the copy and the truncation
// are in neither file; when the copy is shorter than the size we last saw,
// they are counted in Stats.CopyTruncateLost.
func (r *reader) recoverCopy(ctx context.Context) error {
	if r.off == 0 {
		return nil
	}
	want := r.markerAt(r.off)
	var cf *os.File
	var path string
	if r.id.FingerprintLen > 0 || want != 0 { // else nothing to recognise the copy by
		cf, path = findCopy(filepath.Dir(r.name), r.id, r.off, want, r.key)
	}
	if cf == nil {
		if lost := r.lastSize - r.off; lost > 0 {
			r.stats.copyTruncateLost.Add(lost)
			r.log.Warn("file truncated before it was read to its end and no uncompressed copy found; bytes lost",
				"path", r.name, "offset", r.off, "lost_bytes", lost)
		}
		return nil
	}
	defer cf.Close()
	r.log.Info("file truncated, reading its rest from the rotated copy", "path", r.name, "copy", path,
		"offset", r.off)
	// From here on the unread rest lives in the copy: report it as this
	// Source's file, so a checkpoint taken while those lines are in flight
	// resumes in the copy after a crash.
	if id, err := Identify(cf); err == nil && r.o.hooks.OnRename != nil {
		r.o.hooks.OnRename(r.src, path, id)
	}
	orig := r.f
	r.f = cf
	_, err := r.readAvailable(ctx)
	if err == nil {
		// The copy is complete: an unterminated last line is all of it.
		err = r.flushPartial(ctx)
	}
	r.f = orig
	var rerr *readError
	if errors.As(err, &rerr) {
		r.log.Warn("cannot read the rotated copy", "path", path, "err", err)
		err = nil
	}
	if err != nil {
		return err
	}
	if lost := r.lastSize - r.off; lost > 0 {
		r.stats.copyTruncateLost.Add(lost)
		r.log.Warn("bytes written between the copy and the truncation were lost (copytruncate window)",
			"path", r.name, "copy", path, "lost_bytes", lost)
	}
	// Bytes past the old file's last known size were written to the
	// truncated file, not the copy; the new Source starts at 0 anyway.
	return nil
}

// findCopy looks in dir for the rotated copy of a file known by want that
// was read up to off: another file (not except), at least off long, that
// starts with the same bytes and, when marker is known, holds the same bytes
// before off. A rotation while it looks can rename the copy between the
// listing and the open, so it lists again then (three times at most).
func findCopy(dir string, want FileID, off int64, marker uint64, except devIno) (*os.File, string) {
	for range 3 {
		f, path, again := findCopyOnce(dir, want, off, marker, except)
		if f != nil || !again {
			return f, path
		}
	}
	return nil, ""
}

func findCopyOnce(dir string, want FileID, off int64, marker uint64, except devIno) (_ *os.File, _ string, again bool) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, "", false
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || compressed(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			again = true
			continue
		}
		if fi.Size() < off {
			continue
		}
		if k, ok := keyOf(fi); !ok || k == except {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			again = true
			continue
		}
		if ok, _ := prefixMatches(f, want); ok {
			if m, err := readMarker(f, off); err == nil && (marker == 0 || m == marker) {
				return f, p, false
			}
		}
		f.Close()
	}
	return nil, "", again
}
