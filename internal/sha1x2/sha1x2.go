package sha1x2

import (
	"crypto/sha1"
	"encoding/binary"
	"hash"
)

// Size is the size of a SHA-1 digest in bytes.
const Size = sha1.Size

// blockSize is the SHA-1 block size in bytes.
const blockSize = 64

// initState is H(0) of FIPS 180-4 section 5.3.1.
var initState = [5]uint32{0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0}

// Accelerated reports whether the two-lane block function is in use; when
// it is false every call hashes the two messages one after the other with
// crypto/sha1.
func Accelerated() bool { return haveTwoLanes }

// Sum2 returns the SHA-1 digests of a and b. When a and b have the same
// length they are hashed together in two lanes (see the package comment);
// otherwise, or without the SHA extensions, each is hashed on its own.
func Sum2(a, b []byte) (da, db [Size]byte) {
	if !haveTwoLanes || len(a) != len(b) {
		return sha1.Sum(a), sha1.Sum(b)
	}
	var l lanes
	l.reset()
	l.write(a, b)
	return l.sum()
}

// Digest2 is a running pair of SHA-1 computations fed with equal amounts
// of data, for callers that hash two messages of the same length in
// several pieces (for instance to look at a context between chunks). The
// zero value is not ready: call Reset first.
type Digest2 struct {
	lanes lanes
	// fallback hashes the lanes one after the other with crypto/sha1 when
	// the CPU lacks the SHA extensions; nil otherwise.
	fallback *[2]hash.Hash
}

// Reset starts both lanes over with empty messages.
func (d *Digest2) Reset() {
	if haveTwoLanes {
		d.lanes.reset()
		return
	}
	if d.fallback == nil {
		d.fallback = &[2]hash.Hash{sha1.New(), sha1.New()}
	}
	d.fallback[0].Reset()
	d.fallback[1].Reset()
}

// Write appends a to lane a's message and b to lane b's. It panics if a
// and b differ in length: the lanes advance block by block together, so
// that is a programming error, not a data error.
func (d *Digest2) Write(a, b []byte) {
	if len(a) != len(b) {
		panic("sha1x2: Digest2.Write with slices of different lengths")
	}
	if haveTwoLanes {
		d.lanes.write(a, b)
		return
	}
	d.fallback[0].Write(a)
	d.fallback[1].Write(b)
}

// Sum returns the digests of the two messages written so far. It does not
// change d, so more data may be written afterwards.
func (d *Digest2) Sum() (da, db [Size]byte) {
	if haveTwoLanes {
		return d.lanes.sum()
	}
	return fallbackSum(d.fallback[0]), fallbackSum(d.fallback[1])
}

// fallbackSum returns the digest in h. It is a function of its own so that
// only its own array escapes through the interface call, not Sum's
// results on the two-lane path.
//
//go:noinline
func fallbackSum(h hash.Hash) (d [Size]byte) {
	h.Sum(d[:0])
	return d
}

// lanes is the state of two SHA-1 computations run by blocks2.
type lanes struct {
	// state holds the chaining values of lane a then lane b.
	state [2][5]uint32
	// buf holds each lane's bytes not yet making a full block; both lanes
	// always hold the same number, nbuf.
	buf  [2][blockSize]byte
	nbuf int
	// length is the number of bytes written to each lane.
	length uint64
}

func (l *lanes) reset() {
	l.state[0], l.state[1] = initState, initState
	l.nbuf = 0
	l.length = 0
}

// write appends a and b, of equal lengths, to the lanes.
func (l *lanes) write(a, b []byte) {
	l.length += uint64(len(a))
	if l.nbuf > 0 {
		n := copy(l.buf[0][l.nbuf:], a)
		copy(l.buf[1][l.nbuf:], b)
		l.nbuf += n
		a, b = a[n:], b[n:]
		if l.nbuf < blockSize {
			return
		}
		blocks2(&l.state[0], &l.state[1], &l.buf[0][0], &l.buf[1][0], 1)
		l.nbuf = 0
	}
	if full := len(a) &^ (blockSize - 1); full > 0 {
		blocks2(&l.state[0], &l.state[1], &a[0], &b[0], full/blockSize)
		a, b = a[full:], b[full:]
	}
	l.nbuf = copy(l.buf[0][:], a)
	copy(l.buf[1][:], b)
}

// sum pads a copy of the lanes and returns their digests.
func (l *lanes) sum() (da, db [Size]byte) {
	// Padding per FIPS 180-4 section 5.1.1: a 1 bit, zeros up to 56 bytes
	// mod 64, then the message length in bits as a big-endian uint64. The
	// lanes have equal lengths, so their padding is the same.
	e := *l
	var pad [blockSize + 8]byte
	pad[0] = 0x80
	padLen := blockSize - int(e.length%blockSize)
	if padLen < 9 {
		padLen += blockSize
	}
	binary.BigEndian.PutUint64(pad[padLen-8:padLen], e.length<<3)
	e.write(pad[:padLen], pad[:padLen])
	for i := range 5 {
		binary.BigEndian.PutUint32(da[4*i:], e.state[0][i])
		binary.BigEndian.PutUint32(db[4*i:], e.state[1][i])
	}
	return da, db
}
