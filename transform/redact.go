package transform

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"

	"github.com/kinetail/kinetail/config"
)

// redact masks sensitive substrings. In a JSON record (any valid JSON
// value) only string values are searched, never keys, and a string with a
// match is written again with each match replaced by the mask; everything
// else is copied byte for byte, so the output is valid JSON. A record that
// is not JSON is searched as raw text and the mask is written as it is.
//
// The built-in patterns are hand-written scanners that allocate nothing:
//   - email: local@domain.tld, the TLD two letters or more.
//   - credit_card: 13 to 19 digits, single spaces or dashes allowed between
//     them, not touching other letters or digits, that pass the Luhn check
//     (so order numbers and timestamps are left alone).
//   - aws_access_key: AKIA or ASIA and 16 upper-case letters or digits, as
//     a whole word.
//   - aws_secret_key: a run of exactly 40 characters of [A-Za-z0-9/+] (the
//     form of an AWS secret access key) that follows a word containing
//     "secret" (any case) and at most five separators among space, tab,
//     quotes, ':' and '=' (aws_secret_access_key = …, "SecretAccessKey":
//     "…"), or that is in the value of a JSON member whose key contains
//     "secret". The context is required because 40 such characters alone
//     are as likely a hash or a path.
//   - ipv4: four dotted numbers of 0 to 255 not touching letters, digits or
//     further dotted numbers (so version strings like 1.2.3.4.5 are not
//     masked).
//
// Custom patterns use Go's regexp: each string value is searched once per
// pattern, which costs far more than the built-in scanners (see
// BenchmarkChain/redact), and each match allocates. Empty matches are
// ignored.
type redact struct {
	email, card, accessKey, secretKey, ipv4 bool
	custom                                  []*regexp.Regexp

	mask    []byte // as configured, for raw text
	maskEsc []byte // JSON-escaped, for string values

	spans   []span // matches in the current text
	stack   []byte // open containers of the current record
	scratch []byte // a decoded string value
	keyBuf  []byte // a decoded key
}

func newRedact(c *config.Redact) (*redact, error) {
	p := &redact{mask: []byte(c.Mask)}
	if c.Mask == "" {
		p.mask = []byte("****")
	}
	p.maskEsc = appendEscaped(nil, p.mask)
	for _, name := range c.Patterns {
		switch name {
		case "email":
			p.email = true
		case "credit_card":
			p.card = true
		case "aws_access_key":
			p.accessKey = true
		case "aws_secret_key":
			p.secretKey = true
		case "ipv4":
			p.ipv4 = true
		default:
			return nil, fmt.Errorf("unknown pattern %q", name)
		}
	}
	for i, expr := range c.Custom {
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("custom %d: %w", i+1, err)
		}
		p.custom = append(p.custom, re)
	}
	if len(c.Patterns) == 0 && len(p.custom) == 0 {
		return nil, fmt.Errorf("needs patterns or custom")
	}
	return p, nil
}

func (p *redact) Append(dst, in []byte) ([]byte, error) {
	if out, ok := p.appendJSON(dst, in); ok {
		return out, nil
	}
	if !p.find(in, false) {
		return append(dst, in...), nil
	}
	return p.appendMasked(dst, in, false), nil
}

// appendJSON appends in with its string values redacted, or returns false
// if in is not valid JSON.
func (p *redact) appendJSON(dst, in []byte) ([]byte, bool) {
	orig := len(dst)
	p.stack = p.stack[:0]
	copied := 0        // in[:copied] has been written to dst
	secretKey := false // the current member's key contains "secret"
	var ok bool
	i := skipWS(in, 0)
	for {
		// A value starts at in[i].
		if i >= len(in) {
			return dst[:orig], false
		}
		switch c := in[i]; c {
		case '{', '[':
			if len(p.stack) >= maxDepth {
				return dst[:orig], false
			}
			i = skipWS(in, i+1)
			closer := byte(']')
			if c == '{' {
				closer = '}'
			}
			if i < len(in) && in[i] == closer {
				i++
				break
			}
			p.stack = append(p.stack, c)
			if c == '{' {
				if i, secretKey, ok = p.key(in, i); !ok {
					return dst[:orig], false
				}
			}
			continue
		case '"':
			end, esc, err := stringEnd(in, i)
			if err != nil {
				return dst[:orig], false
			}
			text := in[i+1 : end-1]
			if esc {
				p.scratch, _ = AppendUnescaped(p.scratch[:0], text) // validated by the object scan
				text = p.scratch
			}
			if p.find(text, secretKey) {
				dst = append(dst, in[copied:i]...)
				dst = append(dst, '"')
				dst = p.appendMasked(dst, text, true)
				dst = append(dst, '"')
				copied = end
			}
			i = end
		case 't', 'f', 'n':
			lit := "null"
			if c == 't' {
				lit = "true"
			} else if c == 'f' {
				lit = "false"
			}
			if !hasLiteral(in, i, lit) {
				return dst[:orig], false
			}
			i += len(lit)
		default:
			end := scanNumber(in, i)
			if end < 0 {
				return dst[:orig], false
			}
			i = end
		}
		// A value ended at in[i]: close containers until one wants another
		// element, or the record is done.
		for {
			i = skipWS(in, i)
			if len(p.stack) == 0 {
				if i != len(in) {
					return dst[:orig], false
				}
				return append(dst, in[copied:]...), true
			}
			if i >= len(in) {
				return dst[:orig], false
			}
			top := p.stack[len(p.stack)-1]
			c := in[i]
			if c == ',' {
				i = skipWS(in, i+1)
				if top == '{' {
					if i, secretKey, ok = p.key(in, i); !ok {
						return dst[:orig], false
					}
				}
				break
			}
			if top == '{' && c == '}' || top == '[' && c == ']' {
				p.stack = p.stack[:len(p.stack)-1]
				secretKey = false // the outer member's key is not kept
				i++
				continue
			}
			return dst[:orig], false
		}
	}
}

// key checks an object key and its colon at in[i], and returns where the
// value starts and whether the key contains "secret".
func (p *redact) key(in []byte, i int) (next int, secret, ok bool) {
	if i >= len(in) || in[i] != '"' {
		return 0, false, false
	}
	end, esc, err := stringEnd(in, i)
	if err != nil {
		return 0, false, false
	}
	if p.secretKey {
		k := in[i+1 : end-1]
		if esc {
			p.keyBuf, _ = AppendUnescaped(p.keyBuf[:0], k) // validated by the object scan
			k = p.keyBuf
		}
		secret = containsSecret(k)
	}
	i = skipWS(in, end)
	if i >= len(in) || in[i] != ':' {
		return 0, false, false
	}
	return skipWS(in, i+1), secret, true
}

// find sets p.spans to the sorted, disjoint matches in text and reports
// whether there is any. secretKey tells that text is the value of a key
// containing "secret".
func (p *redact) find(text []byte, secretKey bool) bool {
	p.spans = p.spans[:0]
	if p.email {
		p.spans = findEmails(p.spans, text)
	}
	if p.card {
		p.spans = findCards(p.spans, text)
	}
	if p.accessKey {
		p.spans = findAccessKeys(p.spans, text)
	}
	if p.secretKey {
		p.spans = findSecretKeys(p.spans, text, secretKey)
	}
	if p.ipv4 {
		p.spans = findIPv4(p.spans, text)
	}
	for _, re := range p.custom {
		for _, loc := range re.FindAllIndex(text, -1) {
			if loc[1] > loc[0] {
				p.spans = append(p.spans, span{loc[0], loc[1]})
			}
		}
	}
	if len(p.spans) == 0 {
		return false
	}
	// Sort by start and merge overlaps; there are few spans, and
	// slices.SortFunc on a non-escaping slice allocates nothing.
	slices.SortFunc(p.spans, func(a, b span) int { return a.start - b.start })
	out := p.spans[:1]
	for _, s := range p.spans[1:] {
		last := &out[len(out)-1]
		if s.start <= last.end {
			last.end = max(last.end, s.end)
			continue
		}
		out = append(out, s)
	}
	p.spans = out
	return true
}

// appendMasked appends text with p.spans replaced by the mask, escaped for
// a JSON string body when esc is set.
func (p *redact) appendMasked(dst, text []byte, esc bool) []byte {
	prev := 0
	for _, s := range p.spans {
		if esc {
			dst = appendEscaped(dst, text[prev:s.start])
			dst = append(dst, p.maskEsc...)
		} else {
			dst = append(dst, text[prev:s.start]...)
			dst = append(dst, p.mask...)
		}
		prev = s.end
	}
	if esc {
		return appendEscaped(dst, text[prev:])
	}
	return append(dst, text[prev:]...)
}

func isAlnum(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isEmailLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isDomain(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// findEmails appends the spans of e-mail addresses in text.
func findEmails(spans []span, text []byte) []span {
	from := 0 // text[:from] holds no further match
	for {
		a := bytes.IndexByte(text[from:], '@')
		if a < 0 {
			return spans
		}
		a += from
		start := a
		for start > from && isEmailLocal(text[start-1]) {
			start--
		}
		end := a + 1
		for end < len(text) && isDomain(text[end]) {
			end++
		}
		for end > a+1 && (text[end-1] == '.' || text[end-1] == '-') {
			end-- // a full stop after the address ends the sentence
		}
		if start < a && end > a+1 && text[a+1] != '.' && text[a+1] != '-' && validTLD(text[a+1:end]) {
			spans = append(spans, span{start, end})
			from = end
		} else {
			from = a + 1
		}
	}
}

// validTLD reports whether domain has a dot and its last label is two or
// more letters.
func validTLD(domain []byte) bool {
	dot := bytes.LastIndexByte(domain, '.')
	if dot < 0 || len(domain)-dot-1 < 2 {
		return false
	}
	for _, c := range domain[dot+1:] {
		if !isLetter(c) {
			return false
		}
	}
	return true
}

// findCards appends the spans of card numbers in text.
func findCards(spans []span, text []byte) []span {
	for i := 0; i < len(text); {
		if !isDigit(text[i]) {
			i++
			continue
		}
		if i > 0 && (isLetter(text[i-1]) || text[i-1] == '_') {
			// Part of a word: skip it.
			for i < len(text) && (isAlnum(text[i]) || text[i] == '_') {
				i++
			}
			continue
		}
		// Digits with single separators between them.
		start, end, n := i, i, 0
		j := i
		for j < len(text) {
			if isDigit(text[j]) {
				n++
				j++
				end = j
				continue
			}
			if (text[j] == ' ' || text[j] == '-') && j+1 < len(text) && isDigit(text[j+1]) {
				j++
				continue
			}
			break
		}
		i = end
		if end < len(text) && (isLetter(text[end]) || text[end] == '_') {
			continue
		}
		if n >= 13 && n <= 19 && luhn(text[start:end]) {
			spans = append(spans, span{start, end})
		}
	}
	return spans
}

// luhn reports whether the digits of s (separators ignored) pass the Luhn
// check.
func luhn(s []byte) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if !isDigit(c) {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// findAccessKeys appends the spans of AWS access key ids in text.
func findAccessKeys(spans []span, text []byte) []span {
	for i := 0; i+20 <= len(text); i++ {
		if text[i] != 'A' || text[i+2] != 'I' || text[i+3] != 'A' ||
			(text[i+1] != 'K' && text[i+1] != 'S') || i > 0 && isAlnum(text[i-1]) {
			continue
		}
		ok := i+20 == len(text) || !isAlnum(text[i+20])
		for _, c := range text[i+4 : i+20] {
			if !isDigit(c) && (c < 'A' || c > 'Z') {
				ok = false
				break
			}
		}
		if ok {
			spans = append(spans, span{i, i + 20})
			i += 19
		}
	}
	return spans
}

func isSecretChar(c byte) bool { return isAlnum(c) || c == '/' || c == '+' }

// findSecretKeys appends the spans of AWS secret access keys in text; see
// redact for the heuristic.
func findSecretKeys(spans []span, text []byte, secretKey bool) []span {
	for i := 0; i < len(text); {
		if !isSecretChar(text[i]) {
			i++
			continue
		}
		start := i
		for i < len(text) && isSecretChar(text[i]) {
			i++
		}
		if i-start == 40 && (i == len(text) || text[i] != '=') &&
			(secretKey || secretBefore(text[:start])) {
			spans = append(spans, span{start, i})
		}
	}
	return spans
}

// secretBefore reports whether b ends with a word containing "secret"
// followed by one to five separators.
func secretBefore(b []byte) bool {
	j := len(b)
	for j > 0 && len(b)-j < 5 && isSecretSep(b[j-1]) {
		j--
	}
	if j == len(b) || j > 0 && isSecretSep(b[j-1]) {
		return false
	}
	w := j
	for w > 0 && (isAlnum(b[w-1]) || b[w-1] == '_' || b[w-1] == '-') {
		w--
	}
	return containsSecret(b[w:j])
}

func isSecretSep(c byte) bool {
	return c == ' ' || c == '\t' || c == '"' || c == '\'' || c == ':' || c == '='
}

// containsSecret reports whether b contains "secret" in any case.
func containsSecret(b []byte) bool {
	const word = "secret"
	for i := 0; i+len(word) <= len(b); i++ {
		k := 0
		for k < len(word) && b[i+k]|0x20 == word[k] {
			k++
		}
		if k == len(word) {
			return true
		}
	}
	return false
}

// findIPv4 appends the spans of IPv4 addresses in text.
func findIPv4(spans []span, text []byte) []span {
	for i := 0; i < len(text); {
		if !isDigit(text[i]) || i > 0 && (isAlnum(text[i-1]) || text[i-1] == '.') {
			i++
			continue
		}
		end, ok := ipv4End(text, i)
		if ok {
			spans = append(spans, span{i, end})
			i = end
			continue
		}
		i = digitsEnd(text, i)
	}
	return spans
}

// ipv4End returns the end of the dotted quad at text[i].
func ipv4End(text []byte, i int) (int, bool) {
	for part := 0; part < 4; part++ {
		if part > 0 {
			if !at(text, i, '.') {
				return 0, false
			}
			i++
		}
		j := digitsEnd(text, i)
		if j == i || j-i > 3 || num(text, i, j-i) > 255 {
			return 0, false
		}
		i = j
	}
	if i < len(text) && (isAlnum(text[i]) || text[i] == '.' && i+1 < len(text) && isDigit(text[i+1])) {
		return 0, false
	}
	return i, true
}
