package picker

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// simPeer is one simulated remote peer: its pieces and the requests we
// have sent it, in order.
type simPeer struct {
	key     int
	queue   []Block
	bad     bool // sends corrupt data: pieces it contributes to fail
	present bool
}

// TestSimulation downloads whole torrents from simulated peers through
// Pick/Received/Release/PieceVerified/PieceFailed, with disconnects,
// chokes, late HAVEs and corrupt data, and checks every invariant after
// each step.
func TestSimulation(t *testing.T) {
	var endgames, failures, cancels int
	for seed := uint64(1); seed <= 30; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			st := simulate(t, seed)
			endgames += st.endgame
			failures += st.failures
			cancels += st.cancels
		})
	}
	// The scenarios must reach the parts they are meant to exercise.
	if endgames < 10 || failures < 10 || cancels < 10 {
		t.Fatalf("runs with endgame %d, failed pieces %d, cancels %d: too few", endgames, failures, cancels)
	}
}

type simStats struct{ endgame, failures, cancels int }

func simulate(t *testing.T, seed uint64) (st simStats) {
	rng := rand.New(rand.NewPCG(seed, 7))
	numPieces := 5 + rng.IntN(40)
	blocksPerPiece := 1 + rng.IntN(4)
	pl := int64(blocksPerPiece) * BlockSize
	total := int64(numPieces)*pl - int64(rng.IntN(int(pl))) // a shorter last piece
	p := New(newLayout(pl, total), Options{Seed: seed})
	n := p.NumPieces()
	if seed%3 == 0 {
		p.SetSequential(true)
	}
	if seed%4 == 0 {
		for i := range n {
			_ = p.SetPriority(i, Priority(1+rng.IntN(3)))
		}
	}

	// Pieces each peer has; the union covers everything (peer 0 gets what
	// nobody else has, then HAVEs the rest over time).
	numPeers := 2 + rng.IntN(6)
	peers := make([]*simPeer, numPeers)
	has := make([][]bool, numPeers)
	covered := make([]bool, n)
	for k := range peers {
		peers[k] = &simPeer{key: k, bad: k == 1 && seed%2 == 0}
		has[k] = make([]bool, n)
		for i := range n {
			if k > 0 && rng.IntN(3) > 0 {
				has[k][i] = true
				covered[i] = true
			}
		}
	}
	for i := range n {
		if !covered[i] {
			has[0][i] = true
		}
	}
	connect := func(sp *simPeer) {
		b := bf(n)
		for i, h := range has[sp.key] {
			if h {
				b.Set(i)
			}
		}
		mustAdd(t, p, sp.key, b)
		sp.present = true
		if sp.key == numPeers-1 && seed%5 == 0 {
			p.PeerHaveAll(sp.key)
			for i := range has[sp.key] {
				has[sp.key][i] = true
			}
		}
	}
	for _, sp := range peers {
		connect(sp)
	}

	// sender[piece][block] is who delivered the block we hold.
	numBlocks := func(i int) int { return p.numBlocks(i) }
	sender := make([][]int, n)
	for i := range sender {
		sender[i] = make([]int, numBlocks(i))
	}
	endgameSeen := false
	failures := 0
	for step := 0; p.NumHave() < n; step++ {
		if step > 200000 {
			t.Fatalf("no completion after %d steps: have %d of %d", step, p.NumHave(), n)
		}
		sp := peers[rng.IntN(numPeers)]
		switch r := rng.IntN(100); {
		case !sp.present:
			connect(sp)
		case r < 40: // request more
			got := p.Pick(sp.key, 1+rng.IntN(6))
			for _, b := range got {
				if !has[sp.key][b.Piece] {
					t.Fatalf("peer %d given block %v of a piece it lacks", sp.key, b)
				}
				if slices.Contains(sp.queue, b) {
					t.Fatalf("block %v requested twice from peer %d", b, sp.key)
				}
				if p.Have(b.Piece) || p.Priority(b.Piece) == Skip {
					t.Fatalf("block %v of a verified or skipped piece picked", b)
				}
			}
			sp.queue = append(sp.queue, got...)
		case r < 80 && len(sp.queue) > 0: // a block arrives
			b := sp.queue[0]
			sp.queue = sp.queue[1:]
			rc := p.Received(sp.key, b)
			if rc.Status != Accepted && rc.Status != Unwanted {
				t.Fatalf("requested block %v from peer %d: %v", b, sp.key, rc.Status)
			}
			st.cancels += len(rc.Cancel)
			for _, k := range rc.Cancel {
				q := peers[k].queue
				at := slices.Index(q, b)
				if at < 0 {
					t.Fatalf("cancel to peer %d for %v it was not asked for", k, b)
				}
				peers[k].queue = slices.Delete(q, at, at+1)
			}
			if !rc.Stored() {
				break
			}
			sender[b.Piece][b.Begin/BlockSize] = sp.key
			if !rc.PieceDone {
				break
			}
			bad := false
			var want []int
			for _, k := range sender[b.Piece] {
				bad = bad || peers[k].bad
				if !slices.Contains(want, k) {
					want = append(want, k)
				}
			}
			if bad || rng.IntN(20) == 0 {
				failures++
				got := p.PieceFailed(b.Piece)
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("piece %d failed: contributors %v, want %v", b.Piece, got, want)
				}
				if bad && failures > 3 {
					// Ban the bad peer for good: it never reconnects.
					peers[1].bad = false
					drop(p, peers[1])
					has[1] = make([]bool, n)
				}
			} else {
				p.PieceVerified(b.Piece)
				for _, other := range peers {
					if other.present && rng.IntN(2) == 0 && !has[other.key][b.Piece] {
						has[other.key][b.Piece] = true
						p.PeerHave(other.key, b.Piece)
					}
				}
			}
		case r < 88 && len(sp.queue) > 0: // reject or time out one request
			at := rng.IntN(len(sp.queue))
			p.Release(sp.key, sp.queue[at])
			sp.queue = slices.Delete(sp.queue, at, at+1)
		case r < 90: // choke: everything released
			for _, b := range sp.queue {
				p.Release(sp.key, b)
			}
			sp.queue = nil
		case r < 92: // disconnect
			drop(p, sp)
		case r < 95: // a late HAVE for a piece peer 0 was missing
			for i := range n {
				if !has[0][i] && rng.IntN(4) == 0 {
					has[0][i] = true
					p.PeerHave(0, i)
				}
			}
		}
		if err := checkInvariants(p); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if p.InEndgame() {
			endgameSeen = true
		}
		if !endgameSeen {
			for _, pp := range p.partials {
				for j := range pp.blocks {
					if pp.blocks[j].nreq > 1 {
						t.Fatalf("step %d: block %d of piece %d requested from %d peers outside endgame",
							step, j, pp.index, pp.blocks[j].nreq)
					}
				}
			}
		}
		for _, sp := range peers {
			if sp.present && p.Interesting(sp.key) != simInteresting(p, has[sp.key]) {
				t.Fatalf("step %d: peer %d Interesting() = %v", step, sp.key, p.Interesting(sp.key))
			}
		}
	}
	if p.NumWanted() != 0 || p.NumPartial() != 0 {
		t.Fatalf("finished with %d wanted, %d in progress", p.NumWanted(), p.NumPartial())
	}
	if endgameSeen {
		st.endgame = 1
	}
	st.failures = failures
	return st
}

func drop(p *Picker, sp *simPeer) {
	p.RemovePeer(sp.key)
	sp.queue = nil
	sp.present = false
}

func simInteresting(p *Picker, has []bool) bool {
	for i, h := range has {
		if h && !p.Have(i) && p.Priority(i) != Skip {
			return true
		}
	}
	return false
}
