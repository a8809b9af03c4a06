package picker

import (
	"math/rand/v2"
	"testing"
)

// benchSwarm is a picker with 50 peers holding random halves of 50k pieces.
func benchSwarm(b *testing.B, blocksPerPiece int) *Picker {
	const numPieces, numPeers = 50_000, 50
	rng := rand.New(rand.NewPCG(1, 2))
	p := newPicker(numPieces, blocksPerPiece, Options{Seed: 1})
	for k := range numPeers {
		has := bf(numPieces)
		for i := range numPieces {
			if rng.IntN(2) == 0 {
				has.Set(i)
			}
		}
		mustAdd(b, p, k, has)
	}
	return p
}

// BenchmarkPick: 50k pieces of 16 blocks, 50 peers with random bitfields,
// 16 blocks per call, every block received as soon as it is picked.
func BenchmarkPick(b *testing.B) {
	p := benchSwarm(b, 16)
	dst := make([]Block, 0, 16)
	peer := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		dst = p.AppendPick(dst[:0], peer, 16)
		for _, blk := range dst {
			if p.Received(peer, blk).PieceDone {
				p.PieceVerified(blk.Piece)
			}
		}
		if peer++; peer == 50 {
			peer = 0
		}
		if p.NumWanted() == 0 {
			b.StopTimer()
			p = benchSwarm(b, 16)
			b.StartTimer()
		}
	}
}

// BenchmarkPickPipelined: pieces of 64 blocks, each peer keeps its 16
// requests outstanding until its next turn, so ~50 pieces are in progress
// at once and picks continue partial pieces.
func BenchmarkPickPipelined(b *testing.B) {
	p := benchSwarm(b, 64)
	queues := make([][]Block, 50)
	peer := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, blk := range queues[peer] {
			if p.Received(peer, blk).PieceDone {
				p.PieceVerified(blk.Piece)
			}
		}
		queues[peer] = p.AppendPick(queues[peer][:0], peer, 16)
		if peer++; peer == 50 {
			peer = 0
		}
		if p.NumWanted() == 0 {
			b.StopTimer()
			p = benchSwarm(b, 64)
			for k := range queues {
				queues[k] = queues[k][:0]
			}
			b.StartTimer()
		}
	}
}

// BenchmarkPickSparsePeer: the worst common case, a peer with 1% of the
// pieces among 50k, where bucket probing gives up and the picker walks the
// peer's own bitfield.
func BenchmarkPickSparsePeer(b *testing.B) {
	build := func() *Picker {
		p := benchSwarm(b, 16)
		rng := rand.New(rand.NewPCG(3, 4))
		has := bf(p.NumPieces())
		for i := range p.NumPieces() {
			if rng.IntN(100) == 0 {
				has.Set(i)
			}
		}
		mustAdd(b, p, 99, has)
		return p
	}
	p := build()
	dst := make([]Block, 0, 16)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		dst = p.AppendPick(dst[:0], 99, 16)
		for _, blk := range dst {
			if p.Received(99, blk).PieceDone {
				p.PieceVerified(blk.Piece)
			}
		}
		if !p.Interesting(99) {
			b.StopTimer()
			p = build()
			b.StartTimer()
		}
	}
}
