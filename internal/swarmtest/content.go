package swarmtest

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"shoal/metainfo"
)

// Content is a single-file torrent and its data on disk.
type Content struct {
	MetaInfo *metainfo.MetaInfo
	// Dir holds the torrent's file: the save path of a seeder.
	Dir string
	// Data is the file's bytes, for serving blocks and comparing.
	Data []byte
}

// NewContent writes size pseudo-random bytes (seeded by seed) to a file in
// a temporary directory and builds a torrent of it with the given piece
// length (a power of two of at least 16 KiB).
func NewContent(t testing.TB, pieceLength, size int64, seed uint64) *Content {
	t.Helper()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(seed, uint64(size)))
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(r.UintN(256))
	}
	path := filepath.Join(dir, "content.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mi, err := metainfo.Build(context.Background(), path, metainfo.BuildOptions{PieceLength: pieceLength})
	if err != nil {
		t.Fatal(err)
	}
	return &Content{MetaInfo: mi, Dir: dir, Data: data}
}

// NumPieces is the torrent's piece count.
func (c *Content) NumPieces() int { return c.MetaInfo.Info.NumPieces() }

// PieceLength is the torrent's nominal piece length.
func (c *Content) PieceLength() int64 { return c.MetaInfo.Info.PieceLength }

// PieceSize is the length of piece i (the last one may be short).
func (c *Content) PieceSize(i int) int64 {
	start := int64(i) * c.PieceLength()
	return min(c.PieceLength(), int64(len(c.Data))-start)
}

// Block returns a copy of the data of a block, or nil if the block is not
// inside the torrent.
func (c *Content) Block(piece int, begin int64, length int) []byte {
	if piece < 0 || piece >= c.NumPieces() || begin < 0 || length <= 0 || begin+int64(length) > c.PieceSize(piece) {
		return nil
	}
	off := int64(piece)*c.PieceLength() + begin
	return append([]byte(nil), c.Data[off:off+int64(length)]...)
}

// SameAs fails the test unless the torrent's file under dir holds exactly
// the content.
func (c *Content) SameAs(t testing.TB, dir string) {
	t.Helper()
	path, err := c.MetaInfo.Info.FilePath(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(c.Data) {
		t.Fatalf("%s differs from the torrent's content", path)
	}
}
