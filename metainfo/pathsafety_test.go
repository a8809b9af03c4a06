package metainfo

import (
	"path/filepath"
	"strings"
	"testing"

	"shoal/bencode"
)

// hostileInfo returns a bencoded info dictionary with the given name and
// file list (nil: single-file form), as a hostile torrent maker would
// write it: straight with package bencode, since Build and SetInfo refuse
// unsafe paths. Every file is one byte long, so one piece hash suffices.
func hostileInfo(t *testing.T, name any, files []map[string]any) []byte {
	t.Helper()
	info := map[string]any{
		"name":         name,
		"piece length": 16384,
		"pieces":       strings.Repeat("x", 20),
	}
	if files == nil {
		info["length"] = 1
	} else {
		list := make([]any, len(files))
		total := 0
		for i, f := range files {
			if _, ok := f["length"]; !ok {
				f["length"] = 1
			}
			total += f["length"].(int)
			list[i] = f
		}
		info["files"] = list
		if total == 0 {
			info["pieces"] = ""
		}
	}
	raw, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// torrentOf wraps an info dictionary into a whole .torrent file.
func torrentOf(t *testing.T, info []byte) []byte {
	t.Helper()
	data, err := bencode.Marshal(map[string]any{
		"announce": "http://tracker.invalid/announce",
		"info":     bencode.RawMessage(info),
	})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// pathFile is one "files" entry with the given path components.
func pathFile(components ...string) map[string]any {
	return map[string]any{"path": components}
}

// repeat returns n copies of s.
func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// unsafePathCases are torrents whose names or paths would lead outside the
// download directory or cannot be created on it. want is a substring of
// the error: the offending path, quoted as the error shows it. The cmd
// tests (cmd/shoal/pathsafety_test.go) mirror this list end to end.
var unsafePathCases = []struct {
	name  string
	tname any // the torrent's name
	files []map[string]any
	want  string
}{
	{"dot-dot components", "top", []map[string]any{pathFile("..", "..", "etc", "passwd")}, `"../../etc/passwd": component ".." not allowed`},
	{"dot-dot in the middle", "top", []map[string]any{pathFile("a", "..", "..", "x")}, `"a/../../x"`},
	{"absolute component", "top", []map[string]any{pathFile("/etc/passwd")}, `"/etc/passwd": component "/etc/passwd" contains '/'`},
	{"absolute by empty first component", "top", []map[string]any{pathFile("", "etc", "passwd")}, `"/etc/passwd": empty component`},
	{"separator inside a component", "top", []map[string]any{pathFile("a/../../x")}, `"a/../../x"`},
	{"backslash", "top", []map[string]any{pathFile(`..\..\x`)}, `unsafe file path "..\\..\\x"`},
	{"NUL", "top", []map[string]any{pathFile("a\x00b")}, `"a\x00b": component "a\x00b" contains NUL`},
	{"empty path", "top", []map[string]any{pathFile()}, `unsafe file path: empty path`},
	{"empty component", "top", []map[string]any{pathFile("a", "", "b")}, `"a//b": empty component`},
	{"dot", "top", []map[string]any{pathFile(".", "x")}, `"./x": component "." not allowed`},
	{"dot-dot alone", "top", []map[string]any{pathFile("..")}, `"..": component ".." not allowed`},
	{"drive letter", "top", []map[string]any{pathFile("C:", "x")}, `"C:/x"`},
	{"component of 256 bytes", "top", []map[string]any{pathFile("d", strings.Repeat("n", 256))}, `component of 256 bytes, at most 255`},
	{"path longer than PATH_MAX", "top", []map[string]any{pathFile(repeat(strings.Repeat("p", 250), 20)...)}, `5019 bytes long, at most 4095`},
	{"name and path longer than PATH_MAX", strings.Repeat("n", 255), []map[string]any{pathFile(repeat(strings.Repeat("p", 240), 16)...)}, `4111 bytes long, at most 4095`},
	{"too deep", "top", []map[string]any{pathFile(repeat("d", MaxPathComponents+1)...)}, `257 components`},
	{"file is a directory of another", "top", []map[string]any{pathFile("a"), pathFile("a", "b")}, `path "a" is both a file and a directory`},
	{"directory is a file of another", "top", []map[string]any{pathFile("a", "b", "c"), pathFile("a", "b")}, `path "a/b" is both a file and a directory`},
	{"duplicate file", "top", []map[string]any{pathFile("a"), pathFile("a")}, `duplicate file path "a"`},
	{"hostile path.utf-8 over a safe path", "top", []map[string]any{{"path": []string{"safe"}, "path.utf-8": []string{"..", "x"}}}, `"../x"`},
	{"symlink target escaping", "top", []map[string]any{pathFile("data"), {"path": []string{"link"}, "attr": "l", "length": 0, "symlink path": []string{"..", "..", "etc"}}}, `symlink target: unsafe file path "../../etc"`},
	{"name ..", "..", []map[string]any{pathFile("x")}, `unsafe torrent name "..": component ".." not allowed`},
	{"name .", ".", []map[string]any{pathFile("x")}, `unsafe torrent name "."`},
	{"name empty", "", []map[string]any{pathFile("x")}, `unsafe torrent name "": empty component`},
	{"name absolute", "/tmp/abs", []map[string]any{pathFile("x")}, `unsafe torrent name "/tmp/abs": component "/tmp/abs" contains '/'`},
	{"name with a separator", "a/../..", []map[string]any{pathFile("x")}, `unsafe torrent name "a/../.."`},
	{"name of 256 bytes", strings.Repeat("n", 256), []map[string]any{pathFile("x")}, `component of 256 bytes`},
	{"single-file name ..", "..", nil, `unsafe torrent name ".."`},
	{"single-file name absolute", "/etc/passwd", nil, `unsafe torrent name "/etc/passwd"`},
	{"single-file name empty", "", nil, `unsafe torrent name ""`},
}

// TestParseRejectsUnsafePaths checks every path attack at the first line
// of defence: Parse (a .torrent file) and FromInfoBytes (metadata fetched
// from peers for a magnet link, BEP 9) both refuse the torrent with an
// error that names the offending path.
func TestParseRejectsUnsafePaths(t *testing.T) {
	for _, tc := range unsafePathCases {
		t.Run(tc.name, func(t *testing.T) {
			info := hostileInfo(t, tc.tname, tc.files)
			if _, err := Parse(torrentOf(t, info)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse: %v, want an error containing %s", err, tc.want)
			}
			if _, err := FromInfoBytes(info); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("FromInfoBytes: %v, want an error containing %s", err, tc.want)
			}
		})
	}
}

// TestParseRejectsHostileNameUTF8 checks that "name.utf-8", which is
// preferred over "name" when present, is validated the same way.
func TestParseRejectsHostileNameUTF8(t *testing.T) {
	var info map[string]any
	if err := bencode.Unmarshal(hostileInfo(t, "safe", []map[string]any{pathFile("x")}), &info); err != nil {
		t.Fatal(err)
	}
	info["name.utf-8"] = ".."
	raw, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	const want = `unsafe torrent name ".."`
	if _, err := Parse(torrentOf(t, raw)); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Parse: %v, want %s", err, want)
	}
	if _, err := FromInfoBytes(raw); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("FromInfoBytes: %v, want %s", err, want)
	}
}

// TestParseAcceptsEdgePaths checks what must still be accepted: names at
// the limits, and names that are not UTF-8 (kept byte for byte; see
// ValidatePath for why).
func TestParseAcceptsEdgePaths(t *testing.T) {
	tests := []struct {
		name  string
		tname string
		path  []string
	}{
		{"component of 255 bytes", "top", []string{strings.Repeat("n", 255)}},
		// "top" + 15 × "/ppp…" (256 bytes) + "/qqq…" (252 bytes) = 4095 bytes.
		{"path of exactly MaxPathLength", "top", append(repeat(strings.Repeat("p", 255), 15), strings.Repeat("q", 251))},
		{"not UTF-8", "caf\xe9", []string{"a\xff\xfeb.txt"}},
		{"dots that are not . or ..", "...", []string{"..x", "x..", ".hidden"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mi, err := Parse(torrentOf(t, hostileInfo(t, tc.tname, []map[string]any{pathFile(tc.path...)})))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if mi.Info.Name != tc.tname || strings.Join(mi.Info.Files[0].Path, "/") != strings.Join(tc.path, "/") {
				t.Errorf("parsed name %q path %q, want %q %q", mi.Info.Name, mi.Info.Files[0].Path, tc.tname, tc.path)
			}
			if _, err := mi.Info.FilePath("/dl", 0); err != nil {
				t.Errorf("FilePath: %v", err)
			}
		})
	}
}

// TestFilePathRejectsLongPaths checks FilePath's own length check, for an
// Info built in memory (not through Parse), and that the error shortens a
// long path instead of printing all of it.
func TestFilePathRejectsLongPaths(t *testing.T) {
	info := &Info{Name: strings.Repeat("n", 255), Files: []File{{Path: repeat(strings.Repeat("p", 240), 16), Length: 1}}}
	_, err := info.FilePath("/dl", 0)
	if err == nil || !strings.Contains(err.Error(), "4111 bytes long") || !strings.Contains(err.Error(), "nnnn") {
		t.Fatalf("FilePath: %v, want a length error naming the path", err)
	}
	if len(err.Error()) > 2*maxErrorPath {
		t.Errorf("error of %d bytes: %.80s...", len(err.Error()), err)
	}
}

// FuzzFilePath checks, for any name and path, that FilePath either refuses
// or returns a clean path strictly inside the download directory, below
// the torrent's own directory, and never for a path ValidatePath refuses.
// The path's components are separated by "\x01" in p.
func FuzzFilePath(f *testing.F) {
	for _, seed := range [][2]string{
		{"top", "a\x01b.txt"}, {"top", "..\x01x"}, {"..", "x"}, {"", "x"}, {"/abs", "x"},
		{"top", "/etc/passwd"}, {"top", "\x01etc"}, {"top", "a/../../x"}, {"C:", "x"},
		{"top", ".\x01x"}, {"a\x00", "x"}, {"caf\xe9", "\xff\xfe"}, {"top", `..\x`},
	} {
		f.Add(seed[0], seed[1])
	}
	const root = "/dl/root"
	f.Fuzz(func(t *testing.T, name, p string) {
		path := strings.Split(p, "\x01")
		info := &Info{Name: name, Files: []File{{Path: path, Length: 1}}}
		got, err := info.FilePath(root, 0)
		if err != nil {
			return
		}
		if ValidatePath(path) != nil || validateName(name) != nil {
			t.Fatalf("FilePath accepted %q %q, which the validators refuse", name, path)
		}
		top := filepath.Join(root, name)
		if !strings.HasPrefix(got, top+string(filepath.Separator)) || filepath.Clean(got) != got {
			t.Fatalf("FilePath(%q, %q) = %q, not clean and inside %q", name, path, got, top)
		}
		rel, err := filepath.Rel(root, got)
		if err != nil || !filepath.IsLocal(rel) || len(strings.Split(rel, string(filepath.Separator))) != 1+len(path) {
			t.Fatalf("FilePath(%q, %q) = %q: relative %q is not the torrent's path", name, path, got, rel)
		}
	})
}
