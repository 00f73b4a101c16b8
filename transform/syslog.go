package transform

import "bytes"

// scanSyslog scans a BSD syslog line (RFC 3164 as files hold it, without
// the <PRI>) into f[0:5]: timestamp, hostname, program, processid, message.
//
//	Mar 12 12:00:08 server2 rcd[308]: Loaded 12 packages
//
// As in the Kinesis Agent's SYSLOG format, the timestamp is "Mon dd
// hh:mm:ss" (blanks between the parts may repeat, the month may be written
// in full, the seconds may have a fraction), an optional "<N.N> " facility
// may follow it and is not a field, and [pid] is optional (null when
// absent). Values are never turned into null otherwise.
func scanSyslog(line []byte, f *[maxFields]span) (int, string) {
	end := monthEnd(line, 0)
	if end == 0 {
		return 0, "want a month"
	}
	pos := spaceEnd(line, end)
	if pos == end {
		return pos, "want a space"
	}
	end = monthDayEnd(line, pos)
	if end == pos {
		return pos, "want a day of the month"
	}
	pos = spaceEnd(line, end)
	if pos == end {
		return pos, "want a space"
	}
	end = timeEnd(line, pos)
	if end == pos {
		return pos, "want a time of day"
	}
	f[0] = span{0, end}
	return scanSyslogRest(line, end, f)
}

// scanRFC3339Syslog is scanSyslog for lines whose timestamp is RFC 3339
// (the agent's RFC3339SYSLOG, rsyslog's RSYSLOG_FileFormat).
func scanRFC3339Syslog(line []byte, f *[maxFields]span) (int, string) {
	end := rfc3339End(line, 0)
	if end == 0 {
		return 0, "want an RFC 3339 timestamp"
	}
	f[0] = span{0, end}
	return scanSyslogRest(line, end, f)
}

// scanSyslogRest scans what follows the timestamp of a syslog line:
//
//	[<N.N> ]hostname program[pid]: message
//
// The program runs to the first '[', ':' or blank; a line that ends right
// after the ':' has an empty message.
func scanSyslogRest(line []byte, pos int, f *[maxFields]span) (int, string) {
	if !at(line, pos, ' ') {
		return pos, "want a space after the timestamp"
	}
	pos++
	if at(line, pos, '<') {
		// The facility.priority some systems write; not a field.
		i := digitsEnd(line, pos+1)
		j := digitsEnd(line, i+1)
		if i == pos+1 || !at(line, i, '.') || j == i+1 || !hasAt(line, j, "> ") {
			return pos, "want <facility.priority>"
		}
		pos = j + 2
	}
	end := tokenEnd(line, pos)
	if end == pos {
		return pos, "want a hostname"
	}
	f[1] = span{pos, end}
	if !at(line, end, ' ') {
		return end, "want a space after the hostname"
	}
	pos = end + 1
	end = pos
	for end < len(line) && line[end] != '[' && line[end] != ':' && line[end] != ' ' && line[end] != '\t' {
		end++
	}
	if end == pos {
		return pos, "want a program name"
	}
	f[2] = span{pos, end}
	f[3] = null()
	if pos = end; at(line, pos, '[') {
		end = digitsEnd(line, pos+1)
		if end == pos+1 || !at(line, end, ']') {
			return pos, "want [pid]"
		}
		f[3] = span{pos + 1, end}
		pos = end + 1
	}
	if !at(line, pos, ':') {
		return pos, "want ':' after the program"
	}
	pos++
	if pos < len(line) {
		if line[pos] != ' ' {
			return pos, "want a space after ':'"
		}
		pos++
	}
	f[4] = span{pos, len(line)}
	return 0, ""
}

// scanRFC5424 scans an RFC 5424 syslog line into f[0:9]: pri, version,
// timestamp, hostname, app_name, procid, msgid, structured_data, message.
//
//	<165>1 2003-10-11T22:14:15.003Z host app 1234 ID47 [id@32473 k="v"] message
//
// NILVALUE ("-") is null in timestamp, hostname, app_name, procid, msgid and
// structured_data; a message of "-" is text, and a line that ends after the
// structured data has a null message. structured_data is the raw text of
// all SD-ELEMENTs, brackets, quotes and escapes included: it is kept as
// written rather than parsed into objects, so its parameters keep their
// order and repeats. A UTF-8 byte order mark that starts the message is
// dropped.
func scanRFC5424(line []byte, f *[maxFields]span) (int, string) {
	if !at(line, 0, '<') {
		return 0, "want <PRI>"
	}
	end := digitsEnd(line, 1)
	if end == 1 || end > 4 || !at(line, end, '>') || !validPRI(line[1:end]) {
		return 0, "want <PRI> between 0 and 191"
	}
	f[0] = span{1, end}
	pos := end + 1
	end = digitsEnd(line, pos)
	if end == pos || end-pos > 3 || line[pos] == '0' {
		return pos, "want a version"
	}
	f[1] = span{pos, end}
	pos = end
	// Five space-separated header fields, each a NILVALUE or a token.
	for i := 2; i < 7; i++ {
		if !at(line, pos, ' ') {
			return pos, "want a space"
		}
		pos++
		end = tokenEnd(line, pos)
		switch {
		case end == pos:
			return pos, "want a header field"
		case end-pos == 1 && line[pos] == '-':
			f[i] = null()
		case i == 2 && rfc3339End(line, pos) != end:
			return pos, "want an RFC 3339 timestamp"
		default:
			f[i] = span{pos, end}
		}
		pos = end
	}
	if !at(line, pos, ' ') {
		return pos, "want a space before the structured data"
	}
	pos++
	switch {
	case at(line, pos, '-'):
		f[7] = null()
		pos++
	case at(line, pos, '['):
		end, ok := sdEnd(line, pos)
		if !ok {
			return pos, "unterminated structured data"
		}
		f[7] = span{pos, end}
		pos = end
	default:
		return pos, "want structured data or '-'"
	}
	switch {
	case pos == len(line):
		f[8] = null()
		return 0, ""
	case line[pos] != ' ':
		return pos, "want a space before the message"
	}
	pos++
	if hasAt(line, pos, "\xEF\xBB\xBF") {
		pos += 3
	}
	f[8] = span{pos, len(line)}
	return 0, ""
}

// validPRI reports whether the digits d are a PRI value: 0 to 191, with no
// leading zero.
func validPRI(d []byte) bool {
	if len(d) > 1 && d[0] == '0' {
		return false
	}
	n := 0
	for _, c := range d {
		n = n*10 + int(c-'0')
	}
	return n <= 191
}

// sdEnd returns the end of the SD-ELEMENTs that start at pos with '['. In a
// quoted parameter value a backslash escapes the next byte, so "\]" and
// "\"" do not end anything.
func sdEnd(line []byte, pos int) (int, bool) {
	for at(line, pos, '[') {
		i := pos + 1
		for {
			k := bytes.IndexAny(line[i:], `"]`)
			if k < 0 {
				return 0, false
			}
			i += k
			if line[i] == ']' {
				break
			}
			// A quoted value: find its closing quote.
			i++
			for {
				if i >= len(line) {
					return 0, false
				}
				if line[i] == '\\' {
					i += 2
					continue
				}
				if line[i] == '"' {
					i++
					break
				}
				i++
			}
		}
		pos = i + 1
	}
	return pos, true
}
