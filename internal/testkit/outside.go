package testkit

import (
	"crypto/sha1"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Outside is a directory outside the download directory, with a file and
// a subdirectory in it, whose whole tree a test compares before and after
// an attack.
type Outside struct {
	Dir    string
	Victim string // a file in Dir, holding "keep", that an attack would overwrite
	before string // TreeListing of Dir, what Check compares against
}

// NewOutside creates the directory, its victim file and a directory "sub"
// in it, and records its tree.
func NewOutside(t testing.TB) *Outside {
	t.Helper()
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &Outside{Dir: dir, Victim: victim, before: TreeListing(t, dir)}
}

// Record takes the tree as it is now as the one Check compares against,
// for a test that puts more in the directory before the attack.
func (o *Outside) Record(t testing.TB) {
	t.Helper()
	o.before = TreeListing(t, o.Dir)
}

// Check fails the test if anything below the directory changed.
func (o *Outside) Check(t testing.TB) {
	t.Helper()
	if after := TreeListing(t, o.Dir); after != o.before {
		t.Errorf("the directory outside changed:\nbefore:\n%s\nafter:\n%s", o.before, after)
	}
}

// TreeListing describes every entry below dir (without following
// symlinks): path, type, permissions, and the SHA-1 of regular files'
// contents.
func TreeListing(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v", p, fi.Mode())
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha1.Sum(data))
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
