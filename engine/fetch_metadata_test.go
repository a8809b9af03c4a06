package engine

import (
	"bytes"
	"crypto/sha1"
	"slices"
	"testing"
	"time"

	"shoal/peerwire"
)

// TestMetadataAssemblyFindsLiar drives the assembly without a network: an
// honest peer and a liar share the first attempt, which fails the check;
// isolation then finds the liar whichever of the two it asks first.
func TestMetadataAssemblyFindsLiar(t *testing.T) {
	info := bytes.Repeat([]byte("0123456789abcdef"), 3*peerwire.MetadataPieceSize/16+100) // 4 pieces
	n := peerwire.MetadataPieces(len(info))
	corrupt := bytes.Clone(info)
	for i := 0; i < len(corrupt); i += peerwire.MetadataPieceSize {
		corrupt[i] ^= 1
	}
	for _, liarFirst := range []bool{true, false} {
		newPeer := func(key int) *fetchPeer {
			return &fetchPeer{key: key, metadataID: 1, size: len(info),
				requests: map[int]time.Time{}, refused: map[int]time.Time{}}
		}
		honest, liar := newPeer(1), newPeer(2)
		data := map[int][]byte{1: info, 2: corrupt}
		a := metadataAssembly{ih: sha1.Sum(info)}
		offering := []*fetchPeer{honest, liar}
		if liarFirst {
			offering = []*fetchPeer{liar, honest}
		}
		var dropped []int
		now := time.Now()
		// answer sends every requested piece; it reports a peer the
		// assembly wants dropped.
		answer := func(reqs []pieceRequest) {
			for _, r := range reqs {
				src := data[r.peer.key]
				begin := r.piece * peerwire.MetadataPieceSize
				mm := peerwire.MetadataMessage{Type: peerwire.MetadataData, Piece: r.piece, TotalSize: len(src),
					Data: src[begin : begin+peerwire.MetadataPieceLen(len(src), r.piece)]}
				if bad, err := a.data(r.peer, mm); bad || err != nil {
					dropped = append(dropped, r.peer.key)
					a.release(r.peer)
					offering = slices.DeleteFunc(offering, func(p *fetchPeer) bool { return p == r.peer })
				}
			}
		}
		first := a.assign(offering, now)
		if len(first) != n || len(honest.requests) == 0 || len(liar.requests) == 0 {
			t.Fatalf("first attempt: %d requests, %d to the honest peer, %d to the liar", len(first), len(honest.requests), len(liar.requests))
		}
		answer(first)
		if !a.isolate || a.verified != nil || len(dropped) != 0 {
			t.Fatalf("after a mixed attempt failed: isolate %v, verified %v, dropped %v", a.isolate, a.verified != nil, dropped)
		}
		for round := 0; a.verified == nil && round < 4; round++ {
			reqs := a.assign(offering, now)
			for _, r := range reqs {
				if r.peer != reqs[0].peer {
					t.Fatal("isolation asked two peers")
				}
			}
			answer(reqs)
		}
		if !bytes.Equal(a.verified, info) {
			t.Fatalf("liar first %v: not verified", liarFirst)
		}
		// The liar may be named twice: dropped in isolation, then found in
		// the first attempt's pieces.
		dropped = slices.Compact(append(dropped, a.takeBad()...))
		if !slices.Equal(dropped, []int{2}) {
			t.Fatalf("liar first %v: dropped %v, want the liar (2) only", liarFirst, dropped)
		}
	}
}

// TestMetadataAssemblySizeVotes: the size most peers announce is used,
// and a peer whose data contradicts its own announcement is bad.
func TestMetadataAssemblySizeVotes(t *testing.T) {
	peers := []*fetchPeer{
		{key: 1, size: 100, requests: map[int]time.Time{}, refused: map[int]time.Time{}},
		{key: 2, size: 200, requests: map[int]time.Time{}, refused: map[int]time.Time{}},
		{key: 3, size: 200, requests: map[int]time.Time{}, refused: map[int]time.Time{}},
	}
	var a metadataAssembly
	reqs := a.assign(peers, time.Now())
	if a.size != 200 || len(reqs) != 1 || reqs[0].peer.key == 1 {
		t.Fatalf("size %d, requests %+v", a.size, reqs)
	}
	bad, err := a.data(reqs[0].peer, peerwire.MetadataMessage{Type: peerwire.MetadataData, TotalSize: 100, Data: make([]byte, 100)})
	if !bad || err == nil {
		t.Fatal("data contradicting the peer's metadata_size was accepted")
	}
}
