package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Every corpus holds lines of 100-200 bytes that its transform accepts, and
// the table has a row per transform.
func TestTransformsTable(t *testing.T) {
	cases := transformCases()
	for _, tc := range cases {
		for i, l := range corpus(tc) {
			if len(l) < 100 || len(l) > 200 || bytes.IndexByte(l, '\n') >= 0 {
				t.Fatalf("%s: line %d has %d bytes: %q", tc.name, i, len(l), l)
			}
		}
	}
	var out, log bytes.Buffer
	// runTransforms fails when a transform rejects a corpus line.
	if err := runTransforms(options{duration: time.Millisecond}, &out, &log); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		if !strings.Contains(out.String(), "| "+tc.name+" ") {
			t.Errorf("no row for %s in\n%s", tc.name, &out)
		}
	}
	if err := runTransforms(options{duration: time.Millisecond, only: "nonesuch"}, &out, &log); err == nil {
		t.Error("-only with no match did not fail")
	}
}
