package storage

import (
	"bytes"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"unsafe"
)

// alignedCopy returns a copy of b whose first byte sits at addr%directAlign
// == shift, as the engine's piece buffers (large Go allocations, page
// aligned) do for shift 0.
func alignedCopy(b []byte, shift int) []byte {
	buf := make([]byte, len(b)+2*directAlign)
	start := (directAlign - int(uintptr(unsafe.Pointer(&buf[0]))%directAlign)) % directAlign
	out := buf[start+shift : start+shift+len(b)]
	copy(out, b)
	return out
}

func TestDirectWritesLayouts(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("O_DIRECT writes are Linux-only; elsewhere the cached path is tested by the other tests")
	}
	tests := []struct {
		name        string
		pieceLength int64
		files       []tfile
		shift       int  // buffer misalignment
		wantDirect  bool // some bytes must have gone around the cache
	}{
		{"single file, aligned pieces, short last piece", 64 << 10, []tfile{{"", 1<<20 + 1234, ""}}, 0, true},
		{"multi-file with unaligned boundaries", 32 << 10, []tfile{{"a", 70001, ""}, {"b/c", 5, ""}, {"d", 200000, ""}}, 0, true},
		{"piece length not a multiple of 4 KiB", 16<<10 + 512, []tfile{{"", 300000, ""}}, 0, true},
		{"padding files align the next file", 16 << 10, []tfile{{"a", 1000, ""}, {".pad/1", 15384, "p"}, {"b", 50000, ""}}, 0, true},
		{"misaligned buffers go through the cache", 64 << 10, []tfile{{"", 300000, ""}}, 512, false},
		{"files smaller than a block", 16 << 10, []tfile{{"a", 100, ""}, {"b", 4000, ""}, {"c", 7, ""}}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt := newTorrent(t, tc.pieceLength, tc.files...)
			root := t.TempDir()
			s := newStorage(t, root, tt, FileOptions{DirectWrites: true})
			// Reverse order: later pieces extend the files first, leaving holes.
			for i := tt.numPieces() - 1; i >= 0; i-- {
				if err := s.WritePiece(i, alignedCopy(tt.piece(i), tc.shift)); err != nil {
					t.Fatalf("WritePiece(%d): %v", i, err)
				}
			}
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			if got := s.directBytes.Load() > 0; got != tc.wantDirect {
				t.Errorf("bytes written with O_DIRECT: %d, want some: %v", s.directBytes.Load(), tc.wantDirect)
			}
			for j, f := range tt.info.Files {
				if f.IsPadding() {
					continue
				}
				got, err := os.ReadFile(tt.path(t, root, j))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, tt.fileData(j)) {
					t.Errorf("file %d (%s): content differs from what was written", j, f.Path)
				}
			}
			// Reading back through the storage (the upload path) agrees.
			for i := range tt.numPieces() {
				buf := make([]byte, len(tt.piece(i)))
				if err := s.ReadBlock(i, 0, buf); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf, tt.piece(i)) {
					t.Fatalf("piece %d reads back differently", i)
				}
			}
		})
	}
}

func TestCachedWritesNeverDirect(t *testing.T) {
	tt := newTorrent(t, 64<<10, tfile{"", 256 << 10, ""})
	s := newStorage(t, t.TempDir(), tt, FileOptions{})
	for i := range tt.numPieces() {
		if err := s.WritePiece(i, alignedCopy(tt.piece(i), 0)); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.directBytes.Load(); n != 0 {
		t.Errorf("DirectWrites off, yet %d bytes went through O_DIRECT", n)
	}
}

// A direct write over data already read into the page cache must not leave
// stale cached pages behind: the kernel invalidates them, and a read after
// the write sees the new bytes.
func TestDirectWriteAfterCachedRead(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux-only")
	}
	tt := newTorrent(t, 64<<10, tfile{"", 128 << 10, ""})
	root := t.TempDir()
	path := tt.path(t, root, 0)
	if err := os.WriteFile(path, make([]byte, 128<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newStorage(t, root, tt, FileOptions{DirectWrites: true})
	buf := make([]byte, 64<<10)
	if err := s.ReadBlock(0, 0, buf); err != nil { // pulls zeros into the cache
		t.Fatal(err)
	}
	if err := s.WritePiece(0, alignedCopy(tt.piece(0), 0)); err != nil {
		t.Fatal(err)
	}
	if s.directBytes.Load() == 0 {
		t.Fatal("the aligned piece was not written with O_DIRECT")
	}
	if err := s.ReadBlock(0, 0, buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, tt.piece(0)) {
		t.Fatal("read after a direct write returned stale data")
	}
}

func TestDirectWritesGate(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux-only")
	}
	tt := newTorrent(t, 64<<10, tfile{"", 256 << 10, ""})
	var gate atomic.Bool
	s := newStorage(t, t.TempDir(), tt, FileOptions{DirectWrites: true, DirectWritesGate: &gate})
	write := func(i int) {
		t.Helper()
		if err := s.WritePiece(i, alignedCopy(tt.piece(i), 0)); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	if n := s.directBytes.Load(); n != 0 {
		t.Fatalf("gate closed, yet %d bytes went through O_DIRECT", n)
	}
	gate.Store(true)
	write(1)
	if n := s.directBytes.Load(); n != 64<<10 {
		t.Fatalf("gate open: %d bytes through O_DIRECT, want one piece (%d)", n, 64<<10)
	}
	gate.Store(false)
	write(2)
	if n := s.directBytes.Load(); n != 64<<10 {
		t.Fatalf("gate closed again: %d bytes through O_DIRECT, want still %d", n, 64<<10)
	}
}
