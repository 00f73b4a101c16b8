package transform

import "bytes"

// scanAccess scans an access log line in the common format
//
//	host ident authuser [datetime] "request" response bytes
//
// and, if combined, the ` "referer" "agent"` after it, into f[0:7] or
// f[0:9]. Whatever follows is ignored, as the Kinesis Agent does (its
// patterns end in .*), so common_apache reads combined lines too and
// combined_apache reads lines with more fields.
//
// It accepts more than the agent: host, ident and authuser are any run of
// non-blank bytes (IPv6 addresses, e-mail user names), datetime is anything
// up to ']', and a quoted field may hold \" and be empty.
func scanAccess(line []byte, f *[maxFields]span, combined bool) (int, string) {
	pos := 0
	for i := range 3 {
		end := tokenEnd(line, pos)
		if end == pos {
			return pos, "missing host, ident or authuser"
		}
		f[i] = span{pos, end}
		if !at(line, end, ' ') {
			return end, "want a space"
		}
		pos = end + 1
	}
	if !at(line, pos, '[') {
		return pos, "want [ before the date"
	}
	k := bytes.IndexByte(line[pos+1:], ']')
	if k <= 0 {
		return pos, "want [date]"
	}
	f[3] = span{pos + 1, pos + 1 + k}
	pos += k + 2
	if !at(line, pos, ' ') {
		return pos, "want a space"
	}
	var msg string
	if pos, msg = quoted(line, pos+1, &f[4]); msg != "" {
		return pos, msg
	}
	if !at(line, pos, ' ') {
		return pos, "want a space"
	}
	pos++
	end := intEnd(line, pos)
	if end == pos {
		return pos, "want a status code"
	}
	f[5] = span{pos, end}
	if !at(line, end, ' ') {
		return end, "want a space"
	}
	pos = end + 1
	end = intEnd(line, pos)
	if end == pos {
		return pos, "want a size"
	}
	f[6] = span{pos, end}
	if !combined {
		return 0, ""
	}
	pos = end
	for i := 7; i < 9; i++ {
		if !at(line, pos, ' ') {
			return pos, "want a space"
		}
		if pos, msg = quoted(line, pos+1, &f[i]); msg != "" {
			return pos, msg
		}
	}
	return 0, ""
}

// quoted scans a '"'-quoted value at pos into s, and returns the position
// after the closing quote.
func quoted(line []byte, pos int, s *span) (int, string) {
	if !at(line, pos, '"') {
		return pos, "want a quoted field"
	}
	end := quotedEnd(line, pos+1)
	if end < 0 {
		return pos, "unterminated quoted field"
	}
	*s = span{pos + 1, end}
	return end + 1, ""
}

// scanApacheError scans an Apache error log line into f[0:7]: timestamp,
// module, severity, processid, threadid, client, message.
//
// For apache_error (the agent's APACHEERRORLOG) the line is
//
//	[timestamp] [module:severity] [pid N:tid N] [client host:port] message
//
// where "module:" and ":tid N" are optional and [client ...] is required.
// apache24 is Apache 2.4's default ErrorLogFormat, which writes
// [client ...] only for errors of a request: there it is optional (null
// when absent), and an empty module, as in "[:error]", is null. A client
// that comes later in the line, after an APR error text, stays in the
// message.
func scanApacheError(line []byte, f *[maxFields]span, apache24 bool) (int, string) {
	if !at(line, 0, '[') {
		return 0, "want [timestamp]"
	}
	k := bytes.IndexByte(line, ']')
	if k <= 1 {
		return 0, "want [timestamp]"
	}
	f[0] = span{1, k}
	pos := k + 1
	if !hasAt(line, pos, " [") {
		return pos, "want [module:severity]"
	}
	pos += 2
	end := pos
	for end < len(line) && isWord(line[end]) {
		end++
	}
	f[1] = null()
	if at(line, end, ':') {
		if end > pos {
			f[1] = span{pos, end}
		} else if !apache24 {
			return pos, "want a module name"
		}
		pos = end + 1
		for end = pos; end < len(line) && isWord(line[end]); end++ {
		}
	}
	if end == pos || !at(line, end, ']') {
		return pos, "want [module:severity]"
	}
	f[2] = span{pos, end}
	pos = end + 1
	if !hasAt(line, pos, " [pid ") {
		return pos, "want [pid N]"
	}
	pos += len(" [pid ")
	end = digitsEnd(line, pos)
	if end == pos {
		return pos, "want a process id"
	}
	f[3] = span{pos, end}
	f[4] = null()
	if pos = end; hasAt(line, pos, ":tid ") {
		pos += len(":tid ")
		end = digitsEnd(line, pos)
		if end == pos {
			return pos, "want a thread id"
		}
		f[4] = span{pos, end}
		pos = end
	}
	if !at(line, pos, ']') {
		return pos, "want ] after the pid"
	}
	pos++
	f[5] = null()
	if hasAt(line, pos, " [client ") {
		pos += len(" [client ")
		k := bytes.IndexByte(line[pos:], ']')
		if k <= 0 {
			return pos, "want [client address]"
		}
		f[5] = span{pos, pos + k}
		pos += k + 1
	} else if !apache24 {
		return pos, "want [client address]"
	}
	if pos < len(line) {
		if line[pos] != ' ' {
			return pos, "want a space before the message"
		}
		pos++
	}
	f[6] = span{pos, len(line)}
	return 0, ""
}
