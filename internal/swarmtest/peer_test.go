package swarmtest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"shoal/metainfo"
	"shoal/peerwire"
)

// TestPeerLoopback checks the raw peer against itself: a dialled Peer and
// the accepted one exchange handshakes and messages, and each sees the
// other hang up, but not a mere timeout.
func TestPeerLoopback(t *testing.T) {
	ln := Listen(t, Addr(90))
	a := Dial(t, Addr(91), ln.Addr())
	b, err := ln.Accept(closeWait)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := b.nc.RemoteAddr().String(); got != a.LocalAddr().String() {
		t.Errorf("accepted from %s, dialled from %s", got, a.LocalAddr())
	}
	if a.LocalAddr().Addr() != Addr(91) {
		t.Errorf("dialled from %v, want %v", a.LocalAddr().Addr(), Addr(91))
	}
	var ih metainfo.InfoHash
	ih[0] = 7
	hsA := peerwire.Handshake{Reserved: fastExt(), InfoHash: ih, PeerID: hostileID()}
	hsB := peerwire.Handshake{InfoHash: ih, PeerID: hostileID()}
	done := make(chan error, 1)
	go func() {
		got, err := b.ReadHandshake(closeWait)
		if err == nil && got != hsA {
			err = errors.New("b read a different handshake")
		}
		if err == nil {
			err = b.SendHandshake(hsB)
		}
		done <- err
	}()
	if got, err := a.Handshake(hsA, closeWait); err != nil || got != hsB {
		t.Fatalf("handshake: %+v, %v", got, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := a.Send(peerwire.Message{ID: peerwire.Have, Index: 3}, peerwire.Message{ID: peerwire.Unchoke}); err != nil {
		t.Fatal(err)
	}
	m, err := b.ReadUntil(func(m peerwire.Message) bool { return m.ID == peerwire.Unchoke }, closeWait)
	if err != nil || m.ID != peerwire.Unchoke {
		t.Fatalf("ReadUntil: %v, %v", m, err)
	}
	// Nothing more: a timeout, which is not a close.
	if _, err := b.ReadMessage(50 * time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) || IsClosed(err) {
		t.Errorf("read with nothing sent: %v (closed %v)", err, IsClosed(err))
	}
	if a.WaitClosed(50 * time.Millisecond) {
		t.Error("WaitClosed true on an open connection")
	}
	// Serve counts, and sees the far end close.
	b2 := newPeer(b.nc) // a fresh reader: b's buffered one gave up at its deadline
	b2.Serve(nil)
	a.Send(peerwire.Message{ID: peerwire.Interested}, peerwire.Message{ID: peerwire.Interested})
	if !waitFor(closeWait, func() bool { return b2.Count(peerwire.Interested) == 2 }) {
		t.Errorf("Serve counted %d INTERESTED, want 2", b2.Count(peerwire.Interested))
	}
	a.Close()
	if !b2.WaitClosed(closeWait) {
		t.Errorf("far end's close not seen: %v", b2.ServeErr())
	}
}

func TestIsClosed(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{io.EOF, true},
		{io.ErrUnexpectedEOF, true},
		{os.ErrDeadlineExceeded, false},
		{peerwire.ErrMessageTooLong, false},
	} {
		if got := IsClosed(tc.err); got != tc.want {
			t.Errorf("IsClosed(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestContentBlock(t *testing.T) {
	c := NewContent(t, 16<<10, 40<<10, 1)
	if c.NumPieces() != 3 || c.PieceSize(2) != 8<<10 {
		t.Fatalf("%d pieces, last of %d bytes", c.NumPieces(), c.PieceSize(2))
	}
	if b := c.Block(2, 0, 8<<10); !bytes.Equal(b, c.Data[32<<10:]) {
		t.Error("last block differs from the data")
	}
	for _, bad := range [][3]int64{{3, 0, 1}, {-1, 0, 1}, {2, 0, 8<<10 + 1}, {0, -1, 1}, {0, 0, 0}} {
		if c.Block(int(bad[0]), bad[1], int(bad[2])) != nil {
			t.Errorf("Block%v outside the torrent returned data", bad)
		}
	}
}
