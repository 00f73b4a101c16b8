package config

import (
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// expandEnv replaces ${VAR} and ${VAR:-default} in the scalar values of the
// parsed document under n and turns $$ into $. A $ followed by anything
// else is kept, so regular expressions like 'x$' need no escaping. As in the
// shell, ":-" also applies when VAR is set but empty. An unset variable
// without a default is an error.
//
// Expansion happens after parsing, inside one value at a time, so a value
// can never change the document's structure: `{a: 1}` or ` # ` in a
// variable stays text in the value it was written in. Keys are taken as
// written, and comments are not part of the document. An unquoted value
// is read again after expansion, as if the result had been written in its
// place (`max_records: ${N}` is a number, `${EMPTY:-}` leaves the default);
// a quoted one stays a string.
//
// Each expanded node keeps its text as written in d.expanded, so that
// messages can name the variables instead of showing their values.
func (d *decoder) expandEnv(n *yaml.Node, lookup func(string) (string, bool)) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			d.expandEnv(c, lookup)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			d.expandEnv(n.Content[i], lookup)
		}
	case yaml.ScalarNode:
		// Aliases are skipped above: the node they name is expanded where
		// it is defined, once.
		if strings.IndexByte(n.Value, '$') < 0 {
			return
		}
		v, changed := d.expandScalar(n, lookup)
		if !changed {
			return
		}
		d.expanded[n] = n.Value
		n.Value = v
		if n.Style&(yaml.TaggedStyle|yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			// An empty tag makes ShortTag and Decode resolve the new
			// value: a number, a boolean, null or a string.
			n.Tag = ""
		}
	}
}

// expandScalar returns n's value with its variables expanded, and whether
// it held anything to expand.
func (d *decoder) expandScalar(n *yaml.Node, lookup func(string) (string, bool)) (string, bool) {
	s := n.Value
	var b strings.Builder
	changed := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) || s[i+1] != '$' && s[i+1] != '{' {
			b.WriteByte(c)
			continue
		}
		changed = true
		if s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			d.envError(n, i, "unterminated ${: expected ${VAR} or ${VAR:-default}")
			b.WriteString(s[i:])
			break
		}
		expr := s[i+2 : i+end]
		name, def, hasDef := expr, "", false
		if j := strings.Index(expr, ":-"); j >= 0 {
			name, def, hasDef = expr[:j], expr[j+2:], true
		}
		val, ok := lookup(name)
		switch {
		case !validEnvName(name):
			d.envError(n, i, "invalid environment variable name "+strconv.Quote(name)+" in ${"+expr+"}")
		case strings.Contains(def, "${"):
			d.envError(n, i, "nested ${ in the default of ${"+name+":-…} is not supported")
		case hasDef && val == "":
			val = def
		case !ok:
			d.envError(n, i, "environment variable "+name+" is not set")
		}
		b.WriteString(val)
		i += end
	}
	return b.String(), changed
}

// envError records a problem with the ${ at byte off of n's value.
func (d *decoder) envError(n *yaml.Node, off int, msg string) {
	line, col := d.valuePos(n, off)
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Col: col, Msg: msg})
}

// valuePos returns the position in the file of byte off of n's value: exact
// when the value up to there is written as it is on the scalar's first line
// (plain or quoted, without escapes or folded lines), else the scalar's own
// position.
func (d *decoder) valuePos(n *yaml.Node, off int) (line, col int) {
	prefix := n.Value[:off]
	src := d.sourceLine(n.Line)
	start := n.Column - 1
	if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 {
		start++ // the opening quote
	}
	i := runeOffset(src, start)
	if i < 0 || !strings.HasPrefix(string(src[i:]), prefix+n.Value[off:min(off+2, len(n.Value))]) {
		return n.Line, n.Column
	}
	return n.Line, start + utf8.RuneCountInString(prefix) + 1
}

// runeOffset returns the byte offset of the rune at index r of b, or -1.
func runeOffset(b []byte, r int) int {
	i := 0
	for ; r > 0 && i < len(b); r-- {
		_, size := utf8.DecodeRune(b[i:])
		i += size
	}
	if r > 0 {
		return -1
	}
	return i
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

// hideArgs returns args for a message about n with nothing that may show a
// piece of an expanded value: a regular expression's error quotes the part
// of the expression it failed on, so only its code is kept.
func (d *decoder) hideArgs(n *yaml.Node, args []any) []any {
	if _, ok := d.expanded[n]; !ok {
		return args
	}
	out := make([]any, len(args))
	for i, a := range args {
		if re, ok := a.(*syntax.Error); ok {
			a = string(re.Code)
		}
		out[i] = a
	}
	return out
}

// hideValues returns msg, a message about n, with every expanded value of n
// or of the nodes inside it replaced by the text it was written as, like
// ${AWS_SECRET_ACCESS_KEY}: a secret passed in a variable is never shown,
// the variable is named instead. A value is replaced where it appears
// quoted, or as a whole word.
func (d *decoder) hideValues(n *yaml.Node, msg string) string {
	if len(d.expanded) == 0 || n == nil {
		return msg
	}
	var pairs []string // old, new, longest old first
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode {
			n = resolve(n)
			if n == nil || n.Kind != yaml.ScalarNode {
				return
			}
		}
		if raw, ok := d.expanded[n]; ok && n.Value != "" {
			pairs = append(pairs, strconv.Quote(n.Value), strconv.Quote(raw), n.Value, raw)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	if len(pairs) == 0 {
		return msg
	}
	return replaceWords(msg, pairs)
}

// replaceWords replaces each old string of pairs (old, new, old, new…)
// found in s, in one pass so that replacements are not replaced again,
// preferring the longest at each position. An old string that begins or
// ends with a letter or digit matches only where s does not continue the
// word.
func replaceWords(s string, pairs []string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		best := -1
		for j := 0; j < len(pairs); j += 2 {
			old := pairs[j]
			if !strings.HasPrefix(s[i:], old) || best >= 0 && len(old) <= len(pairs[best]) {
				continue
			}
			if isWordByte(old[0]) && i > 0 && isWordByte(s[i-1]) ||
				isWordByte(old[len(old)-1]) && i+len(old) < len(s) && isWordByte(s[i+len(old)]) {
				continue
			}
			best = j
		}
		if best < 0 {
			b.WriteByte(s[i])
			i++
			continue
		}
		b.WriteString(pairs[best+1])
		i += len(pairs[best])
	}
	return b.String()
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= utf8.RuneSelf
}
