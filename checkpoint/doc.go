// Package checkpoint owns the durable record of how far each followed file
// has been acknowledged by every destination.
//
// A Tracker receives, in file order, the byte ranges the tailer handed on,
// and advances a file's offset only across a contiguous prefix of ranges
// that are fully acknowledged (a low-watermark). A crash therefore resends at
// most what was in flight and never skips a line.
//
// A Store keeps the offsets in one JSON file:
//
//	{"version":1,"checksum":"<crc32c of the entries array, hex>","entries":[
//	  {"flow":"web","path":"/var/log/app.log","id":{"dev":…,"inode":…,"fingerprint":…,"fingerprint_len":…},
//	   "offset":1234,"updated":"2026-11-22T05:00:00Z"}]}
//
// Save writes a temporary file in the same directory, fsyncs it, moves the
// current file to "<name>.prev", renames the temporary file into place and
// fsyncs the directory; files are created with mode 0600. Load verifies the
// version and checksum. When the file is missing, truncated or corrupt it
// falls back to "<name>.prev" (the previous good copy) and says so loudly; a
// crash between the two renames leaves only the .prev file, which Load uses.
// If neither is usable, Load reports an error rather than silently starting
// over, because starting over would re-read or skip data depending on
// initial_position.
package checkpoint
