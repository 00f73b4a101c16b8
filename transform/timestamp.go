// Timestamps for the fields transform's timestamp type: the formats it
// reads (RFC 3339, Apache, syslog, epoch seconds and milliseconds, civil
// times in a zone) and their RFC 3339 form, without allocating.

package transform

import (
	"time"
)

// rfc3339Local is RFC 3339 without a zone.
const rfc3339Local = "2006-01-02T15:04:05.999999999"

// appendTimestamp appends s, a timestamp in one of the formats documented
// on fields, as RFC 3339 without quotes.
func appendTimestamp(dst, s []byte, loc *time.Location, now func() time.Time) ([]byte, bool) {
	if len(s) == 0 {
		return dst, false
	}
	switch {
	case isDigit(s[0]) && len(s) >= 19 && s[4] == '-':
		return appendRFC3339(dst, s)
	case isDigit(s[0]) && len(s) >= 20 && s[2] == '/':
		return appendApacheTime(dst, s)
	case isDigit(s[0]):
		return appendEpoch(dst, s)
	}
	return appendSyslogTime(dst, s, loc, now)
}

// civil is a date and time of day as written, before it is checked.
type civil struct {
	year, month, day, hour, min, sec, nsec int
}

// time returns c as a UTC time, and whether every field was in range
// (time.Date would silently normalise 31 April to 1 May).
func (c civil) time(loc *time.Location) (time.Time, bool) {
	if c.month < 1 || c.month > 12 || c.hour > 23 || c.min > 59 || c.sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(c.year, time.Month(c.month), c.day, c.hour, c.min, c.sec, c.nsec, loc)
	if t.Day() != c.day {
		return time.Time{}, false
	}
	return t, true
}

// num parses s[i:i+n] as n decimal digits, or returns -1.
func num(s []byte, i, n int) int {
	if !fixedDigits(s, i, n) {
		return -1
	}
	v := 0
	for _, c := range s[i : i+n] {
		v = v*10 + int(c-'0')
	}
	return v
}

// appendRFC3339 handles 2006-01-02T15:04:05[.frac](Z|±07:00), with 't',
// ' ' or '_' also accepted for the T and 'z' for the Z.
func appendRFC3339(dst, s []byte) ([]byte, bool) {
	c := civil{year: num(s, 0, 4), month: num(s, 5, 2), day: num(s, 8, 2),
		hour: num(s, 11, 2), min: num(s, 14, 2), sec: num(s, 17, 2)}
	if s[7] != '-' || s[13] != ':' || s[16] != ':' ||
		(s[10] != 'T' && s[10] != 't' && s[10] != ' ' && s[10] != '_') ||
		c.year < 0 || c.day < 0 || c.hour < 0 || c.min < 0 || c.sec < 0 || c.month < 0 {
		return dst, false
	}
	i := 19
	if at(s, i, '.') || at(s, i, ',') {
		j := digitsEnd(s, i+1)
		if j == i+1 || j-i-1 > 9 {
			return dst, false
		}
		c.nsec = num(s, i+1, j-i-1)
		for k := j - i - 1; k < 9; k++ {
			c.nsec *= 10
		}
		i = j
	}
	off, ok := zoneOffset(s[i:], true)
	if !ok {
		return dst, false
	}
	return appendCivil(dst, c, off)
}

// zoneOffset parses a zone, Z or ±hh:mm (±hhmm when colon is false), and
// returns its offset in seconds.
func zoneOffset(z []byte, colon bool) (int, bool) {
	if len(z) == 1 && (z[0] == 'Z' || z[0] == 'z') {
		return 0, true
	}
	var h, m int
	switch {
	case colon && len(z) == 6 && z[3] == ':':
		h, m = num(z, 1, 2), num(z, 4, 2)
	case !colon && len(z) == 5:
		h, m = num(z, 1, 2), num(z, 3, 2)
	default:
		return 0, false
	}
	if h < 0 || m < 0 || h > 23 || m > 59 || z[0] != '+' && z[0] != '-' {
		return 0, false
	}
	off := (h*60 + m) * 60
	if z[0] == '-' {
		off = -off
	}
	return off, true
}

// appendCivil appends c followed by the zone offset, Z for zero.
func appendCivil(dst []byte, c civil, off int) ([]byte, bool) {
	t, ok := c.time(time.UTC)
	if !ok {
		return dst, false
	}
	dst = t.AppendFormat(dst, rfc3339Local)
	if off == 0 {
		return append(dst, 'Z'), true
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	h, m := off/3600, off/60%60
	return append(dst, sign, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10)), true
}

// appendApacheTime handles 02/Jan/2006:15:04:05 -0700.
func appendApacheTime(dst, s []byte) ([]byte, bool) {
	if len(s) != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' || s[20] != ' ' {
		return dst, false
	}
	c := civil{day: num(s, 0, 2), month: month(s[3:6]), year: num(s, 7, 4),
		hour: num(s, 12, 2), min: num(s, 15, 2), sec: num(s, 18, 2)}
	if c.day < 0 || c.year < 0 || c.hour < 0 || c.min < 0 || c.sec < 0 {
		return dst, false
	}
	off, ok := zoneOffset(s[21:], false)
	if !ok {
		return dst, false
	}
	return appendCivil(dst, c, off)
}

// month returns 1 to 12 for an English month abbreviation, or 0.
func month(b []byte) int {
	const names = "JanFebMarAprMayJunJulAugSepOctNovDec"
	if len(b) != 3 {
		return 0
	}
	for i := 0; i < len(names); i += 3 {
		if string(b) == names[i:i+3] {
			return i/3 + 1
		}
	}
	return 0
}

// appendSyslogTime handles Jan _2 15:04:05 (the day may have a leading
// zero or space) in loc, in the current year unless that is more than a
// month ahead of now.
func appendSyslogTime(dst, s []byte, loc *time.Location, now func() time.Time) ([]byte, bool) {
	if len(s) < 14 || s[3] != ' ' {
		return dst, false
	}
	c := civil{month: month(s[:3])}
	i := spaceEnd(s, 4)
	j := digitsEnd(s, i)
	if c.month == 0 || j-i < 1 || j-i > 2 || len(s)-j != 9 || s[j] != ' ' || s[j+3] != ':' || s[j+6] != ':' {
		return dst, false
	}
	c.day = num(s, i, j-i)
	c.hour, c.min, c.sec = num(s, j+1, 2), num(s, j+4, 2), num(s, j+7, 2)
	if c.hour < 0 || c.min < 0 || c.sec < 0 {
		return dst, false
	}
	n := now().In(loc)
	c.year = n.Year()
	t, ok := c.time(loc)
	if ok && t.After(n.AddDate(0, 1, 0)) {
		c.year--
		t, ok = c.time(loc)
	}
	if !ok {
		// 29 February of a year that has none.
		return dst, false
	}
	return t.AppendFormat(dst, time.RFC3339Nano), true
}

// appendEpoch handles Unix epoch seconds (with an optional fraction),
// milliseconds, microseconds or nanoseconds.
func appendEpoch(dst, s []byte) ([]byte, bool) {
	i := digitsEnd(s, 0)
	if i > 19 {
		return dst, false
	}
	v, ok := parseInt(s[:i])
	if !ok {
		return dst, false
	}
	var t time.Time
	switch {
	case i < len(s):
		// Seconds with a fraction.
		j := digitsEnd(s, i+1)
		if s[i] != '.' || j != len(s) || j == i+1 || v >= 1e11 {
			return dst, false
		}
		frac := num(s, i+1, min(j-i-1, 9))
		for k := j - i - 1; k < 9; k++ {
			frac *= 10
		}
		t = time.Unix(v, int64(frac))
	case v < 1e11:
		t = time.Unix(v, 0)
	case v < 1e14:
		t = time.UnixMilli(v)
	case v < 1e17:
		t = time.UnixMicro(v)
	default:
		t = time.Unix(0, v)
	}
	return t.UTC().AppendFormat(dst, time.RFC3339Nano), true
}
