package peerwire

import (
	"encoding/binary"
	"strconv"
)

// BlockSize is the request size we use, and the largest piece payload the
// Reader accepts. 16 KiB is what every current client requests and the most
// most clients serve.
const BlockSize = 16 << 10

// MessageID is the one-byte type of a message after its length prefix.
type MessageID uint8

// Message ids: BEP 3 (0-8), BEP 5 (Port), BEP 6 (13-17) and BEP 10 (20).
const (
	Choke         MessageID = 0
	Unchoke       MessageID = 1
	Interested    MessageID = 2
	NotInterested MessageID = 3
	Have          MessageID = 4
	Bitfield      MessageID = 5
	Request       MessageID = 6
	Piece         MessageID = 7
	Cancel        MessageID = 8
	Port          MessageID = 9
	Suggest       MessageID = 13
	HaveAll       MessageID = 14
	HaveNone      MessageID = 15
	Reject        MessageID = 16
	AllowedFast   MessageID = 17
	Extended      MessageID = 20
)

var messageNames = [...]string{
	Choke:         "choke",
	Unchoke:       "unchoke",
	Interested:    "interested",
	NotInterested: "not interested",
	Have:          "have",
	Bitfield:      "bitfield",
	Request:       "request",
	Piece:         "piece",
	Cancel:        "cancel",
	Port:          "port",
	Suggest:       "suggest piece",
	HaveAll:       "have all",
	HaveNone:      "have none",
	Reject:        "reject request",
	AllowedFast:   "allowed fast",
	Extended:      "extended",
}

// String names the message type, or "message N" for an unknown id.
func (id MessageID) String() string {
	if int(id) < len(messageNames) && messageNames[id] != "" {
		return messageNames[id]
	}
	return "message " + strconv.Itoa(int(id))
}

// Known reports whether id is a message this package decodes.
func (id MessageID) Known() bool {
	return int(id) < len(messageNames) && messageNames[id] != ""
}

// Fast reports whether id belongs to the fast extension (BEP 6); a peer
// that did not negotiate it must not send these, and BEP 6 says to close
// the connection if it does. The engine enforces that, not the Reader.
func (id MessageID) Fast() bool {
	return id >= Suggest && id <= AllowedFast
}

// Message is one decoded peer wire message. Which fields are used depends
// on ID; the others are zero.
type Message struct {
	KeepAlive bool      // a zero-length message; ID and the rest are unused
	ID        MessageID // the message type
	// Index is the piece index of have, request, piece, cancel, reject,
	// suggest and allowed fast.
	Index uint32
	// Begin is the byte offset within the piece of request, piece, cancel
	// and reject.
	Begin uint32
	// Length is the block length of request, cancel and reject; for piece
	// it is len(Payload).
	Length uint32
	// Port is the DHT node's UDP port of a port message (BEP 5).
	Port uint16
	// ExtendedID is the extended message id of an extended message
	// (BEP 10): 0 is the extended handshake, others are as the receiver
	// assigned them in its handshake's m dictionary.
	ExtendedID uint8
	// Payload is the bitfield bytes, the piece data, or the extended
	// message's payload after ExtendedID.
	Payload []byte
}

// fixedLength is the exact wire length (after the length prefix, including
// the id byte) of each fixed-size message; 0 for variable-size ones.
var fixedLength = [...]uint32{
	Choke:         1,
	Unchoke:       1,
	Interested:    1,
	NotInterested: 1,
	Have:          5,
	Request:       13,
	Cancel:        13,
	Port:          3,
	Suggest:       5,
	HaveAll:       1,
	HaveNone:      1,
	Reject:        13,
	AllowedFast:   5,
}

// pieceHeaderLen is the part of a piece message before its data:
// id, index, begin.
const pieceHeaderLen = 1 + 4 + 4

// AppendMessage appends the wire form of m, length prefix included, to dst.
// For a piece message Length is ignored and len(Payload) is sent. A message
// id this package does not know is written as id followed by Payload, so
// AppendMessage never fails; the caller decides what it sends.
func AppendMessage(dst []byte, m Message) []byte {
	if m.KeepAlive {
		return binary.BigEndian.AppendUint32(dst, 0)
	}
	switch m.ID {
	case Choke, Unchoke, Interested, NotInterested, HaveAll, HaveNone:
		dst = binary.BigEndian.AppendUint32(dst, 1)
		return append(dst, byte(m.ID))
	case Have, Suggest, AllowedFast:
		dst = binary.BigEndian.AppendUint32(dst, 5)
		dst = append(dst, byte(m.ID))
		return binary.BigEndian.AppendUint32(dst, m.Index)
	case Request, Cancel, Reject:
		dst = binary.BigEndian.AppendUint32(dst, 13)
		dst = append(dst, byte(m.ID))
		dst = binary.BigEndian.AppendUint32(dst, m.Index)
		dst = binary.BigEndian.AppendUint32(dst, m.Begin)
		return binary.BigEndian.AppendUint32(dst, m.Length)
	case Port:
		dst = binary.BigEndian.AppendUint32(dst, 3)
		dst = append(dst, byte(m.ID))
		return binary.BigEndian.AppendUint16(dst, m.Port)
	case Piece:
		dst = AppendPieceHeader(dst, m.Index, m.Begin, len(m.Payload))
		return append(dst, m.Payload...)
	case Extended:
		dst = binary.BigEndian.AppendUint32(dst, uint32(2+len(m.Payload)))
		dst = append(dst, byte(m.ID), m.ExtendedID)
		return append(dst, m.Payload...)
	default: // Bitfield and ids unknown to us
		dst = binary.BigEndian.AppendUint32(dst, uint32(1+len(m.Payload)))
		dst = append(dst, byte(m.ID))
		return append(dst, m.Payload...)
	}
}

// AppendPieceHeader appends the length prefix and header of a piece
// message carrying n bytes of data, so a writer can send the data from its
// own buffer without copying it into the message.
func AppendPieceHeader(dst []byte, index, begin uint32, n int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(pieceHeaderLen+n))
	dst = append(dst, byte(Piece))
	dst = binary.BigEndian.AppendUint32(dst, index)
	return binary.BigEndian.AppendUint32(dst, begin)
}

// String describes m for logs, without payload bytes.
func (m Message) String() string {
	if m.KeepAlive {
		return "keep-alive"
	}
	s := m.ID.String()
	u := func(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
	switch m.ID {
	case Have, Suggest, AllowedFast:
		return s + " " + u(m.Index)
	case Request, Cancel, Reject:
		return s + " " + u(m.Index) + ":" + u(m.Begin) + "+" + u(m.Length)
	case Piece:
		return s + " " + u(m.Index) + ":" + u(m.Begin) + "+" + strconv.Itoa(len(m.Payload))
	case Port:
		return s + " " + strconv.Itoa(int(m.Port))
	case Bitfield:
		return s + " (" + strconv.Itoa(len(m.Payload)) + " bytes)"
	case Extended:
		return s + " " + strconv.Itoa(int(m.ExtendedID)) + " (" + strconv.Itoa(len(m.Payload)) + " bytes)"
	}
	return s
}
