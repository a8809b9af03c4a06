// Package bitfield is a fixed-length set of piece indices, stored as the
// BitTorrent wire format stores it (BEP 3): the high bit of the first byte
// is piece 0, and spare bits at the end must be zero.
package bitfield

import (
	"errors"
	"fmt"
	"math/bits"
)

// Bitfield is a set of piece indices in [0, Len()). The zero value is an
// empty bitfield of length 0. It is not safe for concurrent use.
type Bitfield struct {
	bytes []byte
	n     int
	count int
}

// New returns a bitfield of n pieces, none set.
func New(n int) *Bitfield {
	return &Bitfield{bytes: make([]byte, (n+7)/8), n: n}
}

// ErrSpareBits is returned by FromBytes when bits beyond the last piece are set.
var ErrSpareBits = errors.New("bitfield: spare bits set")

// FromBytes returns a bitfield of n pieces from its wire form. BEP 3 says a
// bitfield of the wrong length, or with spare bits set, is an error (the
// connection should be dropped); FromBytes reports both. b is copied.
func FromBytes(b []byte, n int) (*Bitfield, error) {
	if want := (n + 7) / 8; len(b) != want {
		return nil, fmt.Errorf("bitfield: %d bytes for %d pieces, want %d", len(b), n, want)
	}
	if n%8 != 0 && len(b) > 0 && b[len(b)-1]&(0xff>>(n%8)) != 0 {
		return nil, ErrSpareBits
	}
	bf := &Bitfield{bytes: append([]byte(nil), b...), n: n}
	for _, x := range bf.bytes {
		bf.count += bits.OnesCount8(x)
	}
	return bf, nil
}

// Len returns the number of pieces the bitfield covers.
func (b *Bitfield) Len() int { return b.n }

// Count returns how many pieces are set.
func (b *Bitfield) Count() int { return b.count }

// Full reports whether every piece is set.
func (b *Bitfield) Full() bool { return b.count == b.n }

// Empty reports whether no piece is set.
func (b *Bitfield) Empty() bool { return b.count == 0 }

// Has reports whether piece i is set; false when i is out of range.
func (b *Bitfield) Has(i int) bool {
	if i < 0 || i >= b.n {
		return false
	}
	return b.bytes[i>>3]&(0x80>>(i&7)) != 0
}

// Set marks piece i; it does nothing when i is out of range.
func (b *Bitfield) Set(i int) {
	if i < 0 || i >= b.n || b.Has(i) {
		return
	}
	b.bytes[i>>3] |= 0x80 >> (i & 7)
	b.count++
}

// Clear unmarks piece i; it does nothing when i is out of range.
func (b *Bitfield) Clear(i int) {
	if !b.Has(i) {
		return
	}
	b.bytes[i>>3] &^= 0x80 >> (i & 7)
	b.count--
}

// SetAll marks every piece.
func (b *Bitfield) SetAll() {
	for i := range b.bytes {
		b.bytes[i] = 0xff
	}
	if r := b.n % 8; r != 0 {
		b.bytes[len(b.bytes)-1] = 0xff << (8 - r)
	}
	b.count = b.n
}

// Bytes returns the wire form. The slice is the bitfield's own storage:
// copy it before changing the bitfield if it must outlive the change.
func (b *Bitfield) Bytes() []byte { return b.bytes }

// Clone returns an independent copy.
func (b *Bitfield) Clone() *Bitfield {
	return &Bitfield{bytes: append([]byte(nil), b.bytes...), n: b.n, count: b.count}
}

// NextSet returns the first set piece at or after i, or -1.
func (b *Bitfield) NextSet(i int) int {
	if i < 0 {
		i = 0
	}
	for i < b.n {
		byteIdx := i >> 3
		x := b.bytes[byteIdx] & (0xff >> (i & 7))
		if x != 0 {
			j := byteIdx<<3 + bits.LeadingZeros8(x)
			if j >= b.n {
				return -1
			}
			return j
		}
		i = (byteIdx + 1) << 3
	}
	return -1
}

// NextClear returns the first unset piece at or after i, or -1.
func (b *Bitfield) NextClear(i int) int {
	if i < 0 {
		i = 0
	}
	for i < b.n {
		byteIdx := i >> 3
		x := ^b.bytes[byteIdx] & (0xff >> (i & 7))
		if x != 0 {
			j := byteIdx<<3 + bits.LeadingZeros8(x)
			if j >= b.n {
				return -1
			}
			return j
		}
		i = (byteIdx + 1) << 3
	}
	return -1
}
