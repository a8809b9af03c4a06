package metainfo

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestValidatePath(t *testing.T) {
	tests := []struct {
		path []string
		want string // "" = accepted; else a substring of the error
	}{
		{[]string{"a"}, ""},
		{[]string{"dir", "sub", "file.txt"}, ""},
		{[]string{".hidden", "..x", "x..", "ab:c", "C", "1:x"}, ""},
		{[]string{strings.Repeat("x", 255)}, ""},
		{nil, "empty path"},
		{[]string{}, "empty path"},
		{[]string{""}, "empty component"},
		{[]string{"a", ""}, "empty component"},
		{[]string{"."}, `component "." not allowed`},
		{[]string{"a", "..", "..", "etc", "passwd"}, `unsafe file path "a/../../etc/passwd": component ".." not allowed`},
		{[]string{"/etc/passwd"}, "contains '/'"},
		{[]string{"a/b"}, "contains '/'"},
		{[]string{`a\b`}, `contains '\'`},
		{[]string{"a\x00"}, "NUL"},
		{[]string{"C:"}, "drive letter"},
		{[]string{"z:foo"}, "drive letter"},
		{[]string{strings.Repeat("x", 256)}, "256 bytes"},
		{make([]string, MaxPathComponents+1), "components"},
	}
	for _, tc := range tests {
		err := ValidatePath(tc.path)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("ValidatePath(%q) = %v, want nil", tc.path, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("ValidatePath(%q) = %v, want error containing %q", tc.path, err, tc.want)
		}
	}
}

func TestFilePath(t *testing.T) {
	root := t.TempDir()
	multi := &Info{Name: "top", Files: []File{
		{Path: []string{"a", "b.txt"}, Length: 1},
		{Path: []string{"..", "x"}, Length: 1},
		{Length: 5, Attr: "p"},
	}}
	got, err := multi.FilePath(root, 0)
	if err != nil || got != filepath.Join(root, "top", "a", "b.txt") {
		t.Errorf("FilePath(0) = %q, %v", got, err)
	}
	if _, err := multi.FilePath(root, 1); err == nil || !strings.Contains(err.Error(), `"../x"`) {
		t.Errorf("FilePath of an escaping path: %v", err)
	}
	if _, err := multi.FilePath(root, 2); err == nil {
		t.Error("FilePath of a padding file without path succeeded")
	}
	if _, err := multi.FilePath(root, 3); err == nil {
		t.Error("FilePath out of range succeeded")
	}
	single := &Info{Name: "f.bin", SingleFile: true, Files: []File{{Length: 1}}}
	if got, err := single.FilePath(root, 0); err != nil || got != filepath.Join(root, "f.bin") {
		t.Errorf("single FilePath = %q, %v", got, err)
	}
	for _, name := range []string{"", ".", "..", "a/b", "/abs"} {
		bad := &Info{Name: name, SingleFile: true, Files: []File{{Length: 1}}}
		if _, err := bad.FilePath(root, 0); err == nil {
			t.Errorf("FilePath with name %q succeeded", name)
		}
	}
}

func TestCheckFileTree(t *testing.T) {
	f := func(attr string, path ...string) File { return File{Path: path, Attr: attr, Length: 1} }
	tests := []struct {
		name  string
		files []File
		want  string
	}{
		{"distinct", []File{f("", "a"), f("", "b", "c"), f("", "b", "d")}, ""},
		{"case differs", []File{f("", "A"), f("", "a")}, ""},
		{"prefix of name only", []File{f("", "a"), f("", "ab", "c")}, ""},
		{"duplicate", []File{f("", "a", "b"), f("", "a", "b")}, `duplicate file path "a/b"`},
		{"file then dir", []File{f("", "a"), f("", "a", "b")}, `"a" is both`},
		{"dir then file", []File{f("", "a", "b", "c"), f("", "a", "b")}, `"a/b" is both`},
		{"padding duplicates ok", []File{f("p", ".pad", "1"), f("p", ".pad", "1")}, ""},
		{"padding shadowing ok", []File{f("", "a"), f("p", "a", "b")}, ""},
	}
	for _, tc := range tests {
		err := checkFileTree(tc.files)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
