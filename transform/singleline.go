package transform

import (
	"bytes"

	"github.com/kinetail/kinetail/config"
)

// singleline joins the lines of a multi-line record into one, like the
// Kinesis Agent's SINGLELINE processor: each line is trimmed of leading and
// trailing whitespace and the line breaks are removed. A record holds a '\n'
// only when multi-line grouping joined several lines; "\r\n" is a break too,
// and so is a final '\r' (the rest of a CRLF terminator the tailer cut).
type singleline struct {
	trim   bool
	escape bool // write breaks as the two characters `\n` instead of removing them
}

func newSingleline(c *config.Singleline) *singleline {
	return &singleline{trim: !c.NoTrim, escape: c.EscapeNewLine}
}

// Append never fails: every input has a single-line form.
func (s *singleline) Append(dst, in []byte) ([]byte, error) {
	for first := true; ; first = false {
		if !first && s.escape {
			dst = append(dst, '\\', 'n')
		}
		i := bytes.IndexByte(in, '\n')
		seg := in
		if i >= 0 {
			seg = in[:i]
		}
		if n := len(seg); n > 0 && seg[n-1] == '\r' {
			seg = seg[:n-1]
		}
		if s.trim {
			seg = trimSpace(seg)
		}
		dst = append(dst, seg...)
		if i < 0 {
			return dst, nil
		}
		in = in[i+1:]
	}
}

// trimSpace removes ASCII whitespace at both ends of b. Unlike bytes.TrimSpace
// it does not decode runes: non-ASCII bytes are kept as they are, so the
// result is the same for any input, valid UTF-8 or not.
func trimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}
