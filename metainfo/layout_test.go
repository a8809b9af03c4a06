package metainfo

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

func layoutOf(pieceLength int64, lengths ...int64) (*Info, *Layout) {
	info := &Info{PieceLength: pieceLength}
	for _, n := range lengths {
		info.Files = append(info.Files, File{Length: n})
	}
	if pieceLength > 0 {
		info.Pieces = make([]PieceHash, (info.TotalLength()+pieceLength-1)/pieceLength)
	}
	return info, NewLayout(info)
}

func TestLayoutExample(t *testing.T) {
	// Files of 5, 0, 3 and 12 bytes in pieces of 4: 20 bytes, 5 pieces.
	_, l := layoutOf(4, 5, 0, 3, 12)
	if l.NumPieces() != 5 || l.TotalLength() != 20 {
		t.Fatalf("pieces %d total %d", l.NumPieces(), l.TotalLength())
	}
	want := [][]FileSpan{
		{{File: 0, Offset: 0, Length: 4}},
		{{File: 0, Offset: 4, Length: 1}, {File: 2, Offset: 0, Length: 3}},
		{{File: 3, Offset: 0, Length: 4}},
		{{File: 3, Offset: 4, Length: 4}},
		{{File: 3, Offset: 8, Length: 4}},
	}
	for i, w := range want {
		if got := l.PieceSpans(i); !reflect.DeepEqual(got, w) {
			t.Errorf("piece %d: %+v, want %+v", i, got, w)
		}
	}
	for _, i := range []int{-1, 5, 100} {
		if got := l.PieceSpans(i); got != nil {
			t.Errorf("PieceSpans(%d) = %+v, want nil", i, got)
		}
	}
	ranges := [][2]int{{0, 2}, {1, 1}, {1, 2}, {2, 5}}
	for j, r := range ranges {
		if first, end := l.FilePieces(j); first != r[0] || end != r[1] {
			t.Errorf("FilePieces(%d) = [%d, %d), want [%d, %d)", j, first, end, r[0], r[1])
		}
	}
	if l.FileOffset(3) != 8 || l.PieceSize(4) != 4 {
		t.Errorf("FileOffset(3) = %d PieceSize(4) = %d", l.FileOffset(3), l.PieceSize(4))
	}
	if got := l.Spans(3, 4); !reflect.DeepEqual(got, []FileSpan{{0, 3, 2}, {2, 0, 2}}) {
		t.Errorf("Spans(3, 4) = %+v", got)
	}
}

func TestLayoutShortLastPieceAndZeroFileAtEnd(t *testing.T) {
	info, l := layoutOf(16, 20, 0)
	if l.NumPieces() != 2 || l.PieceSize(1) != 4 || info.TotalLength() != 20 {
		t.Fatalf("pieces %d last %d", l.NumPieces(), l.PieceSize(1))
	}
	if first, end := l.FilePieces(1); first != end || first != 1 {
		t.Errorf("zero-length file at the end: [%d, %d)", first, end)
	}
	_, bad := layoutOf(0, 10)
	if bad.NumPieces() != 0 || bad.PieceSpans(0) != nil {
		t.Error("zero piece length gave pieces")
	}
}

// TestLayoutProperties checks, for random file lists and piece lengths,
// that the spans of all pieces, concatenated, cover every byte of every
// non-empty file exactly once and in order, and that FilePieces agrees
// with PieceSpans.
func TestLayoutProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 2000 {
		n := rng.IntN(12) + 1
		lengths := make([]int64, n)
		for j := range lengths {
			switch rng.IntN(4) {
			case 0:
				lengths[j] = 0
			case 1:
				lengths[j] = rng.Int64N(4) + 1
			default:
				lengths[j] = rng.Int64N(200) + 1
			}
		}
		pieceLength := rng.Int64N(64) + 1
		info, l := layoutOf(pieceLength, lengths...)
		if l.TotalLength() != info.TotalLength() || l.NumPieces() != info.NumPieces() {
			t.Fatalf("iter %d: total %d vs %d", iter, l.TotalLength(), info.TotalLength())
		}

		// Walk the pieces and check the spans continue exactly where the
		// previous span stopped.
		file, off := 0, int64(0)
		touched := make([]map[int]bool, n)
		for j := range touched {
			touched[j] = map[int]bool{}
		}
		for i := range l.NumPieces() {
			var sum int64
			for _, s := range l.PieceSpans(i) {
				for file < n && off == lengths[file] {
					file, off = file+1, 0
				}
				if s.File != file || s.Offset != off || s.Length <= 0 || s.Offset+s.Length > lengths[s.File] {
					t.Fatalf("iter %d (lengths %v, piece length %d): piece %d span %+v, expected file %d offset %d",
						iter, lengths, pieceLength, i, s, file, off)
				}
				off += s.Length
				sum += s.Length
				touched[s.File][i] = true
			}
			if sum != l.PieceSize(i) || sum != info.PieceSize(i) {
				t.Fatalf("iter %d: piece %d spans %d bytes, size %d", iter, i, sum, l.PieceSize(i))
			}
		}
		for file < n && off == lengths[file] {
			file, off = file+1, 0
		}
		if file != n {
			t.Fatalf("iter %d (lengths %v, piece length %d): coverage stopped at file %d offset %d",
				iter, lengths, pieceLength, file, off)
		}
		for j := range lengths {
			first, end := l.FilePieces(j)
			if len(touched[j]) != end-first {
				t.Fatalf("iter %d: file %d touches %d pieces, FilePieces says [%d, %d)", iter, j, len(touched[j]), first, end)
			}
			for i := first; i < end; i++ {
				if !touched[j][i] {
					t.Fatalf("iter %d: file %d: piece %d in [%d, %d) has no span of it", iter, j, i, first, end)
				}
			}
			if l.FileOffset(j) != sumBefore(lengths, j) {
				t.Fatalf("iter %d: FileOffset(%d) = %d", iter, j, l.FileOffset(j))
			}
		}
	}
}

func sumBefore(lengths []int64, j int) int64 {
	var s int64
	for _, n := range lengths[:j] {
		s += n
	}
	return s
}
