package picker

import (
	"math/rand/v2"
	"slices"
	"testing"

	"shoal/metainfo"
)

func TestBlocksOfShortLastPiece(t *testing.T) {
	// 2.5 blocks per piece; total leaves a last piece of 1.25 blocks.
	pl := int64(BlockSize*2 + BlockSize/2)
	total := pl*3 + BlockSize + BlockSize/4
	p := New(newLayout(pl, total), Options{Seed: 1, RandomFirst: -1})
	p.SetSequential(true)
	mustAdd(t, p, 1, allBut(4))
	got := p.Pick(1, 100)
	var want []Block
	for i := range 3 {
		want = append(want, Block{i, 0, BlockSize}, Block{i, BlockSize, BlockSize}, Block{i, 2 * BlockSize, BlockSize / 2})
	}
	want = append(want, Block{3, 0, BlockSize}, Block{3, BlockSize, BlockSize / 4})
	if !slices.Equal(got, want) {
		t.Fatalf("blocks\n got %v\nwant %v", got, want)
	}
	var sum int64
	for _, b := range got {
		sum += b.Length
	}
	if sum != total {
		t.Fatalf("blocks cover %d bytes, want %d", sum, total)
	}
	mustInvariants(t, p)
}

func TestRarestFirst(t *testing.T) {
	const n = 8
	secondPicks := map[int]bool{}
	for seed := uint64(1); seed <= 20; seed++ {
		p := newPicker(n, 1, Options{Seed: seed, RandomFirst: -1})
		mustAdd(t, p, 1, allBut(n, 0)) // the only peer with piece 3
		mustAdd(t, p, 2, allBut(n, 3))
		mustAdd(t, p, 3, allBut(n, 3))
		mustAdd(t, p, 4, nil)
		p.PeerHaveAll(4) // seeds don't change the order
		// Availability: piece 0 -> 2 (+seed), piece 3 -> 1 (+seed), others 3 (+seed).
		if got := p.Availability(3); got != 2 {
			t.Fatalf("availability of piece 3 = %d, want 2", got)
		}
		got := p.Pick(1, 1)
		if len(got) != 1 || got[0].Piece != 3 {
			t.Fatalf("seed %d: first pick %v, want piece 3 (rarest)", seed, got)
		}
		// Peer 2 lacks 3; its rarest is piece 0 (availability 2).
		if got := p.Pick(2, 1); len(got) != 1 || got[0].Piece != 0 {
			t.Fatalf("seed %d: peer 2 picked %v, want piece 0", seed, got)
		}
		second := p.Pick(1, 1)
		if len(second) != 1 || second[0].Piece == 0 || second[0].Piece == 3 {
			t.Fatalf("seed %d: second pick %v", seed, second)
		}
		secondPicks[second[0].Piece] = true
		mustInvariants(t, p)
	}
	if len(secondPicks) < 3 {
		t.Fatalf("ties among equally rare pieces broken the same way for 20 seeds: %v", secondPicks)
	}
}

func TestRarestFirstSparsePeer(t *testing.T) {
	// A peer with few pieces among many makes bucket probing miss; the
	// fallback walk over its own pieces must still find the rarest.
	const n = 5000
	p := newPicker(n, 1, Options{Seed: 3, RandomFirst: -1})
	mustAdd(t, p, 1, allBut(n))
	mustAdd(t, p, 2, allBut(n))
	mustAdd(t, p, 3, bf(n, 10, 4000, 4321))
	p.PeerHave(2, 0) // no-op: already has it
	mustAdd(t, p, 4, allBut(n, 4321))
	// 10 and 4000: availability 4; 4321: 3.
	if got := p.Pick(3, 1); len(got) != 1 || got[0].Piece != 4321 {
		t.Fatalf("sparse peer picked %v, want 4321", got)
	}
	if got := p.Pick(3, 1); len(got) != 1 || (got[0].Piece != 10 && got[0].Piece != 4000) {
		t.Fatalf("sparse peer picked %v, want 10 or 4000", got)
	}
	mustInvariants(t, p)
}

func TestRandomFirst(t *testing.T) {
	const n = 100
	notRarest := 0
	for seed := uint64(1); seed <= 20; seed++ {
		p := newPicker(n, 1, Options{Seed: seed})
		mustAdd(t, p, 1, allBut(n))
		mustAdd(t, p, 2, allBut(n, 7)) // piece 7 is the rarest
		if got := p.Pick(1, 1); got[0].Piece != 7 {
			notRarest++
		}
		for _, i := range []int{20, 21, 22} {
			p.SetHave(i)
		}
		// Three verified: still random.
		p.Pick(1, 1)
		p.SetHave(23)
		// Four verified: rarest first from now on.
		p.Release(1, Block{7, 0, BlockSize})
		for {
			got := p.Pick(1, 1)
			if len(got) == 0 {
				t.Fatalf("seed %d: nothing to pick", seed)
			}
			if got[0].Piece == 7 || p.pieces[7].partial == nil {
				break
			}
		}
		if got := p.pieces[7].partial; got == nil {
			t.Fatalf("seed %d: rarest piece 7 not picked after 4 verified", seed)
		}
		mustInvariants(t, p)
	}
	if notRarest < 15 {
		t.Fatalf("first pick was the rarest piece in %d of 20 runs; want random", 20-notRarest)
	}
}

func TestRarestAfterRandomFirstExactly(t *testing.T) {
	const n = 50
	p := newPicker(n, 1, Options{Seed: 9})
	for _, i := range []int{40, 41, 42, 43} {
		p.SetHave(i)
	}
	mustAdd(t, p, 1, allBut(n))
	mustAdd(t, p, 2, allBut(n, 13))
	if got := p.Pick(1, 1); got[0].Piece != 13 {
		t.Fatalf("with 4 pieces verified picked %v, want rarest 13", got)
	}
}

func TestPartialPiecesPreferred(t *testing.T) {
	const n = 10
	t.Run("own piece continued", func(t *testing.T) {
		p := newPicker(n, 4, Options{Seed: 1})
		mustAdd(t, p, 1, allBut(n))
		first := p.Pick(1, 2)
		next := p.Pick(1, 2)
		if len(next) != 2 || next[0].Piece != first[0].Piece || next[0].Begin != 2*BlockSize {
			t.Fatalf("first %v then %v: want the rest of the same piece", first, next)
		}
		mustInvariants(t, p)
	})
	t.Run("other peer's active piece avoided", func(t *testing.T) {
		p := newPicker(n, 4, Options{Seed: 1})
		mustAdd(t, p, 1, allBut(n))
		mustAdd(t, p, 2, allBut(n))
		a := p.Pick(1, 2)
		b := p.Pick(2, 4)
		if slices.Contains(piecesOf(b), a[0].Piece) {
			t.Fatalf("peer 2 joined peer 1's piece: %v / %v", a, b)
		}
		if len(piecesOf(b)) != 1 {
			t.Fatalf("peer 2 got blocks of several pieces: %v", b)
		}
	})
	t.Run("abandoned piece most complete first", func(t *testing.T) {
		p := newPicker(n, 4, Options{Seed: 1})
		mustAdd(t, p, 1, allBut(n))
		mustAdd(t, p, 2, allBut(n))
		// Peer 1 gets 1 block of piece x and 3 of piece y, then chokes us.
		x := p.Pick(1, 4)
		y := p.Pick(1, 4)
		if y[0].Piece == x[0].Piece {
			t.Fatalf("expected a new piece after the first, got %v", y)
		}
		p.Received(1, x[0])
		for _, b := range y[:3] {
			p.Received(1, b)
		}
		for _, b := range append(x[1:], y[3]) {
			p.Release(1, b)
		}
		mustInvariants(t, p)
		got := p.Pick(2, 4)
		want := []Block{y[3], x[1], x[2], x[3]}
		if !slices.Equal(got, want) {
			t.Fatalf("peer 2 picked %v, want %v (most complete abandoned piece first)", got, want)
		}
		mustInvariants(t, p)
	})
	t.Run("released piece with nothing received goes back", func(t *testing.T) {
		p := newPicker(n, 4, Options{Seed: 1})
		mustAdd(t, p, 1, allBut(n))
		for _, b := range p.Pick(1, 4) {
			p.Release(1, b)
		}
		if p.NumPartial() != 0 {
			t.Fatalf("%d pieces in progress after releasing everything", p.NumPartial())
		}
		mustInvariants(t, p)
	})
	t.Run("peer without the partial piece starts another", func(t *testing.T) {
		p := newPicker(n, 4, Options{Seed: 1})
		mustAdd(t, p, 1, allBut(n))
		x := p.Pick(1, 4)
		p.Received(1, x[0])
		p.Release(1, x[1])
		mustAdd(t, p, 2, allBut(n, x[0].Piece))
		if got := p.Pick(2, 1); got[0].Piece == x[0].Piece {
			t.Fatalf("peer 2 was given piece %d it doesn't have", got[0].Piece)
		}
	})
}

func TestPriorities(t *testing.T) {
	const n = 10
	p := newPicker(n, 1, Options{Seed: 2, RandomFirst: -1})
	for i := range n {
		if i != 4 && i != 8 {
			if err := p.SetPriority(i, Skip); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustAdd(t, p, 1, allBut(n))
	mustAdd(t, p, 2, allBut(n, 8)) // 8 is rarer
	mustAdd(t, p, 3, bf(n, 0, 1, 2))
	if p.Interesting(3) {
		t.Fatal("peer with only skipped pieces is interesting")
	}
	if err := p.SetPriority(4, High); err != nil {
		t.Fatal(err)
	}
	if got := p.Pick(1, 10); !slices.Equal(piecesOf(got), []int{4, 8}) {
		t.Fatalf("picked pieces %v, want [4 8] (High first, skipped never)", piecesOf(got))
	}
	if err := p.SetPriority(1, Low); err != nil {
		t.Fatal(err)
	}
	if !p.Interesting(3) {
		t.Fatal("peer 3 not interesting after its piece 1 became wanted")
	}
	if got := p.Pick(3, 10); !slices.Equal(piecesOf(got), []int{1}) {
		t.Fatalf("peer 3 picked %v, want piece 1", got)
	}
	if err := p.SetPriority(n, High); err == nil {
		t.Fatal("SetPriority out of range: no error")
	}
	if err := p.SetPriority(0, Priority(9)); err == nil {
		t.Fatal("SetPriority with invalid priority: no error")
	}
	if err := p.SetPriorities(make([]Priority, n-1)); err == nil {
		t.Fatal("SetPriorities with wrong length: no error")
	}
	mustInvariants(t, p)
}

func TestSkipWhileInProgress(t *testing.T) {
	p := newPicker(2, 4, Options{Seed: 1})
	mustAdd(t, p, 1, allBut(2))
	got := p.Pick(1, 2)
	i := got[0].Piece
	if err := p.SetPriority(i, Skip); err != nil {
		t.Fatal(err)
	}
	for _, b := range p.Pick(1, 10) {
		if b.Piece == i {
			t.Fatalf("block %v of a skipped piece picked", b)
		}
	}
	// Data still arriving for it is kept.
	if r := p.Received(1, got[0]); r.Status != Accepted {
		t.Fatalf("received %v, want accepted", r.Status)
	}
	mustInvariants(t, p)
}

func TestPiecePriorities(t *testing.T) {
	// Pieces of 10 bytes; files 0:[0,15) 1:[15,15) 2:[15,40) 3:[40,45).
	info := &metainfo.Info{PieceLength: 10, Files: []metainfo.File{{Length: 15}, {Length: 0}, {Length: 25}, {Length: 5}}}
	l := metainfo.NewLayout(info)
	got := PiecePriorities(l, []Priority{Skip, High, Normal, High})
	want := []Priority{Skip, Normal, Normal, Normal, High}
	if !slices.Equal(got, want) {
		t.Fatalf("PiecePriorities = %v, want %v", got, want)
	}
	got = PiecePriorities(l, []Priority{High, Skip, Skip, Skip})
	want = []Priority{High, High, Skip, Skip, Skip}
	if !slices.Equal(got, want) {
		t.Fatalf("PiecePriorities = %v, want %v", got, want)
	}
}

func TestSequential(t *testing.T) {
	const n = 12
	p := newPicker(n, 1, Options{Seed: 4})
	p.SetSequential(true)
	mustAdd(t, p, 1, allBut(n, 0))
	mustAdd(t, p, 2, allBut(n, 5)) // 5 is rare: ignored in sequential mode
	if err := p.SetPriority(9, High); err != nil {
		t.Fatal(err)
	}
	got := piecesOf(p.Pick(1, 5))
	if want := []int{9, 1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Fatalf("sequential picks %v, want %v", got, want)
	}
	if got := piecesOf(p.Pick(2, 2)); !slices.Equal(got, []int{0, 6}) {
		t.Fatalf("peer 2 sequential picks %v, want [0 6]", got)
	}
	// A released piece below the cursor is picked again first.
	p.Release(1, Block{2, 0, BlockSize})
	if got := piecesOf(p.Pick(1, 1)); !slices.Equal(got, []int{2}) {
		t.Fatalf("after release picked %v, want [2]", got)
	}
	mustInvariants(t, p)
}

func TestEndgame(t *testing.T) {
	p := newPicker(2, 2, Options{Seed: 1})
	for k := 1; k <= 4; k++ {
		mustAdd(t, p, k, allBut(2))
	}
	a := p.Pick(1, 10)
	if len(a) != 4 || !p.InEndgame() {
		t.Fatalf("peer 1 got %v, endgame %v", a, p.InEndgame())
	}
	if again := p.Pick(1, 10); len(again) != 0 {
		t.Fatalf("endgame gave peer 1 its own blocks again: %v", again)
	}
	b := p.Pick(2, 10)
	if len(b) != 4 {
		t.Fatalf("endgame peer 2 got %v, want all 4 blocks", b)
	}
	c := p.Pick(3, 3)
	if len(c) != 3 {
		t.Fatalf("endgame peer 3 got %v", c)
	}
	mustInvariants(t, p)
	// Three requesters for c's blocks: peer 4 only gets the remaining one.
	d := p.Pick(4, 10)
	if len(d) != 1 || slices.Contains(c, d[0]) {
		t.Fatalf("peer 4 got %v; blocks at %d requesters must not be handed out", d, MaxRequesters)
	}
	r := p.Received(2, c[0])
	slices.Sort(r.Cancel)
	if r.Status != Accepted || !slices.Equal(r.Cancel, []int{1, 3}) {
		t.Fatalf("received %+v, want accepted with cancels to [1 3]", r)
	}
	if r := p.Received(1, c[0]); r.Status != Duplicate || r.Cancel != nil {
		t.Fatalf("late duplicate: %+v", r)
	}
	mustInvariants(t, p)
	// Everything arrives; each piece completes exactly once.
	done := 0
	for _, blk := range a {
		if r := p.Received(1, blk); r.PieceDone {
			done++
			p.PieceVerified(blk.Piece)
		}
	}
	if done != 2 || p.NumWanted() != 0 || p.InEndgame() {
		t.Fatalf("done %d pieces, wanted %d, endgame %v", done, p.NumWanted(), p.InEndgame())
	}
	if p.Interesting(1) {
		t.Fatal("seed still interesting after completion")
	}
	mustInvariants(t, p)
}

func TestAllowedFast(t *testing.T) {
	const n = 20
	p := newPicker(n, 2, Options{Seed: 1})
	mustAdd(t, p, 1, allBut(n, 5))
	allowed := []uint32{3, 5, 1 << 31, 11}
	got := p.PickAllowedFast(1, 100, allowed)
	if ps := piecesOf(got); len(ps) != 2 || !slices.Contains(ps, 3) || !slices.Contains(ps, 11) {
		t.Fatalf("allowed-fast pick %v, want pieces 3 and 11 only", got)
	}
	if more := p.PickAllowedFast(1, 100, allowed); len(more) != 0 {
		t.Fatalf("second allowed-fast pick %v, want none", more)
	}
	// Partial allowed pieces continue first.
	p.Release(1, got[1])
	if more := p.PickAllowedFast(1, 100, allowed); !slices.Equal(more, got[1:2]) {
		t.Fatalf("after release got %v, want %v", more, got[1:2])
	}
	if none := p.PickAllowedFast(1, 100, nil); len(none) != 0 {
		t.Fatalf("empty allowed set picked %v", none)
	}
	mustInvariants(t, p)
}

func TestRemovePeerReleasesRequests(t *testing.T) {
	p := newPicker(1, 4, Options{Seed: 1})
	mustAdd(t, p, 1, allBut(1))
	mustAdd(t, p, 2, allBut(1))
	mustAdd(t, p, 3, bf(1, 0))
	a := p.Pick(1, 2)
	b := p.Pick(2, 2) // joins peer 1's piece: there is no other
	if len(a) != 2 || len(b) != 2 || slices.Contains(b, a[0]) || slices.Contains(b, a[1]) {
		t.Fatalf("a %v b %v", a, b)
	}
	p.RemovePeer(1)
	if got := p.Availability(0); got != 1+1 {
		t.Fatalf("availability %d after removing a seed, want 2", got)
	}
	if p.InEndgame() {
		t.Fatal("endgame while peer 1's blocks are free again")
	}
	c := p.Pick(3, 2)
	if !slices.Equal(c, a) {
		t.Fatalf("peer 3 got %v, want peer 1's released blocks %v", c, a)
	}
	p.RemovePeer(3)
	if got := p.Availability(0); got != 1 {
		t.Fatalf("availability %d, want 1", got)
	}
	p.RemovePeer(99) // unknown: no-op
	mustInvariants(t, p)
}

func TestPieceFailed(t *testing.T) {
	p := newPicker(1, 4, Options{Seed: 1})
	mustAdd(t, p, 1, allBut(1))
	mustAdd(t, p, 2, allBut(1))
	a := p.Pick(1, 2)
	b := p.Pick(2, 2)
	p.Received(1, a[0])
	p.Received(1, a[1])
	p.Received(2, b[0])
	if r := p.Received(2, b[1]); !r.PieceDone {
		t.Fatalf("last block: %+v, want PieceDone", r)
	}
	if got := p.Pick(1, 4); len(got) != 0 {
		t.Fatalf("picked %v from a complete piece awaiting its hash check", got)
	}
	got := p.PieceFailed(0)
	slices.Sort(got)
	if !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("contributors %v, want [1 2]", got)
	}
	if again := p.Pick(2, 4); len(again) != 4 {
		t.Fatalf("after failure picked %v, want all 4 blocks again", again)
	}
	if p.PieceFailed(0) != nil {
		t.Fatal("contributors for a piece with nothing received")
	}
	mustInvariants(t, p)
}

func TestReceivedEdgeCases(t *testing.T) {
	pl := int64(2*BlockSize + 100)
	p := New(newLayout(pl, 2*pl), Options{Seed: 1})
	mustAdd(t, p, 1, bf(2, 0, 1))
	mustAdd(t, p, 2, bf(2, 0, 1))
	got := p.Pick(1, 3)
	if len(got) != 3 || len(piecesOf(got)) != 1 {
		t.Fatalf("picked %v", got)
	}
	i := got[0].Piece
	p.Release(1, got[2])
	cases := []struct {
		name      string
		key       int
		b         Block
		want      Status
		pieceDone bool
		cancel    []int
	}{
		{"negative piece", 1, Block{-1, 0, BlockSize}, Invalid, false, nil},
		{"piece out of range", 1, Block{2, 0, BlockSize}, Invalid, false, nil},
		{"unaligned begin", 1, Block{i, 1, BlockSize}, Invalid, false, nil},
		{"begin past end", 1, Block{i, 3 * BlockSize, BlockSize}, Invalid, false, nil},
		{"short length", 1, Block{i, 0, BlockSize - 1}, Invalid, false, nil},
		{"long last block", 1, Block{i, 2 * BlockSize, BlockSize}, Invalid, false, nil},
		{"negative begin", 1, Block{i, -BlockSize, BlockSize}, Invalid, false, nil},
		{"piece not started", 1, Block{1 - i, 0, BlockSize}, Unwanted, false, nil},
		{"requested", 1, got[0], Accepted, false, nil},
		{"again", 1, got[0], Duplicate, false, nil},
		{"again from another peer", 2, got[0], Duplicate, false, nil},
		{"requested from another peer", 2, got[1], AcceptedUnrequested, false, []int{1}},
		{"after release", 1, got[2], AcceptedUnrequested, true, nil},
	}
	for _, c := range cases {
		r := p.Received(c.key, c.b)
		if r.Status != c.want || r.PieceDone != c.pieceDone || !slices.Equal(r.Cancel, c.cancel) {
			t.Errorf("%s: %+v, want %v done %v", c.name, r, c.want, c.pieceDone)
		}
		if r.Stored() != (c.want == Accepted || c.want == AcceptedUnrequested) {
			t.Errorf("%s: Stored() = %v", c.name, r.Stored())
		}
		if err := checkInvariants(p); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	p.PieceVerified(i)
	if r := p.Received(1, got[0]); r.Status != Unwanted {
		t.Fatalf("block of verified piece: %v", r.Status)
	}
	p.Release(1, Block{i, 0, 7}) // invalid: ignored
	p.Release(1, got[0])         // verified piece: ignored
	mustInvariants(t, p)
}

func TestInterestingIncremental(t *testing.T) {
	const n = 16
	p := newPicker(n, 1, Options{Seed: 1})
	if p.Interesting(1) {
		t.Fatal("unknown peer interesting")
	}
	mustAdd(t, p, 1, nil)
	if p.Interesting(1) {
		t.Fatal("peer with no pieces interesting")
	}
	p.PeerHave(1, 3)
	p.PeerHave(1, n)  // out of range: ignored
	p.PeerHave(1, -1) // ignored
	if !p.Interesting(1) {
		t.Fatal("peer with piece 3 not interesting")
	}
	p.SetHave(3)
	if p.Interesting(1) {
		t.Fatal("interesting after we got its only piece")
	}
	p.PeerHave(1, 4)
	_ = p.SetPriority(4, Skip)
	if p.Interesting(1) {
		t.Fatal("interesting for a skipped piece")
	}
	_ = p.SetPriority(4, High)
	if !p.Interesting(1) {
		t.Fatal("not interesting after unskipping")
	}
	p.PeerHaveAll(1)
	if !p.Interesting(1) || p.Availability(0) != 1 || p.Availability(4) != 1 {
		t.Fatalf("after HAVE_ALL: interesting %v availability %d %d", p.Interesting(1), p.Availability(0), p.Availability(4))
	}
	mustInvariants(t, p)
	for i := range n {
		p.SetHave(i)
	}
	if p.Interesting(1) {
		t.Fatal("seed interesting after we completed")
	}
	// A peer completing through HAVE messages becomes a seed.
	mustAdd(t, p, 2, allBut(n, 5))
	p.PeerHave(2, 5)
	if !p.peers[2].seed || p.Availability(5) != 2 {
		t.Fatalf("peer 2 seed %v availability %d", p.peers[2].seed, p.Availability(5))
	}
	if err := p.AddPeer(3, bf(n+1)); err == nil {
		t.Fatal("AddPeer with wrong bitfield length: no error")
	}
	mustInvariants(t, p)
}

func TestDeterministic(t *testing.T) {
	run := func(seed uint64) []Block {
		p := newPicker(200, 2, Options{Seed: seed})
		rng := rand.New(rand.NewPCG(1, 2))
		for k := range 5 {
			has := bf(200)
			for i := range 200 {
				if rng.IntN(2) == 0 {
					has.Set(i)
				}
			}
			mustAdd(t, p, k, has)
		}
		var out []Block
		for k := range 5 {
			out = append(out, p.Pick(k, 7)...)
		}
		return out
	}
	a, b := run(42), run(42)
	if !slices.Equal(a, b) {
		t.Fatal("same seed gave different picks")
	}
	if c := run(43); slices.Equal(a, c) {
		t.Fatal("different seeds gave the same picks")
	}
}

func TestFallbackAfterProbeBudget(t *testing.T) {
	// Peer 1 has 200 of 5000 pieces: not sparse enough to skip probing,
	// but the rarest bucket (4800 pieces of availability 1) holds none of
	// them, so probing gives up and the walk over its pieces decides.
	const n = 5000
	for _, randomFirst := range []int{-1, 4} {
		p := newPicker(n, 1, Options{Seed: 5, RandomFirst: randomFirst})
		lo := bf(n)
		for i := range 200 {
			lo.Set(i)
		}
		mustAdd(t, p, 1, lo)
		mustAdd(t, p, 2, lo)
		mustAdd(t, p, 3, bf(n, 150))
		hi := allBut(n)
		for i := range 200 {
			hi.Clear(i)
		}
		mustAdd(t, p, 4, hi)
		for range 20 {
			got := p.Pick(1, 1)
			if len(got) != 1 || got[0].Piece >= 200 || (randomFirst < 0 && got[0].Piece == 150) {
				t.Fatalf("random first %d: picked %v", randomFirst, got)
			}
		}
		mustInvariants(t, p)
	}
}

func TestNextSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{0, 1, 7, 8, 9, 63, 64, 65, 130, 1000} {
		for _, density := range []int{1, 10, 50} {
			b := bf(n)
			for i := range n {
				if rng.IntN(100) < density {
					b.Set(i)
				}
			}
			for i := -1; i <= n+1; i++ {
				if got, want := nextSet(b.Bytes(), n, i), b.NextSet(i); got != want {
					t.Fatalf("n %d: nextSet(%d) = %d, want %d", n, i, got, want)
				}
			}
		}
	}
}

// AppendPickStarting starts no more new pieces than the caller has memory
// for, but still hands out the free blocks of pieces already in progress.
func TestPickStartingLimitsNewPieces(t *testing.T) {
	const n = 10
	p := newPicker(n, 4, Options{Seed: 1})
	mustAdd(t, p, 1, allBut(n))
	first := p.Pick(1, 2) // one piece in progress, two blocks free
	if got := p.AppendPickStarting(nil, 1, 8, 0); len(got) != 2 || got[0].Piece != first[0].Piece {
		t.Fatalf("with no memory for new pieces got %v, want the 2 free blocks of piece %d", got, first[0].Piece)
	}
	got := p.AppendPickStarting(nil, 1, 12, 2)
	if len(got) != 8 || len(piecesOf(got)) != 2 {
		t.Fatalf("with memory for 2 new pieces got %v, want all 8 blocks of 2 pieces", got)
	}
	if p.NumPartial() != 3 {
		t.Fatalf("%d pieces in progress, want 3", p.NumPartial())
	}
	mustInvariants(t, p)
	if got := p.AppendPickStarting(nil, 1, 4, -1); len(got) != 0 {
		t.Fatalf("a negative limit must start nothing, got %v", got)
	}
}
