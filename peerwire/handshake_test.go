package peerwire

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"shoal/metainfo"
)

func testHandshake() Handshake {
	var h Handshake
	h.Reserved.SetExtended(true)
	h.Reserved.SetFast(true)
	h.Reserved.SetDHT(true)
	for i := range h.InfoHash {
		h.InfoHash[i] = byte(i)
	}
	copy(h.PeerID[:], "-SH0100-abcdefghijkl")
	return h
}

func TestHandshakeWireBytes(t *testing.T) {
	h := testHandshake()
	var buf bytes.Buffer
	if err := WriteHandshake(&buf, h); err != nil {
		t.Fatal(err)
	}
	// BEP 3: 19, "BitTorrent protocol", 8 reserved bytes, info hash, peer id.
	// Reserved: BEP 10 sets byte 5 bit 0x10; BEP 6 byte 7 bit 0x04; BEP 5 byte 7 bit 0x01.
	want := unhex(t, "13 426974546f7272656e742070726f746f636f6c"+
		"0000000000100005"+
		"000102030405060708090a0b0c0d0e0f10111213") // then the peer id
	want = append(want, "-SH0100-abcdefghijkl"...)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("handshake bytes\n got %x\nwant %x", buf.Bytes(), want)
	}
	if len(want) != HandshakeLen {
		t.Fatalf("HandshakeLen = %d, want %d", HandshakeLen, len(want))
	}
	got, err := ReadHandshake(bytes.NewReader(want))
	if err != nil || got != h {
		t.Fatalf("ReadHandshake: %+v, %v; want %+v", got, err, h)
	}
	// The split form reads the same, and leaves the peer id unread.
	r := bytes.NewReader(want)
	res, ih, err := ReadHandshakeStart(r)
	if err != nil || res != h.Reserved || ih != h.InfoHash || r.Len() != 20 {
		t.Fatalf("ReadHandshakeStart: %x %x %v, %d bytes left", res, ih, err, r.Len())
	}
	id, err := ReadPeerID(r)
	if err != nil || id != h.PeerID {
		t.Fatalf("ReadPeerID: %v %v", id, err)
	}
}

func TestReservedBits(t *testing.T) {
	var r Reserved
	if r.Extended() || r.Fast() || r.DHT() {
		t.Fatal("zero Reserved reports extensions")
	}
	r.SetFast(true)
	if r != (Reserved{7: 0x04}) || !r.Fast() || r.Extended() || r.DHT() {
		t.Fatalf("SetFast: %x", r)
	}
	r.SetExtended(true)
	r.SetDHT(true)
	if r != (Reserved{5: 0x10, 7: 0x05}) {
		t.Fatalf("all set: %x", r)
	}
	r.SetFast(false)
	r.SetExtended(false)
	if r != (Reserved{7: 0x01}) || !r.DHT() {
		t.Fatalf("cleared: %x", r)
	}
	// Unknown bits set by other clients are kept and do not confuse us.
	other := Reserved{0: 0xff, 5: 0xef, 7: 0xfa}
	if other.Extended() || other.Fast() || other.DHT() {
		t.Fatalf("%x: bits misread", other)
	}
}

func TestReadHandshakeErrors(t *testing.T) {
	full := AppendHandshake(nil, testHandshake())
	wrongString := append([]byte(nil), full...)
	copy(wrongString[1:], "BitTorrent Protocol")
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"wrong length byte", append([]byte{18}, full[1:]...), ErrBadProtocol},
		{"http request", []byte("GET /announce HTTP/1.1\r\n\r\n"), ErrBadProtocol},
		{"wrong protocol string", wrongString, ErrBadProtocol},
		{"cut in protocol string", full[:10], io.ErrUnexpectedEOF},
		{"cut in reserved", full[:24], io.ErrUnexpectedEOF},
		{"cut in info hash", full[:40], io.ErrUnexpectedEOF},
		{"cut in peer id", full[:60], io.ErrUnexpectedEOF},
		{"no peer id", full[:48], io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadHandshake(bytes.NewReader(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// A stream that is not BitTorrent is refused after the length byte,
// without waiting for the rest of a handshake that will never come.
func TestReadHandshakeStartRejectsEarly(t *testing.T) {
	src := &countingReader{r: io.MultiReader(bytes.NewReader([]byte{0x16}), infiniteZeros{})}
	if _, _, err := ReadHandshakeStart(src); !errors.Is(err, ErrBadProtocol) {
		t.Fatalf("got %v", err)
	}
	if src.n != 1 {
		t.Fatalf("read %d bytes, want 1", src.n)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestWriteHandshakeError(t *testing.T) {
	if err := WriteHandshake(failWriter{}, Handshake{InfoHash: metainfo.InfoHash{1}}); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("got %v", err)
	}
}
