package bitfield

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzFromBytes feeds a peer's BITFIELD payload (BEP 3) for a torrent of n
// pieces, n from the first two bytes. What FromBytes accepts has exactly
// (n+7)/8 bytes and no spare bit set; its count, Has and NextSet agree
// with each other; and rebuilding it piece by piece gives the same bytes.
func FuzzFromBytes(f *testing.F) {
	f.Add([]byte{0, 9, 0xff, 0x80})
	f.Add([]byte{0, 9, 0xff, 0x81})
	f.Add([]byte{0, 16, 0xa5, 0x5a})
	f.Add([]byte{0, 0})
	f.Add([]byte{0, 3, 0xe0, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		n := int(data[0])<<8 | int(data[1])
		payload := bytes.Clone(data[2:])
		b, err := FromBytes(payload, n)
		if err != nil {
			if len(payload) == (n+7)/8 && !errors.Is(err, ErrSpareBits) {
				t.Fatalf("right length refused for another reason: %v", err)
			}
			return
		}
		if len(payload) != (n+7)/8 || b.Len() != n {
			t.Fatalf("accepted %d bytes for %d pieces", len(payload), n)
		}
		rebuilt := New(n)
		count := 0
		next := b.NextSet(0)
		for i := range n {
			if b.Has(i) {
				count++
				rebuilt.Set(i)
				if next != i {
					t.Fatalf("NextSet gave %d, but %d is the next set piece", next, i)
				}
				next = b.NextSet(i + 1)
			}
		}
		if next != -1 {
			t.Fatalf("NextSet found %d after the last set piece", next)
		}
		if count != b.Count() || b.Full() != (count == n) || b.Empty() != (count == 0) {
			t.Fatalf("Count %d, but %d pieces set of %d", b.Count(), count, n)
		}
		if !bytes.Equal(rebuilt.Bytes(), payload) || !bytes.Equal(b.Bytes(), payload) {
			t.Fatalf("bytes %x rebuilt as %x", payload, rebuilt.Bytes())
		}
		if len(payload) > 0 {
			payload[0] ^= 0xff
			if b.Bytes()[0] == payload[0] {
				t.Fatal("the bitfield aliases the payload it was made from")
			}
		}
	})
}
