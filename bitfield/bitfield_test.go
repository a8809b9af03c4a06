package bitfield

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestSetClearCount(t *testing.T) {
	b := New(10)
	if b.Len() != 10 || len(b.Bytes()) != 2 || !b.Empty() {
		t.Fatalf("New(10): len %d bytes %d", b.Len(), len(b.Bytes()))
	}
	b.Set(0)
	b.Set(9)
	b.Set(9)
	b.Set(10) // out of range: ignored
	b.Set(-1)
	if b.Count() != 2 || !b.Has(0) || !b.Has(9) || b.Has(1) || b.Has(10) {
		t.Fatalf("after sets: count %d bytes %08b", b.Count(), b.Bytes())
	}
	if got := b.Bytes(); got[0] != 0x80 || got[1] != 0x40 {
		t.Errorf("wire form %08b, want [10000000 01000000]", got)
	}
	b.Clear(0)
	b.Clear(0)
	if b.Count() != 1 || b.Has(0) {
		t.Errorf("after clear: count %d", b.Count())
	}
	b.SetAll()
	if !b.Full() || b.Bytes()[1] != 0xc0 {
		t.Errorf("SetAll: %08b", b.Bytes())
	}
}

func TestFromBytes(t *testing.T) {
	if _, err := FromBytes([]byte{0xff}, 10); err == nil {
		t.Error("short bitfield accepted")
	}
	if _, err := FromBytes([]byte{0xff, 0xc0, 0}, 10); err == nil {
		t.Error("long bitfield accepted")
	}
	if _, err := FromBytes([]byte{0xff, 0xe0}, 10); !errors.Is(err, ErrSpareBits) {
		t.Errorf("spare bit: err = %v", err)
	}
	b, err := FromBytes([]byte{0xff, 0xc0}, 10)
	if err != nil || !b.Full() {
		t.Fatalf("full: %v %v", b, err)
	}
	b, err = FromBytes([]byte{0xff}, 8)
	if err != nil || b.Count() != 8 {
		t.Fatalf("8 pieces: %v", err)
	}
	if b, err := FromBytes(nil, 0); err != nil || b.Len() != 0 {
		t.Fatalf("empty: %v", err)
	}
}

func TestNextSetClearMatchesHas(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 200; round++ {
		n := r.IntN(70)
		b := New(n)
		for i := 0; i < n; i++ {
			if r.IntN(3) == 0 {
				b.Set(i)
			}
		}
		for i := -1; i <= n; i++ {
			wantSet, wantClear := -1, -1
			for j := max(i, 0); j < n; j++ {
				if b.Has(j) && wantSet < 0 {
					wantSet = j
				}
				if !b.Has(j) && wantClear < 0 {
					wantClear = j
				}
			}
			if got := b.NextSet(i); got != wantSet {
				t.Fatalf("n=%d %08b NextSet(%d) = %d, want %d", n, b.Bytes(), i, got, wantSet)
			}
			if got := b.NextClear(i); got != wantClear {
				t.Fatalf("n=%d %08b NextClear(%d) = %d, want %d", n, b.Bytes(), i, got, wantClear)
			}
		}
		c := b.Clone()
		c.SetAll()
		if b.Full() && n > 0 && b.Count() != n {
			t.Fatal("clone shares storage")
		}
	}
}
