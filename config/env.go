package config

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// expandEnv replaces ${VAR} and ${VAR:-default} in data and turns $$ into $.
// A $ followed by anything else is kept, so regular expressions like 'x$'
// need no escaping. As in the shell, ":-" also applies when VAR is set but
// empty. Lines that hold only a comment are copied unchanged, so comments may
// show the syntax. An unset variable without a default is an error, and so is
// a value with a line break, which would shift every later line number.
//
// Expansion works on the raw text, before YAML parsing, so a value can fill
// any part of the file; it never adds or removes lines, so line numbers in
// later messages stay true.
func (d *decoder) expandEnv(data []byte, lookup func(string) (string, bool)) []byte {
	if bytes.IndexByte(data, '$') < 0 {
		return data
	}
	out := make([]byte, 0, len(data))
	for lineNo := 1; len(data) > 0; lineNo++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line = data[:i+1]
		}
		data = data[len(line):]
		if bytes.HasPrefix(bytes.TrimLeft(line, " \t"), []byte("#")) {
			out = append(out, line...)
			continue
		}
		out = d.expandLine(out, line, lineNo, lookup)
	}
	return out
}

func (d *decoder) expandLine(out, line []byte, lineNo int, lookup func(string) (string, bool)) []byte {
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c != '$' || i+1 == len(line) || line[i+1] != '$' && line[i+1] != '{' {
			out = append(out, c)
			continue
		}
		if line[i+1] == '$' {
			out = append(out, '$')
			i++
			continue
		}
		at := func(msg string) {
			d.errs = append(d.errs, &Error{File: d.file, Line: lineNo, Col: utf8.RuneCount(line[:i]) + 1, Msg: msg})
		}
		end := bytes.IndexByte(line[i:], '}')
		if end < 0 {
			at("unterminated ${: expected ${VAR} or ${VAR:-default}")
			return append(out, line[i:]...)
		}
		expr := string(line[i+2 : i+end])
		name, def, hasDef := expr, "", false
		if j := strings.Index(expr, ":-"); j >= 0 {
			name, def, hasDef = expr[:j], expr[j+2:], true
		}
		val, ok := lookup(name)
		switch {
		case !validEnvName(name):
			at("invalid environment variable name " + strconv.Quote(name) + " in ${" + expr + "}")
		case strings.Index(def, "${") >= 0:
			at("nested ${ in the default of ${" + name + ":-…} is not supported")
		case hasDef && val == "":
			val = def
		case !ok:
			at("environment variable " + name + " is not set")
		}
		if bytes.ContainsAny([]byte(val), "\r\n") {
			at("environment variable " + name + " contains a line break")
			val = ""
		}
		out = append(out, val...)
		i += end
	}
	return out
}

func validEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
