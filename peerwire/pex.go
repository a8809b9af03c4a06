package peerwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"shoal/bencode"
)

// PEXFlags are the per-peer flags of a ut_pex message (BEP 11).
type PEXFlags uint8

// The flags BEP 11 defines; other bits are reserved.
const (
	PEXEncryption PEXFlags = 0x01 // prefers encryption ("e" in its handshake)
	PEXSeed       PEXFlags = 0x02 // seed or upload only
	PEXUTP        PEXFlags = 0x04 // supports uTP
	PEXHolepunch  PEXFlags = 0x08 // announced ut_holepunch
	PEXReachable  PEXFlags = 0x10 // we connected out to it: it accepts connections
)

// MaxPEXPeers bounds each list of a parsed ut_pex message: at most this
// many added peers (IPv4 and IPv6 together) and as many dropped ones are
// kept, the rest ignored. BEP 11 asks senders for at most 50 per list
// except in the first message, which lists every current connection.
const MaxPEXPeers = 200

// ErrBadPEX is wrapped by ParsePEX errors.
var ErrBadPEX = errors.New("peerwire: malformed ut_pex message")

// PEXPeer is one added peer of a ut_pex message.
type PEXPeer struct {
	Addr  netip.AddrPort
	Flags PEXFlags
}

// PEXMessage is the payload of a ut_pex message: peers the sender
// connected to and disconnected from since its previous message.
type PEXMessage struct {
	Added   []PEXPeer
	Dropped []netip.AddrPort
}

// pexWire is the dictionary of a ut_pex message. Every key is written,
// empty or not, as libtorrent does: BEP 11 requires at least one of the
// lists to be present.
type pexWire struct {
	Added    []byte `bencode:"added"`
	AddedF   []byte `bencode:"added.f"`
	Added6   []byte `bencode:"added6"`
	Added6F  []byte `bencode:"added6.f"`
	Dropped  []byte `bencode:"dropped"`
	Dropped6 []byte `bencode:"dropped6"`
}

// Marshal encodes m as a ut_pex payload, IPv4 and IPv6 addresses in their
// compact forms (4 or 16 bytes of address, 2 of port, big endian). It
// refuses invalid addresses and port 0.
func (m PEXMessage) Marshal() ([]byte, error) {
	var w pexWire
	w.Added, w.AddedF, w.Added6, w.Added6F = []byte{}, []byte{}, []byte{}, []byte{}
	w.Dropped, w.Dropped6 = []byte{}, []byte{}
	for _, p := range m.Added {
		a, err := compactAddr(p.Addr)
		if err != nil {
			return nil, err
		}
		if len(a) == 6 {
			w.Added, w.AddedF = append(w.Added, a...), append(w.AddedF, byte(p.Flags))
		} else {
			w.Added6, w.Added6F = append(w.Added6, a...), append(w.Added6F, byte(p.Flags))
		}
	}
	for _, addr := range m.Dropped {
		a, err := compactAddr(addr)
		if err != nil {
			return nil, err
		}
		if len(a) == 6 {
			w.Dropped = append(w.Dropped, a...)
		} else {
			w.Dropped6 = append(w.Dropped6, a...)
		}
	}
	return bencode.Marshal(w)
}

// compactAddr is the compact form of addr: 6 bytes for IPv4 (IPv4-mapped
// IPv6 included), 18 for IPv6.
func compactAddr(addr netip.AddrPort) ([]byte, error) {
	if !addr.IsValid() || addr.Port() == 0 {
		return nil, fmt.Errorf("peerwire: pex address %v is not a valid address with a port", addr)
	}
	ip := addr.Addr().Unmap()
	return binary.BigEndian.AppendUint16(ip.AsSlice(), addr.Port()), nil
}

// ParsePEX decodes a ut_pex payload. Lists whose length is not a whole
// number of compact addresses are malformed. Beyond MaxPEXPeers added or
// dropped peers, the rest are ignored; entries with port 0 are skipped. A
// flags string shorter than its list leaves the flags of the peers past
// its end at 0. Unknown keys are ignored.
func ParsePEX(payload []byte) (PEXMessage, error) {
	var m PEXMessage
	if len(payload) == 0 || payload[0] != 'd' {
		return m, fmt.Errorf("%w: not a bencoded dictionary", ErrBadPEX)
	}
	opts := bencode.DecodeOptions{Lenient: true, MaxDepth: 4, MaxSize: int64(len(payload))}
	var items map[string]bencode.RawMessage
	if err := opts.Unmarshal(payload, &items); err != nil {
		return m, fmt.Errorf("%w: %v", ErrBadPEX, err)
	}
	field := func(key string, entry int) ([]byte, error) {
		raw, ok := items[key]
		if !ok {
			return nil, nil
		}
		s, ok := rawString(opts, raw)
		if !ok {
			return nil, fmt.Errorf("%w: %q is not a string", ErrBadPEX, key)
		}
		if entry > 0 && len(s)%entry != 0 {
			return nil, fmt.Errorf("%w: %q is %d bytes, not a multiple of %d", ErrBadPEX, key, len(s), entry)
		}
		return []byte(s), nil
	}
	var lists [6][]byte
	for i, f := range []struct {
		key   string
		entry int
	}{{"added", 6}, {"added.f", 0}, {"added6", 18}, {"added6.f", 0}, {"dropped", 6}, {"dropped6", 18}} {
		b, err := field(f.key, f.entry)
		if err != nil {
			return PEXMessage{}, err
		}
		lists[i] = b
	}
	m.Added = appendPEXPeers(m.Added, lists[0], lists[1], 4)
	m.Added = appendPEXPeers(m.Added, lists[2], lists[3], 16)
	m.Dropped = appendPEXAddrs(m.Dropped, lists[4], 4)
	m.Dropped = appendPEXAddrs(m.Dropped, lists[5], 16)
	return m, nil
}

// appendPEXPeers appends the peers of a compact list with ipLen-byte
// addresses and their flags, up to MaxPEXPeers in all.
func appendPEXPeers(dst []PEXPeer, list, flags []byte, ipLen int) []PEXPeer {
	entry := ipLen + 2
	for i := 0; (i+1)*entry <= len(list) && len(dst) < MaxPEXPeers; i++ {
		addr := parseCompact(list[i*entry:(i+1)*entry], ipLen)
		if addr.Port() == 0 {
			continue
		}
		p := PEXPeer{Addr: addr}
		if i < len(flags) {
			p.Flags = PEXFlags(flags[i])
		}
		dst = append(dst, p)
	}
	return dst
}

// appendPEXAddrs appends the addresses of a compact list, up to
// MaxPEXPeers in all.
func appendPEXAddrs(dst []netip.AddrPort, list []byte, ipLen int) []netip.AddrPort {
	entry := ipLen + 2
	for i := 0; (i+1)*entry <= len(list) && len(dst) < MaxPEXPeers; i++ {
		if addr := parseCompact(list[i*entry:(i+1)*entry], ipLen); addr.Port() != 0 {
			dst = append(dst, addr)
		}
	}
	return dst
}

// parseCompact decodes one compact address of ipLen+2 bytes. An IPv4
// address sent in the IPv6 list comes back as plain IPv4.
func parseCompact(b []byte, ipLen int) netip.AddrPort {
	ip, _ := netip.AddrFromSlice(b[:ipLen])
	return netip.AddrPortFrom(ip.Unmap(), binary.BigEndian.Uint16(b[ipLen:]))
}
