package choker

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"time"
)

// Defaults and special values.
const (
	// DefaultSlots is the number of regular upload slots BEP 3 describes.
	DefaultSlots = 4
	// Unlimited as Slots gives every eligible interested peer a regular
	// slot (any negative Slots means the same).
	Unlimited = -1
	// NoPeer is the optimistic key Rechoke returns when nobody is
	// optimistically unchoked. Peer keys must therefore be non-negative.
	NoPeer = -1

	DefaultOptimisticInterval = 30 * time.Second
	DefaultNewPeerAge         = 60 * time.Second
	DefaultSeedTurn           = 60 * time.Second

	// newPeerWeight: BEP 3 makes new connections "three times as likely to
	// start as the current optimistic unchoke as anywhere else".
	newPeerWeight = 3
)

// PeerState is the torrent loop's view of one peer at a rechoke.
type PeerState struct {
	Key          int       // the engine's id for the connection, >= 0, unique per call
	Interested   bool      // the peer is interested in us (wants to download)
	Unchoked     bool      // we currently unchoke it
	Optimistic   bool      // it is our optimistic unchoke (adopted only by a Choker that has none)
	DownloadRate float64   // payload bytes/s the peer sends us (~20 s average)
	UploadRate   float64   // payload bytes/s we send the peer (~20 s average)
	Snubbed      bool      // we wanted data, it unchoked us, yet sent no block for 60 s
	ConnectedAt  time.Time // when the connection was established
}

// Choker holds the choking policy and the little state it needs between
// rechokes (the optimistic unchoke and seeding turns). The exported fields
// may be changed between calls; zero durations select the defaults. The
// zero Choker works (Slots 0, a runtime-seeded rand), but New is the usual
// way to make one. Not safe for concurrent use.
type Choker struct {
	// Slots is the number of regular upload slots: 0 means none (only the
	// optimistic unchoke), negative (Unlimited) means no limit.
	Slots int
	// OptimisticInterval is how often the optimistic unchoke rotates.
	OptimisticInterval time.Duration
	// NewPeerAge: peers connected for less than this are "new" and three
	// times as likely to be picked for the optimistic unchoke.
	NewPeerAge time.Duration
	// SeedTurn is how long a peer keeps a rotating seeding slot while
	// others wait.
	SeedTurn time.Duration

	rnd   *rand.Rand
	round uint64
	peers map[int]*peerRecord

	optimistic      int       // key of the optimistic unchoke, NoPeer if none
	optimisticSince time.Time // when it was chosen

	scratch []*candidate
}

// peerRecord is what the choker remembers about a peer between rechokes.
type peerRecord struct {
	connectedAt  time.Time // identifies the connection if a key is reused
	seen         uint64    // round of the last Rechoke that listed the peer
	regular      bool      // held a regular slot after the last Rechoke
	rotating     bool      // that slot is a rotating seeding slot
	turnStart    time.Time // when its rotating turn began
	waitingSince time.Time // when it began waiting for a regular slot; zero if not waiting
}

// candidate is one peer during a Rechoke.
type candidate struct {
	PeerState
	rec     *peerRecord
	index   int    // position in the caller's slice, the last tie-break
	random  uint64 // random tie-break
	regular bool   // chosen for a regular slot this round
}

// New returns a Choker with the given number of regular slots (use
// DefaultSlots for BEP 3's four) and the default intervals. rnd supplies
// all random choices; nil seeds one from the runtime.
func New(slots int, rnd *rand.Rand) *Choker {
	if rnd == nil {
		rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return &Choker{
		Slots:              slots,
		OptimisticInterval: DefaultOptimisticInterval,
		NewPeerAge:         DefaultNewPeerAge,
		SeedTurn:           DefaultSeedTurn,
		rnd:                rnd,
		peers:              make(map[int]*peerRecord),
		optimistic:         NoPeer,
	}
}

// Rechoke decides who is unchoked from now until the next call. It returns
// every peer that should be unchoked: the regular slots in order of
// preference, then (leeching only) not-interested peers unchoked without a
// slot, then the optimistic unchoke, whose key is also returned as
// optimistic (NoPeer if none). Peers not in unchoke should be choked.
//
// peers is the full set of connected peers; peers absent from it are
// forgotten. A peer that keeps its place is simply listed again, so the
// caller sends nothing to it.
//
// Not-interested peers (leeching): BEP 3 unchokes peers that upload to us
// faster than the regular peers even if they are not interested, without
// counting them against Slots, so they can start downloading the moment
// they become interested. Rechoke does this only for peers with a positive
// download rate that rank above the slowest regular peer (or any such peer
// while regular slots are free), and never when Slots is 0. While seeding,
// not-interested peers stay choked: they have nothing to reciprocate with.
func (c *Choker) Rechoke(now time.Time, seeding bool, peers []PeerState) (unchoke []int, optimistic int) {
	if c.peers == nil {
		c.peers = make(map[int]*peerRecord)
		c.optimistic = NoPeer
	}
	if c.rnd == nil {
		c.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	c.round++
	cands := c.collect(now, peers)

	var regular []*candidate
	if seeding {
		regular = c.seedSlots(now, cands)
	} else {
		regular = c.leechSlots(cands)
	}
	c.commitRegular(now, cands, regular)

	unchoke = make([]int, 0, len(regular)+2)
	for _, p := range regular {
		unchoke = append(unchoke, p.Key)
	}
	if !seeding {
		for _, p := range c.uninterestedExtras(cands, regular) {
			unchoke = append(unchoke, p.Key)
		}
	}
	optimistic = c.chooseOptimistic(now, cands)
	if optimistic != NoPeer {
		unchoke = append(unchoke, optimistic)
	}
	clear(c.scratch) // drop references to records of departed peers
	return unchoke, optimistic
}

// collect matches peers to their records, forgets departed peers, and
// returns the candidates in the caller's order.
func (c *Choker) collect(now time.Time, peers []PeerState) []*candidate {
	cands := c.scratch[:0]
	for i, p := range peers {
		rec := c.peers[p.Key]
		if rec == nil || !rec.connectedAt.Equal(p.ConnectedAt) {
			// A new connection, or a key reused for another one.
			rec = &peerRecord{connectedAt: p.ConnectedAt}
			c.peers[p.Key] = rec
			if c.optimistic == p.Key {
				c.optimistic = NoPeer
			}
		}
		if rec.seen == c.round {
			continue // duplicate key in one call: the first entry wins
		}
		rec.seen = c.round
		switch {
		case !p.Interested:
			rec.waitingSince = time.Time{}
		case !rec.regular && rec.waitingSince.IsZero():
			rec.waitingSince = now
		}
		cands = append(cands, &candidate{PeerState: p, rec: rec, index: i, random: c.rnd.Uint64()})
	}
	if c.optimistic == NoPeer {
		// A fresh Choker (e.g. after a restart of the loop) takes over the
		// optimistic unchoke the caller reports, so its 30 s run on.
		for _, p := range cands {
			if p.Optimistic {
				c.optimistic, c.optimisticSince = p.Key, now
				break
			}
		}
	}
	for key, rec := range c.peers {
		if rec.seen != c.round {
			delete(c.peers, key)
			if c.optimistic == key {
				c.optimistic = NoPeer
			}
		}
	}
	c.scratch = cands
	return cands
}

// leechSlots is tit-for-tat: the interested, non-snubbed peers that give us
// the best download rates.
func (c *Choker) leechSlots(cands []*candidate) []*candidate {
	var eligible []*candidate
	for _, p := range cands {
		p.rec.rotating = false // rotating slots exist only while seeding
		if p.Interested && !p.Snubbed {
			eligible = append(eligible, p)
		}
	}
	slices.SortFunc(eligible, compareLeech)
	return c.limit(eligible, c.Slots)
}

// compareLeech orders peers best first: download rate, then upload rate,
// then already unchoked (fewer choke changes), then random.
func compareLeech(a, b *candidate) int {
	if r := cmp.Compare(b.DownloadRate, a.DownloadRate); r != 0 {
		return r
	}
	if r := cmp.Compare(b.UploadRate, a.UploadRate); r != 0 {
		return r
	}
	return compareTies(a, b)
}

// compareTies prefers a peer already unchoked, then the random draw, then
// the caller's order, so every sort is a total, reproducible order.
func compareTies(a, b *candidate) int {
	if a.Unchoked != b.Unchoked {
		if a.Unchoked {
			return -1
		}
		return 1
	}
	if r := cmp.Compare(a.random, b.random); r != 0 {
		return r
	}
	return cmp.Compare(a.index, b.index)
}

// limit returns the first n of ranked, or all of them if n is negative.
func (c *Choker) limit(ranked []*candidate, n int) []*candidate {
	if n < 0 || n > len(ranked) {
		return ranked
	}
	return ranked[:n]
}

// commitRegular records the outcome of the regular-slot choice: peers that
// lost their slot start waiting now (the back of the seeding queue).
func (c *Choker) commitRegular(now time.Time, cands, regular []*candidate) {
	for _, p := range regular {
		p.regular = true
	}
	for _, p := range cands {
		rec := p.rec
		if p.regular {
			rec.regular = true
			rec.waitingSince = time.Time{}
			continue
		}
		if rec.regular && p.Interested {
			rec.waitingSince = now
		}
		rec.regular = false
		rec.rotating = false
	}
}

// uninterestedExtras returns the not-interested peers BEP 3 unchokes
// without a slot: those sending to us faster than the slowest regular peer.
func (c *Choker) uninterestedExtras(cands, regular []*candidate) []*candidate {
	if c.Slots == 0 {
		return nil
	}
	full := c.Slots > 0 && len(regular) >= c.Slots
	var worst *candidate
	if full {
		worst = regular[len(regular)-1]
	}
	var extras []*candidate
	for _, p := range cands {
		if p.Interested || p.Snubbed || p.DownloadRate <= 0 {
			continue
		}
		if worst != nil && (p.DownloadRate < worst.DownloadRate ||
			p.DownloadRate == worst.DownloadRate && p.UploadRate <= worst.UploadRate) {
			continue
		}
		extras = append(extras, p)
	}
	slices.SortFunc(extras, compareLeech)
	return extras
}

// durationOr returns d, or def if d is not positive.
func durationOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// due reports whether a period that began at since has ended by now. A
// tenth of the period is forgiven so that a ten-second ticker firing a
// little early still rotates on its third tick, not its fourth.
func due(now, since time.Time, period time.Duration) bool {
	return now.Sub(since) >= period-period/10
}
