package picker

import "slices"

// maxSuggestions bounds the SUGGESTed pieces kept per peer: a peer may send
// as many as it likes, and only the latest say what it has at hand.
const maxSuggestions = 16

// Suggest records that peer key suggested piece i (BEP 6 SUGGEST: "you
// might like to download this piece"). A seed suggests pieces it has in
// its cache, or pieces it wants spread evenly; the next picks for that
// peer start a suggested piece before any other fresh piece of the same
// priority, unless the picker runs sequentially (the user asked for
// order). A piece we have, are downloading or skip, or that the peer does
// not have, is passed over, as BEP 6 asks.
func (p *Picker) Suggest(key, i int) {
	pr := p.peers[key]
	if pr == nil || i < 0 || i >= p.numPieces || slices.Contains(pr.suggested, i) {
		return
	}
	if len(pr.suggested) >= maxSuggestions {
		n := copy(pr.suggested, pr.suggested[1:])
		pr.suggested = pr.suggested[:n]
	}
	pr.suggested = append(pr.suggested, i)
}

// takeSuggested removes and returns the oldest piece pr suggested that is
// fresh (wanted, not started), that pr has, and that is of the highest
// priority among fresh pieces; -1 if none. Suggestions that can no longer
// be taken are dropped on the way.
func (p *Picker) takeSuggested(pr *peer) int {
	if len(pr.suggested) == 0 || p.freshMode() == modeSequential {
		return -1
	}
	top := Skip
	for lvl := High; lvl > Skip; lvl-- {
		if p.levels[lvl].count > 0 {
			top = lvl
			break
		}
	}
	keep := pr.suggested[:0]
	found := -1
	for _, i := range pr.suggested {
		ps := &p.pieces[i]
		switch {
		case ps.pos < 0 || !pr.has(i):
			// Had, started, skipped, or not the peer's: forget it.
		case found < 0 && ps.prio == top:
			found = i
		default:
			keep = append(keep, i)
		}
	}
	clear(pr.suggested[len(keep):])
	pr.suggested = keep
	return found
}
