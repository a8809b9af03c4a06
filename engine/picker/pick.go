package picker

// Pick returns up to max blocks to request from peer key and records them
// as requested by it. It allocates only the returned slice; AppendPick
// reuses a caller's slice.
func (p *Picker) Pick(key, max int) []Block { return p.AppendPick(nil, key, max) }

// AppendPick appends up to max blocks to dst as Pick does.
func (p *Picker) AppendPick(dst []Block, key, max int) []Block {
	return p.pick(dst, key, max, -1, nil, false)
}

// AppendPickStarting is AppendPick starting at most newPieces pieces that
// are not in progress yet: the caller has memory for that many more. (A
// leecher out of piece memory picked a full queue of blocks and handed
// nearly all back, 10 % of its CPU.)
func (p *Picker) AppendPickStarting(dst []Block, key, n, newPieces int) []Block {
	return p.pick(dst, key, n, max(newPieces, 0), nil, false)
}

// PickAllowedFast is Pick restricted to the pieces in allowed: the peer's
// allowed-fast set (BEP 6), which we may request while it chokes us.
func (p *Picker) PickAllowedFast(key, max int, allowed []uint32) []Block {
	return p.pick(nil, key, max, -1, allowed, true)
}

// AppendPickAllowedFast appends to dst as PickAllowedFast does.
func (p *Picker) AppendPickAllowedFast(dst []Block, key, max int, allowed []uint32) []Block {
	return p.pick(dst, key, max, -1, allowed, true)
}

// pickFilter says which pieces one pick may use.
type pickFilter struct {
	key        int
	pr         *peer
	restricted bool     // only pieces in allowed
	allowed    []uint32 // the allowed-fast set
}

func (f *pickFilter) ok(i int) bool {
	if !f.pr.has(i) {
		return false
	}
	if !f.restricted {
		return true
	}
	for _, a := range f.allowed {
		if int64(a) == int64(i) {
			return true
		}
	}
	return false
}

// Partial-piece passes of a pick.
const (
	passOwn    = iota // pieces this peer downloads, or nobody does
	passOthers        // pieces other peers are downloading
)

// pick picks as Pick does, starting at most newPieces pieces not yet in
// progress (no limit if negative).
func (p *Picker) pick(dst []Block, key, max, newPieces int, allowed []uint32, restricted bool) []Block {
	pr := p.peers[key]
	if pr == nil || max <= 0 || !p.Interesting(key) {
		return dst
	}
	f := pickFilter{key: key, pr: pr, restricted: restricted, allowed: allowed}
	want := max
	dst = p.takePartials(dst, &f, &want, passOwn)
	for want > 0 && newPieces != 0 {
		var i int
		if restricted {
			i = p.freshAllowed(&f)
		} else if i = p.takeSuggested(pr); i < 0 {
			i = p.pickFresh(pr)
		}
		if i < 0 {
			break
		}
		dst = p.takeFree(dst, p.startPiece(i), key, &want)
		newPieces--
	}
	if want > 0 {
		dst = p.takePartials(dst, &f, &want, passOthers)
	}
	if want > 0 && p.InEndgame() {
		dst = p.takeEndgame(dst, &f, &want)
	}
	return dst
}

// takePartials takes free blocks of pieces in progress, best piece first.
// Each chosen piece is drained of free blocks (or want reaches 0), so the
// loop runs once per piece used.
func (p *Picker) takePartials(dst []Block, f *pickFilter, want *int, pass int) []Block {
	for *want > 0 {
		var best *partialPiece
		bestRank := 0
		for _, pp := range p.partials {
			if pp.free() == 0 || !p.wanted(pp.index) || !f.ok(pp.index) {
				continue
			}
			rank := 0 // own pieces first, then abandoned ones
			switch {
			case pp.hasOwner && pp.owner == f.key:
			case pp.requested == 0:
				rank = 1
			case pass == passOwn:
				continue
			}
			if best == nil || p.betterPartial(pp, rank, best, bestRank) {
				best, bestRank = pp, rank
			}
		}
		if best == nil {
			break
		}
		before := *want
		dst = p.takeFree(dst, best, f.key, want)
		if *want == before {
			break // cannot happen while free() is right; never spin
		}
	}
	return dst
}

// betterPartial orders pieces in progress: rank, then priority, then the
// lowest index (sequential) or the fewest blocks left to request.
func (p *Picker) betterPartial(a *partialPiece, ar int, b *partialPiece, br int) bool {
	if ar != br {
		return ar < br
	}
	if pa, pb := p.pieces[a.index].prio, p.pieces[b.index].prio; pa != pb {
		return pa > pb
	}
	if !p.sequential {
		if fa, fb := a.free(), b.free(); fa != fb {
			return fa < fb
		}
	}
	return a.index < b.index
}

// takeFree requests free blocks of pp from key, in order.
func (p *Picker) takeFree(dst []Block, pp *partialPiece, key int, want *int) []Block {
	pp.owner, pp.hasOwner = key, true
	for j := pp.nextFree; j < len(pp.blocks) && *want > 0; j++ {
		bs := &pp.blocks[j]
		if bs.got || bs.nreq > 0 {
			if j == pp.nextFree {
				pp.nextFree++
			}
			continue
		}
		pp.addRequest(j, key)
		if j == pp.nextFree {
			pp.nextFree++
		}
		dst = append(dst, p.block(pp.index, j))
		*want--
	}
	return dst
}

// InEndgame reports whether every block of every wanted missing piece is
// requested or received.
func (p *Picker) InEndgame() bool {
	if p.numWanted == 0 || p.numFresh() > 0 {
		return false
	}
	for _, pp := range p.partials {
		if pp.free() > 0 && p.wanted(pp.index) {
			return false
		}
	}
	return true
}

// takeEndgame requests blocks already requested from other peers: pieces
// with the fewest missing blocks first, within a piece the blocks with the
// fewest requesters first. Never twice from one peer, never from more than
// MaxRequesters peers at once.
func (p *Picker) takeEndgame(dst []Block, f *pickFilter, want *int) []Block {
	p.epoch++
	for *want > 0 {
		var best *partialPiece
		for _, pp := range p.partials {
			if pp.mark == p.epoch || pp.received == len(pp.blocks) || !p.wanted(pp.index) || !f.ok(pp.index) {
				continue
			}
			if best == nil || p.betterEndgame(pp, best) {
				best = pp
			}
		}
		if best == nil {
			break
		}
		best.mark = p.epoch
		for n := uint8(1); n < MaxRequesters && *want > 0; n++ {
			for j := range best.blocks {
				bs := &best.blocks[j]
				if bs.got || bs.nreq != n || bs.requestedBy(f.key) {
					continue
				}
				best.addRequest(j, f.key)
				dst = append(dst, p.block(best.index, j))
				if *want--; *want == 0 {
					break
				}
			}
		}
	}
	return dst
}

func (p *Picker) betterEndgame(a, b *partialPiece) bool {
	if pa, pb := p.pieces[a.index].prio, p.pieces[b.index].prio; pa != pb {
		return pa > pb
	}
	ma, mb := len(a.blocks)-a.received, len(b.blocks)-b.received
	if ma != mb {
		return ma < mb
	}
	return a.index < b.index
}
