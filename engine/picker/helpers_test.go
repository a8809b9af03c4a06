package picker

import (
	"fmt"
	"slices"
	"testing"

	"shoal/bitfield"
	"shoal/metainfo"
)

// newLayout returns a layout of one file of total bytes in pieces of
// pieceLen bytes.
func newLayout(pieceLen, total int64) *metainfo.Layout {
	return metainfo.NewLayout(&metainfo.Info{PieceLength: pieceLen, Files: []metainfo.File{{Length: total}}})
}

// newPicker returns a picker of n pieces of blocksPerPiece full blocks each.
func newPicker(n, blocksPerPiece int, o Options) *Picker {
	if o.Seed == 0 && o.Rand == nil {
		o.Seed = 1
	}
	pl := int64(blocksPerPiece) * BlockSize
	return New(newLayout(pl, int64(n)*pl), o)
}

// bf returns a bitfield of n pieces with the listed pieces set.
func bf(n int, set ...int) *bitfield.Bitfield {
	b := bitfield.New(n)
	for _, i := range set {
		b.Set(i)
	}
	return b
}

// allBut returns a bitfield of n pieces with every piece but the listed set.
func allBut(n int, unset ...int) *bitfield.Bitfield {
	b := bitfield.New(n)
	b.SetAll()
	for _, i := range unset {
		b.Clear(i)
	}
	return b
}

func mustAdd(t testing.TB, p *Picker, key int, has *bitfield.Bitfield) {
	t.Helper()
	if err := p.AddPeer(key, has); err != nil {
		t.Fatal(err)
	}
}

// piecesOf returns the distinct pieces of blocks, in order of appearance.
func piecesOf(blocks []Block) []int {
	var out []int
	for _, b := range blocks {
		if !slices.Contains(out, b.Piece) {
			out = append(out, b.Piece)
		}
	}
	return out
}

// checkInvariants recomputes every incrementally kept count and compares.
func checkInvariants(p *Picker) error {
	var levelCount [numLevels]int
	for lvl := range p.levels {
		for a, b := range p.levels[lvl].buckets {
			for k, i := range b {
				ps := &p.pieces[i]
				if int(ps.prio) != lvl || int(ps.avail) != a || int(ps.pos) != k {
					return fmt.Errorf("piece %d in bucket level %d avail %d pos %d, state prio %d avail %d pos %d",
						i, lvl, a, k, ps.prio, ps.avail, ps.pos)
				}
				levelCount[lvl]++
			}
		}
		if levelCount[lvl] != p.levels[lvl].count {
			return fmt.Errorf("level %d count %d, buckets hold %d", lvl, p.levels[lvl].count, levelCount[lvl])
		}
	}
	avail := make([]int32, p.numPieces)
	seeds := 0
	for key, pr := range p.peers {
		if pr.seed {
			seeds++
			continue
		}
		interesting := 0
		for i := pr.bf.NextSet(0); i >= 0; i = pr.bf.NextSet(i + 1) {
			avail[i]++
			if p.wanted(i) {
				interesting++
			}
		}
		if interesting != pr.interesting {
			return fmt.Errorf("peer %d interesting %d, want %d", key, pr.interesting, interesting)
		}
	}
	if len(p.peerList) != len(p.peers) {
		return fmt.Errorf("%d peers in list, %d in map", len(p.peerList), len(p.peers))
	}
	for k, pr := range p.peerList {
		if pr.listPos != k {
			return fmt.Errorf("peer at %d has listPos %d", k, pr.listPos)
		}
	}
	if seeds != p.seeds {
		return fmt.Errorf("seeds %d, want %d", p.seeds, seeds)
	}
	have, wanted := 0, 0
	for i := range p.pieces {
		ps := &p.pieces[i]
		if ps.avail != avail[i] {
			return fmt.Errorf("piece %d avail %d, want %d", i, ps.avail, avail[i])
		}
		fresh := p.wanted(i) && ps.partial == nil
		if fresh != (ps.pos >= 0) {
			return fmt.Errorf("piece %d: fresh %v but pos %d", i, fresh, ps.pos)
		}
		if ps.have {
			have++
			if ps.partial != nil {
				return fmt.Errorf("piece %d verified but in progress", i)
			}
		}
		if p.wanted(i) {
			wanted++
		}
	}
	if have != p.numHave || wanted != p.numWanted {
		return fmt.Errorf("have %d wanted %d, counted %d %d", p.numHave, p.numWanted, have, wanted)
	}
	for k, pp := range p.partials {
		if pp.setPos != k || p.pieces[pp.index].partial != pp {
			return fmt.Errorf("partial piece %d at %d has setPos %d", pp.index, k, pp.setPos)
		}
		if len(pp.blocks) != p.numBlocks(pp.index) {
			return fmt.Errorf("piece %d has %d block states, want %d", pp.index, len(pp.blocks), p.numBlocks(pp.index))
		}
		received, requested := 0, 0
		firstFree := len(pp.blocks)
		for j := range pp.blocks {
			bs := &pp.blocks[j]
			reqs := bs.req[:bs.nreq]
			for x := range reqs {
				if slices.Contains(reqs[x+1:], reqs[x]) {
					return fmt.Errorf("piece %d block %d requested twice from peer %d", pp.index, j, reqs[x])
				}
				if _, ok := p.peers[reqs[x]]; !ok {
					return fmt.Errorf("piece %d block %d requested from departed peer %d", pp.index, j, reqs[x])
				}
			}
			switch {
			case bs.got && bs.nreq > 0:
				return fmt.Errorf("piece %d block %d received but still requested", pp.index, j)
			case bs.got:
				received++
			case bs.nreq > 0:
				requested++
			default:
				firstFree = min(firstFree, j)
			}
		}
		if received != pp.received || requested != pp.requested {
			return fmt.Errorf("piece %d received %d requested %d, counted %d %d", pp.index, pp.received, pp.requested, received, requested)
		}
		if received == 0 && requested == 0 {
			return fmt.Errorf("piece %d in progress with no block requested or received", pp.index)
		}
		if pp.nextFree > firstFree {
			return fmt.Errorf("piece %d nextFree %d beyond free block %d", pp.index, pp.nextFree, firstFree)
		}
	}
	return nil
}

func mustInvariants(t testing.TB, p *Picker) {
	t.Helper()
	if err := checkInvariants(p); err != nil {
		t.Fatal(err)
	}
}
