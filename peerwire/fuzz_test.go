package peerwire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// FuzzReadMessage feeds arbitrary bytes to the Reader. The first byte picks
// the piece count (0 = unknown). Whatever decodes must stay within its
// bounds and survive an encode/decode round trip unchanged.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x00\x00"))
	f.Add(append([]byte{9}, AppendMessage(nil, Message{ID: Bitfield, Payload: []byte{0xff, 0x80}})...))
	f.Add(append([]byte{0}, AppendMessage(nil, Message{ID: Piece, Index: 1, Begin: 2, Payload: []byte("data")})...))
	f.Add(append([]byte{0}, AppendMessage(nil, Message{ID: Request, Index: 1, Begin: 2, Length: 3})...))
	f.Add(append([]byte{0}, AppendMessage(nil, Message{ID: Extended, ExtendedID: 0, Payload: []byte("d1:pi1ee")})...))
	f.Add([]byte("\x00\x80\x00\x00\x00\x07"))
	f.Add([]byte("\x00\x00\x00\x00\x01\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		o := ReaderOptions{NumPieces: int(data[0]), MaxExtendedLen: 1 << 12}
		r := NewReader(bytes.NewReader(data[1:]), o)
		for range 64 {
			m, err := r.ReadMessage()
			if err != nil {
				// Every failure is a truncation or one of the documented kinds.
				for _, known := range []error{io.EOF, io.ErrUnexpectedEOF, ErrMessageTooLong,
					ErrBadLength, ErrUnknownMessage, ErrBadBitfield} {
					if errors.Is(err, known) {
						return
					}
				}
				t.Fatalf("undocumented error: %v", err)
			}
			checkDecoded(t, m, o)
			wire := AppendMessage(nil, m)
			again, err := NewReader(bytes.NewReader(wire), o).ReadMessage()
			if err != nil {
				t.Fatalf("%v re-encoded as %x does not decode: %v", m, wire, err)
			}
			if !reflect.DeepEqual(normalize(again), normalize(m)) {
				t.Fatalf("round trip changed %+v into %+v", m, again)
			}
		}
	})
}

func checkDecoded(t *testing.T, m Message, o ReaderOptions) {
	t.Helper()
	if m.KeepAlive {
		return
	}
	if !m.ID.Known() {
		t.Fatalf("decoded an unknown id: %+v", m)
	}
	switch m.ID {
	case Piece:
		if len(m.Payload) == 0 || len(m.Payload) > BlockSize || int(m.Length) != len(m.Payload) {
			t.Fatalf("piece payload of %d bytes, Length %d", len(m.Payload), m.Length)
		}
	case Bitfield:
		if o.NumPieces > 0 && len(m.Payload) != (o.NumPieces+7)/8 {
			t.Fatalf("bitfield of %d bytes for %d pieces", len(m.Payload), o.NumPieces)
		}
	case Extended:
		if len(m.Payload) > o.MaxExtendedLen {
			t.Fatalf("extended payload of %d bytes over %d", len(m.Payload), o.MaxExtendedLen)
		}
	}
}

// normalize makes an empty payload compare equal to a nil one.
func normalize(m Message) Message {
	if len(m.Payload) == 0 {
		m.Payload = nil
	}
	return m
}

// FuzzExtendedHandshake parses arbitrary payloads. Whatever parses must
// marshal again, and parsing that gives the same handshake.
func FuzzExtendedHandshake(f *testing.F) {
	f.Add([]byte("de"))
	f.Add([]byte("d1:md11:ut_metadatai1e6:ut_pexi2ee1:pi6881e1:v13:\xc2\xb5Torrent 1.2e"))
	f.Add([]byte("d1:md11:ut_metadatai0ee4:reqqi250e6:yourip4:\x7f\x00\x00\x01e"))
	f.Add([]byte("d4:ipv616:0123456789abcdef13:metadata_sizei1234e11:upload_onlyi1ee"))
	f.Add([]byte("d1:v3:abc1:md1:ai-1eee"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseExtendedHandshake(data)
		if err != nil {
			return
		}
		for name, id := range h.M {
			if id < 0 || id > 255 {
				t.Fatalf("m[%q] = %d out of range", name, id)
			}
		}
		if h.P < 0 || h.P > 65535 || h.Reqq < 0 || h.MetadataSize < 0 {
			t.Fatalf("out-of-range field: %+v", h)
		}
		b, err := h.Marshal()
		if err != nil {
			t.Fatalf("parsed %q into %+v, which does not marshal: %v", data, h, err)
		}
		again, err := ParseExtendedHandshake(b)
		if err != nil {
			t.Fatalf("marshalled %q does not parse: %v", b, err)
		}
		if len(h.M) == 0 {
			h.M = nil
		}
		if len(again.M) == 0 {
			again.M = nil
		}
		if !reflect.DeepEqual(h, again) {
			t.Fatalf("round trip via %q:\n got %+v\nwant %+v", b, again, h)
		}
	})
}
