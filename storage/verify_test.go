package storage

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestVerifyPartial(t *testing.T) {
	// 16-byte pieces over a (40), b (30), c (26): 6 pieces.
	// piece 0: a[0:16]; 1: a[16:32]; 2: a[32:40] b[0:8]; 3: b[8:24];
	// 4: b[24:30] c[0:10]; 5: c[10:26] (short last piece).
	tt := newTorrent(t, 16, tfile{"a", 40, ""}, tfile{"b", 30, ""}, tfile{"c", 26, ""})
	root := t.TempDir()
	s := newStorage(t, root, tt, FileOptions{})
	writePieces(t, s, tt, 0, 1, 2, 3)
	// Corrupt piece 1 on disk; c never exists (pieces 4 and 5 missing),
	// and b ends at 24 so piece 4's part of b is missing too.
	pa := tt.path(t, root, 0)
	f, err := os.OpenFile(pa, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{^tt.data[20]}, 20); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var calls []int
	bf, err := Verify(context.Background(), s, tt.info, 3, func(done, total int) {
		if total != 6 {
			t.Errorf("progress total %d, want 6", total)
		}
		calls = append(calls, done)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []bool{true, false, true, true, false, false}
	for i, w := range want {
		if bf.Has(i) != w {
			t.Errorf("piece %d verified = %v, want %v", i, bf.Has(i), w)
		}
	}
	if len(calls) != 6 || calls[5] != 6 {
		t.Errorf("progress calls %v, want 1..6", calls)
	}

	// A fresh storage over the same tree agrees once c is written with
	// one bad byte in piece 5.
	s2 := newStorage(t, root, tt, FileOptions{})
	bad := append([]byte(nil), tt.piece(5)...)
	bad[0] ^= 1
	writePieces(t, s2, tt, 4)
	if err := s2.WritePiece(5, bad); err != nil {
		t.Fatal(err)
	}
	bf, err = Verify(context.Background(), s2, tt.info, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := bf.Bytes()[0]; got != 0b10111000 {
		t.Fatalf("bitfield %08b, want 10111000", got)
	}
}

func TestVerifyEmptyTorrent(t *testing.T) {
	tt := newTorrent(t, 16, tfile{"a", 0, ""})
	s := newStorage(t, t.TempDir(), tt, FileOptions{})
	bf, err := Verify(context.Background(), s, tt.info, 4, nil)
	if err != nil || bf.Len() != 0 {
		t.Fatalf("Verify of a torrent without pieces: %v, %v", bf, err)
	}
}

// slowStorage serves ReadBlock from data after a delay and counts the
// reads in progress.
type slowStorage struct {
	tt       *testTorrent
	delay    time.Duration
	inFlight atomic.Int32
	reads    atomic.Int32
	failAt   int   // piece whose read fails with failErr; -1 for none
	failErr  error // the error for failAt
}

func (s *slowStorage) ReadBlock(piece int, begin int64, buf []byte) error {
	s.inFlight.Add(1)
	s.reads.Add(1)
	defer s.inFlight.Add(-1)
	time.Sleep(s.delay)
	if piece == s.failAt {
		return s.failErr
	}
	copy(buf, s.tt.piece(piece)[begin:])
	return nil
}
func (s *slowStorage) WritePiece(int, []byte) error { return nil }
func (s *slowStorage) Sync() error                  { return nil }
func (s *slowStorage) Close() error                 { return nil }

func TestVerifyCancel(t *testing.T) {
	tt := newTorrent(t, 16, tfile{"", 16 * 200, ""})
	st := &slowStorage{tt: tt, delay: time.Millisecond, failAt: -1}
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	bf, err := Verify(ctx, st, tt.info, 4, func(done, total int) {
		if done >= 5 {
			once.Do(cancel)
		}
	})
	if !errors.Is(err, context.Canceled) || bf != nil {
		t.Fatalf("Verify after cancel: %v, %v; want context.Canceled", bf, err)
	}
	if n := st.inFlight.Load(); n != 0 {
		t.Fatalf("%d reads still running after Verify returned", n)
	}
	// Each worker finishes at most the piece it is on, so about 5+4
	// pieces are read, not 200.
	if n := st.reads.Load(); n > 50 {
		t.Fatalf("%d pieces read; cancel after 5 should stop the workers", n)
	}
}

func TestVerifyReadError(t *testing.T) {
	tt := newTorrent(t, 16, tfile{"", 16 * 20, ""})
	ioErr := errors.New("disk on fire")
	st := &slowStorage{tt: tt, failAt: 7, failErr: ioErr}
	if _, err := Verify(context.Background(), st, tt.info, 3, nil); !errors.Is(err, ioErr) {
		t.Fatalf("Verify: %v, want the read error", err)
	}
	// Missing data is not an error.
	st = &slowStorage{tt: tt, failAt: 7, failErr: ErrMissing}
	bf, err := Verify(context.Background(), st, tt.info, 3, nil)
	if err != nil || bf.Count() != 19 || bf.Has(7) {
		t.Fatalf("Verify with piece 7 missing: %v (%d set), %v", bf, bf.Count(), err)
	}
}

func TestVerifyPiecesChecksOnlyThoseListed(t *testing.T) {
	tt := newTorrent(t, 16, tfile{"a", 40, ""}, tfile{"b", 30, ""}, tfile{"c", 26, ""})
	root := t.TempDir()
	s := newStorage(t, root, tt, FileOptions{})
	writePieces(t, s, tt, allPieces(tt.numPieces())...)
	bf, err := VerifyPieces(context.Background(), s, tt.info, []int{1, 4}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < tt.numPieces(); i++ {
		if want := i == 1 || i == 4; bf.Has(i) != want {
			t.Errorf("piece %d: verified %v, want %v", i, bf.Has(i), want)
		}
	}
	if _, err := VerifyPieces(context.Background(), s, tt.info, []int{6}, 2, nil); err == nil {
		t.Error("out-of-range piece accepted")
	}
	if bf, err := VerifyPieces(context.Background(), s, tt.info, []int{}, 2, nil); err != nil || !bf.Empty() {
		t.Errorf("empty list: %v, %v", bf, err)
	}
}

// readBlockOnly hides FileStorage's type, so Verify takes its generic
// ReadBlock path.
type readBlockOnly struct{ Storage }

func TestVerifyMappedAgreesWithReadBlock(t *testing.T) {
	// File a spans two 8 MiB mapping windows; pad is a BEP 47 padding file
	// that aligns b to a piece; c goes missing, d is truncated.
	const pl = 16 << 10
	tt := newTorrent(t, pl, tfile{"a", 9<<20 + 100, ""}, tfile{"pad", pl - 100, "p"},
		tfile{"b", 50_000, ""}, tfile{"c", 30_000, ""}, tfile{"d", 70_000, ""})
	root := t.TempDir()
	s := newStorage(t, root, tt, FileOptions{})
	writePieces(t, s, tt, allPieces(tt.numPieces())...)
	bf, err := Verify(context.Background(), s, tt.info, 2, nil)
	if err != nil || bf.Count() != tt.numPieces() {
		t.Fatalf("intact data: %d of %d pieces verified, %v", bf.Count(), tt.numPieces(), err)
	}

	f, err := os.OpenFile(tt.path(t, root, 0), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{^tt.data[8<<20+5]}, 8<<20+5); err != nil { // piece 512
		t.Fatal(err)
	}
	f.Close()
	if err := os.Remove(tt.path(t, root, 3)); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(tt.path(t, root, 4), 10_000); err != nil {
		t.Fatal(err)
	}
	// A fresh storage: s still holds c open, which would read as present.
	damaged := newStorage(t, root, tt, FileOptions{})
	mapped, err := Verify(context.Background(), damaged, tt.info, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	read, err := Verify(context.Background(), readBlockOnly{damaged}, tt.info, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Pieces: a is 0-576 (576 holds a's last 100 bytes and the padding),
	// b 577-580, c 580-582 (piece 580 is shared with b), d 582-587;
	// d's first 10,000 bytes keep piece 582 only if c were there.
	bStart := int64(9<<20+100+pl-100) / pl
	cStart := (int64(9<<20+pl) + 50_000) / pl
	for i := range tt.numPieces() {
		want := true
		switch {
		case i == 512:
			want = false
		case int64(i) >= cStart:
			want = false
		}
		if mapped.Has(i) != want || read.Has(i) != want {
			t.Errorf("piece %d: mapped %v, ReadBlock %v, want %v", i, mapped.Has(i), read.Has(i), want)
		}
	}
	if bStart != 577 || cStart != 580 {
		t.Fatalf("layout assumptions wrong: b starts in piece %d, c in %d", bStart, cStart)
	}

	// A symlink in place of a file is refused by both paths alike.
	if err := os.Remove(tt.path(t, root, 2)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(tt.path(t, root, 0), tt.path(t, root, 2)); err != nil {
		t.Fatal(err)
	}
	s2 := newStorage(t, root, tt, FileOptions{})
	for _, st := range []Storage{s2, readBlockOnly{s2}} {
		if _, err := Verify(context.Background(), st, tt.info, 2, nil); err == nil || !strings.Contains(err.Error(), "symlink") {
			t.Errorf("%T: Verify over a symlink: %v, want an error naming it", st, err)
		}
	}
}

// TestVerifyPairsTellLanesApart damages one piece of some of the pairs
// that mapped verification hashes together (internal/sha1x2), with pieces
// that cross file boundaries at different places in the two lanes, and
// checks that exactly the damaged pieces fail.
func TestVerifyPairsTellLanesApart(t *testing.T) {
	const pl = 1000
	tt := newTorrent(t, pl, tfile{"a", 3300, ""}, tfile{"b", 1, ""}, tfile{"c", 4200, ""}, tfile{"d", 2555, ""})
	root := t.TempDir()
	s := newStorage(t, root, tt, FileOptions{})
	writePieces(t, s, tt, allPieces(tt.numPieces())...)
	damaged := map[int]bool{1: true, 4: true, 7: true, 8: true}
	for i := range damaged {
		bad := append([]byte(nil), tt.piece(i)...)
		bad[len(bad)-1] ^= 0x40
		if err := s.WritePiece(i, bad); err != nil {
			t.Fatal(err)
		}
	}
	for _, workers := range []int{1, 2, 3} {
		bf, err := Verify(context.Background(), newStorage(t, root, tt, FileOptions{}), tt.info, workers, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range tt.numPieces() {
			if bf.Has(i) == damaged[i] {
				t.Errorf("workers %d: piece %d verified = %v, damaged %v", workers, i, bf.Has(i), damaged[i])
			}
		}
	}
}
