package agentjson

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The readers below convert a value the way the Kinesis Agent's
// configuration classes do: a number may be written as a string, a string
// may be written as a number, and a boolean as any of the words the agent
// knows. Each returns a message for the value's position when it cannot.

// readString returns a scalar's text (a number or boolean as written).
func readString(n *Node) (string, string) {
	switch n.Kind {
	case String, Number, Bool:
		return n.Text, ""
	}
	return "", fmt.Sprintf("expected a string, got %v", n.Kind)
}

// readInt reads a whole number within [lo, hi] (the Java type's range,
// narrowed to the key's valid range where the agent checks one).
func readInt(n *Node, lo, hi int64) (int64, string) {
	var v int64
	switch n.Kind {
	case Number:
		var err error
		if v, err = strconv.ParseInt(n.Text, 10, 64); err != nil {
			return 0, fmt.Sprintf("%s is not a whole number", n.Text)
		}
	case String:
		var ok bool
		if v, ok = decodeJavaInt(n.Text); !ok {
			return 0, fmt.Sprintf("%q is not a whole number", n.Text)
		}
	default:
		return 0, fmt.Sprintf("expected a whole number, got %v", n.Kind)
	}
	if v < lo || v > hi {
		return 0, fmt.Sprintf("%d is outside the valid range %s", v, rangeText(lo, hi))
	}
	return v, ""
}

func rangeText(lo, hi int64) string {
	switch {
	case hi == math.MaxInt32 || hi == math.MaxInt64:
		return fmt.Sprintf("(at least %d)", lo)
	}
	return fmt.Sprintf("[%d, %d]", lo, hi)
}

// decodeJavaInt parses s as Java's Integer.decode and Long.decode do (which
// the agent uses for numbers given as strings): an optional sign, then
// 0x, 0X or # for hexadecimal, a leading 0 for octal, or decimal digits.
func decodeJavaInt(s string) (int64, bool) {
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	base := 10
	switch {
	case strings.HasPrefix(s, "0x"), strings.HasPrefix(s, "0X"):
		base, s = 16, s[2:]
	case strings.HasPrefix(s, "#"):
		base, s = 16, s[1:]
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	u, err := strconv.ParseUint(s, base, 64)
	if err != nil || u > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// readBool reads a boolean: true or false, or a string (or number) that is
// one of the words the agent accepts, in any case.
func readBool(n *Node) (bool, string) {
	switch n.Kind {
	case Bool:
		return n.Text == "true", ""
	case String, Number:
		switch strings.ToLower(n.Text) {
		case "true", "yes", "t", "y", "1":
			return true, ""
		case "false", "no", "f", "n", "0":
			return false, ""
		}
		return false, fmt.Sprintf("%q is not a boolean (use true, yes, t, y, 1, false, no, f, n or 0)", n.Text)
	}
	return false, fmt.Sprintf("expected a boolean, got %v", n.Kind)
}

// readEnum reads one of values, spelt exactly (the agent's enums are case
// sensitive).
func readEnum(n *Node, values ...string) (string, string) {
	s, msg := readString(n)
	if msg != "" {
		return "", msg
	}
	for _, v := range values {
		if s == v {
			return s, ""
		}
	}
	return "", fmt.Sprintf("%q is not one of %s", s, strings.Join(values, ", "))
}

// readStrings reads a list of scalars.
func readStrings(n *Node) ([]string, *Node, string) {
	if n.Kind != Array {
		return nil, n, fmt.Sprintf("expected a list, got %v", n.Kind)
	}
	out := make([]string, 0, len(n.Elems))
	for _, e := range n.Elems {
		s, msg := readString(e)
		if msg != "" {
			return nil, e, msg
		}
		out = append(out, s)
	}
	return out, nil, ""
}
