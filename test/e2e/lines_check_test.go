//go:build e2e

package e2e

import (
	"slices"
	"testing"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// The checker the rotation, crash and scale tests rely on finds every kind
// of wrong delivery.
func TestCheckFindsLossDuplicatesAndGarbage(t *testing.T) {
	rec := func(name string, n int) kinesistest.StoredRecord {
		b := appendLine(nil, name, n)
		return kinesistest.StoredRecord{Data: b[:len(b)-1]}
	}
	raw := func(s string) kinesistest.StoredRecord { return kinesistest.StoredRecord{Data: []byte(s)} }
	written := map[string]int{"logsapp": 3, "d1a": 2}
	cases := []struct {
		name    string
		recs    []kinesistest.StoredRecord
		want    tally
		samples []string
	}{
		{name: "all once",
			recs: []kinesistest.StoredRecord{rec("logsapp", 0), rec("d1a", 1), rec("logsapp", 2), rec("logsapp", 1), rec("d1a", 0)},
			want: tally{written: 5, stored: 5}},
		{name: "a run of missing lines is reported as a range",
			recs:    []kinesistest.StoredRecord{rec("logsapp", 0), rec("d1a", 0), rec("d1a", 1)},
			want:    tally{written: 5, stored: 3, missing: 2},
			samples: []string{"missing logsapp-1..2"}},
		{name: "repeats count as duplicates",
			recs: []kinesistest.StoredRecord{rec("logsapp", 0), rec("logsapp", 0), rec("logsapp", 0), rec("logsapp", 1),
				rec("logsapp", 2), rec("d1a", 0), rec("d1a", 1), rec("d1a", 1)},
			want: tally{written: 5, stored: 8, dups: 3}},
		{name: "lines never written, cut lines and gzip bytes are unknown",
			recs: []kinesistest.StoredRecord{rec("logsapp", 0), rec("logsapp", 1), rec("logsapp", 2), rec("d1a", 0), rec("d1a", 1),
				rec("logsapp", 3), rec("other", 0), raw("logsapp-1 GET /api"), raw("\x1f\x8b\x08\x00"), raw("logsapp-01" + linePad)},
			want: tally{written: 5, stored: 10, unknown: 5, gzip: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := check(tc.recs, written)
			counts := func(c tally) [6]int { return [6]int{c.written, c.stored, c.missing, c.dups, c.unknown, c.gzip} }
			if counts(got) != counts(tc.want) {
				t.Errorf("check = %s, gzip %d; want %s, gzip %d", got, got.gzip, tc.want, tc.want.gzip)
			}
			if tc.samples != nil && !slices.Equal(got.samples, tc.samples) {
				t.Errorf("samples = %q, want %q", got.samples, tc.samples)
			}
		})
	}
}

func TestLineNameIsUniquePerFileAndParses(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"/x/logs/app.log", "logsapp"},
		{"/x/d-1/web.access.log", "d1webaccess"},
		{"/x/data/d0042/f7.log", "d0042f7"},
	} {
		if got := lineName(tc.path); got != tc.want {
			t.Errorf("lineName(%q) = %q, want %q", tc.path, got, tc.want)
		}
		b := appendLine(nil, tc.want, 1234)
		if name, n, ok := parseLine(b[:len(b)-1]); !ok || name != tc.want || n != 1234 {
			t.Errorf("parseLine(%q) = %q, %d, %v", b, name, n, ok)
		}
	}
}
