package metainfo

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Limits on what a torrent may describe, so that a small hostile file
// cannot make us allocate or compute without bound.
const (
	// MaxPieceLength is the largest piece length accepted: 256 MiB (2^28,
	// mktorrent's maximum). A client holds whole pieces in memory while it
	// verifies them.
	MaxPieceLength = 256 << 20
	// MaxFiles is the most files one torrent may list (the same bound Build
	// applies, so what Build writes Parse reads).
	MaxFiles = 1 << 20
)

// IsPadding reports whether f is a BEP 47 padding file ('p' attribute):
// synthetic zeros that align the next file to a piece boundary. Storage
// never writes one to disk.
func (f File) IsPadding() bool { return strings.ContainsRune(f.Attr, 'p') }

// IsSymlink reports whether f is a BEP 47 symlink ('l' attribute) to
// SymlinkPath, relative to the torrent's directory.
func (f File) IsSymlink() bool { return strings.ContainsRune(f.Attr, 'l') }

// IsExecutable reports BEP 47's 'x' attribute.
func (f File) IsExecutable() bool { return strings.ContainsRune(f.Attr, 'x') }

// IsHidden reports BEP 47's 'h' attribute.
func (f File) IsHidden() bool { return strings.ContainsRune(f.Attr, 'h') }

// DisplayPath returns the file's path relative to the download directory,
// as components: [name] for a single-file torrent (whose File.Path is
// empty), [name, path...] for a multi-file one.
func (f File) DisplayPath(name string) []string {
	out := make([]string, 0, 1+len(f.Path))
	out = append(out, name)
	return append(out, f.Path...)
}

// TotalLength returns the sum of the file lengths: the size of the piece
// space, padding files included.
func (info *Info) TotalLength() int64 {
	var total int64
	for _, f := range info.Files {
		total += f.Length
	}
	return total
}

// NumPieces returns the number of pieces (the number of hashes in Pieces).
func (info *Info) NumPieces() int { return len(info.Pieces) }

// PieceSize returns the length of piece i: PieceLength for every piece but
// the last, which holds what remains. It returns 0 for an index out of
// range. It sums the file lengths on every call; for many calls use
// Layout.PieceSize.
func (info *Info) PieceSize(i int) int64 {
	if i < 0 || i >= len(info.Pieces) || info.PieceLength <= 0 {
		return 0
	}
	start := int64(i) * info.PieceLength
	return max(0, min(info.PieceLength, info.TotalLength()-start))
}

// validate checks everything about an Info that a client relies on before
// it creates files or allocates pieces. Parse and SetInfo both call it.
func (info *Info) validate() error {
	if err := validateName(info.Name); err != nil {
		return err
	}
	if info.PieceLength <= 0 {
		return fmt.Errorf("piece length %d is not positive", info.PieceLength)
	}
	if info.PieceLength > MaxPieceLength {
		return fmt.Errorf("piece length %d is larger than the limit of %d", info.PieceLength, MaxPieceLength)
	}
	if len(info.Files) == 0 {
		return errors.New("torrent lists no files")
	}
	if len(info.Files) > MaxFiles {
		return fmt.Errorf("torrent lists %d files, at most %d allowed", len(info.Files), MaxFiles)
	}
	if info.SingleFile && len(info.Files) != 1 {
		return fmt.Errorf("single-file torrent with %d file entries", len(info.Files))
	}
	var total int64
	for i, f := range info.Files {
		if err := validateFile(info, i, f); err != nil {
			return err
		}
		if f.Length > math.MaxInt64-total {
			return fmt.Errorf("file %d: total length overflows", i)
		}
		total += f.Length
	}
	if !info.SingleFile {
		if err := checkFileTree(info.Files); err != nil {
			return err
		}
	}
	if total == 0 {
		// A torrent of zero bytes has no pieces; libtorrent refuses it too.
		return errors.New("torrent holds no data (total length 0)")
	}
	want := (total-1)/info.PieceLength + 1
	if int64(len(info.Pieces)) != want {
		return fmt.Errorf("torrent has %d piece hashes, but %d bytes in pieces of %d need %d",
			len(info.Pieces), total, info.PieceLength, want)
	}
	return nil
}

// validateFile checks one file entry; i is its index, for errors.
func validateFile(info *Info, i int, f File) error {
	if f.Length < 0 {
		return fmt.Errorf("file %d: negative length %d", i, f.Length)
	}
	if info.SingleFile {
		if len(f.Path) != 0 {
			return errors.New("single-file torrent: file entry has a path")
		}
	} else if len(f.Path) != 0 || !f.IsPadding() {
		// BEP 47: a padding file need not have a path; every other file
		// must, and any path present must be safe.
		if err := ValidatePath(f.Path); err != nil {
			return fmt.Errorf("file %d: %w", i, err)
		}
		// The path below the download directory starts with the name.
		if err := checkPathLength(f.DisplayPath(info.Name)); err != nil {
			return fmt.Errorf("file %d: %w", i, err)
		}
	}
	if f.IsSymlink() {
		// BEP 47: the target is relative to the torrent root, with the same
		// rules as a path, and a symlink takes no room in the piece space.
		if err := ValidatePath(f.SymlinkPath); err != nil {
			return fmt.Errorf("file %d: symlink target: %w", i, err)
		}
		if f.Length != 0 {
			return fmt.Errorf("file %d: symlink with length %d (must be 0)", i, f.Length)
		}
	}
	if f.SHA1 != nil && len(f.SHA1) != 20 {
		return fmt.Errorf("file %d: sha1 of %d bytes (must be 20)", i, len(f.SHA1))
	}
	return nil
}
