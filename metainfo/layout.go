package metainfo

import "sort"

// FileSpan is the part of one file that lies inside one piece.
type FileSpan struct {
	// File is the index of the file in Info.Files.
	File int
	// Offset is where the span starts within the file.
	Offset int64
	// Length is the number of bytes in the span; always > 0.
	Length int64
}

// Layout maps pieces to byte ranges of files and back. BEP 3 defines the
// piece space as the concatenation of all files in list order, cut into
// pieces of PieceLength bytes (the last one shorter). Padding files (BEP 47)
// occupy piece space like any other file; storage should check
// Info.Files[span.File].IsPadding() and neither write nor read them from
// disk (their content is zeros).
//
// A Layout is immutable after NewLayout and safe for concurrent use.
type Layout struct {
	pieceLength int64
	total       int64
	numPieces   int
	// starts[j] is the absolute offset of file j; ends[j] = starts[j] + its
	// length. Both are non-decreasing, so lookups use binary search.
	starts []int64
	ends   []int64
}

// NewLayout computes the offsets of info's files once. info should have
// passed Parse's validation (or come from SetInfo); a non-positive piece
// length gives a layout with no pieces rather than a panic.
func NewLayout(info *Info) *Layout {
	l := &Layout{
		pieceLength: info.PieceLength,
		starts:      make([]int64, len(info.Files)),
		ends:        make([]int64, len(info.Files)),
	}
	var off int64
	for j, f := range info.Files {
		length := max(f.Length, 0)
		l.starts[j] = off
		off += length
		l.ends[j] = off
	}
	l.total = off
	if l.pieceLength > 0 {
		l.numPieces = int((l.total + l.pieceLength - 1) / l.pieceLength)
	}
	return l
}

// NumPieces returns the number of pieces in the piece space.
func (l *Layout) NumPieces() int { return l.numPieces }

// TotalLength returns the size of the piece space: the sum of file lengths.
func (l *Layout) TotalLength() int64 { return l.total }

// PieceLength returns the nominal piece length.
func (l *Layout) PieceLength() int64 { return l.pieceLength }

// PieceOffset returns the absolute offset at which piece i starts.
func (l *Layout) PieceOffset(i int) int64 { return int64(i) * l.pieceLength }

// PieceSize returns the length of piece i: PieceLength for all but the last
// piece, which holds the remainder. It is 0 for an index out of range.
func (l *Layout) PieceSize(i int) int64 {
	if i < 0 || i >= l.numPieces {
		return 0
	}
	start := int64(i) * l.pieceLength
	return min(l.pieceLength, l.total-start)
}

// FileOffset returns the absolute offset of file j in the piece space.
func (l *Layout) FileOffset(j int) int64 { return l.starts[j] }

// PieceSpans returns, in order, the parts of files that make up piece i.
// Zero-length files never appear; padding files do. It returns nil for an
// index out of range. The lookup is O(log files) plus the number of spans.
func (l *Layout) PieceSpans(i int) []FileSpan {
	size := l.PieceSize(i)
	if size == 0 {
		return nil
	}
	start := int64(i) * l.pieceLength
	return l.Spans(start, size)
}

// Spans returns, in order, the parts of files that hold the length bytes
// starting at absolute offset off, clipped to the piece space. It serves
// block requests as well as whole pieces.
func (l *Layout) Spans(off, length int64) []FileSpan {
	if off < 0 || length <= 0 || off >= l.total {
		return nil
	}
	end := min(off+length, l.total)
	if end < off { // overflow
		end = l.total
	}
	// The first file that ends after off holds byte off (zero-length files
	// end where they start, so they are never found here).
	j := sort.Search(len(l.ends), func(k int) bool { return l.ends[k] > off })
	var spans []FileSpan
	for ; j < len(l.starts) && l.starts[j] < end; j++ {
		if l.ends[j] == l.starts[j] {
			continue
		}
		s := max(off, l.starts[j])
		e := min(end, l.ends[j])
		spans = append(spans, FileSpan{File: j, Offset: s - l.starts[j], Length: e - s})
	}
	return spans
}

// FilePieces returns the half-open range [first, end) of pieces that hold
// bytes of file j. For a zero-length file the range is empty (first ==
// end), placed at the piece where the file would start.
func (l *Layout) FilePieces(j int) (first, end int) {
	if l.pieceLength <= 0 {
		return 0, 0
	}
	start, stop := l.starts[j], l.ends[j]
	first = int(start / l.pieceLength)
	if stop == start {
		first = min(first, l.numPieces)
		return first, first
	}
	end = int((stop-1)/l.pieceLength) + 1
	return first, end
}
