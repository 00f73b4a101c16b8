package redact

import (
	"errors"
	"io/fs"
	"testing"
)

func TestURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"http://127.0.0.1:4568", "http://127.0.0.1:4568"},
		{"http://admin:hunter2@127.0.0.1:4568/", "http://127.0.0.1:4568/"},
		{"https://user@kinesis.example.com", "https://kinesis.example.com"},
		{"http://u:p@ss@host:1/a@b?q=c@d#e@f", "http://host:1/a@b?q=c@d#e@f"},
		{"http://[::1]:80/", "http://[::1]:80/"},
		{"http://u:p@[::1]:80/", "http://[::1]:80/"},
		{"http://u:%zz@host", "http://host"}, // does not parse as a URL
		{
			`PutRecords to http://k:s3cret@10.0.0.1:4568/: Post "http://k:***@10.0.0.1:4568/": dial tcp: refused`,
			`PutRecords to http://10.0.0.1:4568/: Post "http://10.0.0.1:4568/": dial tcp: refused`,
		},
		{"user@example.com wrote", "user@example.com wrote"},
		{"a://b c@d", "a://b c@d"},
	}
	for _, tt := range tests {
		if got := URLs(tt.in); got != tt.want {
			t.Errorf("URLs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestError(t *testing.T) {
	if Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
	inner := &fs.PathError{Op: "open", Path: "http://u:pw@h/x", Err: fs.ErrNotExist}
	err := Error(inner)
	if got, want := err.Error(), "open http://h/x: file does not exist"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe != inner {
		t.Error("the redacted error does not unwrap to the original")
	}
}
