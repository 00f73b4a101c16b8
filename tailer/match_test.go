package tailer

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kinetail/kinetail/internal/testfs"
)

// holds tells a copy of a generation from another file that starts the
// same way, also when the copy is shorter than what was read (lines written
// between logrotate's copy and its truncation) or compressed.
func TestPlannerHolds(t *testing.T) {
	d := testfs.New(t)
	var b strings.Builder
	for i := range 60 {
		b.WriteString(strings.Repeat("x", 20) + " line " + string(rune('a'+i%26)) + "\n")
	}
	content := b.String() // 60 lines of 28 bytes
	d.Write("app.log", content)
	f, err := os.Open(d.Path("app.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id, err := Identify(f)
	if err != nil {
		t.Fatal(err)
	}
	marker := func(off int64) uint64 {
		m, err := readMarker(f, off)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// Read up to line 50, with batches ending at lines 20, 40 and 50.
	g := &gen{pos: Position{ID: id, Offset: 50 * 28, Marker: marker(50 * 28)},
		marks: []mark{{20 * 28, marker(20 * 28)}, {40 * 28, marker(40 * 28)}, {50 * 28, marker(50 * 28)}}}

	lines := strings.SplitAfter(content, "\n")
	edit := func(i int) string { // content with line i changed
		l := slices.Clone(lines)
		l[i] = strings.ToUpper(l[i])
		return strings.Join(l, "")
	}
	tests := []struct {
		name, file, content string
		ok, short           bool
	}{
		{"a complete copy", "app.log.1", content, true, false},
		{"a copy with more after the offset", "app.log.2", content + "more\n", true, false},
		{"a copy made when 45 lines were written", "app.log.3", content[:45*28], true, true},
		{"a copy made before the first batch end", "app.log.4", content[:10*28], false, false},
		{"another file: the first KiB differs", "other.log", edit(17), false, false},
		{"another file: the bytes before the offset differ", "other2.log", edit(49), false, false},
		{"the same file up to the offset, then another", "other3.log", edit(55), true, false},
		{"a gzip copy", "app.log.5.gz", gzipped(t, content), true, false},
		{"a shorter gzip copy", "app.log.6.gz", gzipped(t, content[:45*28]), true, true},
	}
	tl, err := New(Config{Paths: []string{d.Path("*.log")}})
	if err != nil {
		t.Fatal(err)
	}
	p := &planner{t: tl, blocked: make(map[devIno]bool)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.Write(tt.file, tt.content)
			fi, err := os.Stat(d.Path(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			k, _ := keyOf(fi)
			c := &candidate{path: d.Path(tt.file), key: k, fi: fi}
			ok, short := p.holds(c, g)
			if ok != tt.ok || short != tt.short {
				t.Errorf("holds = %v, short %v; want %v, %v", ok, short, tt.ok, tt.short)
			}
			if c.compressed() && ok && !short && c.f == nil {
				t.Error("a compressed copy that holds the generation is not kept open for its start")
			}
			if c.f != nil {
				c.f.Close()
			}
		})
	}
}
