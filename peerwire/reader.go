package peerwire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxExtendedLen bounds an extended message's payload when
// ReaderOptions.MaxExtendedLen is 0. The largest extended messages in use
// are BEP 9 metadata pieces (16 KiB plus a small dictionary) and BEP 11 PEX
// lists; 1 MiB leaves room for both.
const DefaultMaxExtendedLen = 1 << 20

// MaxUnknownBitfieldLen bounds a bitfield when the number of pieces is not
// known yet (a magnet link before the metadata arrives): 1 MiB is 8 Mi
// pieces, far more than any real torrent has.
const MaxUnknownBitfieldLen = 1 << 20

// Errors the Reader wraps; test with errors.Is. A short read inside a
// message is reported as io.ErrUnexpectedEOF (wrapped); a stream that ends
// cleanly between messages returns io.EOF itself.
var (
	// ErrMessageTooLong: a length prefix above the bound for its message.
	ErrMessageTooLong = errors.New("peerwire: message too long")
	// ErrBadLength: a message whose length does not fit its type.
	ErrBadLength = errors.New("peerwire: wrong message length")
	// ErrUnknownMessage: a message id this package does not know.
	ErrUnknownMessage = errors.New("peerwire: unknown message id")
	// ErrBadBitfield: a bitfield of the wrong size or with spare bits set.
	ErrBadBitfield = errors.New("peerwire: malformed bitfield")
)

// ReaderOptions configures a Reader.
type ReaderOptions struct {
	// NumPieces is the torrent's piece count, so bitfields are checked for
	// their exact length (NumPieces+7)/8 and for zero spare bits (BEP 3).
	// 0 means not known yet: bitfields are then only bounded by
	// MaxUnknownBitfieldLen.
	NumPieces int
	// MaxExtendedLen bounds the payload of an extended message (after its
	// extended id byte); 0 means DefaultMaxExtendedLen.
	MaxExtendedLen int
	// Alloc returns the buffer for a piece message's data; the Reader uses
	// its first n bytes and the caller owns it afterwards (e.g. returns it
	// to a pool). nil means make([]byte, n).
	Alloc func(n int) []byte
}

// Reader decodes messages from a stream, after the handshake. It is not
// safe for concurrent use; one goroutine per connection owns it. After
// ReadMessage returns an error the stream position is undefined, so the
// connection should be closed.
type Reader struct {
	br   *bufio.Reader
	opts ReaderOptions
	// head holds the length prefix and the fixed part of a message.
	head [16]byte
	// buf holds non-piece payloads (bitfield, extended); reused across
	// calls so steady-state reading does not allocate.
	buf []byte
}

// readBufferSize is the read-ahead buffer. At full speed blocks arrive
// back to back, and a buffer of several blocks takes them in one read
// system call instead of two or three per block (a 4 KiB buffer made a
// 1 GiB download cost ~33,000 reads of ~8 KiB); 64 KiB per connection is
// modest next to the pieces in flight.
const readBufferSize = 64 << 10

// NewReader returns a Reader of messages from r, which must be positioned
// just after the handshake. The Reader buffers r.
func NewReader(r io.Reader, o ReaderOptions) *Reader {
	if o.MaxExtendedLen <= 0 {
		o.MaxExtendedLen = DefaultMaxExtendedLen
	}
	if o.NumPieces < 0 {
		o.NumPieces = 0
	}
	return &Reader{br: bufio.NewReaderSize(r, readBufferSize), opts: o}
}

// SetNumPieces sets the piece count once it is known (after a magnet
// download fetched the metadata); later bitfields are checked exactly.
func (r *Reader) SetNumPieces(n int) {
	if n < 0 {
		n = 0
	}
	r.opts.NumPieces = n
}

// maxBitfieldLen is the largest bitfield payload accepted now.
func (r *Reader) maxBitfieldLen() int {
	if r.opts.NumPieces > 0 {
		return (r.opts.NumPieces + 7) / 8
	}
	return MaxUnknownBitfieldLen
}

// ReadMessage reads and decodes the next message. Every length prefix is
// checked against the bound for its message id before the payload is read.
// Bitfield and extended payloads alias a buffer inside the Reader that is
// valid until the next call; piece payloads come from ReaderOptions.Alloc
// and belong to the caller.
func (r *Reader) ReadMessage() (Message, error) {
	if _, err := io.ReadFull(r.br, r.head[:4]); err != nil {
		if err == io.EOF {
			return Message{}, io.EOF
		}
		return Message{}, fmt.Errorf("peerwire: reading message length: %w", err)
	}
	length := binary.BigEndian.Uint32(r.head[:4])
	if length == 0 {
		return Message{KeepAlive: true}, nil // BEP 3: a zero length prefix is a keep-alive
	}
	// No message may exceed the largest of the per-id bounds; checking it
	// first refuses a huge prefix before even the id byte is read.
	if uint64(length) > uint64(r.maxLength()) {
		return Message{}, fmt.Errorf("%w: length prefix %d exceeds %d", ErrMessageTooLong, length, r.maxLength())
	}
	if _, err := io.ReadFull(r.br, r.head[:1]); err != nil {
		return Message{}, fmt.Errorf("peerwire: reading message id: %w", unexpectedEOF(err))
	}
	id := MessageID(r.head[0])
	if !id.Known() {
		return Message{}, fmt.Errorf("%w: %d (length %d)", ErrUnknownMessage, id, length)
	}
	if int(id) < len(fixedLength) && fixedLength[id] != 0 {
		return r.readFixed(id, length)
	}
	switch id {
	case Piece:
		return r.readPiece(length)
	case Bitfield:
		return r.readBitfield(length)
	default: // Extended: the only other known id
		return r.readExtended(length)
	}
}

// maxLength is the largest length prefix any message may have now.
func (r *Reader) maxLength() int {
	n := pieceHeaderLen + BlockSize
	n = max(n, 2+r.opts.MaxExtendedLen)
	return max(n, 1+r.maxBitfieldLen())
}

func (r *Reader) readFixed(id MessageID, length uint32) (Message, error) {
	if want := fixedLength[id]; length != want {
		return Message{}, fmt.Errorf("%w: %s message of length %d, want %d", ErrBadLength, id, length, want)
	}
	body := r.head[:length-1]
	if _, err := io.ReadFull(r.br, body); err != nil {
		return Message{}, fmt.Errorf("peerwire: reading %s message: %w", id, unexpectedEOF(err))
	}
	m := Message{ID: id}
	switch id {
	case Have, Suggest, AllowedFast:
		m.Index = binary.BigEndian.Uint32(body)
	case Request, Cancel, Reject:
		m.Index = binary.BigEndian.Uint32(body)
		m.Begin = binary.BigEndian.Uint32(body[4:])
		m.Length = binary.BigEndian.Uint32(body[8:])
	case Port:
		m.Port = binary.BigEndian.Uint16(body)
	}
	return m, nil
}

func (r *Reader) readPiece(length uint32) (Message, error) {
	if length <= pieceHeaderLen {
		return Message{}, fmt.Errorf("%w: piece message of length %d carries no data", ErrBadLength, length)
	}
	n := int(length) - pieceHeaderLen
	if n > BlockSize {
		return Message{}, fmt.Errorf("%w: piece message with %d bytes of data, more than the block size %d",
			ErrMessageTooLong, n, BlockSize)
	}
	head := r.head[:pieceHeaderLen-1]
	if _, err := io.ReadFull(r.br, head); err != nil {
		return Message{}, fmt.Errorf("peerwire: reading piece message header: %w", unexpectedEOF(err))
	}
	var data []byte
	if r.opts.Alloc != nil {
		data = r.opts.Alloc(n)
		if len(data) < n {
			return Message{}, fmt.Errorf("peerwire: piece buffer allocator returned %d bytes, want %d", len(data), n)
		}
		data = data[:n]
	} else {
		data = make([]byte, n)
	}
	index := binary.BigEndian.Uint32(head)
	begin := binary.BigEndian.Uint32(head[4:])
	if _, err := io.ReadFull(r.br, data); err != nil {
		return Message{}, fmt.Errorf("peerwire: reading piece %d data at offset %d: %w", index, begin, unexpectedEOF(err))
	}
	return Message{ID: Piece, Index: index, Begin: begin, Length: uint32(n), Payload: data}, nil
}

func (r *Reader) readBitfield(length uint32) (Message, error) {
	n := int(length) - 1
	if np := r.opts.NumPieces; np > 0 {
		if want := (np + 7) / 8; n != want {
			return Message{}, fmt.Errorf("%w: %d bytes for %d pieces, want %d", ErrBadBitfield, n, np, want)
		}
	} else if n > MaxUnknownBitfieldLen {
		return Message{}, fmt.Errorf("%w: bitfield of %d bytes exceeds %d", ErrMessageTooLong, n, MaxUnknownBitfieldLen)
	}
	data, err := r.readPayload(n)
	if err != nil {
		return Message{}, fmt.Errorf("peerwire: reading bitfield: %w", err)
	}
	// BEP 3: spare bits at the end are zero; a peer that sets them is
	// broken or lying about pieces that do not exist.
	if np := r.opts.NumPieces; np%8 != 0 && n > 0 && data[n-1]&(0xff>>(np%8)) != 0 {
		return Message{}, fmt.Errorf("%w: spare bits set after piece %d", ErrBadBitfield, np-1)
	}
	return Message{ID: Bitfield, Payload: data}, nil
}

func (r *Reader) readExtended(length uint32) (Message, error) {
	if length < 2 {
		return Message{}, fmt.Errorf("%w: extended message of length %d has no extended id", ErrBadLength, length)
	}
	n := int(length) - 2
	if n > r.opts.MaxExtendedLen {
		return Message{}, fmt.Errorf("%w: extended message payload of %d bytes exceeds %d",
			ErrMessageTooLong, n, r.opts.MaxExtendedLen)
	}
	if _, err := io.ReadFull(r.br, r.head[:1]); err != nil {
		return Message{}, fmt.Errorf("peerwire: reading extended message id: %w", unexpectedEOF(err))
	}
	ext := r.head[0]
	data, err := r.readPayload(n)
	if err != nil {
		return Message{}, fmt.Errorf("peerwire: reading extended message %d: %w", ext, err)
	}
	return Message{ID: Extended, ExtendedID: ext, Payload: data}, nil
}

// maxRetainedPayload is the largest payload buffer a Reader keeps between
// calls. Larger payloads (allowed up to the bounds above, but rare) get a
// buffer of their own, so one peer sending a 1 MiB message once does not
// pin 1 MiB for the rest of the connection.
const maxRetainedPayload = 64 << 10

// readPayload reads n bytes (bounded by the caller) into the reusable
// buffer, growing it only when a larger payload than any before arrives.
func (r *Reader) readPayload(n int) ([]byte, error) {
	var data []byte
	switch {
	case n <= cap(r.buf):
		data = r.buf[:n]
	case n <= maxRetainedPayload:
		r.buf = make([]byte, n)
		data = r.buf
	default:
		data = make([]byte, n)
	}
	if _, err := io.ReadFull(r.br, data); err != nil {
		return nil, unexpectedEOF(err)
	}
	return data, nil
}
