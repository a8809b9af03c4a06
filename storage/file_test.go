package storage

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"shoal/internal/testkit"
)

var layouts = []struct {
	name        string
	pieceLength int64
	files       []tfile
}{
	{"single file smaller than a piece", 64, []tfile{{"", 20, ""}}},
	{"single file, short last piece", 16, []tfile{{"", 100, ""}}},
	{"single file, exact pieces", 16, []tfile{{"", 64, ""}}},
	{"small files, pieces span 3+ files", 32, []tfile{
		{"a", 5, ""}, {"dir/b", 7, ""}, {"dir/c", 3, ""}, {"dir/sub/d", 40, ""}, {"e", 1, ""}, {"f", 30, ""},
	}},
	{"zero-length files", 16, []tfile{
		{"empty0", 0, ""}, {"a", 20, ""}, {"x/empty1", 0, ""}, {"b", 12, ""}, {"empty2", 0, ""},
	}},
	{"padding files", 16, []tfile{
		{"a", 10, ""}, {".pad/6", 6, "p"}, {"b", 20, ""}, {".pad/12", 12, "p"}, {"c", 16, ""},
	}},
	{"executable and hidden attrs", 16, []tfile{{"run.sh", 20, "x"}, {".hidden", 9, "h"}}},
}

func TestWriteReadLayouts(t *testing.T) {
	for _, tc := range layouts {
		t.Run(tc.name, func(t *testing.T) {
			tt := newTorrent(t, tc.pieceLength, tc.files...)
			root := t.TempDir()
			s := newStorage(t, root, tt, FileOptions{})

			order := allPieces(tt.numPieces())
			rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			writePieces(t, s, tt, order...)

			// Whole pieces and odd-sized blocks read back the same bytes.
			for i := range tt.numPieces() {
				want := tt.piece(i)
				got := make([]byte, len(want))
				if err := s.ReadBlock(i, 0, got); err != nil {
					t.Fatalf("ReadBlock(%d): %v", i, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("piece %d: read %x, want %x", i, got, want)
				}
				if len(want) > 3 {
					got = make([]byte, 3)
					if err := s.ReadBlock(i, 1, got); err != nil || !bytes.Equal(got, want[1:4]) {
						t.Fatalf("block of piece %d: %x, %v; want %x", i, got, err, want[1:4])
					}
				}
			}
			// On disk: every real file holds its bytes; no padding file
			// exists; zero-length files appear only with CreateEmptyFiles.
			for j, f := range tt.info.Files {
				p := tt.path(t, root, j)
				switch {
				case f.IsPadding():
					if exists(p) {
						t.Errorf("padding file %s was created", p)
					}
				case f.Length == 0:
					if exists(p) {
						t.Errorf("empty file %s created before CreateEmptyFiles", p)
					}
				default:
					got, err := os.ReadFile(p)
					if err != nil || !bytes.Equal(got, tt.fileData(j)) {
						t.Errorf("file %s: %d bytes, %v; want its %d bytes", p, len(got), err, f.Length)
					}
				}
			}
			if err := s.CreateEmptyFiles(); err != nil {
				t.Fatal(err)
			}
			for j, f := range tt.info.Files {
				if f.Length == 0 && !f.IsPadding() {
					if fi, err := os.Lstat(tt.path(t, root, j)); err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
						t.Errorf("empty file %d: %v, %v", j, fi, err)
					}
				}
				if f.IsExecutable() {
					if fi, err := os.Stat(tt.path(t, root, j)); err != nil || fi.Mode().Perm()&0o100 == 0 {
						t.Errorf("executable file %d: mode %v, %v", j, fi.Mode(), err)
					}
				}
			}
			bf, err := Verify(context.Background(), s, tt.info, 2, nil)
			if err != nil || !bf.Full() {
				t.Fatalf("Verify: %v, %d of %d pieces", err, bf.Count(), tt.numPieces())
			}
		})
	}
}

func TestReadMissing(t *testing.T) {
	tt := newTorrent(t, 16, tfile{"a", 20, ""}, tfile{"b", 40, ""})
	root := filepath.Join(t.TempDir(), "dl") // does not exist yet
	s := newStorage(t, root, tt, FileOptions{})
	buf := make([]byte, 16)

	err := s.ReadBlock(0, 0, buf)
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("read with no download directory: %v, want ErrMissing", err)
	}
	if exists(root) {
		t.Fatal("a read created the download directory")
	}
	// Piece 3 lies only in b: writing it creates b up to its end, and a
	// never exists.
	writePieces(t, s, tt, 3)
	err = s.ReadBlock(0, 0, buf)
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), tt.path(t, root, 0)) {
		t.Fatalf("read of absent file: %v, want ErrMissing naming %s", err, tt.path(t, root, 0))
	}
	// Piece 1 spans a and b; b's part is a hole before piece 3: zeros.
	// Piece 2 (all in b) is a hole too, so it reads as zeros, not missing.
	if err := s.ReadBlock(2, 0, buf); err != nil || !bytes.Equal(buf, make([]byte, 16)) {
		t.Fatalf("read of a hole: %x, %v; want zeros", buf, err)
	}
	// Writing piece 0 alone leaves b ending at piece 3's end: a region
	// beyond the end of a file is missing.
	tt2 := newTorrent(t, 16, tfile{"", 64, ""})
	s2 := newStorage(t, t.TempDir(), tt2, FileOptions{})
	writePieces(t, s2, tt2, 1)
	if err := s2.ReadBlock(1, 0, buf); err != nil {
		t.Fatal(err)
	}
	if err := s2.ReadBlock(2, 0, buf); !errors.Is(err, ErrMissing) {
		t.Fatalf("read past the end of a sparse file: %v, want ErrMissing", err)
	}
}

func TestBadArguments(t *testing.T) {
	tt := newTorrent(t, 16, tfile{"", 40, ""})
	s := newStorage(t, t.TempDir(), tt, FileOptions{})
	cases := []struct {
		name string
		err  error
	}{
		{"write piece -1", s.WritePiece(-1, make([]byte, 16))},
		{"write piece 3", s.WritePiece(3, make([]byte, 16))},
		{"write short piece", s.WritePiece(0, make([]byte, 15))},
		{"write long last piece", s.WritePiece(2, make([]byte, 16))},
		{"read past piece", s.ReadBlock(2, 0, make([]byte, 9))},
		{"read negative begin", s.ReadBlock(0, -1, make([]byte, 1))},
		{"read begin past piece", s.ReadBlock(0, 17, nil)},
		{"read piece out of range", s.ReadBlock(5, 0, make([]byte, 1))},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	if _, err := NewFileStorage(t.TempDir(), tt.info, FileOptions{Wanted: []bool{true, false}}); err == nil {
		t.Error("NewFileStorage accepted 2 wanted flags for 1 file")
	}
	bad := *tt.info
	bad.Name = ".."
	if _, err := NewFileStorage(t.TempDir(), &bad, FileOptions{}); err == nil {
		t.Error(`NewFileStorage accepted the name ".."`)
	}
}

func TestFileHandleLimit(t *testing.T) {
	var files []tfile
	for i := range 10 {
		files = append(files, tfile{string(rune('a'+i)) + "/f", 7, ""})
	}
	tt := newTorrent(t, 16, files...)
	root := t.TempDir()
	s := newStorage(t, root, tt, FileOptions{MaxOpenFiles: 2})

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for round := range 5 {
				for i := range tt.numPieces() {
					p := (i + w + round) % tt.numPieces()
					if err := s.WritePiece(p, tt.piece(p)); err != nil {
						t.Error(err)
						return
					}
					buf := make([]byte, len(tt.piece(p)))
					if err := s.ReadBlock(p, 0, buf); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	// Counting /proc/self/fd is not atomic, so only count when idle; the
	// peak hook covers the concurrent phase.
	if n := openUnder(t, root); n != 2 {
		t.Fatalf("%d files under the download directory open, want the limit 2 (cached)", n)
	}
	if p := s.peakOpenFiles(); p > 2 || p < 1 {
		t.Fatalf("peak of %d open files, limit 2", p)
	}
	if n := s.OpenFiles(); n > 2 {
		t.Fatalf("OpenFiles() = %d, limit 2", n)
	}
	bf, err := Verify(context.Background(), s, tt.info, 3, nil)
	if err != nil || !bf.Full() {
		t.Fatalf("Verify: %v, %v", bf, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := openUnder(t, root); n != 0 {
		t.Fatalf("%d files still open after Close", n)
	}
}

// openUnder counts this process's descriptors for regular files below dir
// (Linux only; 0 elsewhere).
func openUnder(t *testing.T, dir string) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || !strings.HasPrefix(target, dir+string(filepath.Separator)) {
			continue
		}
		if fi, err := os.Stat(target); err == nil && fi.Mode().IsRegular() {
			n++
		}
	}
	return n
}

func TestWanted(t *testing.T) {
	// Pieces of 16: piece 0 = a[0:10] b[0:6]; piece 1 = b[6:22];
	// piece 2 = b[22:24] c[0:14]; piece 3 = c[14:30]; piece 4 = c[30:40] d.
	tt := newTorrent(t, 16, tfile{"a", 10, ""}, tfile{"b", 24, ""}, tfile{"c", 40, ""},
		tfile{"d", 4, ""}, tfile{"e", 0, ""})
	root := t.TempDir()
	s := newStorage(t, root, tt, FileOptions{Wanted: []bool{true, false, false, false, false}})

	wantWanted := []bool{true, false, false, false, false}
	for i, want := range wantWanted {
		if got := s.PieceWanted(i); got != want {
			t.Errorf("PieceWanted(%d) = %v, want %v", i, got, want)
		}
	}
	writePieces(t, s, tt, 0)
	for i := 1; i < tt.numPieces(); i++ {
		if err := s.WritePiece(i, tt.piece(i)); !errors.Is(err, ErrNotWanted) {
			t.Errorf("WritePiece(%d) of an unwanted piece: %v, want ErrNotWanted", i, err)
		}
	}
	if err := s.CreateEmptyFiles(); err != nil {
		t.Fatal(err)
	}
	// b shares piece 0 with a, so it holds that piece's 6 bytes; c, d and
	// the unwanted empty file e do not exist.
	if got, err := os.ReadFile(tt.path(t, root, 1)); err != nil || !bytes.Equal(got, tt.fileData(1)[:6]) {
		t.Errorf("b: %x, %v; want the 6 bytes of piece 0", got, err)
	}
	for j := 2; j < 5; j++ {
		if exists(tt.path(t, root, j)) {
			t.Errorf("unwanted file %s was created", tt.path(t, root, j))
		}
	}
	if err := s.SetWanted([]bool{false, false, true, false, false}); err != nil {
		t.Fatal(err)
	}
	writePieces(t, s, tt, 2, 3, 4)
	if err := s.SetWanted([]bool{true}); err == nil {
		t.Error("SetWanted accepted 1 flag for 5 files")
	}
}

// TestPlantedSymlink plants symlinks inside the download directory before
// the storage starts, pointing outside or elsewhere inside, at every level
// of a torrent path: writes, reads (uploads must not serve files from
// elsewhere) and the creation of empty files are all refused with an error
// naming the symlink, and nothing outside changes.
func TestPlantedSymlink(t *testing.T) {
	// Piece 0 is sub/a[0:16]; piece 1 is sub/a[16:20] and b; sub/e is empty.
	tt := newTorrent(t, 16, tfile{"sub/a", 20, ""}, tfile{"b", 12, ""}, tfile{"sub/e", 0, ""})
	tests := []struct {
		name   string
		link   string // below the download directory
		target string // "OUT/..." is below the outside directory; a relative one is relative to the link
		piece  int    // a piece whose write goes through the link
		read   int64  // where in the piece a read goes through the link
		want   string // the path the error names, below the download directory
	}{
		{"torrent directory to outside", "t", "OUT", 0, 0, "t"},
		{"directory in the middle to outside", "t/sub", "OUT", 0, 0, "t/sub"},
		{"directory in the middle to inside", "t/sub", "../elsewhere", 0, 0, "t/sub"},
		{"file to an outside file", "t/b", "OUT/victim", 1, 4, "t/b"},
		{"file to an outside name that does not exist", "t/b", "OUT/new", 1, 4, "t/b"},
		{"file to an inside file", "t/b", "../elsewhere/x", 1, 4, "t/b"},
		{"file to itself", "t/b", "b", 1, 4, "t/b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			out := testkit.NewOutside(t)
			elsewhere := filepath.Join(root, "elsewhere")
			if err := os.MkdirAll(elsewhere, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(elsewhere, "x"), []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(root, filepath.FromSlash(tc.link))
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			target := strings.Replace(tc.target, "OUT", out.Dir, 1)
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			before := testkit.TreeListing(t, elsewhere)
			want := filepath.Join(root, filepath.FromSlash(tc.want))
			s := newStorage(t, root, tt, FileOptions{})

			err := s.WritePiece(tc.piece, tt.piece(tc.piece))
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "symlink") {
				t.Errorf("write: %v, want a symlink error naming %s", err, want)
			}
			err = s.ReadBlock(tc.piece, tc.read, make([]byte, 4))
			if err == nil || errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), want) {
				t.Errorf("read: %v, want a symlink error naming %s", err, want)
			}
			if _, err := Verify(context.Background(), s, tt.info, 1, nil); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("verify: %v, want a symlink error naming %s", err, want)
			}
			if strings.HasPrefix(tc.want, "t/sub") || tc.want == "t" {
				if err := s.CreateEmptyFiles(); err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("create empty files: %v, want a symlink error naming %s", err, want)
				}
			}
			out.Check(t)
			if after := testkit.TreeListing(t, elsewhere); after != before {
				t.Errorf("a directory elsewhere inside the download directory changed:\n%s", after)
			}
		})
	}
}

func TestUnwritableDirectory(t *testing.T) {
	tt := newTorrent(t, 16, tfile{"sub/a", 20, ""})
	t.Run("read-only directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores directory permissions")
		}
		root := t.TempDir()
		if err := os.Chmod(root, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(root, 0o755) })
		s := newStorage(t, root, tt, FileOptions{})
		err := s.WritePiece(0, tt.piece(0))
		if want := filepath.Join(root, "t"); err == nil || !strings.Contains(err.Error(), want) ||
			!errors.Is(err, os.ErrPermission) {
			t.Fatalf("write below a read-only directory: %v, want a permission error naming %s", err, want)
		}
	})
	t.Run("download directory below a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		root := filepath.Join(file, "dl")
		s := newStorage(t, root, tt, FileOptions{})
		err := s.WritePiece(0, tt.piece(0))
		if err == nil || !strings.Contains(err.Error(), root) {
			t.Fatalf("write: %v, want an error naming %s", err, root)
		}
	})
	t.Run("file where a directory belongs", func(t *testing.T) {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "t"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "t", "sub"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		s := newStorage(t, root, tt, FileOptions{})
		err := s.WritePiece(0, tt.piece(0))
		if want := filepath.Join(root, "t", "sub"); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("write: %v, want an error naming %s", err, want)
		}
	})
}

func TestSyncThenFreshStorage(t *testing.T) {
	tt := newTorrent(t, 16, tfile{"a", 20, ""}, tfile{"b/c", 50, ""}, tfile{"d", 9, ""})
	root := t.TempDir()
	s := newStorage(t, root, tt, FileOptions{MaxOpenFiles: 1})
	written := []int{0, 2, 4}
	writePieces(t, s, tt, written...)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if len(s.dirty) != 0 || len(s.dirtyDirs) != 0 {
		t.Fatalf("after Sync: %d dirty files, %d dirty directories", len(s.dirty), len(s.dirtyDirs))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.WritePiece(1, tt.piece(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v, want ErrClosed", err)
	}

	fresh := newStorage(t, root, tt, FileOptions{})
	bf, err := Verify(context.Background(), fresh, tt.info, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tt.numPieces() {
		want := i == 0 || i == 2 || i == 4
		if bf.Has(i) != want {
			t.Errorf("piece %d verified = %v, want %v", i, bf.Has(i), want)
		}
	}
}
