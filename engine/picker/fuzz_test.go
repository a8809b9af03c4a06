package picker

import (
	"encoding/binary"
	"testing"
)

// FuzzOps drives a picker with an arbitrary sequence of calls, with the
// out-of-range indices, bogus blocks and repeated messages a hostile peer
// can cause, and checks that nothing panics and every invariant holds.
func FuzzOps(f *testing.F) {
	f.Add([]byte{7, 3, 0, 1, 0xff, 1, 1, 4, 2, 1, 0, 3, 1, 5, 4, 0, 2, 9})
	f.Add([]byte{2, 1, 0, 0, 0, 2, 0, 8, 3, 0, 0, 3, 0, 0, 7, 0, 0})
	f.Add([]byte{20, 4, 10, 1, 0, 2, 1, 16, 2, 2, 16, 11, 0, 0, 3, 1, 1, 6, 1, 2, 8, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		numPieces := int(data[0]%32) + 1
		blocksPerPiece := int(data[1]%5) + 1
		pl := int64(blocksPerPiece) * BlockSize
		total := int64(numPieces)*pl - int64(data[0]/32)*BlockSize/3
		p := New(newLayout(pl, total), Options{Seed: 1})
		n := p.NumPieces()
		var picked []Block
		data = data[2:]
		next := func() int {
			if len(data) == 0 {
				return 0
			}
			v := int(data[0])
			data = data[1:]
			return v
		}
		for len(data) > 0 {
			op, key := next()%13, next()%5
			switch op {
			case 0:
				has := bf(n)
				for i := range n {
					if next()&1 == 1 {
						has.Set(i)
					}
				}
				_ = p.AddPeer(key, has)
			case 1:
				p.PeerHave(key, next()-8)
			case 2:
				p.PeerHaveAll(key)
			case 3:
				p.RemovePeer(key)
			case 4:
				picked = append(picked, p.Pick(key, next()%20)...)
			case 5:
				allowed := []uint32{uint32(next()), uint32(next()), binary.BigEndian.Uint32([]byte{byte(next()), 0, 0, 1})}
				picked = append(picked, p.PickAllowedFast(key, next()%20, allowed)...)
			case 6, 7:
				if len(picked) > 0 {
					b := picked[next()%len(picked)]
					if r := p.Received(key, b); r.PieceDone && next()%4 == 0 {
						p.PieceFailed(b.Piece)
					} else if r.PieceDone {
						p.PieceVerified(b.Piece)
					}
				}
			case 8:
				b := Block{Piece: next() - 2, Begin: int64(next()-2) * BlockSize / int64(next()%3+1), Length: int64(next()) << 8}
				p.Received(key, b)
				p.Release(key, b)
			case 9:
				if len(picked) > 0 {
					p.Release(key, picked[next()%len(picked)])
				}
			case 10:
				p.PieceVerified(next() - 2)
			case 11:
				_ = p.SetPriority(next()-2, Priority(next()%6-1))
			case 12:
				p.SetSequential(next()&1 == 1)
				p.PieceFailed(next() - 2)
			}
			if err := checkInvariants(p); err != nil {
				t.Fatalf("op %d: %v", op, err)
			}
			p.InEndgame()
		}
	})
}
