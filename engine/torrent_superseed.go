package engine

import (
	"math/rand/v2"
	"time"

	"golang.org/x/time/rate"

	"shoal/bitfield"
	"shoal/peerwire"
)

// SuperSeedMode says when a torrent that is complete when it starts seeds
// in super-seeding mode (BEP 16): instead of announcing every piece, it
// tells each peer about a few pieces at a time — pieces it has never sent
// while any remain, then the rarest — so that the first copies it uploads
// are all different and the leechers trade the rest among themselves.
type SuperSeedMode int8

const (
	// SuperSeedAuto super-seeds when the torrent's upload is capped (by
	// its own limit or the session's): then upload capacity is what the
	// seeder lacks, and every duplicate piece it sends costs the swarm
	// time. An uncapped seeder announces every piece as usual.
	SuperSeedAuto SuperSeedMode = iota
	// SuperSeedOn always super-seeds a torrent that starts complete.
	SuperSeedOn
	// SuperSeedOff never super-seeds.
	SuperSeedOff
)

func (m SuperSeedMode) String() string {
	switch m {
	case SuperSeedAuto:
		return "auto"
	case SuperSeedOn:
		return "on"
	case SuperSeedOff:
		return "off"
	}
	return "unknown"
}

// Offers: a peer we upload to is told of enough pieces to keep about
// superSeedAhead of its upload rate queued (at least superSeedMinAhead
// bytes and two pieces), so its requests never run dry while it announces
// a finished piece and we answer with the next one. A peer we choke is
// told of one piece, enough to make it interested.
const (
	superSeedAhead    = 500 * time.Millisecond
	superSeedMinAhead = 128 << 10
	superSeedMaxOffer = 1024
)

// superSeeder is a torrent's super-seeding state. It lives on the loop.
type superSeeder struct {
	offers map[int]*superSeedPeer // by peer key
	// outstanding counts, per piece, the peers told of it that have not
	// announced it yet.
	outstanding []int32
	// seenUpTo: every piece below it was at some peer when last looked
	// at, so the check for the end of super-seeding resumes there.
	seenUpTo int
	rnd      *rand.Rand
}

// superSeedPeer is what one peer has been told.
type superSeedPeer struct {
	told    *bitfield.Bitfield // pieces we announced to it
	pending map[int]bool       // told but not yet announced back by it
}

// superSeedWanted reports whether a torrent that starts complete should
// super-seed.
func (t *Torrent) superSeedWanted() bool {
	switch t.s.cfg.SuperSeed {
	case SuperSeedOn:
		return true
	case SuperSeedAuto:
		return t.uploadCapped()
	}
	return false
}

// uploadCapped reports whether a rate limit bounds the torrent's upload.
func (t *Torrent) uploadCapped() bool {
	return t.upLimit.Limit() != rate.Inf || (t.s.upLimit != nil && t.s.upLimit.Limit() != rate.Inf)
}

// initSuperSeed starts super-seeding once the start-up check found every
// piece, if the configuration asks for it. Peers connected before get the
// rest of their announcements when super-seeding ends.
func (t *Torrent) initSuperSeed() {
	t.superSeed = nil
	if t.info.NumPieces() == 0 || !t.have.Full() || !t.superSeedWanted() {
		return
	}
	t.superSeed = &superSeeder{
		offers:      make(map[int]*superSeedPeer),
		outstanding: make([]int32, t.info.NumPieces()),
		rnd:         rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
}

// superSeedGreet replaces the HAVE_ALL or bitfield a new peer would get:
// we claim nothing (BEP 16: the seed "masquerades as a normal client with
// no data") and then offer it a first piece.
func (t *Torrent) superSeedGreet(p *peer) {
	if p.fast {
		p.conn.Send(peerwire.Message{ID: peerwire.HaveNone})
	}
	t.superSeed.offers[p.key] = &superSeedPeer{told: bitfield.New(t.info.NumPieces()), pending: make(map[int]bool)}
	t.superSeedRefill(p)
}

// superSeedPeerHas notes that a peer announced piece i (a HAVE, or a
// bitfield replacing what we knew): an offer of it is fulfilled.
func (t *Torrent) superSeedPeerHas(p *peer) {
	ss := t.superSeed
	if ss == nil {
		return
	}
	sp := ss.offers[p.key]
	if sp == nil || p.has == nil {
		return
	}
	for i := range sp.pending {
		if p.has.Has(i) {
			delete(sp.pending, i)
			ss.outstanding[i]--
		}
	}
	if t.superSeedDone() {
		return
	}
	t.superSeedRefill(p)
}

// superSeedForget drops the offers of peers that are gone: their pieces
// may be offered to others again.
func (t *Torrent) superSeedForget() {
	ss := t.superSeed
	for key, sp := range ss.offers {
		if _, ok := t.peers[key]; ok {
			continue
		}
		for i := range sp.pending {
			ss.outstanding[i]--
		}
		delete(ss.offers, key)
	}
}

// superSeedRefill tells a peer of more pieces until it has enough offers.
func (t *Torrent) superSeedRefill(p *peer) {
	ss := t.superSeed
	sp := ss.offers[p.key]
	if sp == nil {
		return
	}
	want := 1
	if !p.amChoking {
		plen := t.info.PieceLength
		ahead := max(int64(p.upMeter.Rate(time.Now())*superSeedAhead.Seconds()), superSeedMinAhead)
		want = int(min(max((ahead+plen-1)/plen, 2), superSeedMaxOffer))
	}
	for len(sp.pending) < want {
		i := t.superSeedPick(p, sp)
		if i < 0 {
			return
		}
		sp.told.Set(i)
		sp.pending[i] = true
		ss.outstanding[i]++
		p.conn.Send(peerwire.Message{ID: peerwire.Have, Index: uint32(i)})
	}
}

// superSeedPick chooses the piece to offer a peer: one it lacks and has not
// been told of, that the fewest peers have or have been offered — a piece
// never sent while any remains, then the rarest. Ties go to a random one.
// It returns -1 if there is none.
func (t *Torrent) superSeedPick(p *peer, sp *superSeedPeer) int {
	n := t.info.NumPieces()
	ss := t.superSeed
	best, bestScore := -1, int32(1<<30)
	start := ss.rnd.IntN(n)
	for k := range n {
		i := start + k
		if i >= n {
			i -= n
		}
		if sp.told.Has(i) || (p.has != nil && p.has.Has(i)) {
			continue
		}
		score := int32(t.picker.Availability(i)) + ss.outstanding[i]
		if score < bestScore {
			best, bestScore = i, score
			if score == 0 {
				break // nobody has it nor has been offered it
			}
		}
	}
	return best
}

// superSeedDone ends super-seeding once every piece is held by a connected
// peer: nothing is left that only we have, so from here on we seed as
// usual and tell every peer the pieces it was not told of. It reports
// whether super-seeding ended.
func (t *Torrent) superSeedDone() bool {
	ss := t.superSeed
	for ; ss.seenUpTo < t.info.NumPieces(); ss.seenUpTo++ {
		if t.picker.Availability(ss.seenUpTo) == 0 {
			return false
		}
	}
	t.superSeed = nil
	for _, p := range t.peers {
		sp := ss.offers[p.key]
		if sp == nil {
			continue
		}
		for i := range t.info.NumPieces() {
			if !sp.told.Has(i) && (p.has == nil || !p.has.Has(i)) {
				p.conn.Send(peerwire.Message{ID: peerwire.Have, Index: uint32(i)})
			}
		}
	}
	t.s.log.Debug("super-seeding ended: every piece is at a peer", "torrent", t.info.Name)
	return true
}

// superSeedTick runs once a second: offers of departed peers are freed and
// every peer's offers follow its current rate.
func (t *Torrent) superSeedTick() {
	if t.superSeed == nil {
		return
	}
	t.superSeedForget()
	if t.superSeedDone() {
		return
	}
	for _, p := range t.peers {
		t.superSeedRefill(p)
	}
}
