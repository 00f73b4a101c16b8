package transform

import "bytes"

// nginx_access uses scanAccess: nginx's default "combined" log_format is
//
//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
//
// the Apache combined format with a literal "-" for ident. Its fields are
// named after the nginx variables, and "-" is null as in the Apache formats.

// nginxContext are the keys nginx appends to an error message, in f order
// from f[6].
var nginxContext = [...]string{"client", "server", "request", "upstream", "host", "referrer"}

// scanNginxError scans an nginx error log line into f[0:12]: timestamp,
// severity, pid, tid, connection, message, client, server, request,
// upstream, host, referrer.
//
//	2026/11/22 05:00:00 [error] 123#456: *7 open() failed, client: 10.0.0.1, server: example.com, request: "GET / HTTP/1.1", host: "example.com"
//
// "*N" (the connection number) is optional. When the message ends in the
// context nginx appends (", client: ..." followed only by the known keys,
// quoted values unquoted), those become fields and leave the message;
// otherwise they are null and the message is kept whole.
func scanNginxError(line []byte, f *[maxFields]span) (int, string) {
	if !fixedDigits(line, 0, 4) || !at(line, 4, '/') || !fixedDigits(line, 5, 2) || !at(line, 7, '/') ||
		!fixedDigits(line, 8, 2) || !at(line, 10, ' ') || !fixedDigits(line, 11, 2) || !at(line, 13, ':') ||
		!fixedDigits(line, 14, 2) || !at(line, 16, ':') || !fixedDigits(line, 17, 2) {
		return 0, "want a yyyy/mm/dd hh:mm:ss timestamp"
	}
	f[0] = span{0, 19}
	if !hasAt(line, 19, " [") {
		return 19, "want [severity]"
	}
	pos := 21
	end := pos
	for end < len(line) && line[end] >= 'a' && line[end] <= 'z' {
		end++
	}
	if end == pos || !hasAt(line, end, "] ") {
		return pos, "want [severity]"
	}
	f[1] = span{pos, end}
	pos = end + 2
	end = digitsEnd(line, pos)
	if end == pos || !at(line, end, '#') {
		return pos, "want pid#tid"
	}
	f[2] = span{pos, end}
	pos = end + 1
	end = digitsEnd(line, pos)
	if end == pos || !at(line, end, ':') {
		return pos, "want pid#tid:"
	}
	f[3] = span{pos, end}
	pos = end + 1
	if at(line, pos, ' ') {
		pos++
	}
	f[4] = null()
	if at(line, pos, '*') {
		end = digitsEnd(line, pos+1)
		if end > pos+1 && (end == len(line) || line[end] == ' ') {
			f[4] = span{pos + 1, end}
			pos = end
			if pos < len(line) {
				pos++
			}
		}
	}
	msgEnd := len(line)
	for i := 6; i < 12; i++ {
		f[i] = null()
	}
	if k := bytes.LastIndex(line[pos:], []byte(", client: ")); k >= 0 && nginxTail(line, pos+k, f) {
		msgEnd = pos + k
	}
	f[5] = span{pos, msgEnd}
	return 0, ""
}

// nginxTail scans the context from pos (at ", client: ") to the end of line
// into f[6:12]. It reports false, leaving f[6:12] null, if the tail is not
// exactly such a context.
func nginxTail(line []byte, pos int, f *[maxFields]span) bool {
	for pos < len(line) {
		if !hasAt(line, pos, ", ") {
			break
		}
		pos += 2
		idx := -1
		for i, key := range nginxContext {
			if hasAt(line, pos, key) && hasAt(line, pos+len(key), ": ") && f[6+i].start < 0 {
				idx = i
				pos += len(key) + 2
				break
			}
		}
		if idx < 0 {
			break
		}
		var s span
		if at(line, pos, '"') {
			// A quoted value ends at a '"' followed by the end or ", ".
			end := -1
			for i := pos + 1; i < len(line); i++ {
				if line[i] == '"' && (i+1 == len(line) || hasAt(line, i+1, ", ")) {
					end = i
					break
				}
			}
			if end < 0 {
				break
			}
			s = span{pos + 1, end}
			pos = end + 1
		} else {
			end := len(line)
			if k := bytes.Index(line[pos:], []byte(", ")); k >= 0 {
				end = pos + k
			}
			s = span{pos, end}
			pos = end
		}
		f[6+idx] = s
	}
	if pos == len(line) {
		return true
	}
	for i := 6; i < 12; i++ {
		f[i] = null()
	}
	return false
}
