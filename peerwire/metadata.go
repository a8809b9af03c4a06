package peerwire

import (
	"bytes"
	"errors"
	"fmt"

	"shoal/bencode"
)

// Extension names as they appear in the m dictionary of the extended
// handshake (BEP 10).
const (
	// ExtMetadata is BEP 9's metadata exchange.
	ExtMetadata = "ut_metadata"
	// ExtPEX is BEP 11's peer exchange.
	ExtPEX = "ut_pex"
)

// MetadataPieceSize is the size of every metadata piece but the last
// (BEP 9: "The metadata is handled in blocks of 16KiB").
const MetadataPieceSize = 16 << 10

// MaxMetadataSize bounds the size of the metadata (the info dictionary) we
// accept from a peer, announced as metadata_size or total_size. Real info
// dictionaries are a few KiB to a few MiB (20 bytes per piece); this is
// twice libtorrent's default limit of 4 MiB, and it bounds the memory one
// fetch can be made to allocate.
const MaxMetadataSize = 8 << 20

// maxMetadataPieces is the number of pieces of the largest metadata.
const maxMetadataPieces = MaxMetadataSize / MetadataPieceSize

// maxMetadataDictLen bounds the bencoded dictionary before a piece's data.
// Ours is about 50 bytes; some clients add keys of their own.
const maxMetadataDictLen = 1 << 10

// MetadataMsgType is the msg_type of a ut_metadata message (BEP 9).
type MetadataMsgType int

// The three ut_metadata message types of BEP 9.
const (
	MetadataRequest MetadataMsgType = 0
	MetadataData    MetadataMsgType = 1
	MetadataReject  MetadataMsgType = 2
)

func (t MetadataMsgType) String() string {
	switch t {
	case MetadataRequest:
		return "request"
	case MetadataData:
		return "data"
	case MetadataReject:
		return "reject"
	}
	return fmt.Sprintf("msg_type %d", int(t))
}

// ErrBadMetadataMessage is wrapped by ParseMetadataMessage errors.
var ErrBadMetadataMessage = errors.New("peerwire: malformed ut_metadata message")

// MetadataMessage is one ut_metadata message: the payload of an extended
// message whose id the receiver assigned to ut_metadata.
type MetadataMessage struct {
	// Type is request, data or reject. A type BEP 9 does not define
	// parses without error (BEP 9: it "MUST be ignored"), so callers
	// ignore what they do not know.
	Type MetadataMsgType
	// Piece is the index of the 16 KiB metadata piece the message is about.
	Piece int
	// TotalSize is the size of the whole metadata (data messages only).
	TotalSize int
	// Data is the piece's bytes (data messages only): MetadataPieceSize
	// bytes except in the last piece. It aliases the parsed payload.
	Data []byte
}

// MetadataPieces returns the number of pieces metadata of size bytes has.
func MetadataPieces(size int) int {
	if size <= 0 {
		return 0
	}
	return (size + MetadataPieceSize - 1) / MetadataPieceSize
}

// MetadataPieceLen returns the length of piece i of metadata of size
// bytes, or 0 if there is no such piece.
func MetadataPieceLen(size, i int) int {
	if i < 0 || i >= MetadataPieces(size) {
		return 0
	}
	return min(MetadataPieceSize, size-i*MetadataPieceSize)
}

// metadataWire is the dictionary of a ut_metadata message, for encoding.
type metadataWire struct {
	MsgType   int `bencode:"msg_type"`
	Piece     int `bencode:"piece"`
	TotalSize int `bencode:"total_size,omitempty"`
}

// Marshal encodes m as an extended message payload: the dictionary, and
// for a data message the piece's bytes after it (BEP 9: "appended to the
// bencoded dictionary, it is not a part of the dictionary"). It refuses
// what ParseMetadataMessage would refuse.
func (m MetadataMessage) Marshal() ([]byte, error) {
	if m.Piece < 0 || m.Piece >= maxMetadataPieces {
		return nil, fmt.Errorf("peerwire: metadata piece %d out of range 0-%d", m.Piece, maxMetadataPieces-1)
	}
	w := metadataWire{MsgType: int(m.Type), Piece: m.Piece}
	if m.Type == MetadataData {
		if m.TotalSize <= 0 || m.TotalSize > MaxMetadataSize {
			return nil, fmt.Errorf("peerwire: metadata total_size %d out of range 1-%d", m.TotalSize, MaxMetadataSize)
		}
		if want := MetadataPieceLen(m.TotalSize, m.Piece); want == 0 || len(m.Data) != want {
			return nil, fmt.Errorf("peerwire: metadata piece %d of %d bytes total has %d bytes, want %d",
				m.Piece, m.TotalSize, len(m.Data), want)
		}
		w.TotalSize = m.TotalSize
	} else if len(m.Data) > 0 {
		return nil, fmt.Errorf("peerwire: metadata %v carries data", m.Type)
	}
	b, err := bencode.Marshal(w)
	if err != nil {
		return nil, err
	}
	return append(b, m.Data...), nil
}

// ParseMetadataMessage decodes a ut_metadata payload. The dictionary must
// hold msg_type and piece (0 to MaxMetadataSize/16 KiB - 1); a data
// message must hold total_size (1 to MaxMetadataSize) and exactly the
// bytes piece Piece of that size has. Other messages may not carry bytes
// after the dictionary. Unknown keys are ignored.
func ParseMetadataMessage(payload []byte) (MetadataMessage, error) {
	var m MetadataMessage
	if len(payload) == 0 || payload[0] != 'd' {
		return m, fmt.Errorf("%w: not a bencoded dictionary", ErrBadMetadataMessage)
	}
	opts := bencode.DecodeOptions{
		Lenient:      true,
		MaxDepth:     4,
		MaxStringLen: maxMetadataDictLen,
		MaxSize:      maxMetadataDictLen,
	}
	// The Decoder stops at the end of the dictionary, which tells where
	// a data message's bytes begin.
	dec := opts.NewDecoder(bytes.NewReader(payload))
	var items map[string]bencode.RawMessage
	if err := dec.Decode(&items); err != nil {
		return m, fmt.Errorf("%w: %v", ErrBadMetadataMessage, err)
	}
	rest := payload[dec.InputOffset():]
	msgType, ok := rawInt(opts, items["msg_type"], 0, 1<<31-1)
	if !ok {
		return m, fmt.Errorf("%w: missing or invalid msg_type", ErrBadMetadataMessage)
	}
	m.Type = MetadataMsgType(msgType)
	piece, ok := rawInt(opts, items["piece"], 0, maxMetadataPieces-1)
	if !ok {
		return m, fmt.Errorf("%w: missing piece, or not in 0-%d", ErrBadMetadataMessage, maxMetadataPieces-1)
	}
	m.Piece = piece
	switch m.Type {
	case MetadataData:
		total, ok := rawInt(opts, items["total_size"], 1, MaxMetadataSize)
		if !ok {
			return m, fmt.Errorf("%w: data without a total_size in 1-%d", ErrBadMetadataMessage, MaxMetadataSize)
		}
		want := MetadataPieceLen(total, piece)
		if want == 0 {
			return m, fmt.Errorf("%w: piece %d beyond total_size %d", ErrBadMetadataMessage, piece, total)
		}
		if len(rest) != want {
			return m, fmt.Errorf("%w: piece %d of total_size %d has %d bytes, want %d",
				ErrBadMetadataMessage, piece, total, len(rest), want)
		}
		m.TotalSize, m.Data = total, rest
	case MetadataRequest, MetadataReject:
		if len(rest) > 0 {
			return m, fmt.Errorf("%w: %d bytes after a %v", ErrBadMetadataMessage, len(rest), m.Type)
		}
	}
	return m, nil
}
