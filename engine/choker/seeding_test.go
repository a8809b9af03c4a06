package choker

import (
	"slices"
	"testing"
	"time"

	"shoal/engine/ratemeter"
)

// seedSim runs a seeding swarm: every peer stays interested, and we upload
// to an unchoked peer at its own capacity; rates come from real 20 s meters
// sampled like the engine does.
type seedSim struct {
	peers    []PeerState
	capacity []float64
	meters   []*ratemeter.Meter
	now      time.Time
}

func newSeedSim(capacity []float64) *seedSim {
	s := &seedSim{capacity: capacity, now: t0}
	for k := range capacity {
		s.peers = append(s.peers, PeerState{Key: k, Interested: true, ConnectedAt: old})
		s.meters = append(s.meters, ratemeter.New(20*time.Second))
		s.meters[k].Add(0, s.now)
	}
	return s
}

// step applies unchoke for 10 s, one sample per second.
func (s *seedSim) step(unchoke []int) {
	apply(s.peers, unchoke)
	for range 10 {
		s.now = s.now.Add(time.Second)
		for k := range s.peers {
			var n int64
			if s.peers[k].Unchoked {
				n = int64(s.capacity[k])
			}
			s.meters[k].Add(n, s.now)
		}
	}
	for k := range s.peers {
		s.peers[k].UploadRate = s.meters[k].Rate(s.now)
	}
}

func TestSeedingFavoursFastButEveryoneGetsATurn(t *testing.T) {
	// 12 interested peers; 0-2 are much faster than the rest, but they are
	// listed last so the first rounds don't start with them by accident.
	capacity := []float64{900e3, 800e3, 700e3, 50e3, 45e3, 40e3, 35e3, 30e3, 25e3, 20e3, 15e3, 10e3}
	slices.Reverse(capacity)
	fastKeys := []int{9, 10, 11}

	for seed := range uint64(5) {
		s := newSeedSim(capacity)
		c := newTest(DefaultSlots, seed) // 3 fast slots + 1 rotating
		const rounds = 300
		lastRegular := make([]int, len(capacity))
		maxGap := make([]int, len(capacity))
		fastHeld := 0
		for i := range rounds {
			unchoke, opt := c.Rechoke(s.now, true, s.peers)
			reg := regularOf(s.peers, unchoke, opt)
			if len(reg) != DefaultSlots {
				t.Fatalf("seed %d round %d: %d regular slots used: %v", seed, i, len(reg), reg)
			}
			for _, k := range reg {
				maxGap[k] = max(maxGap[k], i-lastRegular[k])
				lastRegular[k] = i
			}
			if i >= 60 {
				for _, k := range fastKeys {
					if slices.Contains(reg, k) {
						fastHeld++
					}
				}
			}
			s.step(unchoke)
		}
		// Bound: 12 peers - 3 fast slots = 9 share the rotating slot in
		// 6-round turns, so a peer waits for the 8 others' turns (48
		// rounds) plus a little slack.
		const bound = 8*6 + 3
		for k := range capacity {
			gap := max(maxGap[k], rounds-1-lastRegular[k])
			if gap > bound {
				t.Errorf("seed %d: peer %d (capacity %.0f) waited %d rounds for a regular slot, bound %d",
					seed, k, capacity[k], gap, bound)
			}
		}
		share := float64(fastHeld) / float64(3*(rounds-60))
		t.Logf("seed %d: longest waits %v, fast peers' slot share %.2f", seed, maxGap, share)
		if share < 0.9 {
			t.Errorf("seed %d: fastest peers held their slots %.0f%% of the time, want >= 90%%", seed, share*100)
		}
	}
}

func TestSeedingRotationOrder(t *testing.T) {
	// One slot (so it rotates), everyone equally slow: pure round robin,
	// each peer served for one 60 s turn in the order it started waiting.
	var peers []PeerState
	for k := range 4 {
		peers = append(peers, PeerState{Key: k, Interested: true, ConnectedAt: old})
	}
	c := newTest(1, 3)
	var holders []int
	for i := range 48 {
		unchoke, opt := c.Rechoke(t0.Add(time.Duration(i)*10*time.Second), true, peers)
		reg := regularOf(peers, unchoke, opt)
		if len(reg) != 1 {
			t.Fatalf("round %d: regular %v", i, reg)
		}
		apply(peers, unchoke)
		holders = append(holders, reg[0])
	}
	for i := 0; i < len(holders); i += 6 {
		for j := i; j < i+6; j++ {
			if holders[j] != holders[i] {
				t.Fatalf("turn starting at round %d not 6 rounds long: %v", i, holders)
			}
		}
	}
	// Each consecutive 4 turns serve all 4 peers.
	for i := 0; i+24 <= len(holders); i += 6 {
		seen := map[int]bool{}
		for j := i; j < i+24; j += 6 {
			seen[holders[j]] = true
		}
		if len(seen) != 4 {
			t.Fatalf("turns from round %d don't cover all peers: %v", i, holders)
		}
	}
}

func TestSeedingNobodyWaitingKeepsSlots(t *testing.T) {
	peers := []PeerState{
		{Key: 0, Interested: true, UploadRate: 100, ConnectedAt: old},
		{Key: 1, Interested: true, UploadRate: 50, ConnectedAt: old},
		{Key: 2, Interested: false, ConnectedAt: old},
	}
	c := newTest(2, 1)
	for i := range 20 {
		unchoke, opt := c.Rechoke(t0.Add(time.Duration(i)*10*time.Second), true, peers)
		if !slices.Equal(unchoke, []int{0, 1}) || opt != NoPeer {
			t.Fatalf("round %d: unchoke %v opt %d, want [0 1] for good", i, unchoke, opt)
		}
		apply(peers, unchoke)
	}
	// A third interested peer arrives: the rotating slot (the slower
	// holder's, whose turn is long over) goes to it at once; the faster
	// peer keeps its slot.
	peers[2].Interested = true
	unchoke, opt := c.Rechoke(t0.Add(200*time.Second), true, peers)
	if reg := regularOf(peers, unchoke, opt); !sameSet(reg, []int{0, 2}) || opt != 1 {
		t.Errorf("after a newcomer: regular %v opt %d, want [0 2] and 1 optimistic", reg, opt)
	}
}
