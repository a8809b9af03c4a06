package engine

import (
	"slices"

	"shoal/peerwire"
)

// allowedFastK is the size of the allowed fast set we give a peer. BEP 6
// suggests 10; it is also the number of pieces below which a peer counts as
// starting and is served its set while choked.
const allowedFastK = 10

// sendAllowedFast gives a peer that supports the fast extension its
// allowed fast set (BEP 6): pieces it may request and get while we choke
// it, so that a new peer has something to trade before its first unchoke.
// We send the pieces of the set we have; a super-seeder sends none, since
// it decides itself which pieces each peer gets (BEP 16).
func (t *Torrent) sendAllowedFast(p *peer) {
	if !p.fast || t.superSeed != nil || t.have.Empty() {
		return
	}
	for _, i := range peerwire.AllowedFastSet(p.addr.Addr(), t.infoHash, t.info.NumPieces(), allowedFastK) {
		if t.have.Has(int(i)) {
			p.allowedFastOut = append(p.allowedFastOut, i)
			p.conn.Send(peerwire.Message{ID: peerwire.AllowedFast, Index: i})
		}
	}
}

// allowedFastFor reports whether a choked peer may have piece i: it is in
// the peer's allowed fast set and the peer is still starting (has fewer
// than allowedFastK pieces), as BEP 6 lets a sender decide.
func (t *Torrent) allowedFastFor(p *peer, i uint32) bool {
	if !slices.Contains(p.allowedFastOut, i) {
		return false
	}
	return !p.haveAll && (p.has == nil || p.has.Count() < allowedFastK)
}
