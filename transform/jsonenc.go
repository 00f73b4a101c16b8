package transform

import (
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// Masks for testing eight bytes at once (one byte lane each).
const (
	lanes01  = 0x0101010101010101
	lanes20  = 0x2020202020202020
	lanes22  = 0x2222222222222222 // '"'
	lanes5c  = 0x5c5c5c5c5c5c5c5c // '\\'
	lanes80  = 0x8080808080808080
	lanesPad = 0x6161616161616161 // 'a': safe padding
)

// AppendJSONString appends s to dst as a JSON string, quotes included, and
// returns the extended slice. It escapes '"', '\\' and control characters
// (\n, \r and \t in short form, the others as \u00XX), and replaces each byte
// of invalid UTF-8 with U+FFFD, so the result is always valid JSON whatever s
// holds. Bytes of valid UTF-8 are copied unchanged.
func AppendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// JSONStringLen is len(AppendJSONString(nil, s)), computed without writing,
// for callers that need exact sizes before encoding.
func JSONStringLen(s []byte) int {
	i := safeRun(s)
	n := 2 + i
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c >= 0x20 && c != '"' && c != '\\':
				n++
			case c == '"', c == '\\', c == '\n', c == '\r', c == '\t':
				n += 2
			default:
				n += 6
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			n += len("\uFFFD") // the byte is replaced by U+FFFD
			i++
			continue
		}
		n += size
		i += size
	}
	return n
}

// appendEscaped appends the body of a JSON string for s, without quotes.
// Runs of safe bytes are found first and appended with one copy, since most
// log text needs no escaping at all.
func appendEscaped(dst, s []byte) []byte {
	i := safeRun(s)
	if i == len(s) {
		return append(dst, s...)
	}
	start := 0 // s[start:i] is a pending run of bytes to copy verbatim
	for i < len(s) {
		// Skip whole words of printable ASCII other than '"' and '\\'.
		for i+8 <= len(s) && safeWord(binary.LittleEndian.Uint64(s[i:])) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size // valid multi-byte sequence: part of the run
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	return append(dst, s[start:]...)
}

// safeRun returns how many of s's first bytes are known to need no escaping
// (printable ASCII other than '"' and '\\'): len(s) when none of s does;
// else the bytes up to the first word (of eight) that holds one, where the
// byte loop goes on. A word at a time, the last (or only) one padded or
// overlapping, without a branch per byte: most log fields are short (an
// address, a status, a size), and a loop over their bytes cost more than
// the rest of their encoding.
func safeRun(s []byte) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if !safeWord(binary.LittleEndian.Uint64(s[i:])) {
			return i
		}
	}
	switch {
	case i == len(s):
		return i
	case len(s) >= 8:
		if safeWord(binary.LittleEndian.Uint64(s[len(s)-8:])) {
			return len(s)
		}
		return i
	}
	w := uint64(lanesPad) // the lanes s does not fill hold a safe byte
	for j := len(s) - 1; j >= 0; j-- {
		w = w<<8 | uint64(s[j])
	}
	if safeWord(w) {
		return len(s)
	}
	return 0
}

// safeWord reports whether all eight bytes of w are ASCII at or above 0x20
// and none is '"' or '\\'. The tests are exact for "any lane matches": a
// borrow can only spread from a lane that really matched.
func safeWord(w uint64) bool {
	lt20 := (w - lanes20) &^ w                          // high bit set in a lane < 0x20 (or >= 0x80)
	quote := ((w ^ lanes22) - lanes01) &^ (w ^ lanes22) // high bit set in a lane == '"'
	bslash := ((w ^ lanes5c) - lanes01) &^ (w ^ lanes5c)
	return (lt20|quote|bslash|w)&lanes80 == 0
}

// AppendUnescaped appends the content of a JSON string (raw, without its
// quotes) with its escapes decoded. A \u escape of a lone surrogate becomes
// U+FFFD, so the result is valid UTF-8 when raw was. ok is false for an
// invalid escape.
func AppendUnescaped(dst, raw []byte) (_ []byte, ok bool) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i == len(raw) {
			return dst, false
		}
		switch raw[i] {
		case '"', '\\', '/':
			dst = append(dst, raw[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(raw[i+1:])
			if !ok {
				return dst, false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				// A pair is two escapes; a lone half becomes U+FFFD.
				r2 := rune(-1)
				if rest := raw[i+1:]; len(rest) >= 6 && rest[0] == '\\' && rest[1] == 'u' {
					if v, ok := hex4(rest[2:]); ok {
						r2 = v
					}
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, false
		}
	}
	return dst, true
}

// hex4 decodes four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
