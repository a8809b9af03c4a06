package storage

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"shoal/internal/testkit"
	"shoal/metainfo"
)

// TestNewFileStorageRejectsUnsafePaths is the storage's own line of
// defence, for an Info that did not come from metainfo.Parse (built in
// memory, or changed after parsing): NewFileStorage refuses it with an
// error naming the path, and nothing is created anywhere.
func TestNewFileStorageRejectsUnsafePaths(t *testing.T) {
	long := strings.Repeat("p", 250)
	tests := []struct {
		name string
		tn   string   // torrent name
		path []string // nil: single-file
		want string
	}{
		{"dot-dot", "t", []string{"..", "..", "x"}, `"../../x"`},
		{"absolute component", "t", []string{"/etc/passwd"}, `"/etc/passwd"`},
		{"absolute by empty component", "t", []string{"", "etc", "passwd"}, `"/etc/passwd"`},
		{"NUL", "t", []string{"a\x00b"}, `"a\x00b"`},
		{"dot", "t", []string{"."}, `"."`},
		{"component of 256 bytes", "t", []string{strings.Repeat("c", 256)}, "256 bytes"},
		{"path longer than PATH_MAX", "t", []string{long, long, long, long, long, long, long, long, long, long, long, long, long, long, long, long, long}, "4266 bytes long"},
		{"name ..", "..", nil, `unsafe torrent name ".."`},
		{"name empty", "", []string{"x"}, `unsafe torrent name ""`},
		{"name absolute", "/tmp/x", nil, `unsafe torrent name "/tmp/x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := testkit.NewOutside(t)
			root := filepath.Join(t.TempDir(), "dl")
			info := &metainfo.Info{Name: tc.tn, PieceLength: 16, Pieces: make([]metainfo.PieceHash, 1),
				Files: []metainfo.File{{Path: tc.path, Length: 4}}, SingleFile: tc.path == nil}
			s, err := NewFileStorage(root, info, FileOptions{})
			if err == nil {
				s.Close()
				t.Fatalf("NewFileStorage accepted name %q path %q", tc.tn, tc.path)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewFileStorage: %v, want an error containing %s", err, tc.want)
			}
			if exists(root) {
				t.Errorf("the download directory was created")
			}
			out.Check(t)
		})
	}
}

// TestFileWhereDirectoryBelongs gives storage an Info (not from Parse,
// which refuses it) in which file "a" is also the directory of "a/b": the
// second file cannot be created, the error names the path, and the first
// file's data stays intact.
func TestFileWhereDirectoryBelongs(t *testing.T) {
	tt := newTorrent(t, 16, tfile{"a", 16, ""}, tfile{"a/b", 16, ""})
	root := t.TempDir()
	s := newStorage(t, root, tt, FileOptions{})
	writePieces(t, s, tt, 0)
	err := s.WritePiece(1, tt.piece(1))
	if want := filepath.Join(root, "t", "a"); err == nil || !strings.Contains(err.Error(), want) ||
		!strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("write a/b below file a: %v, want an error naming %s as not a directory", err, want)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "t", "a")); string(got) != string(tt.fileData(0)) {
		t.Fatal("file a was damaged")
	}
}

// TestSymlinkSwappedAfterCheck swaps a symlink in for a directory or a file
// in the moment between the storage checking it and using it. Nothing
// outside may change, and on Linux, where each component is opened once
// and the descriptor is what gets used, the write goes to the very
// directory or file that was checked (moved aside by the attacker), never
// to where the symlink points, not even inside the download directory.
func TestSymlinkSwappedAfterCheck(t *testing.T) {
	tt := newTorrent(t, 16, tfile{"sub/a", 16, ""}, tfile{"b", 16, ""})
	tests := []struct {
		name   string
		swap   string // component (relative to the download directory) to swap
		piece  int
		inside bool // the symlink points inside the download directory
		file   string
	}{
		{"directory to outside", "t/sub", 0, false, "t/sub/a"},
		{"directory to inside", "t/sub", 0, true, "t/sub/a"},
		{"torrent directory to outside", "t", 1, false, "t/b"},
		{"file to outside", "t/b", 1, false, "t/b"},
		{"file to inside", "t/b", 1, true, "t/b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := testkit.NewOutside(t)
			root := t.TempDir()
			elsewhere := filepath.Join(root, "elsewhere")
			if err := os.MkdirAll(filepath.Join(root, "t", "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(elsewhere, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "t", "b"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			// An inside target is relative, as os.Root would follow it
			// (it refuses every absolute one).
			target := out.Dir
			if tc.inside {
				rel, err := filepath.Rel(filepath.Dir(filepath.Join(root, tc.swap)), elsewhere)
				if err != nil {
					t.Fatal(err)
				}
				target = rel
			}
			if tc.swap == "t/b" {
				target = filepath.Join(target, "victim")
				if err := os.WriteFile(filepath.Join(elsewhere, "victim"), []byte("keep"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			swapped := false
			testHookAfterCheck = func(rel string) {
				if swapped || rel != filepath.FromSlash(tc.swap) {
					return
				}
				swapped = true
				p := filepath.Join(root, rel)
				if err := os.Rename(p, p+".moved"); err != nil {
					t.Error(err)
				}
				if err := os.Symlink(target, p); err != nil {
					t.Error(err)
				}
			}
			t.Cleanup(func() { testHookAfterCheck = nil })
			before := testkit.TreeListing(t, elsewhere)
			s := newStorage(t, root, tt, FileOptions{})
			err := s.WritePiece(tc.piece, tt.piece(tc.piece))
			if !swapped {
				t.Fatalf("the hook never saw %s", tc.swap)
			}
			out.Check(t)
			if runtime.GOOS != "linux" {
				// os.Root keeps the write inside the download directory
				// (or refuses it), but may follow a relative symlink
				// that stays inside.
				return
			}
			if after := testkit.TreeListing(t, elsewhere); after != before {
				t.Errorf("a directory elsewhere inside the download directory changed:\n%s", after)
			}
			if err != nil {
				t.Fatalf("WritePiece: %v", err)
			}
			// The data is where the checked directory or file went.
			moved := filepath.Join(root, filepath.FromSlash(tc.swap)+".moved")
			rest := strings.TrimPrefix(tc.file, tc.swap)
			got, err := os.ReadFile(moved + filepath.FromSlash(rest))
			if err != nil || string(got) != string(tt.piece(tc.piece)) {
				t.Errorf("data not in the checked file %s: %q, %v", moved+rest, got, err)
			}
		})
	}
}

// TestPathBeyondPathMax puts a torrent whose own path is within the limits
// in a download directory so deep that the two together exceed PATH_MAX
// (4096): storage opens one component at a time, so the data is written
// and read back inside the download directory all the same.
func TestPathBeyondPathMax(t *testing.T) {
	long := strings.Repeat("d", 250)
	root := t.TempDir()
	for range 10 { // about 2.5 KB of download directory
		root = filepath.Join(root, long)
	}
	tt := newTorrent(t, 16, tfile{strings.Join([]string{long, long, long, long, long, long, long, long, "f"}, "/"), 20, ""})
	full, err := tt.info.FilePath(root, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(full) <= 4096 {
		t.Fatalf("path of %d bytes is not beyond PATH_MAX", len(full))
	}
	s := newStorage(t, root, tt, FileOptions{})
	writePieces(t, s, tt, allPieces(tt.numPieces())...)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if err := s.ReadBlock(1, 0, got); err != nil || string(got) != string(tt.piece(1)) {
		t.Fatalf("read back: %q, %v", got, err)
	}
}

// TestNonUTF8Names writes files whose names are not UTF-8: they are kept
// byte for byte (see metainfo.ValidatePath), inside the download directory.
func TestNonUTF8Names(t *testing.T) {
	tt := newTorrent(t, 16, tfile{"caf\xe9/\xff\xfe.bin", 20, ""})
	root := t.TempDir()
	s := newStorage(t, root, tt, FileOptions{})
	writePieces(t, s, tt, allPieces(tt.numPieces())...)
	got, err := os.ReadFile(filepath.Join(root, "t", "caf\xe9", "\xff\xfe.bin"))
	if err != nil || string(got) != string(tt.data) {
		t.Fatalf("file with a non-UTF-8 name: %v", err)
	}
}

// TestRemoveFiles removes a torrent's data with symlinks planted in the
// download directory: the torrent's own files and then-empty directories
// go; what the symlinks point at, outside or inside, stays.
func TestRemoveFiles(t *testing.T) {
	tt := newTorrent(t, 16, tfile{"real/a", 16, ""}, tfile{"sub/b", 16, ""}, tfile{"c", 16, ""}, tfile{"d/e/f", 16, ""})
	root := t.TempDir()
	out := testkit.NewOutside(t)
	s := newStorage(t, root, tt, FileOptions{})
	writePieces(t, s, tt, 0, 3)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// t/sub -> the outside directory, which holds a file named b;
	// t/c -> the outside victim.
	if err := os.WriteFile(filepath.Join(out.Dir, "b"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Record(t)
	if err := os.Symlink(out.Dir, filepath.Join(root, "t", "sub")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(out.Victim, filepath.Join(root, "t", "c")); err != nil {
		t.Fatal(err)
	}
	err := RemoveFiles(root, tt.info)
	for _, want := range []string{filepath.Join(root, "t", "sub"), filepath.Join(root, "t", "c")} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("RemoveFiles: %v, want an error naming %s", err, want)
		}
	}
	out.Check(t)
	var left []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if rel, _ := filepath.Rel(root, p); rel != "." {
			left = append(left, filepath.ToSlash(rel))
		}
		return nil
	})
	// The planted symlinks are left for the user to look at; everything
	// the torrent wrote is gone.
	if want := []string{"t", "t/c", "t/sub"}; !slices.Equal(left, want) {
		t.Errorf("left behind %q, want %q", left, want)
	}
	// With nothing there any more, removing again is fine.
	if err := RemoveFiles(filepath.Join(root, "missing"), tt.info); err != nil {
		t.Errorf("RemoveFiles of a missing directory: %v", err)
	}
}
