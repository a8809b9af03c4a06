package peerconn

import (
	"testing"

	"shoal/peerwire"
)

// A piece's blocks requested in order are read from storage in reads of
// readAheadSize, not one read per block, and each block still carries its
// own bytes; a block of another piece, or one before what was read ahead,
// is read again; the piece's end bounds the read.
func TestUploadsReadAhead(t *testing.T) {
	const pieceLen = 2*readAheadSize + 3*peerwire.BlockSize // 2 full reads and a short one
	ours, theirs := tcpPair(t)
	st := &fakeStorage{}
	c, _ := newTestConn(t, ours, Options{
		ReadBlock: st.ReadBlock,
		PieceSize: func(int) int64 { return pieceLen },
	})
	peer := newFakePeer(t, theirs)
	var want []Request
	for b := int64(0); b < pieceLen; b += peerwire.BlockSize {
		want = append(want, Request{Piece: 2, Begin: b, Length: peerwire.BlockSize})
	}
	// Then a block of another piece, and (once that is sent, as a queued
	// duplicate would be merged) piece 2's first block again.
	want = append(want, Request{Piece: 5, Begin: 0, Length: peerwire.BlockSize})
	again := Request{Piece: 2, Begin: 0, Length: peerwire.BlockSize}
	for _, r := range want {
		if !c.QueueUpload(r.Piece, r.Begin, r.Length) {
			t.Fatalf("QueueUpload(%+v) = false", r)
		}
	}
	for _, r := range want {
		checkPiece(t, peer.readSkipKeepAlive(), r)
	}
	c.QueueUpload(again.Piece, again.Begin, again.Length)
	checkPiece(t, peer.readSkipKeepAlive(), again)
	reads := st.readsSoFar()
	wantReads := []Request{
		{Piece: 2, Begin: 0, Length: readAheadSize},
		{Piece: 2, Begin: readAheadSize, Length: readAheadSize},
		{Piece: 2, Begin: 2 * readAheadSize, Length: 3 * peerwire.BlockSize},
		{Piece: 5, Begin: 0, Length: readAheadSize},
		{Piece: 2, Begin: 0, Length: readAheadSize},
	}
	if len(reads) != len(wantReads) {
		t.Fatalf("storage reads %v, want %v", reads, wantReads)
	}
	for i := range reads {
		if reads[i] != wantReads[i] {
			t.Fatalf("storage read %d: %+v, want %+v (all: %v)", i, reads[i], wantReads[i], reads)
		}
	}
}

// Without PieceSize every block is read on its own.
func TestUploadsWithoutPieceSizeReadBlocks(t *testing.T) {
	ours, theirs := tcpPair(t)
	st := &fakeStorage{}
	c, _ := newTestConn(t, ours, Options{ReadBlock: st.ReadBlock})
	peer := newFakePeer(t, theirs)
	for i := range 4 {
		c.QueueUpload(0, int64(i)*peerwire.BlockSize, peerwire.BlockSize)
	}
	for i := range 4 {
		checkPiece(t, peer.readSkipKeepAlive(), Request{Piece: 0, Begin: int64(i) * peerwire.BlockSize, Length: peerwire.BlockSize})
	}
	if n := len(st.readsSoFar()); n != 4 {
		t.Fatalf("%d storage reads for 4 blocks, want 4", n)
	}
}
