package tailer

import (
	"io/fs"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"
)

// fakeInfo is a FileInfo with a device and inode, for pure tests.
type fakeInfo struct {
	name string
	ino  uint64
	size int64
	mod  time.Time
}

func (f fakeInfo) Name() string       { return f.name }
func (f fakeInfo) Size() int64        { return f.size }
func (f fakeInfo) Mode() fs.FileMode  { return 0o644 }
func (f fakeInfo) ModTime() time.Time { return f.mod }
func (f fakeInfo) IsDir() bool        { return false }
func (f fakeInfo) Sys() any           { return &syscall.Stat_t{Dev: 1, Ino: f.ino} }

func TestDiff(t *testing.T) {
	t0 := time.Unix(1000, 0)
	k := func(ino uint64) devIno { return devIno{1, ino} }
	file := func(ino uint64, size int64) os.FileInfo { return fakeInfo{ino: ino, size: size, mod: t0} }
	type ev struct {
		Op         op
		Path, From string
		Ino        uint64
	}
	tests := []struct {
		name string
		prev map[string]seen
		cur  map[string]os.FileInfo
		want []ev
	}{
		{"nothing changed",
			map[string]seen{"/a": {key: k(1), size: -1}},
			map[string]os.FileInfo{"/a": file(1, 10)},
			nil},
		{"a new file appeared",
			map[string]seen{"/a": {key: k(1), size: -1}},
			map[string]os.FileInfo{"/a": file(1, 10), "/b": file(2, 0)},
			[]ev{{appeared, "/b", "", 2}}},
		{"a file left the globs",
			map[string]seen{"/a": {key: k(1), size: -1}, "/b": {key: k(2), size: -1}},
			map[string]os.FileInfo{"/a": file(1, 10)},
			[]ev{{gone, "/b", "", 2}}},
		{"rename rotation: the old file moved, a new one took its path",
			map[string]seen{"/a.log": {key: k(1), size: -1}},
			map[string]os.FileInfo{"/a.log.1": file(1, 10), "/a.log": file(2, 0)},
			[]ev{{renamed, "/a.log.1", "/a.log", 1}, {appeared, "/a.log", "", 2}}},
		{"rename rotation out of the globs: gone, and a new file",
			map[string]seen{"/a.log": {key: k(1), size: -1}},
			map[string]os.FileInfo{"/a.log": file(2, 0)},
			[]ev{{gone, "/a.log", "", 1}, {appeared, "/a.log", "", 2}}},
		{"an idle file grew",
			map[string]seen{"/a": {key: k(1), size: 10, mod: t0}},
			map[string]os.FileInfo{"/a": file(1, 20)},
			[]ev{{changed, "/a", "", 1}}},
		{"an idle file was truncated",
			map[string]seen{"/a": {key: k(1), size: 10, mod: t0}},
			map[string]os.FileInfo{"/a": file(1, 0)},
			[]ev{{changed, "/a", "", 1}}},
		{"an idle file was touched",
			map[string]seen{"/a": {key: k(1), size: 10, mod: t0}},
			map[string]os.FileInfo{"/a": fakeInfo{ino: 1, size: 10, mod: t0.Add(time.Second)}},
			[]ev{{changed, "/a", "", 1}}},
		{"idle files changed where they were: in path order",
			map[string]seen{"/c": {key: k(3), size: 10, mod: t0}, "/a": {key: k(1), size: 10, mod: t0}, "/b": {key: k(2), size: 10, mod: t0}},
			map[string]os.FileInfo{"/c": file(3, 20), "/a": file(1, 20), "/b": file(2, 10)},
			[]ev{{changed, "/a", "", 1}, {changed, "/c", "", 3}}},
		{"as many paths, one holding another file",
			map[string]seen{"/a": {key: k(1), size: 10, mod: t0}, "/b": {key: k(2), size: -1}},
			map[string]os.FileInfo{"/a": file(1, 20), "/b": file(3, 0)},
			[]ev{{gone, "/b", "", 2}, {changed, "/a", "", 1}, {appeared, "/b", "", 3}}},
		{"a file with a descriptor is not compared",
			map[string]seen{"/a": {key: k(1), size: -1}},
			map[string]os.FileInfo{"/a": file(1, 20)},
			nil},
		{"a file linked at two paths counts at the smaller one",
			nil,
			map[string]os.FileInfo{"/b": file(1, 0), "/a": file(1, 0)},
			[]ev{{appeared, "/a", "", 1}}},
		{"two files swapped paths",
			map[string]seen{"/a": {key: k(1), size: -1}, "/b": {key: k(2), size: -1}},
			map[string]os.FileInfo{"/a": file(2, 0), "/b": file(1, 0)},
			[]ev{{renamed, "/a", "/b", 2}, {renamed, "/b", "/a", 1}}},
		{"events are ordered: gone, renamed, changed, appeared",
			map[string]seen{"/z": {key: k(9), size: -1}, "/m": {key: k(5), size: 1, mod: t0}, "/r": {key: k(3), size: -1}},
			map[string]os.FileInfo{"/a": file(1, 0), "/m": file(5, 2), "/s": file(3, 0)},
			[]ev{{gone, "/z", "", 9}, {renamed, "/s", "/r", 3}, {changed, "/m", "", 5}, {appeared, "/a", "", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []ev
			for _, e := range diff(tt.prev, tt.cur) {
				if (e.Info == nil) != (e.Op == gone) {
					t.Errorf("%v %s: Info = %v", e.Op, e.Path, e.Info)
				}
				got = append(got, ev{e.Op, e.Path, e.From, e.Key.ino})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("diff = %v\nwant   %v", got, tt.want)
			}
		})
	}
}
