package choker

import (
	"cmp"
	"slices"
	"time"
)

// seedSlots picks the regular slots while seeding. With more interested
// peers than slots, the slots are split:
//
//   - fast slots go to the peers we upload to fastest (best use of our
//     upload capacity, the "fastest upload" seeding choker);
//   - rotating slots, about one in five and at least one, serve the other
//     peers in turn: a peer keeps one for SeedTurn, then yields it to the
//     peer that has waited longest (first come, first served).
//
// A peer in a rotating turn builds up an upload rate; once it is faster
// than the slowest fast-slot holder it takes that fast slot, and the
// displaced peer joins the back of the queue. Every interested peer
// therefore gets a regular slot within about (waiting peers / rotating
// slots) × SeedTurn, while the fastest peers hold most of the slots.
func (c *Choker) seedSlots(now time.Time, cands []*candidate) []*candidate {
	var eligible []*candidate
	for _, p := range cands {
		if p.Interested {
			eligible = append(eligible, p)
		}
	}
	if c.Slots < 0 || len(eligible) <= c.Slots {
		for _, p := range eligible {
			p.rec.rotating = false
		}
		return eligible
	}
	if c.Slots == 0 {
		return nil
	}
	rotatingSlots := (c.Slots + 4) / 5
	fastSlots := c.Slots - rotatingSlots

	slices.SortFunc(eligible, compareSeedFast)
	fast := eligible[:fastSlots]
	rest := slices.Clone(eligible[fastSlots:])
	for _, p := range fast {
		p.rec.rotating = false
	}
	slices.SortFunc(rest, func(a, b *candidate) int { return c.compareTurn(now, a, b) })
	rotating := rest[:rotatingSlots]
	for _, p := range rotating {
		switch {
		case p.rec.rotating:
			// Its turn goes on.
		case p.rec.regular:
			// It just lost a fast slot and nobody is waiting: it may stay,
			// but it has had its turn, so the next waiter replaces it.
			p.rec.rotating = true
			p.rec.turnStart = time.Time{}
		default:
			p.rec.rotating = true
			p.rec.turnStart = now
		}
	}
	return append(fast, rotating...)
}

// compareSeedFast orders peers by our upload rate to them, fastest first.
func compareSeedFast(a, b *candidate) int {
	if r := cmp.Compare(b.UploadRate, a.UploadRate); r != 0 {
		return r
	}
	return compareTies(a, b)
}

// turnGroup ranks peers competing for a rotating slot: 0 = in a rotating
// turn that is not over; 1 = waiting; 2 = has had its turn (a rotating turn
// that is over, or a fast slot it just lost), kept only while nobody waits.
func (c *Choker) turnGroup(now time.Time, p *candidate) int {
	switch {
	case !p.rec.regular:
		return 1
	case p.rec.rotating && !p.rec.turnStart.IsZero() && !due(now, p.rec.turnStart, durationOr(c.SeedTurn, DefaultSeedTurn)):
		return 0
	default:
		return 2
	}
}

// compareTurn orders peers for the rotating slots: current turns first,
// then waiting peers longest-waiting first (ties: faster before, then
// random), then peers that have had their turn, fastest first.
func (c *Choker) compareTurn(now time.Time, a, b *candidate) int {
	ga, gb := c.turnGroup(now, a), c.turnGroup(now, b)
	if r := cmp.Compare(ga, gb); r != 0 {
		return r
	}
	if ga == 1 {
		if r := a.rec.waitingSince.Compare(b.rec.waitingSince); r != 0 {
			return r
		}
	}
	return compareSeedFast(a, b)
}
