package picker

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"shoal/bitfield"
)

// peer is what the picker knows about one connected peer.
type peer struct {
	bf          *bitfield.Bitfield // pieces it has; nil for a seed
	seed        bool               // has every piece (HAVE_ALL or a full bitfield)
	interesting int                // pieces it has that we want; unused for seeds
	listPos     int                // index in Picker.peerList
	suggested   []int              // pieces it suggested (BEP 6), oldest first; see Suggest
}

// has reports whether the peer has piece i.
func (pr *peer) has(i int) bool { return pr.seed || pr.bf.Has(i) }

// next returns the first piece at or after i that the peer has, or -1.
func (pr *peer) next(i, numPieces int) int {
	if pr.seed {
		if i < numPieces {
			return i
		}
		return -1
	}
	return nextSet(pr.bf.Bytes(), numPieces, i)
}

// nextSet is bitfield.NextSet reading 8 bytes at a time: walking a sparse
// peer's pieces is the slow path of a pick, and 50k pieces are 6 KiB.
func nextSet(b []byte, n, i int) int {
	i = max(i, 0)
	for i < n {
		k := i >> 3
		var j int
		if k+8 <= len(b) {
			w := binary.BigEndian.Uint64(b[k:]) & (^uint64(0) >> (i & 7))
			if w == 0 {
				i = (k + 8) << 3
				continue
			}
			j = k<<3 + bits.LeadingZeros64(w)
		} else {
			x := b[k] & (0xff >> (i & 7))
			if x == 0 {
				i = (k + 1) << 3
				continue
			}
			j = k<<3 + bits.LeadingZeros8(x)
		}
		if j >= n {
			return -1
		}
		return j
	}
	return -1
}

// AddPeer registers a peer and the pieces it has (nil: none yet, as after
// HAVE_NONE, or before its optional BITFIELD: call AddPeer when the
// connection is set up, since BEP 3 lets a peer start with HAVEs). has is copied. A full bitfield makes the peer a seed. Adding
// a key again replaces the old peer (its requests are released).
func (p *Picker) AddPeer(key int, has *bitfield.Bitfield) error {
	if has != nil && has.Len() != p.numPieces {
		return fmt.Errorf("picker: peer %d: bitfield of %d pieces, torrent has %d", key, has.Len(), p.numPieces)
	}
	if _, ok := p.peers[key]; ok {
		p.RemovePeer(key)
	}
	if has != nil && has.Full() && p.numPieces > 0 {
		p.addPeer(key, &peer{seed: true})
		p.seeds++
		return nil
	}
	pr := &peer{}
	p.addPeer(key, pr)
	if has == nil {
		pr.bf = bitfield.New(p.numPieces)
		return nil
	}
	pr.bf = has.Clone()
	for i := pr.bf.NextSet(0); i >= 0; i = pr.bf.NextSet(i + 1) {
		p.addAvail(i, +1)
		if p.wanted(i) {
			pr.interesting++
		}
	}
	return nil
}

// PeerHave records a HAVE message: the peer now has piece i. An unknown
// peer or an index out of range is ignored (the caller validates input).
func (p *Picker) PeerHave(key, i int) {
	pr := p.peers[key]
	if pr == nil || pr.seed || i < 0 || i >= p.numPieces || pr.bf.Has(i) {
		return
	}
	pr.bf.Set(i)
	p.addAvail(i, +1)
	if p.wanted(i) {
		pr.interesting++
	}
	if pr.bf.Full() {
		p.makeSeed(pr)
	}
}

// PeerHaveAll records HAVE_ALL (BEP 6): the peer has every piece. Seeds
// are counted once, not per piece, so this is cheap. An unknown key is
// added as a seed.
func (p *Picker) PeerHaveAll(key int) {
	pr := p.peers[key]
	if pr == nil {
		pr = &peer{bf: bitfield.New(p.numPieces)}
		p.addPeer(key, pr)
	}
	if !pr.seed {
		p.makeSeed(pr)
	}
}

// makeSeed turns a peer counted per piece into a seed.
func (p *Picker) makeSeed(pr *peer) {
	for i := pr.bf.NextSet(0); i >= 0; i = pr.bf.NextSet(i + 1) {
		p.addAvail(i, -1)
	}
	pr.bf = nil
	pr.seed = true
	pr.interesting = 0
	p.seeds++
}

// RemovePeer forgets a peer: its outstanding requests go back to the pool
// and its pieces no longer count toward availability.
func (p *Picker) RemovePeer(key int) {
	pr := p.peers[key]
	if pr == nil {
		return
	}
	// Backwards, because releasing may drop a partial piece from the set
	// (swap-remove moves an already visited entry into this slot).
	for k := len(p.partials) - 1; k >= 0; k-- {
		p.releaseAll(p.partials[k], key)
	}
	if pr.seed {
		p.seeds--
	} else {
		for i := pr.bf.NextSet(0); i >= 0; i = pr.bf.NextSet(i + 1) {
			p.addAvail(i, -1)
		}
	}
	delete(p.peers, key)
	last := p.peerList[len(p.peerList)-1]
	p.peerList[pr.listPos] = last
	last.listPos = pr.listPos
	p.peerList = p.peerList[:len(p.peerList)-1]
}

// addPeer registers pr under key (the key is not in use).
func (p *Picker) addPeer(key int, pr *peer) {
	pr.listPos = len(p.peerList)
	p.peers[key] = pr
	p.peerList = append(p.peerList, pr)
}

// Interesting reports whether the peer has a piece we lack and want, i.e.
// whether we should be interested in it (BEP 3). It is O(1).
func (p *Picker) Interesting(key int) bool {
	pr := p.peers[key]
	switch {
	case pr == nil:
		return false
	case pr.seed:
		return p.numWanted > 0
	default:
		return pr.interesting > 0
	}
}

// addAvail changes piece i's availability by d, moving it to its new
// bucket when it has not been started.
func (p *Picker) addAvail(i int, d int32) {
	ps := &p.pieces[i]
	if ps.pos < 0 {
		ps.avail += d
		return
	}
	p.bucketRemove(i)
	ps.avail += d
	p.bucketAdd(i)
}

// level holds the fresh (wanted, not started) pieces of one priority,
// bucketed by availability so the rarest are found without a scan.
type level struct {
	buckets [][]int32 // buckets[a] = pieces with availability a, any order
	count   int       // pieces in all buckets
}

// bucketAdd puts a fresh wanted piece into its bucket.
func (p *Picker) bucketAdd(i int) {
	ps := &p.pieces[i]
	lv := &p.levels[ps.prio]
	a := int(ps.avail)
	for len(lv.buckets) <= a {
		lv.buckets = append(lv.buckets, nil)
	}
	ps.pos = int32(len(lv.buckets[a]))
	lv.buckets[a] = append(lv.buckets[a], int32(i))
	lv.count++
	if i < p.seqCursor {
		p.seqCursor = i
	}
}

// bucketRemove takes piece i out of its bucket (swap with the last entry).
func (p *Picker) bucketRemove(i int) {
	ps := &p.pieces[i]
	lv := &p.levels[ps.prio]
	b := lv.buckets[ps.avail]
	last := b[len(b)-1]
	b[ps.pos] = last
	p.pieces[last].pos = ps.pos
	lv.buckets[ps.avail] = b[:len(b)-1]
	ps.pos = -1
	lv.count--
}

// numFresh returns how many wanted pieces have not been started.
func (p *Picker) numFresh() int {
	n := 0
	for lvl := Low; lvl <= High; lvl++ {
		n += p.levels[lvl].count
	}
	return n
}
