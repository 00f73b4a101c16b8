// Package tailer finds, identifies and follows log files and emits their
// complete lines in batches with exact byte offsets.
//
// The package owns three separate pieces:
//
//   - the Scanner expands the flow's globs (including **) into a snapshot of
//     regular files;
//   - the watcher turns fsnotify events into "rescan soon" and "this file
//     grew" hints; it never decides anything, the periodic rescan is the
//     source of truth (fsnotify is silent on NFS and can overflow);
//   - one reader goroutine per open file reads with pread at an exact offset,
//     splits lines and sends Batches.
//
// The Tailer compares each snapshot with its readers by file identity
// (see Same) and decides rotation: a renamed file keeps its reader and
// Source, a file that left the globs or was deleted is drained to EOF and
// closed after a quiet grace period (never before it is drained, however
// long the consumer blocks, unless Config.CloseRemovedAfter says so), a
// truncated file restarts at offset 0 under a new Source, and a new file
// gets a new reader.
//
// Copytruncate: when a followed file shrinks below the read offset (or
// its leading bytes change), the reader first looks in the file's
// directory for the rotated copy (any uncompressed file that starts with
// the fingerprint, holds at its read offset the bytes it read last, and is
// at least that long) and reads the rest from the copy under the same
// Source. One window remains that no reader can close: bytes the
// application writes after logrotate copied the file and before it
// truncated it are in neither file. When the copy is shorter than the size
// last seen, those bytes are counted in Stats.CopyTruncateLost and logged;
// a create-style rotation (rename, then create) has no such window.
//
// Restarts: Positions are matched by device, inode and fingerprint, and an
// offset is trusted only if the bytes before it still hash to the saved
// Marker (a file truncated and refilled while the agent was down is read
// from 0). A Position whose file is no longer in the globs is searched for
// by inode in the scanned directories and its own: a file rotated while
// the agent was down is drained from its saved offset.
//
// Descriptors: Config.OpenFiles bounds open files across flows. A reader
// idle at EOF closes its descriptor but keeps its state (offsets, partial
// line, identity) and is reopened when a scan or file event shows a
// change, after checking it is still the same file. Files rotated away
// keep their descriptor until drained, since they cannot be reopened.
//
// Concurrency: Run owns the scanning loop, the watcher goroutine and all
// reader goroutines, and joins them before it returns. A reader goroutine is
// the only writer of its Source's Path and ID; it updates them only before
// sending a batch, so a consumer should read them when it receives a batch.
package tailer
