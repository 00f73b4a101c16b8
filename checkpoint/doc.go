// Package checkpoint owns the durable record of how far each followed file
// has been acknowledged by every destination.
//
// A Tracker receives, in file order, the byte ranges the tailer handed on,
// and advances a file's offset only across a contiguous prefix of ranges
// that are fully acknowledged (a low-watermark). A crash therefore resends at
// most what was in flight and never skips a line.
//
// # File format
//
// A Store keeps the entries in one JSON file (version 2, one line):
//
//	{"version":2,"checksum":"<crc32c, hex>","saved":"2026-11-22T05:00:01.25Z","entries":[
//	  {"flow":"web","path":"/var/log/a.log.1","origin":"/var/log/a.log",
//	   "id":{"dev":1,"inode":5,"fingerprint":6,"fingerprint_len":1024},
//	   "offset":100,"marker":77,"read":100,"mtime":"2026-11-22T04:59:00Z","closed":true,
//	   "updated":"2026-11-22T05:00:00Z"}]}
//
// saved is the time of the Save (RFC 3339, UTC). checksum is the CRC-32C
// (Castagnoli) in hex of the saved string's characters followed by the
// bytes of the entries array exactly as they appear in the file, so
// neither can change unnoticed. Each entry is one Entry: path is where the
// generation was last seen, origin the followed path it was written at
// (read as path when absent), read the end of the bytes handed on, mtime
// the modification time when it was first seen; marker, read, mtime and
// closed are omitted when zero.
//
// Paths are bytes, not text. A JSON string cannot hold bytes that are not
// UTF-8, so a path that is not UTF-8 is also written as "path_bytes" (or
// "origin_bytes"): the standard base64 of its exact bytes, which wins when
// reading; "path" then holds a display form with U+FFFD in place of the bad
// bytes. UTF-8 paths are written only as strings.
//
// Version 1 files, written by earlier releases, are read too: they have no
// saved time (Load reports the file's modification time instead), no
// origin (read as path) and a checksum of the entries array alone. The
// next Save writes version 2.
//
// # Saving and recovery
//
// Save writes a temporary file "<name>.tmp*" in the same directory (mode
// 0600), fsyncs it, moves the current file to "<name>.prev", renames the
// temporary file into place and fsyncs the directory. The current file is
// moved to .prev only when it is known to be good (Load decoded it, or this
// Store wrote it): after Load fell back to a good .prev because the main
// file was corrupt, the next Save writes over the corrupt file and leaves
// .prev alone, so the last good copy is never replaced by a bad one.
//
// Load verifies the version and checksum. When the file is missing,
// truncated or corrupt it falls back to .prev and says so (Recovered); a
// crash between the two renames leaves only .prev, which Load uses. A
// temporary file is never read: it may be incomplete. If neither copy is
// usable, Load reports an error rather than silently starting over,
// because starting over would re-read or skip data depending on
// initial_position.
//
// # Lock
//
// One agent per checkpoint: Open takes an exclusive flock on
// "<name>.lock" (opened without following symlinks, mode 0600) and writes
// its pid there; Close, or the process's death, releases it. A second Open
// fails with ErrLocked naming that pid, within one process too, since flock
// belongs to the open file, not the process. The lock file is never
// removed. Holding the lock, Open removes the temporary files of saves that
// were interrupted.
//
// If the directory is removed while the agent runs (rm -rf of the state
// directory), the next Save creates it again (mode 0700), takes the lock on
// a new lock file, logs a warning and saves. Each Save writes the whole
// state, so that save restores the checkpoint; only a crash before it finds
// none. If another agent has meanwhile started and holds the new lock, Save
// fails with ErrLocked. A lock file removed or replaced on its own is taken
// again the same way.
package checkpoint
