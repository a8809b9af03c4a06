package peerwire

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"

	"shoal/bencode"
)

// MaxExtendedHandshakeLen bounds the bencoded dictionary of an extended
// handshake. Real ones are a few hundred bytes; the bound keeps a hostile
// peer from making us decode a large structure.
const MaxExtendedHandshakeLen = 64 << 10

// maxExtensions bounds the entries of the m dictionary: ids are one byte,
// so no honest peer lists more than a few dozen.
const maxExtensions = 256

// ErrBadExtendedHandshake is wrapped by ParseExtendedHandshake errors.
var ErrBadExtendedHandshake = errors.New("peerwire: malformed extended handshake")

// ExtendedHandshake is the dictionary of the BEP 10 handshake (extended
// message id 0). Every item is optional.
type ExtendedHandshake struct {
	// M maps extension names (e.g. "ut_metadata", "ut_pex") to the
	// extended message id the sender wants to receive them under. An id of
	// 0 means the extension is disabled (BEP 10: a later handshake uses it
	// to turn one off); use ID to look one up.
	M map[string]int
	// P is the sender's TCP listen port; 0 if not sent or invalid.
	P int
	// V is the client name and version, e.g. "libtorrent/2.0.8.0".
	V string
	// Reqq is how many outstanding requests the sender accepts without
	// dropping any; 0 if not sent. Not capped here: the engine bounds its
	// pipeline.
	Reqq int
	// YourIP is the address the sender sees us as (IPv4 or IPv6).
	YourIP netip.Addr
	// IPv4 and IPv6 are the sender's own addresses, if it sent them.
	IPv4, IPv6 netip.Addr
	// MetadataSize is the size of the info dictionary in bytes (BEP 9); 0
	// if not sent. The engine must bound it before allocating.
	MetadataSize int
	// UploadOnly is set when the sender is only seeding (BEP 21).
	UploadOnly bool
}

// ID returns the extended message id the peer assigned to extension name,
// and false when the peer does not support it or disabled it (id 0).
func (h *ExtendedHandshake) ID(name string) (uint8, bool) {
	id, ok := h.M[name]
	if !ok || id <= 0 || id > 255 {
		return 0, false
	}
	return uint8(id), true
}

// extendedHandshakeWire is the wire form used for encoding.
type extendedHandshakeWire struct {
	M            map[string]int `bencode:"m"`
	P            int            `bencode:"p,omitempty"`
	V            string         `bencode:"v,omitempty"`
	Reqq         int            `bencode:"reqq,omitempty"`
	YourIP       []byte         `bencode:"yourip,omitempty"`
	IPv4         []byte         `bencode:"ipv4,omitempty"`
	IPv6         []byte         `bencode:"ipv6,omitempty"`
	MetadataSize int            `bencode:"metadata_size,omitempty"`
	UploadOnly   int            `bencode:"upload_only,omitempty"`
}

// Marshal encodes h as the payload of an extended message with id 0. It
// fails on values no peer could decode: ids outside 0-255, a port outside
// 0-65535, IPv4/IPv6 fields holding the other family.
func (h *ExtendedHandshake) Marshal() ([]byte, error) {
	w := extendedHandshakeWire{
		M:            h.M,
		P:            h.P,
		V:            h.V,
		Reqq:         h.Reqq,
		MetadataSize: h.MetadataSize,
	}
	if w.M == nil {
		w.M = map[string]int{} // always send m: some clients expect it
	}
	names := make([]string, 0, len(h.M))
	for name := range h.M {
		names = append(names, name)
	}
	sort.Strings(names) // deterministic error messages
	for _, name := range names {
		if id := h.M[name]; id < 0 || id > 255 {
			return nil, fmt.Errorf("peerwire: extension %q has id %d, want 0-255", name, id)
		}
	}
	if h.P < 0 || h.P > 65535 {
		return nil, fmt.Errorf("peerwire: extended handshake port %d out of range", h.P)
	}
	if h.Reqq < 0 || h.MetadataSize < 0 {
		return nil, fmt.Errorf("peerwire: negative reqq (%d) or metadata_size (%d)", h.Reqq, h.MetadataSize)
	}
	if h.YourIP.IsValid() {
		w.YourIP = h.YourIP.AsSlice()
	}
	if h.IPv4.IsValid() {
		if a := h.IPv4.Unmap(); a.Is4() {
			w.IPv4 = a.AsSlice()
		} else {
			return nil, fmt.Errorf("peerwire: ipv4 field holds %s", h.IPv4)
		}
	}
	if h.IPv6.IsValid() {
		if !h.IPv6.Is6() {
			return nil, fmt.Errorf("peerwire: ipv6 field holds %s", h.IPv6)
		}
		w.IPv6 = h.IPv6.AsSlice()
	}
	if h.UploadOnly {
		w.UploadOnly = 1
	}
	return bencode.Marshal(w)
}

// ParseExtendedHandshake decodes the payload of an extended handshake.
//
// It is strict about structure and lenient about content, because real
// clients differ: the payload must be one bencoded dictionary of at most
// MaxExtendedHandshakeLen bytes (keys in any order, as some clients do not
// sort them), but an item of the wrong type or out of range is ignored as
// if it were absent, an m entry that is not a small integer is dropped,
// and unknown items are ignored (BEP 10).
func ParseExtendedHandshake(payload []byte) (ExtendedHandshake, error) {
	var h ExtendedHandshake
	if len(payload) > MaxExtendedHandshakeLen {
		return h, fmt.Errorf("%w: %d bytes exceeds %d", ErrBadExtendedHandshake, len(payload), MaxExtendedHandshakeLen)
	}
	if len(payload) == 0 || payload[0] != 'd' {
		return h, fmt.Errorf("%w: not a bencoded dictionary", ErrBadExtendedHandshake)
	}
	opts := bencode.DecodeOptions{
		Lenient:      true,
		MaxDepth:     16,
		MaxStringLen: MaxExtendedHandshakeLen,
		MaxSize:      MaxExtendedHandshakeLen,
	}
	var items map[string]bencode.RawMessage
	if err := opts.Unmarshal(payload, &items); err != nil {
		return h, fmt.Errorf("%w: %v", ErrBadExtendedHandshake, err)
	}
	if raw, ok := items["m"]; ok {
		var m map[string]bencode.RawMessage
		if opts.Unmarshal(raw, &m) == nil {
			if len(m) > maxExtensions {
				return h, fmt.Errorf("%w: m lists %d extensions, more than %d",
					ErrBadExtendedHandshake, len(m), maxExtensions)
			}
			h.M = make(map[string]int, len(m))
			for name, rawID := range m {
				if id, ok := rawInt(opts, rawID, 0, 255); ok {
					h.M[name] = id
				}
			}
		}
	}
	if p, ok := rawInt(opts, items["p"], 1, 65535); ok {
		h.P = p
	}
	if v, ok := rawString(opts, items["v"]); ok {
		h.V = v
	}
	if n, ok := rawInt(opts, items["reqq"], 1, 1<<31-1); ok {
		h.Reqq = n
	}
	if n, ok := rawInt(opts, items["metadata_size"], 1, 1<<31-1); ok {
		h.MetadataSize = n
	}
	if n, ok := rawInt(opts, items["upload_only"], 0, 1<<31-1); ok {
		h.UploadOnly = n != 0
	}
	if b, ok := rawString(opts, items["yourip"]); ok {
		if a, ok := netip.AddrFromSlice([]byte(b)); ok {
			h.YourIP = a
		}
	}
	if b, ok := rawString(opts, items["ipv4"]); ok && len(b) == 4 {
		h.IPv4, _ = netip.AddrFromSlice([]byte(b))
	}
	if b, ok := rawString(opts, items["ipv6"]); ok && len(b) == 16 {
		h.IPv6, _ = netip.AddrFromSlice([]byte(b))
	}
	return h, nil
}

// rawInt decodes raw as an integer in [lo, hi]; false if raw is absent,
// not an integer, or out of range.
func rawInt(opts bencode.DecodeOptions, raw bencode.RawMessage, lo, hi int64) (int, bool) {
	if len(raw) == 0 || raw[0] != 'i' {
		return 0, false
	}
	var n int64
	if opts.Unmarshal(raw, &n) != nil || n < lo || n > hi {
		return 0, false
	}
	return int(n), true
}

// rawString decodes raw as a byte string; false if absent or not a string.
func rawString(opts bencode.DecodeOptions, raw bencode.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] < '0' || raw[0] > '9' {
		return "", false
	}
	var s string
	if opts.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}
