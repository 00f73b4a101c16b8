package config

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of checkText.
const (
	// binarySample is how much of the start of a file decides whether it
	// is text at all.
	binarySample = 8 << 10
	// maxTextErrors bounds the characters reported in a text file:
	// more only repeat the message.
	maxTextErrors = 10
)

// checkText reports whether data can be YAML text: UTF-8 with no control
// characters other than tab and line breaks (what the YAML parser accepts,
// checked here so that every problem has a position). A file that looks
// binary (a NUL byte, or many bad characters near its start) is reported
// in one line, not as one problem per byte.
func (d *decoder) checkText(data []byte) bool {
	type bad struct{ off, line, col int }
	var found []bad
	nBad, sampleBad, sampleRunes := 0, 0, 0
	line, col := 1, 1
	for off := 0; off < len(data); {
		r, size := utf8.DecodeRune(data[off:])
		if !yamlChar(r, size) {
			nBad++
			if off < binarySample {
				sampleBad++
			}
			if len(found) == 0 || found[len(found)-1].line != line {
				found = append(found, bad{off, line, col})
			}
		}
		if off < binarySample {
			sampleRunes++
		}
		off += size
		col++
		if r == '\n' {
			line, col = line+1, 1
		}
	}
	if nBad == 0 {
		return true
	}
	if nul := bytes.IndexByte(data, 0); nul >= 0 || sampleBad >= 8 && sampleBad*16 >= sampleRunes {
		first := found[0]
		d.errs = append(d.errs, &Error{File: d.file, Line: first.line, Col: first.col,
			Msg: fmt.Sprintf("not a text file (binary data at byte %d)", first.off)})
		return false
	}
	for i, b := range found {
		if i == maxTextErrors {
			d.errs = append(d.errs, &Error{File: d.file, Line: b.line, Col: b.col,
				Msg: fmt.Sprintf("more lines with invalid characters follow (%d in all); is the file UTF-8 text?", len(found))})
			break
		}
		d.errs = append(d.errs, &Error{File: d.file, Line: b.line, Col: b.col, Msg: badCharMessage(data[b.off:])})
	}
	return false
}

// yamlChar reports whether the rune r, decoded from size bytes, may appear
// in a YAML file: tab, line breaks and printable characters (YAML 1.2,
// section 5.1).
func yamlChar(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size <= 1:
		return false
	case r == '\t', r == '\n', r == '\r', r == 0x85:
		return true
	case r < 0x20, r >= 0x7f && r < 0xa0, r == 0xfffe, r == 0xffff:
		return false
	}
	return true
}

// badCharMessage says what is wrong with the character at the start of b.
func badCharMessage(b []byte) string {
	r, size := utf8.DecodeRune(b)
	if r == utf8.RuneError && size <= 1 {
		return fmt.Sprintf("invalid UTF-8 (byte 0x%02x): the file must be UTF-8 text", b[0])
	}
	return fmt.Sprintf("control character %U is not allowed (only tab and line breaks are)", r)
}

// printable returns s with what a terminal would not show as text escaped
// as in a Go string (\x1b, \u00a0, \xff for a byte that is not UTF-8), so
// that a message never sends raw bytes from a file to the terminal.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r == utf8.RuneError || !unicode.IsPrint(r) }) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

// sourceLine returns line n (1-based) of the file without its line break,
// or nil.
func (d *decoder) sourceLine(n int) []byte {
	if n < 1 || n > d.lineCount() {
		return nil
	}
	end := len(d.src)
	if n < len(d.lines) {
		end = d.lines[n] - 1
	}
	return bytes.TrimSuffix(d.src[d.lines[n-1]:end], []byte("\r"))
}

// lineCount returns the number of lines in the file.
func (d *decoder) lineCount() int {
	if d.lines == nil {
		d.lines = []int{0}
		for i, c := range d.src {
			if c == '\n' {
				d.lines = append(d.lines, i+1)
			}
		}
	}
	return len(d.lines)
}

// lineStart returns the column of the first character of line n that is
// not a space or a tab, or 1: where a message about the whole line points.
func (d *decoder) lineStart(n int) int {
	src := d.sourceLine(n)
	i := bytes.IndexFunc(src, func(r rune) bool { return r != ' ' && r != '\t' })
	if i < 0 {
		return 1
	}
	return utf8.RuneCount(src[:i]) + 1
}

// aliasPos returns the position of the first alias *name in the file
// (outside comment lines), or the start of the file.
func (d *decoder) aliasPos(name string) (line, col int) {
	for n := 1; n <= d.lineCount(); n++ {
		src := d.sourceLine(n)
		if bytes.HasPrefix(bytes.TrimLeft(src, " \t"), []byte("#")) {
			continue
		}
		for i := 0; i < len(src); {
			j := bytes.Index(src[i:], []byte("*"+name))
			if j < 0 {
				break
			}
			i += j
			end := i + 1 + len(name)
			if end == len(src) || bytes.IndexByte([]byte(" \t,[]{}"), src[end]) >= 0 {
				return n, utf8.RuneCount(src[:i]) + 1
			}
			i++
		}
	}
	return 1, 1
}
