// Package tailer finds, identifies and follows log files and emits their
// complete lines in batches with exact byte offsets.
//
// A generation is what was written to a followed path between two
// rotations; a Source is one generation. Its ID (device and inode of the
// file it was first read from, and a fingerprint of its first bytes) stays
// the same wherever its bytes go: a rotated name, a copytruncate copy, a
// compressed copy. Source.Path is the followed path it was written at.
// Sources never change once created; where a generation is read from now,
// and its fingerprint once widened, are reported through Hooks.
//
// The package is made of these pieces, one file each:
//
//   - scanner.go expands the flow's globs (including **) into a snapshot of
//     regular files;
//   - watcher.go turns fsnotify events into "rescan soon" and "this file
//     grew" hints; it never decides anything, the periodic rescan is the
//     source of truth (fsnotify is silent on NFS and can overflow);
//   - diff.go compares what the readers follow with a snapshot, by file
//     identity, as a pure function: appeared, gone, renamed, changed;
//   - scan.go applies those events (a file that left the globs is drained
//     through its descriptor, a renamed one keeps its reader, one in a
//     directory that cannot be read now is left alone) and finds the paths
//     whose generation changed;
//   - plan.go decides, for new files and the rotated files (family.go) of
//     those paths, which generation each holds (known.go remembers the
//     generations not being read: checkpoint Positions and ended readers)
//     and where reading starts; generations of one path are read oldest
//     first;
//   - lifecycle.go starts readers on those decisions, runs them and ends
//     them; open.go is the one way a file is opened (and decompressed,
//     unpack.go); slots.go owns the descriptor budget, parking idle
//     readers and reopening them;
//   - reader.go is one goroutine per open file: it reads with pread at an
//     exact offset, splits lines (multiline.go groups them) and sends
//     Batches; truncate.go ends it when its file no longer holds its
//     generation.
//
// Restarts and everything else kinetail does not see: a generation is
// found by its identity, or by its content (the same first bytes and the
// same bytes before its offset) in a copy. Rotated files of a followed
// path modified after the newest generation known for that path was first
// seen are generations nobody read, and are read from the start; older
// ones are never read. A path no generation is known of counts from the
// checkpoint's time (Config.Saved) after a restart, also when it is not
// there any more (found by its rotated files' names), and from its file's
// last write when that file was renamed before it could be opened. A saved generation found nowhere, and the rest of a
// truncated one in no copy, are logged as lost and counted (Stats.Lost,
// Stats.CopyTruncateLost). A generation the checkpoint does not know is
// made durable (Hooks.Sync) before its first batch is handed on.
//
// Concurrency: Run owns the scanning loop, the watcher goroutine and all
// reader goroutines, and joins them before it returns. The registry of
// generations and the plans belong to the Run goroutine; Tailer.mu guards
// the readers' maps and their bookkeeping, and nothing is logged or opened
// while it is held. A reader goroutine is the only writer of its offsets,
// buffers and widened identity.
package tailer
