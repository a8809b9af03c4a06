package metainfo

import (
	"encoding/hex"
	"time"

	"shoal/bencode"
)

// MetaInfo is a parsed .torrent file.
type MetaInfo struct {
	// Info is the decoded info dictionary.
	Info Info
	// InfoBytes is the exact bencoding of the info dictionary as it appeared
	// in the file; InfoHash is its SHA-1.
	InfoBytes bencode.RawMessage
	// InfoHash is the v1 info hash: SHA-1 of InfoBytes.
	InfoHash InfoHash
	// Announce is the single tracker URL of BEP 3 ("announce").
	Announce string
	// AnnounceList holds the tracker tiers of BEP 12 ("announce-list").
	AnnounceList [][]string
	// URLList holds the web seeds of BEP 19 ("url-list").
	URLList []string
	// CreationDate is "creation date"; the zero time when absent.
	CreationDate time.Time
	// Comment is the free-text "comment".
	Comment string
	// CreatedBy names the program that made the torrent ("created by").
	CreatedBy string
	// Encoding is the legacy "encoding" key, kept for display only.
	Encoding string
}

// Info is the info dictionary of a v1 torrent.
type Info struct {
	// Name is the suggested name of the file (single-file) or directory
	// (multi-file). Untrusted: validated as one path component.
	Name string
	// PieceLength is the number of bytes in each piece but the last.
	PieceLength int64
	// Pieces holds the SHA-1 of every piece, in order.
	Pieces []PieceHash
	// Private is BEP 27's "private" flag.
	Private bool
	// Source is the "source" key some private trackers require.
	Source string
	// Files lists the files in torrent order. A single-file torrent has one
	// entry whose Path is empty; SingleFile tells the two forms apart.
	Files []File
	// SingleFile is true for the single-file form ("length" in the info
	// dictionary instead of "files").
	SingleFile bool
}

// PieceHash is the SHA-1 of one piece.
type PieceHash [20]byte

// File is one entry of the torrent's file list.
type File struct {
	// Path holds the path components below the torrent's directory; empty
	// for a single-file torrent (the file is named Info.Name).
	Path []string
	// Length is the file's size in bytes.
	Length int64
	// Attr holds BEP 47 attribute letters: p (padding), x (executable),
	// h (hidden), l (symlink). Unknown letters are kept and ignored.
	Attr string
	// SymlinkPath is BEP 47's "symlink path" for files with the l attribute.
	SymlinkPath []string
	// SHA1 is BEP 47's optional whole-file SHA-1 (a hint only); nil if absent.
	SHA1 []byte
}

// InfoHash is a v1 info hash: the SHA-1 of a torrent's bencoded info
// dictionary, as it appears in handshakes, tracker announces and magnet links.
type InfoHash [20]byte

// String returns the info hash as 40 lowercase hex digits.
func (h InfoHash) String() string { return hex.EncodeToString(h[:]) }
