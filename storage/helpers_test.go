package storage

import (
	"crypto/sha1"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"shoal/metainfo"
)

// peakOpenFiles is a test hook: the most file handles ever open at once.
func (s *FileStorage) peakOpenFiles() int {
	s.handles.mu.Lock()
	defer s.handles.mu.Unlock()
	return s.handles.peak
}

// tfile describes one file of a test torrent.
type tfile struct {
	path   string // "a/b" below the torrent's directory; "" for single-file
	length int64
	attr   string
}

// testTorrent is a torrent together with the bytes of its piece space.
type testTorrent struct {
	info *metainfo.Info
	data []byte // the whole piece space; zeros in padding files
}

func newTorrent(t *testing.T, pieceLength int64, files ...tfile) *testTorrent {
	t.Helper()
	info := &metainfo.Info{Name: "t", PieceLength: pieceLength}
	rng := rand.New(rand.NewPCG(uint64(pieceLength), uint64(len(files))))
	var data []byte
	for _, f := range files {
		mf := metainfo.File{Length: f.length, Attr: f.attr}
		if f.path == "" {
			info.SingleFile = true
		} else {
			mf.Path = splitSlash(f.path)
		}
		info.Files = append(info.Files, mf)
		chunk := make([]byte, f.length)
		if !mf.IsPadding() {
			for i := range chunk {
				chunk[i] = byte(rng.UintN(256))
			}
		}
		data = append(data, chunk...)
	}
	for off := int64(0); off < int64(len(data)); off += pieceLength {
		end := min(off+pieceLength, int64(len(data)))
		info.Pieces = append(info.Pieces, sha1.Sum(data[off:end]))
	}
	return &testTorrent{info: info, data: data}
}

func splitSlash(p string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return out
}

func (tt *testTorrent) piece(i int) []byte {
	pl := tt.info.PieceLength
	off := int64(i) * pl
	return tt.data[off:min(off+pl, int64(len(tt.data)))]
}

func (tt *testTorrent) numPieces() int { return len(tt.info.Pieces) }

// fileData returns the bytes of file j.
func (tt *testTorrent) fileData(j int) []byte {
	var off int64
	for k := range j {
		off += tt.info.Files[k].Length
	}
	return tt.data[off : off+tt.info.Files[j].Length]
}

func (tt *testTorrent) path(t *testing.T, root string, j int) string {
	t.Helper()
	if tt.info.Files[j].IsPadding() {
		return filepath.Join(append([]string{root, tt.info.Name}, tt.info.Files[j].Path...)...)
	}
	p, err := tt.info.FilePath(root, j)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newStorage(t *testing.T, root string, tt *testTorrent, o FileOptions) *FileStorage {
	t.Helper()
	s, err := NewFileStorage(root, tt.info, o)
	if err != nil {
		t.Fatalf("NewFileStorage: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func writePieces(t *testing.T, s *FileStorage, tt *testTorrent, pieces ...int) {
	t.Helper()
	for _, i := range pieces {
		if err := s.WritePiece(i, tt.piece(i)); err != nil {
			t.Fatalf("WritePiece(%d): %v", i, err)
		}
	}
}

func allPieces(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
