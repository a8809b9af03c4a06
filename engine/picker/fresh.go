package picker

// How a fresh piece is chosen within one priority level.
type freshMode uint8

const (
	modeRarest     freshMode = iota // lowest availability, random tie-break
	modeRandom                      // uniformly at random
	modeSequential                  // lowest index
)

func (p *Picker) freshMode() freshMode {
	switch {
	case p.sequential:
		return modeSequential
	case p.numHave < p.randomFirst:
		return modeRandom
	default:
		return modeRarest
	}
}

// sparseRatio: a peer with fewer than 1/sparseRatio of a level's fresh
// pieces is served by walking its bitfield instead of probing buckets.
const sparseRatio = 32

// pickFresh chooses a wanted piece nobody has started that the peer has,
// or returns -1. Higher priority levels come first.
func (p *Picker) pickFresh(pr *peer) int {
	mode := p.freshMode()
	for lvl := High; lvl > Skip; lvl-- {
		lv := &p.levels[lvl]
		if lv.count == 0 {
			continue
		}
		var i int
		done := true
		switch {
		case mode == modeSequential:
			i = p.sequentialNext(pr, lvl)
		case !pr.seed && pr.interesting*sparseRatio < lv.count:
			// Probing would mostly miss: walk the peer's pieces at once.
			done = false
		case mode == modeRandom:
			i, done = p.randomFast(pr, lv)
		default:
			i, done = p.rarestFast(pr, lv)
		}
		if !done {
			i = p.scanPeer(pr, lvl, mode)
		}
		if i >= 0 {
			return i
		}
	}
	return -1
}

// rarestFast looks through the buckets from the rarest up, each from a
// random start, for a piece the peer has. done is false when it gave up
// after probeBudget probes; then the answer is unknown.
func (p *Picker) rarestFast(pr *peer, lv *level) (i int, done bool) {
	first := 1 // a piece a non-seed peer has counts that peer
	if pr.seed {
		first = 0
	}
	budget := probeBudget
	for a := first; a < len(lv.buckets); a++ {
		b := lv.buckets[a]
		if len(b) == 0 {
			continue
		}
		s := p.rng.IntN(len(b))
		for k := range len(b) {
			if budget == 0 {
				return -1, false
			}
			budget--
			idx := s + k
			if idx >= len(b) {
				idx -= len(b)
			}
			if i := int(b[idx]); pr.has(i) {
				return i, true
			}
		}
	}
	return -1, true
}

// randomFast starts at a uniformly random fresh piece of the level and
// walks on (across buckets, wrapping) to the first one the peer has.
func (p *Picker) randomFast(pr *peer, lv *level) (i int, done bool) {
	r := p.rng.IntN(lv.count)
	a := 0
	for r >= len(lv.buckets[a]) {
		r -= len(lv.buckets[a])
		a++
	}
	budget := probeBudget
	for seen := 0; seen < lv.count; {
		b := lv.buckets[a]
		for ; r < len(b) && seen < lv.count; r++ {
			if budget == 0 {
				return -1, false
			}
			budget--
			seen++
			if i := int(b[r]); pr.has(i) {
				return i, true
			}
		}
		r = 0
		if a++; a == len(lv.buckets) {
			a = 0
		}
	}
	return -1, true
}

// sequentialNext returns the lowest-index fresh piece of the level that the
// peer has. seqCursor skips the prefix with no fresh piece, so a download
// in order costs O(1) amortized per pick.
func (p *Picker) sequentialNext(pr *peer, lvl Priority) int {
	for p.seqCursor < p.numPieces && p.pieces[p.seqCursor].pos < 0 {
		p.seqCursor++
	}
	for i := pr.next(p.seqCursor, p.numPieces); i >= 0; i = pr.next(i+1, p.numPieces) {
		if ps := &p.pieces[i]; ps.pos >= 0 && ps.prio == lvl {
			return i
		}
	}
	return -1
}

// scanPeer walks the peer's pieces for the best fresh piece of the level.
// It is the fallback for peers with few of the pieces we want, where
// probing buckets would miss too often.
func (p *Picker) scanPeer(pr *peer, lvl Priority, mode freshMode) int {
	best, ties := -1, 0
	var bestAvail int32
	for i := pr.next(0, p.numPieces); i >= 0; i = pr.next(i+1, p.numPieces) {
		ps := &p.pieces[i]
		if ps.pos < 0 || ps.prio != lvl {
			continue
		}
		switch {
		case mode == modeSequential:
			return i
		case mode == modeRarest && (best < 0 || ps.avail < bestAvail):
			best, bestAvail, ties = i, ps.avail, 1
		case mode == modeRarest && ps.avail > bestAvail:
		default: // a tie, or random mode: reservoir sampling keeps it uniform
			ties++
			if p.rng.IntN(ties) == 0 {
				best, bestAvail = i, ps.avail
			}
		}
	}
	return best
}

// freshAllowed chooses a fresh piece from the allowed-fast set: highest
// priority, then rarest, ties broken at random. The set is small (BEP 6
// suggests 10), so a scan is fine.
func (p *Picker) freshAllowed(f *pickFilter) int {
	best, ties := -1, 0
	for _, a := range f.allowed {
		if int64(a) >= int64(p.numPieces) {
			continue
		}
		i := int(a)
		ps := &p.pieces[i]
		if ps.pos < 0 || !f.pr.has(i) || i == best {
			continue
		}
		if best >= 0 {
			bp := &p.pieces[best]
			if ps.prio < bp.prio || (ps.prio == bp.prio && ps.avail > bp.avail) {
				continue
			}
			if ps.prio == bp.prio && ps.avail == bp.avail {
				ties++
				if p.rng.IntN(ties) == 0 {
					best = i
				}
				continue
			}
		}
		best, ties = i, 1
	}
	return best
}
