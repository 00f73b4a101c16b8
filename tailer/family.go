package tailer

import (
	"path/filepath"
	"strings"
)

// A followed path's family is the set of names its earlier generations get
// when they are rotated: logrotate's numbered names (app.log.1), dated
// names (app.log-20261206, dateext), either one before the extension
// (app.1.log, app-20261206.log, logrotate's extension option), each
// optionally compressed (app.log.2.gz). Only names are looked at here;
// whether a file of the family holds a generation the flow still has to
// read is decided by its content and modification time (see plan.go).

// isRotation reports whether name is a rotated name of the file called base.
func isRotation(base, name string) bool {
	if name == base {
		return false
	}
	name = trimCompression(name)
	if rest, ok := strings.CutPrefix(name, base); ok && isRotationSuffix(rest) {
		return true
	}
	ext := filepath.Ext(base)
	if ext == "" || ext == base {
		return false
	}
	stem := base[:len(base)-len(ext)]
	mid, ok := strings.CutPrefix(name, stem)
	if !ok {
		return false
	}
	mid, ok = strings.CutSuffix(mid, ext)
	return ok && isRotationSuffix(mid)
}

// isRotationSuffix reports whether s is what rotation appends to a name: a
// separator, then a number or a date and time made of digits and
// separators, ending in a digit (".1", "-20261206", ".2026-12-06_10").
func isRotationSuffix(s string) bool {
	if len(s) < 2 || !isSep(s[0]) || !isDigit(s[1]) || !isDigit(s[len(s)-1]) {
		return false
	}
	for i := 2; i < len(s); i++ {
		if !isDigit(s[i]) && !isSep(s[i]) {
			return false
		}
	}
	return true
}

func isSep(c byte) bool   { return c == '.' || c == '-' || c == '_' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// trimCompression removes a compression extension (see codecOfExt) from
// name.
func trimCompression(name string) string {
	if codecOfExt(name) == codecNone {
		return name
	}
	if s := strings.TrimSuffix(name, filepath.Ext(name)); s != "" {
		return s
	}
	return name
}
