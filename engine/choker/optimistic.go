package choker

import "time"

// chooseOptimistic keeps or rotates the optimistic unchoke (BEP 3): one
// interested peer without a regular slot, unchoked regardless of its rates.
// It rotates when OptimisticInterval has passed, and at once when the
// current one leaves, loses interest or wins a regular slot.
func (c *Choker) chooseOptimistic(now time.Time, cands []*candidate) int {
	var current *candidate
	for _, p := range cands {
		if p.Key == c.optimistic && p.Interested && !p.regular {
			current = p
			break
		}
	}
	if current != nil && !due(now, c.optimisticSince, durationOr(c.OptimisticInterval, DefaultOptimisticInterval)) {
		return current.Key
	}

	// Weighted draw among the other interested peers without a slot.
	total := 0
	for _, p := range cands {
		if p != current && p.Interested && !p.regular {
			total += c.weight(now, p)
		}
	}
	if total == 0 {
		if current != nil {
			// Nobody else to rotate to; keep it, and rotate as soon as
			// someone else qualifies.
			return current.Key
		}
		c.optimistic = NoPeer
		return NoPeer
	}
	pick := c.rnd.IntN(total)
	for _, p := range cands {
		if p == current || !p.Interested || p.regular {
			continue
		}
		pick -= c.weight(now, p)
		if pick < 0 {
			c.optimistic = p.Key
			c.optimisticSince = now
			return p.Key
		}
	}
	return NoPeer // unreachable: pick < total
}

// weight is a peer's share in the optimistic draw: new connections count
// three times (BEP 3).
func (c *Choker) weight(now time.Time, p *candidate) int {
	if now.Sub(p.ConnectedAt) < durationOr(c.NewPeerAge, DefaultNewPeerAge) {
		return newPeerWeight
	}
	return 1
}
