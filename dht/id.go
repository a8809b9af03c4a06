package dht

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"net/netip"
)

// ID is a node id: 160 bits in the same space as info hashes (BEP 5).
type ID [20]byte

// String returns the id as 40 lowercase hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// randomID returns an id chosen uniformly at random.
func randomID() ID {
	var id ID
	rand.Read(id[:])
	return id
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// bep42Prefix returns the CRC32C that BEP 42 derives from ip and r (0-7):
// the address masked class by class, r in the top three bits, hashed
// big-endian. IPv6 uses only the high 64 bits of the address.
func bep42Prefix(ip netip.Addr, r byte) uint32 {
	ip = ip.Unmap()
	if ip.Is4() {
		a := ip.As4()
		v := binary.BigEndian.Uint32(a[:])&0x030f3fff | uint32(r&7)<<29
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], v)
		return crc32.Checksum(b[:], castagnoli)
	}
	a := ip.As16()
	v := binary.BigEndian.Uint64(a[:8])&0x0103070f1f3f7fff | uint64(r&7)<<61
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return crc32.Checksum(b[:], castagnoli)
}

// SecureID returns a BEP 42 node id for the external address ip: the first
// 21 bits come from the CRC32C of the masked address and the random number
// r, the last byte is r, and the rest is random.
func SecureID(ip netip.Addr) ID {
	id := randomID()
	return secureIDFrom(ip, id[19], id)
}

// secureIDFrom builds the id from a chosen last byte (whose low three bits
// are BEP 42's r) and random filler, so the BEP's test vectors can be
// checked.
func secureIDFrom(ip netip.Addr, last byte, filler ID) ID {
	crc := bep42Prefix(ip, last&7)
	id := filler
	id[0] = byte(crc >> 24)
	id[1] = byte(crc >> 16)
	id[2] = byte(crc>>8)&0xf8 | filler[2]&7
	id[19] = last
	return id
}

// VerifyID reports whether id is a valid BEP 42 id for ip. Addresses that
// BEP 42 exempts (local networks, loopback) always verify.
func VerifyID(id ID, ip netip.Addr) bool {
	if exemptFromBEP42(ip) {
		return true
	}
	crc := bep42Prefix(ip, id[19]&7)
	return id[0] == byte(crc>>24) && id[1] == byte(crc>>16) && id[2]&0xf8 == byte(crc>>8)&0xf8
}

// exemptFromBEP42 reports whether BEP 42 exempts ip from id verification:
// 10/8, 172.16/12, 192.168/16, 169.254/16 and 127/8 (and, in the same
// spirit, IPv6 loopback, link-local and unique-local addresses).
func exemptFromBEP42(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()
}

// publicAddr reports whether ip is a global address another node could see
// us at, i.e. one worth deriving a BEP 42 id from.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && ip.IsGlobalUnicast() && !exemptFromBEP42(ip)
}

// commonPrefixLen returns how many leading bits a and b share (160 when
// they are equal).
func commonPrefixLen(a, b ID) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			n := 0
			for x&0x80 == 0 {
				x <<= 1
				n++
			}
			return 8*i + n
		}
	}
	return 160
}

// randomIDWithPrefix returns a random id sharing exactly bits leading bits
// with self (the next bit differs); bits >= 160 returns self.
func randomIDWithPrefix(self ID, bits int) ID {
	if bits >= 160 {
		return self
	}
	id := randomID()
	for i := 0; i < bits; i++ {
		mask := byte(0x80) >> (i % 8)
		id[i/8] = id[i/8]&^mask | self[i/8]&mask
	}
	mask := byte(0x80) >> (bits % 8)
	id[bits/8] = id[bits/8]&^mask | ^self[bits/8]&mask
	return id
}
