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
// The Tailer compares each snapshot with the open readers by file identity
// (see Same) and decides rotation: a renamed file keeps its reader and Source,
// a file that left the globs or was deleted is drained to EOF and closed
// after a quiet grace period, a truncated file restarts at offset 0 under a
// new Source, and a new file gets a new reader.
//
// Invariants:
//
//   - No complete line is lost: readers keep their descriptor across renames
//     and deletion and drain it; a reader that fails is reopened at the end of
//     the last line it sent.
//   - Offsets are exact: Line.End is the offset just after the newline, and
//     consecutive batches of a Source are contiguous (next Start == previous
//     End).
//   - Memory is bounded: a reader holds one read buffer, at most one batch
//     being built and one partial line of at most MaxLineBytes; a batch is
//     sent only after its Size was acquired from the Budget, so a slow
//     consumer stops reading.
//
// Concurrency: Run owns the scanning loop, the watcher goroutine and all
// reader goroutines, and joins them before it returns. A reader goroutine is
// the only writer of its Source's Path and ID; it updates them only before
// sending a batch, so a consumer should read them when it receives a batch.
package tailer
