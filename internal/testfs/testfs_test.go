package testfs

import (
	"os"
	"testing"
	"time"
)

func TestDir(t *testing.T) {
	d := New(t)
	d.Write("a/app.log", "one\n")
	d.Append("a/app.log", "two\n")
	if got := d.Read("a/app.log"); got != "one\ntwo\n" {
		t.Fatalf("after append: %q", got)
	}
	d.CopyTruncate("a/app.log", "a/app.log.1")
	if got := d.Read("a/app.log.1"); got != "one\ntwo\n" {
		t.Fatalf("copy: %q", got)
	}
	if got := d.Read("a/app.log"); got != "" {
		t.Fatalf("truncated original: %q", got)
	}
	d.Rename("a/app.log.1", "b/old.log")
	d.Symlink("../b/old.log", "a/link.log")
	if got := d.Read("a/link.log"); got != "one\ntwo\n" {
		t.Fatalf("through link: %q", got)
	}
	d.Truncate("b/old.log", 4)
	if got := d.Read("b/old.log"); got != "one\n" {
		t.Fatalf("truncate: %q", got)
	}
	d.Remove("b/old.log")
	if _, err := os.Stat(d.Path("b/old.log")); !os.IsNotExist(err) {
		t.Fatalf("remove: stat err = %v", err)
	}
	d.Mkdir("c/d")
	if fi, err := os.Stat(d.Path("c/d")); err != nil || !fi.IsDir() {
		t.Fatalf("mkdir: %v", err)
	}
}

func TestOpenAppendKeepsDescriptor(t *testing.T) {
	d := New(t)
	f := d.OpenAppend("app.log")
	d.Rename("app.log", "app.log.1")
	if _, err := f.WriteString("late\n"); err != nil {
		t.Fatal(err)
	}
	if got := d.Read("app.log.1"); got != "late\n" {
		t.Fatalf("write after rename: %q", got)
	}
}

func TestWait(t *testing.T) {
	start := time.Now()
	n := 0
	Wait(t, time.Second, "three polls", func() bool { n++; return n == 3 })
	if n != 3 || time.Since(start) > time.Second {
		t.Fatalf("n = %d", n)
	}
}
