package peerwire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestMetadataMessageWire(t *testing.T) {
	// The examples of BEP 9 (its reject example has a typo, msg_type 1).
	tests := []struct {
		m    MetadataMessage
		wire string
	}{
		{MetadataMessage{Type: MetadataRequest, Piece: 0}, "d8:msg_typei0e5:piecei0ee"},
		{MetadataMessage{Type: MetadataReject, Piece: 3}, "d8:msg_typei2e5:piecei3ee"},
		{MetadataMessage{Type: MetadataData, Piece: 0, TotalSize: 5, Data: []byte("xxxxx")},
			"d8:msg_typei1e5:piecei0e10:total_sizei5eexxxxx"},
	}
	for _, tc := range tests {
		b, err := tc.m.Marshal()
		if err != nil {
			t.Fatalf("Marshal %+v: %v", tc.m, err)
		}
		if string(b) != tc.wire {
			t.Errorf("Marshal %+v = %q, want %q", tc.m, b, tc.wire)
		}
		got, err := ParseMetadataMessage(b)
		if err != nil {
			t.Fatalf("Parse %q: %v", b, err)
		}
		if got.Type != tc.m.Type || got.Piece != tc.m.Piece || got.TotalSize != tc.m.TotalSize || !bytes.Equal(got.Data, tc.m.Data) {
			t.Errorf("Parse %q = %+v, want %+v", b, got, tc.m)
		}
	}
}

func TestMetadataDataPieceSizes(t *testing.T) {
	full := bytes.Repeat([]byte{'a'}, MetadataPieceSize)
	total := 2*MetadataPieceSize + 10
	for piece, n := range []int{MetadataPieceSize, MetadataPieceSize, 10} {
		if got := MetadataPieceLen(total, piece); got != n {
			t.Fatalf("MetadataPieceLen(%d, %d) = %d, want %d", total, piece, got, n)
		}
		b, err := MetadataMessage{Type: MetadataData, Piece: piece, TotalSize: total, Data: full[:n]}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		m, err := ParseMetadataMessage(b)
		if err != nil || len(m.Data) != n {
			t.Fatalf("piece %d: %v, %d bytes", piece, err, len(m.Data))
		}
	}
	if MetadataPieces(total) != 3 || MetadataPieces(0) != 0 || MetadataPieceLen(total, 3) != 0 || MetadataPieceLen(total, -1) != 0 {
		t.Fatal("piece arithmetic is off")
	}
	// A data message whose length does not fit its piece does not encode.
	if _, err := (MetadataMessage{Type: MetadataData, Piece: 0, TotalSize: total, Data: full[:10]}).Marshal(); err == nil {
		t.Fatal("short middle piece encoded")
	}
}

func TestParseMetadataMessageErrors(t *testing.T) {
	big := strings.Repeat("x", MetadataPieceSize+1)
	tests := []struct {
		name, payload string
	}{
		{"empty", ""},
		{"not a dict", "i1e"},
		{"no msg_type", "d5:piecei0ee"},
		{"negative msg_type", "d8:msg_typei-1e5:piecei0ee"},
		{"no piece", "d8:msg_typei0ee"},
		{"negative piece", "d8:msg_typei0e5:piecei-1ee"},
		{"piece too large", "d8:msg_typei0e5:piecei512ee"},
		{"piece a string", "d8:msg_typei0e5:piece1:0e"},
		{"data without total_size", "d8:msg_typei1e5:piecei0eexx"},
		{"total_size over the limit", "d8:msg_typei1e5:piecei0e10:total_sizei8388609eexx"},
		{"total_size zero", "d8:msg_typei1e5:piecei0e10:total_sizei0ee"},
		{"data too short", "d8:msg_typei1e5:piecei0e10:total_sizei5eexxxx"},
		{"data too long", "d8:msg_typei1e5:piecei0e10:total_sizei5eexxxxxx"},
		{"data over 16 KiB", "d8:msg_typei1e5:piecei0e10:total_sizei16385ee" + big},
		{"piece beyond the end", "d8:msg_typei1e5:piecei1e10:total_sizei5eexxxxx"},
		{"request with data", "d8:msg_typei0e5:piecei0eexx"},
		{"truncated dict", "d8:msg_typei0e5:piecei0e"},
		{"huge dict", "d1:x2000:" + strings.Repeat("y", 2000) + "8:msg_typei0e5:piecei0ee"},
	}
	for _, tc := range tests {
		if m, err := ParseMetadataMessage([]byte(tc.payload)); !errors.Is(err, ErrBadMetadataMessage) {
			t.Errorf("%s: got %+v, %v; want ErrBadMetadataMessage", tc.name, m, err)
		}
	}
}

func TestParseMetadataMessageLenient(t *testing.T) {
	// Unknown message types must be ignored by the caller (BEP 9), so they
	// parse; unknown keys and unsorted keys are accepted.
	m, err := ParseMetadataMessage([]byte("d8:msg_typei7e5:piecei1ee"))
	if err != nil || m.Type != 7 || m.Piece != 1 {
		t.Fatalf("unknown type: %+v, %v", m, err)
	}
	m, err = ParseMetadataMessage([]byte("d5:piecei0e8:msg_typei1e10:total_sizei3e1:v1:xeabc"))
	if err != nil || m.Type != MetadataData || string(m.Data) != "abc" {
		t.Fatalf("unsorted keys: %+v, %v", m, err)
	}
}

func FuzzParseMetadataMessage(f *testing.F) {
	f.Add([]byte("d8:msg_typei0e5:piecei0ee"))
	f.Add([]byte("d8:msg_typei1e5:piecei0e10:total_sizei5eexxxxx"))
	f.Add([]byte("d8:msg_typei2e5:piecei3ee"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		m, err := ParseMetadataMessage(payload)
		if err != nil {
			if !errors.Is(err, ErrBadMetadataMessage) {
				t.Fatalf("undocumented error: %v", err)
			}
			return
		}
		if m.Piece < 0 || m.Piece >= maxMetadataPieces || len(m.Data) > MetadataPieceSize {
			t.Fatalf("out of bounds: piece %d, %d bytes", m.Piece, len(m.Data))
		}
		if m.Type != MetadataRequest && m.Type != MetadataData && m.Type != MetadataReject {
			return
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("parsed %+v does not marshal: %v", m, err)
		}
		again, err := ParseMetadataMessage(b)
		if err != nil || again.Type != m.Type || again.Piece != m.Piece || again.TotalSize != m.TotalSize || !bytes.Equal(again.Data, m.Data) {
			t.Fatalf("round trip of %+v: %+v, %v", m, again, err)
		}
	})
}
