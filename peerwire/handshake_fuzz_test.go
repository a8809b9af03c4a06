package peerwire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReadHandshake feeds arbitrary connection openings to ReadHandshake
// and then, as a connection does, to the message Reader. An accepted
// handshake is exactly the 68 bytes that encode it; a refused one fails
// with a documented error, and a stream that is not BitTorrent is refused
// within its first 20 bytes (BEP 3: the length byte and protocol string
// come first).
func FuzzReadHandshake(f *testing.F) {
	var res Reserved
	res.SetExtended(true)
	res.SetFast(true)
	res.SetDHT(true)
	h := Handshake{Reserved: res, InfoHash: [20]byte{0xc9, 0xe1, 0x57}, PeerID: PeerID([]byte("-SH0100-abcdefghijkl"))}
	hs := AppendHandshake(nil, h)
	f.Add(hs)
	f.Add(AppendMessage(append([]byte(nil), hs...), Message{ID: Extended, ExtendedID: 0, Payload: []byte("d1:md11:ut_metadatai1eee")}))
	f.Add(hs[:47])
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add(append([]byte{19}, "BitTorrent protocoX"...))
	f.Fuzz(func(t *testing.T, data []byte) {
		cr := &countingReader{r: bytes.NewReader(data)}
		got, err := ReadHandshake(cr)
		if err != nil {
			if !errors.Is(err, ErrBadProtocol) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("undocumented error: %v", err)
			}
			if errors.Is(err, ErrBadProtocol) && cr.n > 1+len(Protocol) {
				t.Fatalf("read %d bytes of a stream that is not BitTorrent", cr.n)
			}
			return
		}
		if cr.n != HandshakeLen || !bytes.Equal(AppendHandshake(nil, got), data[:HandshakeLen]) {
			t.Fatalf("handshake %+v from %d bytes does not re-encode to its input", got, cr.n)
		}
		r := NewReader(cr, ReaderOptions{MaxExtendedLen: 1 << 12})
		for range 4 {
			m, err := r.ReadMessage()
			if err != nil {
				return
			}
			checkDecoded(t, m, ReaderOptions{MaxExtendedLen: 1 << 12})
		}
	})
}
