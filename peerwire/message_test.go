package peerwire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// unhex decodes hex written with spaces for readability.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad test hex %q: %v", s, err)
	}
	return b
}

func readOne(t testing.TB, wire []byte, o ReaderOptions) (Message, error) {
	t.Helper()
	return NewReader(bytes.NewReader(wire), o).ReadMessage()
}

func TestMessageRoundTrip(t *testing.T) {
	block := bytes.Repeat([]byte{0x5a}, BlockSize)
	tests := []struct {
		name string
		m    Message
		o    ReaderOptions
	}{
		{"keep-alive", Message{KeepAlive: true}, ReaderOptions{}},
		{"choke", Message{ID: Choke}, ReaderOptions{}},
		{"unchoke", Message{ID: Unchoke}, ReaderOptions{}},
		{"interested", Message{ID: Interested}, ReaderOptions{}},
		{"not interested", Message{ID: NotInterested}, ReaderOptions{}},
		{"have", Message{ID: Have, Index: 0xdeadbeef}, ReaderOptions{}},
		{"bitfield exact", Message{ID: Bitfield, Payload: []byte{0xff, 0x80}}, ReaderOptions{NumPieces: 9}},
		{"bitfield unknown count", Message{ID: Bitfield, Payload: []byte{0xff, 0xff, 0x01}}, ReaderOptions{}},
		{"request", Message{ID: Request, Index: 1, Begin: 16384, Length: 16384}, ReaderOptions{}},
		{"piece full block", Message{ID: Piece, Index: 7, Begin: 32768, Length: BlockSize, Payload: block}, ReaderOptions{}},
		{"piece short last block", Message{ID: Piece, Index: 9, Begin: 0, Length: 3, Payload: []byte("abc")}, ReaderOptions{}},
		{"cancel", Message{ID: Cancel, Index: 2, Begin: 3, Length: 4}, ReaderOptions{}},
		{"port", Message{ID: Port, Port: 6881}, ReaderOptions{}},
		{"suggest", Message{ID: Suggest, Index: 42}, ReaderOptions{}},
		{"have all", Message{ID: HaveAll}, ReaderOptions{}},
		{"have none", Message{ID: HaveNone}, ReaderOptions{}},
		{"reject", Message{ID: Reject, Index: 5, Begin: 16384, Length: 100}, ReaderOptions{}},
		{"allowed fast", Message{ID: AllowedFast, Index: 1313}, ReaderOptions{}},
		{"extended handshake", Message{ID: Extended, ExtendedID: 0, Payload: []byte("d1:pi6881ee")}, ReaderOptions{}},
		{"extended message", Message{ID: Extended, ExtendedID: 3, Payload: []byte("d8:msg_typei0e5:piecei0ee")}, ReaderOptions{}},
		{"extended empty payload", Message{ID: Extended, ExtendedID: 1, Payload: []byte{}}, ReaderOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := AppendMessage(nil, tt.m)
			got, err := readOne(t, wire, tt.o)
			if err != nil {
				t.Fatalf("decode %x: %v", wire, err)
			}
			if len(got.Payload) == 0 && len(tt.m.Payload) == 0 {
				got.Payload, tt.m.Payload = nil, nil
			}
			if !reflect.DeepEqual(got, tt.m) {
				t.Fatalf("round trip: got %+v, want %+v", got, tt.m)
			}
			// Re-encoding what we decoded gives the same bytes.
			if again := AppendMessage(nil, got); !bytes.Equal(again, wire) {
				t.Fatalf("re-encode: got %x, want %x", again, wire)
			}
		})
	}
}

func TestMessageWireBytes(t *testing.T) {
	// Hand-written from the layouts in BEP 3, BEP 5, BEP 6 and BEP 10:
	// <4-byte big-endian length><id><fields>.
	tests := []struct {
		name string
		m    Message
		hex  string
	}{
		{"keep-alive", Message{KeepAlive: true}, "00000000"},
		{"choke", Message{ID: Choke}, "00000001 00"},
		{"unchoke", Message{ID: Unchoke}, "00000001 01"},
		{"interested", Message{ID: Interested}, "00000001 02"},
		{"not interested", Message{ID: NotInterested}, "00000001 03"},
		{"have", Message{ID: Have, Index: 258}, "00000005 04 00000102"},
		{"bitfield", Message{ID: Bitfield, Payload: []byte{0xa0}}, "00000002 05 a0"},
		{"request", Message{ID: Request, Index: 1, Begin: 0x4000, Length: 0x4000}, "0000000d 06 00000001 00004000 00004000"},
		{"piece", Message{ID: Piece, Index: 1, Begin: 2, Payload: []byte{0xca, 0xfe}}, "0000000b 07 00000001 00000002 cafe"},
		{"cancel", Message{ID: Cancel, Index: 1, Begin: 0x4000, Length: 0x4000}, "0000000d 08 00000001 00004000 00004000"},
		{"port", Message{ID: Port, Port: 6881}, "00000003 09 1ae1"},
		{"suggest", Message{ID: Suggest, Index: 3}, "00000005 0d 00000003"},
		{"have all", Message{ID: HaveAll}, "00000001 0e"},
		{"have none", Message{ID: HaveNone}, "00000001 0f"},
		{"reject", Message{ID: Reject, Index: 1, Begin: 0, Length: 0x4000}, "0000000d 10 00000001 00000000 00004000"},
		{"allowed fast", Message{ID: AllowedFast, Index: 1059}, "00000005 11 00000423"},
		{"extended", Message{ID: Extended, ExtendedID: 0, Payload: []byte("de")}, "00000004 14 00 6465"},
	}
	for _, tt := range tests {
		want := unhex(t, tt.hex)
		if got := AppendMessage(nil, tt.m); !bytes.Equal(got, want) {
			t.Errorf("%s: encoded %x, want %x", tt.name, got, want)
		}
		got, err := readOne(t, want, ReaderOptions{})
		if err != nil {
			t.Errorf("%s: decode %x: %v", tt.name, want, err)
			continue
		}
		if again := AppendMessage(nil, got); !bytes.Equal(again, want) {
			t.Errorf("%s: decoded %+v re-encodes as %x", tt.name, got, again)
		}
	}
	// AppendPieceHeader + data is the same as a piece message.
	hdr := AppendPieceHeader([]byte("x"), 1, 2, 2)
	if want := "x" + string(unhex(t, "0000000b 07 00000001 00000002")); string(hdr) != want {
		t.Errorf("AppendPieceHeader: %x, want %x", hdr, want)
	}
}

func TestReadMessageMalformed(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		o    ReaderOptions
		want error
	}{
		{"length 2^31", "80000000 07", ReaderOptions{}, ErrMessageTooLong},
		{"length 2^32-1", "ffffffff", ReaderOptions{}, ErrMessageTooLong},
		{"length just over extended bound", "00100003 14 00", ReaderOptions{}, ErrMessageTooLong},
		{"choke with payload", "00000002 00 00", ReaderOptions{}, ErrBadLength},
		{"have too short", "00000004 04 000001", ReaderOptions{}, ErrBadLength},
		{"have too long", "00000006 04 0000000100", ReaderOptions{}, ErrBadLength},
		{"request 12 bytes", "0000000c 06 00000001 00000000 000040", ReaderOptions{}, ErrBadLength},
		{"cancel 14 bytes", "0000000e 08 00000001 00000000 00004000 00", ReaderOptions{}, ErrBadLength},
		{"reject short", "00000005 10 00000001", ReaderOptions{}, ErrBadLength},
		{"port 3 bytes payload", "00000004 09 1ae100", ReaderOptions{}, ErrBadLength},
		{"have all with payload", "00000002 0e 00", ReaderOptions{}, ErrBadLength},
		{"allowed fast short", "00000003 11 0000", ReaderOptions{}, ErrBadLength},
		{"piece without data", "00000009 07 00000001 00000000", ReaderOptions{}, ErrBadLength},
		{"piece header cut", "00000005 07 00000001", ReaderOptions{}, ErrBadLength},
		{"piece longer than BlockSize", "0000400a 07 00000000 00000000", ReaderOptions{}, ErrMessageTooLong},
		{"bitfield too short", "00000002 05 ff", ReaderOptions{NumPieces: 9}, ErrBadBitfield},
		{"bitfield too long", "00000004 05 ffff00", ReaderOptions{NumPieces: 9}, ErrBadBitfield},
		{"bitfield spare bit", "00000003 05 ff c0", ReaderOptions{NumPieces: 9}, ErrBadBitfield},
		{"bitfield last spare bit", "00000002 05 01", ReaderOptions{NumPieces: 7}, ErrBadBitfield},
		{"bitfield over unknown bound", "00100002 05", ReaderOptions{MaxExtendedLen: 16}, ErrMessageTooLong},
		{"extended without id", "00000001 14", ReaderOptions{}, ErrBadLength},
		{"extended over option", "00000013 14 00 64313a706931656565656565656565656565", ReaderOptions{MaxExtendedLen: 16}, ErrMessageTooLong},
		{"unknown id 10", "00000001 0a", ReaderOptions{}, ErrUnknownMessage},
		{"unknown id 21", "00000005 15 00000000", ReaderOptions{}, ErrUnknownMessage},
		{"unknown id 255", "00000001 ff", ReaderOptions{}, ErrUnknownMessage},
		{"truncated length prefix", "000000", ReaderOptions{}, io.ErrUnexpectedEOF},
		{"truncated before id", "00000005", ReaderOptions{}, io.ErrUnexpectedEOF},
		{"truncated have", "00000005 04 0000", ReaderOptions{}, io.ErrUnexpectedEOF},
		{"truncated request", "0000000d 06 00000001 00000000", ReaderOptions{}, io.ErrUnexpectedEOF},
		{"truncated piece data", "0000000d 07 00000001 00000000 abcd", ReaderOptions{}, io.ErrUnexpectedEOF},
		{"truncated piece header", "0000000d 07 000000", ReaderOptions{}, io.ErrUnexpectedEOF},
		{"truncated bitfield", "00000003 05 ff", ReaderOptions{NumPieces: 9}, io.ErrUnexpectedEOF},
		{"truncated extended id", "00000004 14", ReaderOptions{}, io.ErrUnexpectedEOF},
		{"truncated extended payload", "00000004 14 00 64", ReaderOptions{}, io.ErrUnexpectedEOF},
		{"empty stream", "", ReaderOptions{}, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := readOne(t, unhex(t, tt.hex), tt.o)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %+v, %v; want error %v", m, err, tt.want)
			}
		})
	}
}

// A length prefix must be refused before its payload is read: the reader
// sees only the 5 header bytes of a message that claims 2 GiB.
func TestReadMessageRefusesBeforeReading(t *testing.T) {
	src := &countingReader{r: io.MultiReader(bytes.NewReader(unhex(t, "80000000 07")), infiniteZeros{})}
	_, err := NewReader(src, ReaderOptions{}).ReadMessage()
	if !errors.Is(err, ErrMessageTooLong) {
		t.Fatalf("got %v, want ErrMessageTooLong", err)
	}
	if src.n > readBufferSize+5 {
		t.Fatalf("read %d bytes before refusing a 2 GiB message", src.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

type infiniteZeros struct{}

func (infiniteZeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestReadMessageSequence(t *testing.T) {
	var wire []byte
	msgs := []Message{
		{ID: Bitfield, Payload: []byte{0xf0}},
		{KeepAlive: true},
		{ID: Have, Index: 3},
		{ID: Extended, ExtendedID: 2, Payload: []byte("d1:ai1ee")},
		{ID: Piece, Index: 1, Begin: 0, Length: 5, Payload: []byte("hello")},
		{ID: Unchoke},
	}
	for _, m := range msgs {
		wire = AppendMessage(wire, m)
	}
	r := NewReader(bytes.NewReader(wire), ReaderOptions{NumPieces: 4})
	for i, want := range msgs {
		got, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("message %d: got %+v, want %+v", i, got, want)
		}
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Fatalf("after the last message: got %v, want io.EOF", err)
	}
}

func TestReaderSetNumPieces(t *testing.T) {
	wire := AppendMessage(nil, Message{ID: Bitfield, Payload: []byte{0xff, 0xff}})
	wire = AppendMessage(wire, Message{ID: Bitfield, Payload: []byte{0xff, 0xff}})
	r := NewReader(bytes.NewReader(wire), ReaderOptions{})
	if _, err := r.ReadMessage(); err != nil {
		t.Fatalf("bitfield with unknown piece count: %v", err)
	}
	r.SetNumPieces(12)
	if _, err := r.ReadMessage(); !errors.Is(err, ErrBadBitfield) {
		t.Fatalf("bitfield with spare bits after SetNumPieces(12): got %v", err)
	}
}

func TestReaderAlloc(t *testing.T) {
	wire := AppendMessage(nil, Message{ID: Piece, Index: 1, Payload: []byte("data")})
	var asked int
	pool := make([]byte, BlockSize)
	m, err := readOne(t, wire, ReaderOptions{Alloc: func(n int) []byte { asked = n; return pool }})
	if err != nil || asked != 4 || string(m.Payload) != "data" || &m.Payload[0] != &pool[0] {
		t.Fatalf("got %+v, %v, asked %d; want the payload in the pool buffer", m, err, asked)
	}
	_, err = readOne(t, wire, ReaderOptions{Alloc: func(n int) []byte { return make([]byte, n-1) }})
	if err == nil || !strings.Contains(err.Error(), "allocator") {
		t.Fatalf("short Alloc buffer: got %v", err)
	}
}

// loopReader serves the same bytes forever, so the Reader can be measured
// in steady state.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.data[l.off:])
		n += c
		l.off = (l.off + c) % len(l.data)
	}
	return n, nil
}

func TestReaderNoAllocsSteadyState(t *testing.T) {
	var wire []byte
	for _, m := range []Message{
		{KeepAlive: true},
		{ID: Have, Index: 9},
		{ID: Request, Index: 1, Begin: 2, Length: 3},
		{ID: Piece, Index: 1, Begin: 0, Payload: make([]byte, BlockSize)},
		{ID: Bitfield, Payload: make([]byte, 125)},
		{ID: Extended, ExtendedID: 1, Payload: make([]byte, 300)},
		{ID: Port, Port: 1},
		{ID: HaveAll},
		{ID: AllowedFast, Index: 7},
	} {
		wire = AppendMessage(wire, m)
	}
	block := make([]byte, BlockSize)
	r := NewReader(&loopReader{data: wire}, ReaderOptions{
		NumPieces: 1000,
		Alloc:     func(int) []byte { return block },
	})
	// Warm up: the payload buffer grows to its largest size once.
	for range 20 {
		if _, err := r.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := r.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ReadMessage allocates %.2f times per message in steady state, want 0", allocs)
	}
}

func TestMessageIDs(t *testing.T) {
	if Choke.String() != "choke" || Extended.String() != "extended" || MessageID(99).String() != "message 99" {
		t.Errorf("String: %q %q %q", Choke, Extended, MessageID(99))
	}
	for id := range 256 {
		want := id <= 9 || (id >= 13 && id <= 17) || id == 20
		if got := MessageID(id).Known(); got != want {
			t.Errorf("MessageID(%d).Known() = %v, want %v", id, got, want)
		}
		if got, want := MessageID(id).Fast(), id >= 13 && id <= 17; got != want {
			t.Errorf("MessageID(%d).Fast() = %v, want %v", id, got, want)
		}
	}
	if s := (Message{ID: Request, Index: 1, Begin: 2, Length: 3}).String(); s != "request 1:2+3" {
		t.Errorf("Message.String: %q", s)
	}
}

func BenchmarkReadMessagePiece(b *testing.B) {
	wire := AppendMessage(nil, Message{ID: Piece, Payload: make([]byte, BlockSize)})
	block := make([]byte, BlockSize)
	r := NewReader(&loopReader{data: wire}, ReaderOptions{Alloc: func(int) []byte { return block }})
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestReaderDoesNotRetainLargePayloads(t *testing.T) {
	big := AppendMessage(nil, Message{ID: Extended, ExtendedID: 1, Payload: make([]byte, maxRetainedPayload+1)})
	small := AppendMessage(nil, Message{ID: Extended, ExtendedID: 1, Payload: []byte("x")})
	r := NewReader(bytes.NewReader(append(append(small, big...), small...)), ReaderOptions{})
	for i, want := range []int{1, maxRetainedPayload + 1, 1} {
		m, err := r.ReadMessage()
		if err != nil || len(m.Payload) != want {
			t.Fatalf("message %d: %d bytes, %v", i, len(m.Payload), err)
		}
		if cap(r.buf) > maxRetainedPayload {
			t.Fatalf("after message %d the reader keeps a %d-byte buffer", i, cap(r.buf))
		}
	}
}
