package peerwire

import (
	"errors"
	"fmt"
	"io"

	"shoal/metainfo"
)

// Protocol is the protocol string that opens every BEP 3 handshake,
// preceded on the wire by its length byte (19).
const Protocol = "BitTorrent protocol"

// HandshakeLen is the size of a complete handshake on the wire: the length
// byte, the protocol string, 8 reserved bytes, the info hash and the peer id.
const HandshakeLen = 1 + len(Protocol) + 8 + 20 + 20

// ErrBadProtocol is returned (wrapped) when a connection does not open with
// the BitTorrent protocol string, e.g. an encrypted (MSE) or non-BitTorrent
// stream.
var ErrBadProtocol = errors.New("peerwire: not a BitTorrent handshake")

// Reserved is the 8 reserved bytes of the handshake, where peers advertise
// the extensions they support.
type Reserved [8]byte

// Bit positions of the extensions we know, as (byte index, mask).
const (
	extendedByte, extendedMask = 5, 0x10 // BEP 10: bit 20 from the right
	fastByte, fastMask         = 7, 0x04 // BEP 6: third least significant bit
	dhtByte, dhtMask           = 7, 0x01 // BEP 5: last bit
)

// Extended reports support for the extension protocol (BEP 10).
func (r Reserved) Extended() bool { return r[extendedByte]&extendedMask != 0 }

// Fast reports support for the fast extension (BEP 6). It is in effect only
// when both ends set it.
func (r Reserved) Fast() bool { return r[fastByte]&fastMask != 0 }

// DHT reports that the peer runs a DHT node (BEP 5) and may send PORT.
func (r Reserved) DHT() bool { return r[dhtByte]&dhtMask != 0 }

// SetExtended sets or clears the BEP 10 bit.
func (r *Reserved) SetExtended(on bool) { r.set(extendedByte, extendedMask, on) }

// SetFast sets or clears the BEP 6 bit.
func (r *Reserved) SetFast(on bool) { r.set(fastByte, fastMask, on) }

// SetDHT sets or clears the BEP 5 bit.
func (r *Reserved) SetDHT(on bool) { r.set(dhtByte, dhtMask, on) }

func (r *Reserved) set(i int, mask byte, on bool) {
	if on {
		r[i] |= mask
	} else {
		r[i] &^= mask
	}
}

// Handshake is the first message each side sends (BEP 3).
type Handshake struct {
	Reserved Reserved          // extension bits
	InfoHash metainfo.InfoHash // the torrent this connection is for
	PeerID   PeerID            // the sender's peer id
}

// AppendHandshake appends the 68-byte wire form of h to dst.
func AppendHandshake(dst []byte, h Handshake) []byte {
	dst = append(dst, byte(len(Protocol)))
	dst = append(dst, Protocol...)
	dst = append(dst, h.Reserved[:]...)
	dst = append(dst, h.InfoHash[:]...)
	return append(dst, h.PeerID[:]...)
}

// WriteHandshake writes h in one Write call.
func WriteHandshake(w io.Writer, h Handshake) error {
	buf := AppendHandshake(make([]byte, 0, HandshakeLen), h)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("peerwire: writing handshake: %w", err)
	}
	return nil
}

// ReadHandshakeStart reads the handshake up to and including the info hash
// but not the peer id. A listener uses it to find the torrent (and answer
// with its own handshake) before the peer id arrives; some clients wait for
// our handshake before they send their peer id. The protocol string is
// checked before the rest is read, so a stream that is not BitTorrent is
// refused after at most 20 bytes.
func ReadHandshakeStart(r io.Reader) (Reserved, metainfo.InfoHash, error) {
	var buf [HandshakeLen - 20]byte
	if _, err := io.ReadFull(r, buf[:1]); err != nil {
		return Reserved{}, metainfo.InfoHash{}, fmt.Errorf("peerwire: reading handshake length byte: %w", err)
	}
	if buf[0] != byte(len(Protocol)) {
		return Reserved{}, metainfo.InfoHash{}, fmt.Errorf("%w: protocol string length %d, want %d",
			ErrBadProtocol, buf[0], len(Protocol))
	}
	if _, err := io.ReadFull(r, buf[1:1+len(Protocol)]); err != nil {
		return Reserved{}, metainfo.InfoHash{}, fmt.Errorf("peerwire: reading handshake protocol string: %w", unexpectedEOF(err))
	}
	if string(buf[1:1+len(Protocol)]) != Protocol {
		return Reserved{}, metainfo.InfoHash{}, fmt.Errorf("%w: protocol string %q", ErrBadProtocol, buf[1:1+len(Protocol)])
	}
	rest := buf[1+len(Protocol):]
	if _, err := io.ReadFull(r, rest); err != nil {
		return Reserved{}, metainfo.InfoHash{}, fmt.Errorf("peerwire: reading handshake reserved bytes and info hash: %w", unexpectedEOF(err))
	}
	var res Reserved
	var ih metainfo.InfoHash
	copy(res[:], rest[:8])
	copy(ih[:], rest[8:])
	return res, ih, nil
}

// ReadPeerID reads the 20-byte peer id that ends a handshake.
func ReadPeerID(r io.Reader) (PeerID, error) {
	var id PeerID
	if _, err := io.ReadFull(r, id[:]); err != nil {
		return PeerID{}, fmt.Errorf("peerwire: reading handshake peer id: %w", unexpectedEOF(err))
	}
	return id, nil
}

// ReadHandshake reads a whole handshake: ReadHandshakeStart then ReadPeerID.
// The side that dialled uses it, since it already knows the torrent.
func ReadHandshake(r io.Reader) (Handshake, error) {
	res, ih, err := ReadHandshakeStart(r)
	if err != nil {
		return Handshake{}, err
	}
	id, err := ReadPeerID(r)
	if err != nil {
		return Handshake{}, err
	}
	return Handshake{Reserved: res, InfoHash: ih, PeerID: id}, nil
}

// unexpectedEOF turns io.EOF into io.ErrUnexpectedEOF: once part of a
// handshake or message has arrived, the stream ending is a truncation.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
