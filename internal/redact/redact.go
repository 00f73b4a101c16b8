// Package redact removes credentials from text that is logged or shown:
// the user information of URLs (an endpoint like http://user:pass@host),
// which would otherwise reach logs, `kinetail check` and `kinetail status`
// as it was written.
package redact

import "strings"

// URLs returns s with the user information (user name and password) of
// every URL in it removed: "http://user:pass@host/x" becomes
// "http://host/x", in a whole URL as in a message that quotes one. It works
// on the text, so a URL that does not parse is redacted too. The user
// information ends at the authority's last "@", and the authority at the
// first "/", "?" or "#" (RFC 3986), or at a space or quote.
func URLs(s string) string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+3])
		s = s[i+3:]
		end := strings.IndexAny(s, "/?#\"'`<> \t\r\n")
		if end < 0 {
			end = len(s)
		}
		if at := strings.LastIndexByte(s[:end], '@'); at >= 0 {
			s = s[at+1:]
		}
	}
}

// Error returns err with its message passed through URLs, or nil. It
// unwraps to err, so errors.Is and errors.As see the original.
func Error(err error) error {
	if err == nil {
		return nil
	}
	return &redacted{err}
}

type redacted struct{ err error }

func (r *redacted) Error() string { return URLs(r.err.Error()) }
func (r *redacted) Unwrap() error { return r.err }
