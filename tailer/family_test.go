package tailer

import (
	"slices"
	"testing"
)

// rotationCases are names and whether each is a rotated name of base.
var rotationCases = []struct {
	base, name string
	want       bool
}{
	{"app.log", "app.log.1", true},
	{"app.log", "app.log.12", true},
	{"app.log", "app.log.1.gz", true},
	{"app.log", "app.log.3.zst", true},
	{"app.log", "app.log-20261206", true},
	{"app.log", "app.log-20261206-124700", true},
	{"app.log", "app.log-20261206.gz", true},
	{"app.log", "app.log.2026-12-06_10", true},
	{"app.log", "app.1.log", true},                 // extension option
	{"app.log", "app-20261206.log", true},          // dateext with extension
	{"app.log", "app-20261206.log.gz", true},       // and compressed
	{"access", "access.1", true},                   // no extension
	{"access", "access-20261206.bz2", true},        // no extension, compressed
	{"app.log", "app.log", false},                  // itself
	{"app.log", "app.log.gz", false},               // no suffix
	{"app.log", "app.log.bak", false},              // not a rotation
	{"app.log", "app.log.1.bak", false},            // not a rotation
	{"app.log", "app.error.log", false},            // a sibling log sharing a stem
	{"app.log", "app.log2", false},                 // no separator
	{"app.log", "app.log.", false},                 // nothing after the separator
	{"app.log", "app.log.1-", false},               // must end in a digit
	{"app.log", "other.log.1", false},              // another file
	{"app.log", "xapp.log.1", false},               // another file
	{"app.log", "app.logs.1", false},               // another file
	{"site.log.1", "site.log.2", false},            // a rotated name is its own base
	{".hidden", ".hidden.1", true},                 // a name that is all extension
	{".hidden", "-20261206.hidden", false},         // has no stem
	{"app.log", "app.log.1.gz.gz", false},          // compressed twice
	{"app.log", "app.log.1.log", false},            // stem rule needs the suffix only
	{"app.log", "app.log" + "\xff" + ".1", false},  // bytes that are not a suffix
	{"bad\xffname.log", "bad\xffname.log.1", true}, // names are bytes
}

func TestIsRotation(t *testing.T) {
	for _, tt := range rotationCases {
		if got := isRotation(tt.base, tt.name); got != tt.want {
			t.Errorf("isRotation(%q, %q) = %v, want %v", tt.base, tt.name, got, tt.want)
		}
	}
}

// rotationOrigins finds, for each rotated name, the name it is a rotation
// of, and names nothing it is not a rotation of.
func TestRotationOrigins(t *testing.T) {
	for _, tt := range rotationCases {
		a, b := rotationOrigins(tt.name)
		got := slices.DeleteFunc([]string{a, b}, func(s string) bool { return s == "" })
		if tt.want && !slices.Contains(got, tt.base) {
			t.Errorf("rotationOrigins(%q) = %q, want %q among them", tt.name, got, tt.base)
		}
		for _, o := range got {
			if !isRotation(o, tt.name) {
				t.Errorf("rotationOrigins(%q) = %q: %q is not a rotation of %q", tt.name, got, tt.name, o)
			}
		}
	}
	for _, name := range []string{"app.log", "app.log.gz", "app.log.bak", "1", ".1", "app-x.log"} {
		if a, b := rotationOrigins(name); a != "" || b != "" {
			t.Errorf("rotationOrigins(%q) = %q, %q, want none", name, a, b)
		}
	}
}
