package krpc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"shoal/bencode"
)

// Sizes of the compact formats of BEP 5 (IPv4) and BEP 32 (IPv6).
const (
	CompactAddrLen4 = 6  // 4-byte address + 2-byte port
	CompactAddrLen6 = 18 // 16-byte address + 2-byte port
	CompactNodeLen4 = 20 + CompactAddrLen4
	CompactNodeLen6 = 20 + CompactAddrLen6
)

// NodeInfo is one entry of a "nodes" or "nodes6" string: a node id and the
// UDP address the node listens on.
type NodeInfo struct {
	ID   [20]byte
	Addr netip.AddrPort
}

// AppendCompactAddr appends addr in the compact form: the address in
// network byte order (4 bytes for IPv4, 16 for IPv6) and the port
// big-endian. IPv4-mapped IPv6 addresses are written as IPv4.
func AppendCompactAddr(b []byte, addr netip.AddrPort) []byte {
	ip := addr.Addr().Unmap()
	if ip.Is4() {
		a := ip.As4()
		b = append(b, a[:]...)
	} else {
		a := ip.As16()
		b = append(b, a[:]...)
	}
	return binary.BigEndian.AppendUint16(b, addr.Port())
}

// ParseCompactAddr reads a 6-byte (IPv4) or 18-byte (IPv6) compact address.
func ParseCompactAddr(b []byte) (netip.AddrPort, error) {
	switch len(b) {
	case CompactAddrLen4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), binary.BigEndian.Uint16(b[4:])), nil
	case CompactAddrLen6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[:16])), binary.BigEndian.Uint16(b[16:])), nil
	}
	return netip.AddrPort{}, fmt.Errorf("compact address of %d bytes, want %d or %d", len(b), CompactAddrLen4, CompactAddrLen6)
}

// Addr is a compact address as a bencoded string, the form of the
// top-level "ip" field of BEP 42. The zero Addr is omitted when encoding.
type Addr struct{ netip.AddrPort }

var (
	_ bencode.Marshaler   = Addr{}
	_ bencode.Unmarshaler = (*Addr)(nil)
)

// MarshalBencode writes the compact form as a string.
func (a Addr) MarshalBencode() ([]byte, error) {
	if !a.IsValid() {
		return nil, errors.New("invalid address")
	}
	return bencode.Marshal(AppendCompactAddr(nil, a.AddrPort))
}

// UnmarshalBencode reads a 6- or 18-byte compact address string.
func (a *Addr) UnmarshalBencode(data []byte) error {
	var b []byte
	if err := bencode.Unmarshal(data, &b); err != nil {
		return err
	}
	ap, err := ParseCompactAddr(b)
	if err != nil {
		return err
	}
	a.AddrPort = ap
	return nil
}

// Nodes is a "nodes" string: IPv4 compact node info, 26 bytes a node.
type Nodes []NodeInfo

// Nodes6 is a "nodes6" string (BEP 32): IPv6 compact node info, 38 bytes a
// node.
type Nodes6 []NodeInfo

var (
	_ bencode.Marshaler   = Nodes(nil)
	_ bencode.Unmarshaler = (*Nodes)(nil)
	_ bencode.Marshaler   = Nodes6(nil)
	_ bencode.Unmarshaler = (*Nodes6)(nil)
)

// MarshalBencode writes the IPv4 nodes; an IPv6 node in the list is an
// error because it cannot be written in 26 bytes.
func (ns Nodes) MarshalBencode() ([]byte, error) { return marshalNodes(ns, false) }

// UnmarshalBencode reads 26-byte entries, at most MaxNodes of them.
func (ns *Nodes) UnmarshalBencode(data []byte) error {
	list, err := unmarshalNodes(data, CompactNodeLen4)
	*ns = list
	return err
}

// MarshalBencode writes the IPv6 nodes; an IPv4 node in the list is an
// error.
func (ns Nodes6) MarshalBencode() ([]byte, error) { return marshalNodes(ns, true) }

// UnmarshalBencode reads 38-byte entries, at most MaxNodes of them.
func (ns *Nodes6) UnmarshalBencode(data []byte) error {
	list, err := unmarshalNodes(data, CompactNodeLen6)
	*ns = list
	return err
}

func marshalNodes(ns []NodeInfo, v6 bool) ([]byte, error) {
	size := CompactNodeLen4
	if v6 {
		size = CompactNodeLen6
	}
	b := make([]byte, 0, len(ns)*size)
	for _, n := range ns {
		if n.Addr.Addr().Unmap().Is4() == v6 {
			return nil, fmt.Errorf("node %v: wrong address family for a %d-byte entry", n.Addr, size)
		}
		b = append(b, n.ID[:]...)
		b = AppendCompactAddr(b, n.Addr)
	}
	return bencode.Marshal(b)
}

func unmarshalNodes(data []byte, size int) ([]NodeInfo, error) {
	var b []byte
	if err := bencode.Unmarshal(data, &b); err != nil {
		return nil, err
	}
	if len(b)%size != 0 {
		return nil, fmt.Errorf("%d bytes of compact node info, not a multiple of %d", len(b), size)
	}
	if len(b)/size > MaxNodes {
		return nil, fmt.Errorf("%d nodes, limit %d", len(b)/size, MaxNodes)
	}
	list := make([]NodeInfo, 0, len(b)/size)
	for off := 0; off < len(b); off += size {
		var n NodeInfo
		copy(n.ID[:], b[off:off+20])
		n.Addr, _ = ParseCompactAddr(b[off+20 : off+size]) // length is right by construction
		list = append(list, n)
	}
	return list, nil
}

// Values is a get_peers "values" list: one compact peer address per string.
// BEP 32 asks receivers to accept a mix of 6- and 18-byte entries; entries
// of any other length are skipped rather than failing the whole reply.
type Values []netip.AddrPort

var (
	_ bencode.Marshaler   = Values(nil)
	_ bencode.Unmarshaler = (*Values)(nil)
)

// MarshalBencode writes a list of compact address strings.
func (vs Values) MarshalBencode() ([]byte, error) {
	b := []byte{'l'}
	for _, v := range vs {
		if v.Addr().Unmap().Is4() {
			b = append(b, "6:"...)
		} else {
			b = append(b, "18:"...)
		}
		b = AppendCompactAddr(b, v)
	}
	return append(b, 'e'), nil
}

// UnmarshalBencode reads at most MaxValues compact peer strings.
func (vs *Values) UnmarshalBencode(data []byte) error {
	var list [][]byte
	if err := bencode.Unmarshal(data, &list); err != nil {
		return err
	}
	if len(list) > MaxValues {
		return fmt.Errorf("%d values, limit %d", len(list), MaxValues)
	}
	out := make(Values, 0, len(list))
	for _, s := range list {
		if ap, err := ParseCompactAddr(s); err == nil {
			out = append(out, ap)
		}
	}
	*vs = out
	return nil
}

// Samples is the "samples" string of BEP 51: concatenated 20-byte info
// hashes.
type Samples [][20]byte

var (
	_ bencode.Marshaler   = Samples(nil)
	_ bencode.Unmarshaler = (*Samples)(nil)
)

// MarshalBencode writes the hashes as one string.
func (s Samples) MarshalBencode() ([]byte, error) {
	b := make([]byte, 0, 20*len(s))
	for _, h := range s {
		b = append(b, h[:]...)
	}
	return bencode.Marshal(b)
}

// UnmarshalBencode reads a multiple of 20 bytes, at most MaxSamples hashes.
func (s *Samples) UnmarshalBencode(data []byte) error {
	var b []byte
	if err := bencode.Unmarshal(data, &b); err != nil {
		return err
	}
	if len(b)%20 != 0 {
		return fmt.Errorf("samples of %d bytes, not a multiple of 20", len(b))
	}
	if len(b)/20 > MaxSamples {
		return fmt.Errorf("%d samples, limit %d", len(b)/20, MaxSamples)
	}
	out := make(Samples, len(b)/20)
	for i := range out {
		copy(out[i][:], b[20*i:])
	}
	*s = out
	return nil
}
