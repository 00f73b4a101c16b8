package transform

import "bytes"

// Small helpers for the hand-written log scanners. Each takes the line and a
// position and returns a new position; none allocates. A scanner reports a
// problem as (offset, message) with a constant message, so rejecting a line
// costs no formatting.

// at reports whether line[pos] is c.
func at(line []byte, pos int, c byte) bool {
	return pos < len(line) && line[pos] == c
}

// hasAt reports whether line continues at pos with s.
func hasAt(line []byte, pos int, s string) bool {
	return pos <= len(line) && len(line)-pos >= len(s) && string(line[pos:pos+len(s)]) == s
}

// tokenEnd returns the end of the run of bytes from pos that are not a space
// or a tab.
func tokenEnd(line []byte, pos int) int {
	for pos < len(line) && line[pos] != ' ' && line[pos] != '\t' {
		pos++
	}
	return pos
}

// spaceEnd returns the end of the run of spaces and tabs from pos.
func spaceEnd(line []byte, pos int) int {
	for pos < len(line) && (line[pos] == ' ' || line[pos] == '\t') {
		pos++
	}
	return pos
}

// digitsEnd returns the end of the run of ASCII digits from pos.
func digitsEnd(line []byte, pos int) int {
	for pos < len(line) && isDigit(line[pos]) {
		pos++
	}
	return pos
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isWord reports whether c matches \w.
func isWord(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// fixedDigits reports whether line[pos:pos+n] holds n digits.
func fixedDigits(line []byte, pos, n int) bool {
	if pos+n > len(line) {
		return false
	}
	for _, c := range line[pos : pos+n] {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// intEnd returns the end of a number at pos, written as the Kinesis Agent's
// patterns expect it ([+-]?[0-9]+), or of a lone "-" meaning "no value".
// It returns pos if there is neither.
func intEnd(line []byte, pos int) int {
	i := pos
	if i < len(line) && (line[i] == '+' || line[i] == '-') {
		i++
	}
	if j := digitsEnd(line, i); j > i {
		return j
	}
	if at(line, pos, '-') {
		return pos + 1
	}
	return pos
}

// quotedEnd returns the position of the '"' that closes a quoted value whose
// text starts at pos, skipping quotes escaped with a backslash (Apache
// writes a '"' in a request as \"), or -1 if there is none.
func quotedEnd(line []byte, pos int) int {
	for i := pos; i < len(line); {
		k := bytes.IndexByte(line[i:], '"')
		if k < 0 {
			return -1
		}
		j := i + k
		n := 0 // backslashes right before the quote
		for j-n-1 >= pos && line[j-n-1] == '\\' {
			n++
		}
		if n%2 == 0 {
			return j
		}
		i = j + 1
	}
	return -1
}

// monthEnd returns the end of an English month name at pos, abbreviated
// (Jan) or in full (January), or pos if there is none. Like \b in the agent's
// pattern, the name must not run on into more letters.
func monthEnd(line []byte, pos int) int {
	end := pos
	for end < len(line) && isWord(line[end]) {
		end++
	}
	if end-pos < 3 {
		return pos
	}
	word := line[pos:end]
	for _, m := range [...]string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"} {
		if string(word) == m[:3] || string(word) == m {
			return end
		}
	}
	return pos
}

// monthDayEnd returns the end of a day of the month (1 to 31, maybe with a
// leading zero) at pos, or pos.
func monthDayEnd(line []byte, pos int) int {
	end := digitsEnd(line, pos)
	n := 0
	switch end - pos {
	case 1:
		n = int(line[pos] - '0')
	case 2:
		n = int(line[pos]-'0')*10 + int(line[pos+1]-'0')
	default:
		return pos
	}
	if n < 1 || n > 31 {
		return pos
	}
	return end
}

// timeEnd returns the end of a time of day at pos, as the agent's TIME
// pattern has it: H:MM:SS or HH:MM:SS, the seconds maybe followed by a
// fraction after '.', ',' or ':'. It returns pos if there is none.
func timeEnd(line []byte, pos int) int {
	i := digitsEnd(line, pos)
	if i == pos || i-pos > 2 || !at(line, i, ':') || !fixedDigits(line, i+1, 2) || !at(line, i+3, ':') {
		return pos
	}
	i += 4
	j := digitsEnd(line, i)
	if j == i || j-i > 2 {
		return pos
	}
	if (at(line, j, '.') || at(line, j, ',') || at(line, j, ':')) && j+1 < len(line) && isDigit(line[j+1]) {
		j = digitsEnd(line, j+1)
	}
	return j
}

// rfc3339End returns the end of an RFC 3339 timestamp at pos
// (2006-01-02T15:04:05, an optional fraction, then Z or ±hh:mm), or pos.
func rfc3339End(line []byte, pos int) int {
	i := pos
	if !fixedDigits(line, i, 4) || !at(line, i+4, '-') || !fixedDigits(line, i+5, 2) || !at(line, i+7, '-') ||
		!fixedDigits(line, i+8, 2) || !at(line, i+10, 'T') || !fixedDigits(line, i+11, 2) || !at(line, i+13, ':') ||
		!fixedDigits(line, i+14, 2) || !at(line, i+16, ':') || !fixedDigits(line, i+17, 2) {
		return pos
	}
	i += 19
	if at(line, i, '.') {
		j := digitsEnd(line, i+1)
		if j == i+1 {
			return pos
		}
		i = j
	}
	switch {
	case at(line, i, 'Z'):
		return i + 1
	case (at(line, i, '+') || at(line, i, '-')) && fixedDigits(line, i+1, 2) && at(line, i+3, ':') && fixedDigits(line, i+4, 2):
		return i + 6
	}
	return pos
}
