package storage

import (
	"errors"
	"sync/atomic"
)

// Storage holds one torrent's pieces. Piece indices and offsets are the
// torrent's: begin is relative to the start of the piece. Implementations
// must be safe for concurrent use: peer writer goroutines read, disk
// workers write and Sync runs at the same time.
type Storage interface {
	// ReadBlock fills buf with the bytes at begin within piece. The range
	// must lie inside the piece. Data not yet written gives an error
	// wrapping ErrMissing.
	ReadBlock(piece int, begin int64, buf []byte) error
	// WritePiece stores a whole piece that has passed its hash check;
	// len(data) must be the piece's size.
	WritePiece(piece int, data []byte) error
	// Sync makes every piece written so far durable (see the package doc).
	Sync() error
	// Close syncs and releases every resource; the Storage is unusable
	// afterwards.
	Close() error
}

var (
	// ErrMissing is wrapped by read errors for data that is not on disk:
	// the file does not exist or ends before the requested region.
	ErrMissing = errors.New("data missing")
	// ErrNotWanted is wrapped by WritePiece errors for a piece that touches
	// no wanted file.
	ErrNotWanted = errors.New("piece touches no wanted file")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("storage closed")
)

// DefaultMaxOpenFiles is FileOptions.MaxOpenFiles when it is zero. It
// stays well below the common soft limit of 1024 descriptors, which the
// process shares with its sockets.
const DefaultMaxOpenFiles = 64

// FileOptions configures a FileStorage.
type FileOptions struct {
	// MaxOpenFiles bounds the open file handles (the download directory's
	// own handle is not counted); 0 means DefaultMaxOpenFiles.
	MaxOpenFiles int
	// Wanted says per file (in Info.Files order) whether the user wants it;
	// nil means every file. See the package doc for how pieces that span
	// wanted and unwanted files are treated.
	Wanted []bool
	// DirectWrites writes the page-aligned parts of pieces with O_DIRECT,
	// around the page cache (Linux; elsewhere, or where the file system
	// refuses, writes go through the cache as usual). Reads and the
	// unaligned edges of files always use the cache.
	DirectWrites bool
	// DirectWritesGate, when set, switches direct writes on and off while
	// the storage is open: they are used only while it holds true. The
	// engine writes through the cache while peers may soon ask for what it
	// writes (see engine/direct_writes.go).
	DirectWritesGate *atomic.Bool
}
