package dht

import (
	"crypto/sha1"
	"math"
	"math/bits"
	"net/netip"

	"shoal/dht/krpc"
)

// bloomFilter is the scrape filter of BEP 33: 256 bytes, two bits set per
// IP address, the bit indexes taken from the address's SHA-1.
type bloomFilter [krpc.BloomLen]byte

const bloomBits = 8 * krpc.BloomLen

// add inserts ip (4 bytes for IPv4, 16 for IPv6; never a port).
func (f *bloomFilter) add(ip netip.Addr) {
	h := sha1.Sum(ip.Unmap().AsSlice())
	i1 := (int(h[0]) | int(h[1])<<8) % bloomBits
	i2 := (int(h[2]) | int(h[3])<<8) % bloomBits
	f[i1/8] |= 1 << (i1 % 8)
	f[i2/8] |= 1 << (i2 % 8)
}

// union ORs g into f: the filter of the union of both sets.
func (f *bloomFilter) union(g *[krpc.BloomLen]byte) {
	for i := range f {
		f[i] |= g[i]
	}
}

// estimate returns BEP 33's estimate of how many addresses are in f:
// log(c/m) / (k·log(1-1/m)) with c the zero bits (at most m-1), k = 2.
func (f *bloomFilter) estimate() float64 {
	ones := 0
	for _, b := range f {
		ones += bits.OnesCount8(b)
	}
	c := min(bloomBits-ones, bloomBits-1)
	if c == bloomBits-1 && ones == 0 {
		return 0
	}
	return math.Log(float64(c)/bloomBits) / (2 * math.Log(1-1.0/bloomBits))
}
