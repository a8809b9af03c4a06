package choker

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func newTest(slots int, seed uint64) *Choker {
	return New(slots, rand.New(rand.NewPCG(seed, 0x5eed)))
}

// old is a connection time well outside NewPeerAge.
var old = t0.Add(-time.Hour)

// regularOf returns unchoke without the optimistic key and without the
// not-interested extras, i.e. the peers holding regular slots.
func regularOf(peers []PeerState, unchoke []int, optimistic int) []int {
	interested := map[int]bool{}
	for _, p := range peers {
		interested[p.Key] = p.Interested
	}
	var out []int
	for _, k := range unchoke {
		if k != optimistic && interested[k] {
			out = append(out, k)
		}
	}
	return out
}

func sameSet(a, b []int) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// apply marks the peers in unchoke as unchoked, the rest as choked.
func apply(peers []PeerState, unchoke []int) {
	for i := range peers {
		peers[i].Unchoked = slices.Contains(unchoke, peers[i].Key)
	}
}

func TestLeechTitForTat(t *testing.T) {
	peers := []PeerState{
		{Key: 0, Interested: true, DownloadRate: 100, ConnectedAt: old},
		{Key: 1, Interested: true, DownloadRate: 900, ConnectedAt: old},
		{Key: 2, Interested: true, DownloadRate: 300, ConnectedAt: old},
		{Key: 3, Interested: true, DownloadRate: 700, ConnectedAt: old},
		{Key: 4, Interested: true, DownloadRate: 0, UploadRate: 5000, ConnectedAt: old},
		{Key: 5, Interested: true, DownloadRate: 800, ConnectedAt: old},
		{Key: 6, Interested: true, DownloadRate: 200, ConnectedAt: old},
	}
	c := newTest(DefaultSlots, 1)
	unchoke, opt := c.Rechoke(t0, false, peers)
	reg := regularOf(peers, unchoke, opt)
	if want := []int{1, 5, 3, 2}; !slices.Equal(reg, want) {
		t.Errorf("regular slots %v, want %v (fastest to us, best first)", reg, want)
	}
	if opt == NoPeer || slices.Contains([]int{1, 5, 3, 2}, opt) {
		t.Errorf("optimistic %d: want one of the choked interested peers", opt)
	}
	if len(unchoke) != 5 || unchoke[4] != opt {
		t.Errorf("unchoke %v: want 4 regular then the optimistic %d", unchoke, opt)
	}
}

func TestLeechTieBreaks(t *testing.T) {
	// Equal download rates: the peer we upload to faster wins.
	peers := []PeerState{
		{Key: 0, Interested: true, DownloadRate: 500, UploadRate: 10, ConnectedAt: old},
		{Key: 1, Interested: true, DownloadRate: 500, UploadRate: 30, ConnectedAt: old},
		{Key: 2, Interested: true, DownloadRate: 500, UploadRate: 20, ConnectedAt: old},
	}
	c := newTest(1, 1)
	unchoke, opt := c.Rechoke(t0, false, peers)
	if reg := regularOf(peers, unchoke, opt); !slices.Equal(reg, []int{1}) {
		t.Errorf("regular %v, want [1] (upload rate breaks the tie)", reg)
	}

	// Fully tied: a peer already unchoked keeps its slot (less churn).
	for seed := range uint64(20) {
		tied := []PeerState{
			{Key: 0, Interested: true, ConnectedAt: old},
			{Key: 1, Interested: true, ConnectedAt: old},
			{Key: 2, Interested: true, Unchoked: true, ConnectedAt: old},
			{Key: 3, Interested: true, ConnectedAt: old},
		}
		unchoke, opt := newTest(1, seed).Rechoke(t0, false, tied)
		if reg := regularOf(tied, unchoke, opt); !slices.Equal(reg, []int{2}) {
			t.Fatalf("seed %d: regular %v, want [2] (already unchoked)", seed, reg)
		}
	}

	// Fully tied and all choked: random, and every peer can win.
	won := map[int]int{}
	for seed := range uint64(200) {
		tied := []PeerState{
			{Key: 0, Interested: true, ConnectedAt: old},
			{Key: 1, Interested: true, ConnectedAt: old},
			{Key: 2, Interested: true, ConnectedAt: old},
			{Key: 3, Interested: true, ConnectedAt: old},
		}
		unchoke, opt := newTest(1, seed).Rechoke(t0, false, tied)
		won[regularOf(tied, unchoke, opt)[0]]++
	}
	for k := range 4 {
		if won[k] < 25 {
			t.Errorf("random tie-break: peer %d won %d of 200, want about 50 (%v)", k, won[k], won)
		}
	}
}

func TestLeechNotInterested(t *testing.T) {
	peers := []PeerState{
		{Key: 0, Interested: true, DownloadRate: 400, ConnectedAt: old},
		{Key: 1, Interested: true, DownloadRate: 300, ConnectedAt: old},
		{Key: 2, Interested: false, DownloadRate: 9000, ConnectedAt: old}, // faster than all: unchoked, no slot
		{Key: 3, Interested: false, DownloadRate: 100, ConnectedAt: old},  // slower than the worst regular
		{Key: 4, Interested: false, DownloadRate: 0, ConnectedAt: old},    // sends nothing: stays choked
		{Key: 5, Interested: true, DownloadRate: 200, ConnectedAt: old},
		{Key: 6, Interested: true, DownloadRate: 50, ConnectedAt: old},
	}
	for seed := range uint64(50) {
		c := newTest(2, seed)
		unchoke, opt := c.Rechoke(t0, false, peers)
		if reg := regularOf(peers, unchoke, opt); !slices.Equal(reg, []int{0, 1}) {
			t.Fatalf("regular %v, want [0 1]", reg)
		}
		if !slices.Contains(unchoke, 2) {
			t.Errorf("uninterested fast peer 2 not unchoked: %v", unchoke)
		}
		if slices.Contains(unchoke, 3) || slices.Contains(unchoke, 4) {
			t.Errorf("slow uninterested peers unchoked: %v", unchoke)
		}
		if opt != 5 && opt != 6 {
			t.Fatalf("optimistic %d, want an interested choked peer (5 or 6)", opt)
		}
	}

	// Free regular slots: any uninterested peer that sends to us is
	// unchoked, still without a slot; Slots 0 unchokes none of them.
	few := []PeerState{
		{Key: 0, Interested: true, DownloadRate: 400, ConnectedAt: old},
		{Key: 1, Interested: false, DownloadRate: 10, ConnectedAt: old},
		{Key: 2, Interested: false, ConnectedAt: old},
	}
	unchoke, opt := newTest(4, 1).Rechoke(t0, false, few)
	if !sameSet(unchoke, []int{0, 1}) || opt != NoPeer {
		t.Errorf("free slots: unchoke %v opt %d, want [0 1] and none", unchoke, opt)
	}
	unchoke, opt = newTest(0, 1).Rechoke(t0, false, few)
	if !sameSet(unchoke, []int{0}) || opt != 0 {
		t.Errorf("Slots 0: unchoke %v opt %d, want only the optimistic 0", unchoke, opt)
	}

	// Seeding: not-interested peers stay choked.
	unchoke, _ = newTest(4, 1).Rechoke(t0, true, few)
	if !sameSet(unchoke, []int{0}) {
		t.Errorf("seeding: unchoke %v, want [0]", unchoke)
	}
}

func TestNotInterestedNeverRegularOrOptimistic(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for trial := range 300 {
		var peers []PeerState
		for k := range 1 + r.IntN(12) {
			peers = append(peers, PeerState{
				Key: k, Interested: r.IntN(2) == 0, Snubbed: r.IntN(5) == 0,
				DownloadRate: float64(r.IntN(4)) * 100, UploadRate: float64(r.IntN(4)) * 100,
				ConnectedAt: t0.Add(-time.Duration(r.IntN(120)) * time.Second),
			})
		}
		seeding := trial%2 == 0
		slots := r.IntN(6) - 1
		unchoke, opt := newTest(slots, uint64(trial)).Rechoke(t0, seeding, peers)
		nRegular := 0
		for _, k := range unchoke {
			p := peers[k]
			if k == opt {
				if !p.Interested {
					t.Fatalf("trial %d: optimistic %d not interested", trial, k)
				}
				continue
			}
			if !p.Interested {
				if seeding || p.DownloadRate == 0 || slots == 0 {
					t.Fatalf("trial %d: uninterested %+v unchoked (seeding %v, slots %d)", trial, p, seeding, slots)
				}
				continue
			}
			if p.Snubbed && !seeding {
				t.Fatalf("trial %d: snubbed %+v given a regular slot", trial, p)
			}
			nRegular++
		}
		if slots >= 0 && nRegular > slots {
			t.Fatalf("trial %d: %d regular slots used, Slots %d", trial, nRegular, slots)
		}
		if len(unchoke) != len(slices.Compact(slices.Sorted(slices.Values(unchoke)))) {
			t.Fatalf("trial %d: duplicate keys in %v", trial, unchoke)
		}
	}
}

func TestSnubbed(t *testing.T) {
	peers := []PeerState{
		{Key: 0, Interested: true, DownloadRate: 1000, Snubbed: true, ConnectedAt: old},
		{Key: 1, Interested: true, DownloadRate: 10, ConnectedAt: old},
		{Key: 2, Interested: true, DownloadRate: 5, ConnectedAt: old},
	}
	unchoke, opt := newTest(2, 1).Rechoke(t0, false, peers)
	if reg := regularOf(peers, unchoke, opt); !slices.Equal(reg, []int{1, 2}) {
		t.Errorf("leeching: regular %v, want [1 2] (snubbed 0 excluded)", reg)
	}
	if opt != 0 {
		t.Errorf("optimistic %d: the snubbed peer is the only one left and may be tried optimistically", opt)
	}
	// Snubbing is about downloads; it doesn't matter while seeding.
	peers[0].UploadRate = 500
	unchoke, opt = newTest(1, 1).Rechoke(t0, true, peers)
	if reg := regularOf(peers, unchoke, opt); !slices.Equal(reg, []int{0}) {
		t.Errorf("seeding: regular %v, want [0]", reg)
	}
}

func TestSlotsZeroAndUnlimited(t *testing.T) {
	var peers []PeerState
	for k := range 6 {
		peers = append(peers, PeerState{Key: k, Interested: true, DownloadRate: float64(k) * 100,
			UploadRate: float64(k) * 100, ConnectedAt: old})
	}
	peers[5].Snubbed = true
	for _, seeding := range []bool{false, true} {
		unchoke, opt := newTest(0, 3).Rechoke(t0, seeding, peers)
		if opt == NoPeer || !slices.Equal(unchoke, []int{opt}) {
			t.Errorf("Slots 0, seeding %v: unchoke %v opt %d, want only the optimistic", seeding, unchoke, opt)
		}
	}

	unchoke, opt := newTest(Unlimited, 3).Rechoke(t0, false, peers)
	if reg := regularOf(peers, unchoke, opt); !sameSet(reg, []int{0, 1, 2, 3, 4}) || opt != 5 {
		t.Errorf("unlimited leeching: regular %v opt %d, want 0-4 and the snubbed 5 optimistic", reg, opt)
	}
	unchoke, opt = newTest(-7, 3).Rechoke(t0, true, peers)
	if !sameSet(unchoke, []int{0, 1, 2, 3, 4, 5}) || opt != NoPeer {
		t.Errorf("unlimited seeding: unchoke %v opt %d, want everyone, no optimistic", unchoke, opt)
	}
}

func TestOptimisticRotatesEvery30s(t *testing.T) {
	var peers []PeerState
	for k := range 10 {
		peers = append(peers, PeerState{Key: k, Interested: true, DownloadRate: float64(1000 - k), ConnectedAt: old})
	}
	for _, tick := range []time.Duration{10 * time.Second, 9990 * time.Millisecond, 10010 * time.Millisecond} {
		c := newTest(2, 42)
		var opts []int
		now := t0
		for range 60 {
			unchoke, opt := c.Rechoke(now, false, peers)
			if opt == NoPeer || !slices.Contains(unchoke, opt) || slices.Contains(unchoke[:2], opt) {
				t.Fatalf("tick %v: optimistic %d, unchoke %v", tick, opt, unchoke)
			}
			if reg := regularOf(peers, unchoke, opt); !slices.Equal(reg, []int{0, 1}) {
				t.Fatalf("tick %v: regular slots changed to %v with steady rates", tick, reg)
			}
			apply(peers, unchoke)
			opts = append(opts, opt)
			now = now.Add(tick)
		}
		for i := 1; i < len(opts); i++ {
			changed := opts[i] != opts[i-1]
			if want := i%3 == 0; changed != want {
				t.Fatalf("tick %v: optimistic sequence %v: change at call %d is %v, want %v",
					tick, opts, i, changed, want)
			}
		}
	}
}

func TestOptimisticReplacedEarly(t *testing.T) {
	peers := []PeerState{
		{Key: 0, Interested: true, DownloadRate: 100, ConnectedAt: old},
		{Key: 1, Interested: true, ConnectedAt: old},
		{Key: 2, Interested: true, ConnectedAt: old},
		{Key: 3, Interested: true, ConnectedAt: old},
	}
	c := newTest(1, 9)
	_, opt := c.Rechoke(t0, false, peers)
	first := opt

	// It disconnects: a new optimistic is chosen at once.
	rest := slices.DeleteFunc(slices.Clone(peers), func(p PeerState) bool { return p.Key == first })
	_, opt = c.Rechoke(t0.Add(10*time.Second), false, rest)
	if opt == first || opt == NoPeer || opt == 0 {
		t.Fatalf("after optimistic %d left: optimistic %d", first, opt)
	}

	// It loses interest: replaced at once.
	second := opt
	for i := range rest {
		if rest[i].Key == second {
			rest[i].Interested = false
		}
	}
	_, opt = c.Rechoke(t0.Add(20*time.Second), false, rest)
	if opt == second || opt == NoPeer || opt == 0 {
		t.Fatalf("after optimistic %d lost interest: optimistic %d", second, opt)
	}

	// It earns a regular slot by sending fast: replaced at once.
	third := opt
	for i := range rest {
		if rest[i].Key == third {
			rest[i].DownloadRate = 5000
		}
	}
	unchoke, opt := c.Rechoke(t0.Add(25*time.Second), false, rest)
	if unchoke[0] != third || opt == third {
		t.Fatalf("optimistic %d now fastest: unchoke %v, optimistic %d", third, unchoke, opt)
	}

	// A key reused by a new connection is a different peer.
	c2 := newTest(0, 1)
	one := []PeerState{{Key: 7, Interested: true, ConnectedAt: old}, {Key: 8, Interested: true, ConnectedAt: old}}
	_, o1 := c2.Rechoke(t0, false, one)
	for i := range one {
		if one[i].Key == o1 {
			one[i].ConnectedAt = t0.Add(time.Second)
		}
	}
	c2.optimisticSince = t0.Add(-time.Hour) // would rotate anyway; make sure it re-draws cleanly
	if _, o2 := c2.Rechoke(t0.Add(2*time.Second), false, one); o2 == NoPeer {
		t.Fatalf("no optimistic after key reuse")
	}
}

func TestOptimisticSoleCandidateKept(t *testing.T) {
	peers := []PeerState{
		{Key: 0, Interested: true, DownloadRate: 100, ConnectedAt: old},
		{Key: 1, Interested: true, ConnectedAt: old},
	}
	c := newTest(1, 1)
	for i := range 10 {
		if _, opt := c.Rechoke(t0.Add(time.Duration(i)*10*time.Second), false, peers); opt != 1 {
			t.Fatalf("call %d: optimistic %d, want the only candidate 1", i, opt)
		}
	}
	// A newcomer after the interval has long passed gets its turn at once.
	peers = append(peers, PeerState{Key: 2, Interested: true, ConnectedAt: t0.Add(100 * time.Second)})
	if _, opt := c.Rechoke(t0.Add(100*time.Second), false, peers); opt != 2 {
		t.Fatalf("optimistic %d, want the newcomer 2", opt)
	}
}

func TestOptimisticNewPeersThreeTimesAsLikely(t *testing.T) {
	now := t0
	peers := []PeerState{
		{Key: 0, Interested: true, ConnectedAt: now.Add(-10 * time.Second)}, // new
		{Key: 1, Interested: true, ConnectedAt: now.Add(-59 * time.Second)}, // new
		{Key: 2, Interested: true, ConnectedAt: now.Add(-60 * time.Second)}, // old: exactly NewPeerAge
		{Key: 3, Interested: true, ConnectedAt: old},
		{Key: 4, Interested: true, ConnectedAt: old},
		{Key: 5, Interested: true, ConnectedAt: old},
	}
	r := rand.New(rand.NewPCG(2026, 11))
	const trials = 20000
	counts := make([]int, len(peers))
	for range trials {
		c := New(0, r)
		_, opt := c.Rechoke(now, false, peers)
		counts[opt]++
	}
	perNew := float64(counts[0]+counts[1]) / 2
	perOld := float64(counts[2]+counts[3]+counts[4]+counts[5]) / 4
	if ratio := perNew / perOld; ratio < 2.8 || ratio > 3.2 {
		t.Errorf("new/old pick ratio %.3f, want about 3 (counts %v)", ratio, counts)
	}
	for k, n := range counts {
		want := float64(trials) / 10 // weight 1 of 10
		if k < 2 {
			want *= 3
		}
		if float64(n) < 0.9*want || float64(n) > 1.1*want {
			t.Errorf("peer %d picked %d times, want about %.0f (counts %v)", k, n, want, counts)
		}
	}
}

func TestLeechSteadyNoChurn(t *testing.T) {
	var peers []PeerState
	for k := range 8 {
		peers = append(peers, PeerState{Key: k, Interested: true, DownloadRate: float64(k * 100), ConnectedAt: old})
	}
	c := newTest(DefaultSlots, 5)
	var prev []int
	for i := range 30 {
		unchoke, opt := c.Rechoke(t0.Add(time.Duration(i)*10*time.Second), false, peers)
		reg := regularOf(peers, unchoke, opt)
		if !slices.Equal(reg, []int{7, 6, 5, 4}) {
			t.Fatalf("call %d: regular %v", i, reg)
		}
		if prev != nil {
			changes := len(unchoke) + len(prev) - 2*len(intersect(unchoke, prev))
			if changes > 2 {
				t.Fatalf("call %d: %d choke changes (%v -> %v), want at most the optimistic swap", i, changes, prev, unchoke)
			}
		}
		apply(peers, unchoke)
		prev = unchoke
	}
}

func intersect(a, b []int) []int {
	var out []int
	for _, k := range a {
		if slices.Contains(b, k) {
			out = append(out, k)
		}
	}
	return out
}

func TestDeterministic(t *testing.T) {
	run := func() [][]int {
		c := newTest(3, 99)
		peers := []PeerState{}
		for k := range 9 {
			peers = append(peers, PeerState{Key: k, Interested: k%4 != 0, UploadRate: float64(k % 3),
				ConnectedAt: t0.Add(-time.Duration(k) * 20 * time.Second)})
		}
		var out [][]int
		for i := range 40 {
			unchoke, _ := c.Rechoke(t0.Add(time.Duration(i)*10*time.Second), i%2 == 0, peers)
			apply(peers, unchoke)
			out = append(out, unchoke)
		}
		return out
	}
	a, b := run(), run()
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Fatalf("call %d differs with the same seed: %v vs %v", i, a[i], b[i])
		}
	}
}

func TestForgetsDepartedAndDuplicates(t *testing.T) {
	c := newTest(2, 1)
	peers := []PeerState{
		{Key: 0, Interested: true, DownloadRate: 10, ConnectedAt: old},
		{Key: 0, Interested: true, DownloadRate: 99, ConnectedAt: old}, // duplicate: ignored
		{Key: 1, Interested: true, DownloadRate: 5, ConnectedAt: old},
	}
	unchoke, _ := c.Rechoke(t0, false, peers)
	if !slices.Equal(unchoke, []int{0, 1}) {
		t.Errorf("unchoke %v, want [0 1]", unchoke)
	}
	c.Rechoke(t0.Add(10*time.Second), false, peers[2:])
	if len(c.peers) != 1 || c.peers[1] == nil {
		t.Errorf("records after peer 0 left: %v", c.peers)
	}
	if unchoke, opt := c.Rechoke(t0.Add(20*time.Second), false, nil); len(unchoke) != 0 || opt != NoPeer || len(c.peers) != 0 {
		t.Errorf("no peers: unchoke %v opt %d records %d", unchoke, opt, len(c.peers))
	}
}

func TestAdoptsReportedOptimistic(t *testing.T) {
	peers := []PeerState{
		{Key: 0, Interested: true, ConnectedAt: old},
		{Key: 1, Interested: true, ConnectedAt: old, Unchoked: true, Optimistic: true},
		{Key: 2, Interested: true, ConnectedAt: old},
		{Key: 3, Interested: true, ConnectedAt: old},
	}
	for seed := range uint64(20) {
		c := newTest(0, seed)
		if _, opt := c.Rechoke(t0, false, peers); opt != 1 {
			t.Fatalf("seed %d: optimistic %d, want the reported 1 kept", seed, opt)
		}
		if _, opt := c.Rechoke(t0.Add(30*time.Second), false, peers); opt == 1 {
			t.Fatalf("seed %d: adopted optimistic not rotated after 30 s", seed)
		}
	}
}

func TestZeroChokerUsable(t *testing.T) {
	var c Choker // Slots 0 and default intervals: only an optimistic unchoke
	peers := []PeerState{{Key: 3, Interested: true}, {Key: 4, Interested: true}}
	unchoke, first := c.Rechoke(t0, false, peers)
	if len(unchoke) != 1 || unchoke[0] != first {
		t.Fatalf("zero Choker: unchoke %v opt %d", unchoke, first)
	}
	if _, opt := c.Rechoke(t0.Add(20*time.Second), false, peers); opt != first {
		t.Errorf("zero Choker rotated after 20 s (%d -> %d); default interval is 30 s", first, opt)
	}
	if _, opt := c.Rechoke(t0.Add(30*time.Second), false, peers); opt == first {
		t.Errorf("zero Choker did not rotate after 30 s")
	}
}
