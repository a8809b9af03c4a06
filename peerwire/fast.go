package peerwire

import (
	"crypto/sha1"
	"encoding/binary"
	"math"
	"net/netip"

	"shoal/metainfo"
)

// AllowedFastSet computes the canonical allowed fast set of BEP 6: the k
// piece indices a peer at ip may request from us while choked. The same
// inputs always give the same set, and the set for k is a prefix of the set
// for k+1.
//
// BEP 6 defines the set for IPv4 only ("we currently have no provisions for
// IPv6"), so for an IPv6 address (other than an IPv4-mapped one) it returns
// nil: such peers get no allowed fast pieces. k is capped at numPieces, as
// there are no more distinct indices than pieces; numPieces or k ≤ 0 gives
// nil.
func AllowedFastSet(ip netip.Addr, ih metainfo.InfoHash, numPieces, k int) []uint32 {
	ip = ip.Unmap()
	if !ip.Is4() || numPieces <= 0 || k <= 0 {
		return nil
	}
	if int64(numPieces) > math.MaxUint32 {
		numPieces = math.MaxUint32
	}
	k = min(k, numPieces)
	sz := uint32(numPieces)

	// x = (ip & 0xFFFFFF00) ++ infohash: only the /24 counts, so a user with
	// several addresses on one network gets one set (BEP 6, step 1).
	var x [4 + 20]byte
	a4 := ip.As4()
	copy(x[:3], a4[:3])
	copy(x[4:], ih[:])
	hash := sha1.Sum(x[:])

	set := make([]uint32, 0, k)
	// A set for k up to a few dozen is searched linearly; larger ones (a
	// caller giving everything away fast) use a map so it stays linear.
	var seen map[uint32]struct{}
	if k > 32 {
		seen = make(map[uint32]struct{}, k)
	}
	for {
		for i := 0; i < 5 && len(set) < k; i++ {
			index := binary.BigEndian.Uint32(hash[i*4:]) % sz
			if contains(set, seen, index) {
				continue
			}
			set = append(set, index)
			if seen != nil {
				seen[index] = struct{}{}
			}
		}
		if len(set) >= k {
			return set
		}
		hash = sha1.Sum(hash[:]) // step 3: the next 20 pseudo-random bytes
	}
}

func contains(set []uint32, seen map[uint32]struct{}, index uint32) bool {
	if seen != nil {
		_, ok := seen[index]
		return ok
	}
	for _, v := range set {
		if v == index {
			return true
		}
	}
	return false
}
