package engine

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"time"

	"shoal/metainfo"
	"shoal/peerwire"
)

// metadataAssembly collects the 16 KiB pieces of a magnet link's metadata
// (BEP 9) from several peers and checks the whole against the info hash.
//
// Pieces normally come from every peer that offers them at once. When the
// whole fails the check and more than one peer contributed, nobody can
// tell which one lied, so the next attempt isolates: one peer at a time
// sends every piece. A peer whose own complete copy fails is dropped; once
// a copy passes, the pieces of the failed attempt are compared with it,
// and every peer that sent a piece that differs is dropped too.
type metadataAssembly struct {
	ih       metainfo.InfoHash
	size     int    // bytes of metadata; 0 until chosen
	buf      []byte // size bytes being filled
	from     []int  // per piece: key of the peer that sent it; 0 if missing
	asked    []int  // per piece: key of the peer it is requested from; 0 if none
	got      int    // pieces in buf
	gotBytes int

	isolate bool // one peer at a time sends every piece
	single  int  // that peer's key; 0 until chosen
	// failed is the first attempt that failed with several contributors:
	// its bytes and who sent each piece, to find the liars later.
	failed *failedAttempt
	// suspects contributed to a failed attempt: isolation asks others first.
	suspects map[int]bool
	badKeys  []int  // peers found lying, for the fetcher to drop
	verified []byte // the metadata once it passes the check
}

type failedAttempt struct {
	buf  []byte
	from []int
}

// pieceRequest is a request assign wants sent.
type pieceRequest struct {
	peer  *fetchPeer
	piece int
}

func (a *metadataAssembly) received() int { return a.gotBytes }

// eligible reports whether p can send pieces of the metadata being
// assembled: it announced the same size (or none).
func (a *metadataAssembly) eligible(p *fetchPeer) bool {
	return p.size == a.size || p.size == 0
}

// reset starts the assembly over for metadata of size bytes.
func (a *metadataAssembly) reset(size int, peers []*fetchPeer) {
	n := peerwire.MetadataPieces(size)
	a.size, a.buf = size, make([]byte, size)
	a.from, a.asked = make([]int, n), make([]int, n)
	a.got, a.gotBytes, a.single = 0, 0, 0
	for _, p := range peers {
		clear(p.requests)
	}
}

// chooseSize picks the size most of the offering peers announced.
func chooseSize(offering []*fetchPeer) int {
	votes := map[int]int{}
	best := 0
	for _, p := range offering {
		if p.size <= 0 {
			continue
		}
		votes[p.size]++
		if votes[p.size] > votes[best] || (votes[p.size] == votes[best] && p.size < best) {
			best = p.size
		}
	}
	return best
}

// assign picks, for each piece neither received nor requested, the
// eligible peer with the fewest requests outstanding (at most
// fetchPeerRequests each), preferring peers that have not refused that
// piece recently.
func (a *metadataAssembly) assign(offering []*fetchPeer, now time.Time) []pieceRequest {
	var usable []*fetchPeer
	for _, p := range offering {
		if a.size > 0 && a.eligible(p) {
			usable = append(usable, p)
		}
	}
	if len(usable) == 0 {
		// Nobody can continue this attempt (its peers left, or none
		// has said the size yet): start over with the size most peers
		// announce now.
		size := chooseSize(offering)
		if size == 0 {
			return nil
		}
		a.reset(size, offering)
		for _, p := range offering {
			if a.eligible(p) {
				usable = append(usable, p)
			}
		}
	}
	if a.isolate {
		usable = a.isolated(usable, offering)
	}
	var out []pieceRequest
	for piece := range a.from {
		if a.from[piece] != 0 || a.asked[piece] != 0 {
			continue
		}
		var best *fetchPeer
		bestRefused := true
		for _, p := range usable {
			if len(p.requests) >= fetchPeerRequests {
				continue
			}
			at, refused := p.refused[piece]
			refused = refused && now.Sub(at) < fetchRequestTimeout
			if refused && !a.isolate && len(usable) > 1 {
				continue // ask another peer; this one may be asked again later
			}
			if best == nil || (bestRefused && !refused) || (bestRefused == refused && len(p.requests) < len(best.requests)) {
				best, bestRefused = p, refused
			}
		}
		if best == nil {
			continue
		}
		best.requests[piece] = now
		a.asked[piece] = best.key
		out = append(out, pieceRequest{peer: best, piece: piece})
	}
	return out
}

// isolated narrows usable to the one peer that is to send every piece,
// choosing one (not a suspect if possible) when there is none.
func (a *metadataAssembly) isolated(usable, offering []*fetchPeer) []*fetchPeer {
	for _, p := range usable {
		if p.key == a.single {
			return []*fetchPeer{p}
		}
	}
	if len(usable) == 0 {
		return nil
	}
	pick := usable[0]
	for _, p := range usable {
		if !a.suspects[p.key] {
			pick = p
			break
		}
	}
	a.reset(a.size, offering)
	a.single = pick.key
	return []*fetchPeer{pick}
}

// rejected returns a piece p will not send (it rejected the request, or
// did not answer in time) to the others.
func (a *metadataAssembly) rejected(p *fetchPeer, piece int, now time.Time) {
	if _, ok := p.requests[piece]; !ok {
		return
	}
	delete(p.requests, piece)
	p.refused[piece] = now
	if piece < len(a.asked) && a.asked[piece] == p.key {
		a.asked[piece] = 0
	}
}

// release gives the requests of a peer that left to others.
func (a *metadataAssembly) release(p *fetchPeer) {
	for piece := range p.requests {
		if piece < len(a.asked) && a.asked[piece] == p.key {
			a.asked[piece] = 0
		}
	}
	clear(p.requests)
	if a.single == p.key {
		a.single = 0
	}
}

// data stores a piece p sent. bad and err report a peer to drop: one that
// contradicts itself, or the only source of metadata that fails the check.
func (a *metadataAssembly) data(p *fetchPeer, mm peerwire.MetadataMessage) (bad bool, err error) {
	if p.size != 0 && mm.TotalSize != p.size {
		return true, fmt.Errorf("metadata total_size %d, but it announced %d", mm.TotalSize, p.size)
	}
	if _, asked := p.requests[mm.Piece]; !asked {
		return false, nil // not (or no longer) requested of it: ignore
	}
	delete(p.requests, mm.Piece)
	if mm.TotalSize != a.size || a.from[mm.Piece] != 0 || (a.isolate && p.key != a.single) {
		return false, nil // left over from an attempt given up since
	}
	if a.asked[mm.Piece] == p.key {
		a.asked[mm.Piece] = 0
	}
	copy(a.buf[mm.Piece*peerwire.MetadataPieceSize:], mm.Data)
	a.from[mm.Piece] = p.key
	a.got++
	a.gotBytes += len(mm.Data)
	if a.got < len(a.from) {
		return false, nil
	}
	return a.check(p)
}

// check verifies the complete metadata against the info hash; last is the
// peer that sent the last piece.
func (a *metadataAssembly) check(last *fetchPeer) (bad bool, err error) {
	if sha1.Sum(a.buf) == a.ih {
		a.verified = a.buf
		if f := a.failed; f != nil && len(f.buf) == len(a.buf) {
			liars := map[int]bool{}
			for piece, key := range f.from {
				begin := piece * peerwire.MetadataPieceSize
				end := begin + peerwire.MetadataPieceLen(len(a.buf), piece)
				if !bytes.Equal(f.buf[begin:end], a.buf[begin:end]) {
					liars[key] = true
				}
			}
			for key := range liars {
				a.badKeys = append(a.badKeys, key)
			}
		}
		return false, nil
	}
	contributors := map[int]bool{}
	for _, key := range a.from {
		contributors[key] = true
	}
	size, buf, from := a.size, a.buf, a.from
	a.size = 0 // the next assign starts over
	if len(contributors) == 1 {
		return true, fmt.Errorf("its metadata (%d bytes) does not hash to the info hash", size)
	}
	if a.failed == nil {
		a.failed = &failedAttempt{buf: buf, from: from}
	}
	a.suspects = contributors
	a.isolate = true
	return false, nil
}

// takeBad returns the keys of peers found lying since the last call.
func (a *metadataAssembly) takeBad() []int {
	keys := a.badKeys
	a.badKeys = nil
	return keys
}
