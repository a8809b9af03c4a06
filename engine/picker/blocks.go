package picker

// partialPiece is the block state of a piece in progress: at least one
// block requested or received.
type partialPiece struct {
	index     int          // piece index
	setPos    int          // position in Picker.partials
	blocks    []blockState // one per block
	received  int          // blocks received
	requested int          // blocks not received with at least one request
	nextFree  int          // no block below this index is free
	owner     int          // the peer that last took fresh blocks of it
	hasOwner  bool         // owner is set
	mark      uint64       // Picker.epoch when an endgame pick visited it
}

// free returns how many blocks nobody has requested or sent.
func (pp *partialPiece) free() int { return len(pp.blocks) - pp.received - pp.requested }

// blockState is one block of a piece in progress.
type blockState struct {
	req  [MaxRequesters]int // peers with an outstanding request; first nreq valid
	nreq uint8              // number of outstanding requests
	got  bool               // received
	from int                // who sent it, when got
}

// requestedBy reports whether key has an outstanding request for the block.
func (bs *blockState) requestedBy(key int) bool {
	for _, k := range bs.req[:bs.nreq] {
		if k == key {
			return true
		}
	}
	return false
}

// removeRequest drops key's request; it reports whether there was one.
func (bs *blockState) removeRequest(key int) bool {
	for n := range int(bs.nreq) {
		if bs.req[n] == key {
			bs.nreq--
			bs.req[n] = bs.req[bs.nreq]
			return true
		}
	}
	return false
}

// addRequest records that the block is requested from key.
func (pp *partialPiece) addRequest(j, key int) {
	bs := &pp.blocks[j]
	if bs.nreq == 0 {
		pp.requested++
	}
	bs.req[bs.nreq] = key
	bs.nreq++
}

// startPiece moves fresh piece i into the set of pieces in progress.
func (p *Picker) startPiece(i int) *partialPiece {
	p.bucketRemove(i)
	var pp *partialPiece
	if n := len(p.spare); n > 0 {
		pp = p.spare[n-1]
		p.spare = p.spare[:n-1]
	} else {
		pp = &partialPiece{blocks: make([]blockState, p.maxBlocks)}
	}
	nb := p.numBlocks(i)
	pp.blocks = pp.blocks[:nb]
	clear(pp.blocks)
	*pp = partialPiece{index: i, setPos: len(p.partials), blocks: pp.blocks}
	p.partials = append(p.partials, pp)
	p.pieces[i].partial = pp
	return pp
}

// dropPartial forgets a piece's block state; the piece goes back to the
// fresh buckets if it is still wanted.
func (p *Picker) dropPartial(pp *partialPiece) {
	last := p.partials[len(p.partials)-1]
	p.partials[pp.setPos] = last
	last.setPos = pp.setPos
	p.partials = p.partials[:len(p.partials)-1]
	i := pp.index
	p.pieces[i].partial = nil
	p.spare = append(p.spare, pp)
	if p.wanted(i) {
		p.bucketAdd(i)
	}
}

// releaseAll drops every request key has in pp.
func (p *Picker) releaseAll(pp *partialPiece, key int) {
	for j := range pp.blocks {
		p.releaseBlock(pp, j, key)
	}
	if pp.hasOwner && pp.owner == key {
		pp.hasOwner = false
	}
	p.maybeDrop(pp)
}

// releaseBlock drops key's request for block j, if any.
func (p *Picker) releaseBlock(pp *partialPiece, j, key int) {
	bs := &pp.blocks[j]
	if bs.got || !bs.removeRequest(key) {
		return
	}
	if bs.nreq == 0 {
		pp.requested--
		pp.nextFree = min(pp.nextFree, j)
	}
}

// maybeDrop returns a piece with nothing requested or received to the
// fresh pieces, so it is chosen afresh (rarest first) next time.
func (p *Picker) maybeDrop(pp *partialPiece) {
	if pp.requested == 0 && pp.received == 0 {
		p.dropPartial(pp)
	}
}

// Release returns a block requested from key to the pool: the peer
// rejected it (BEP 6), choked us, or the request timed out. A block not
// requested from key is ignored.
func (p *Picker) Release(key int, b Block) {
	j := p.blockIndex(b)
	if j < 0 {
		return
	}
	pp := p.pieces[b.Piece].partial
	if pp == nil {
		return
	}
	p.releaseBlock(pp, j, key)
	p.maybeDrop(pp)
}

// Status says what Received did with a block.
type Status uint8

const (
	// Accepted: the block was requested from this peer. Store it.
	Accepted Status = iota
	// AcceptedUnrequested: not requested from this peer (e.g. it arrived
	// after Release, or another peer had the request), but the piece is in
	// progress and lacks it. Store it.
	AcceptedUnrequested
	// Duplicate: the block was already received. Discard it (wasted).
	Duplicate
	// Unwanted: the piece is verified or not in progress. Discard it.
	Unwanted
	// Invalid: not one of our blocks (bad index, offset or length).
	Invalid
)

// String returns the status name.
func (s Status) String() string {
	switch s {
	case Accepted:
		return "accepted"
	case AcceptedUnrequested:
		return "accepted-unrequested"
	case Duplicate:
		return "duplicate"
	case Unwanted:
		return "unwanted"
	case Invalid:
		return "invalid"
	}
	return "Status(?)"
}

// Receipt is the result of Received.
type Receipt struct {
	Status Status
	// PieceDone: every block of the piece is now received; hash it and
	// then call PieceVerified or PieceFailed.
	PieceDone bool
	// Cancel lists the other peers that had requested this block
	// (endgame): send them CANCEL. Nil when there are none.
	Cancel []int
}

// Stored reports whether the caller should keep the block's data.
func (r Receipt) Stored() bool { return r.Status == Accepted || r.Status == AcceptedUnrequested }

// Received records a block that arrived from key. A block of a piece in
// progress is recorded even if key was not asked for it (it may arrive
// after Release); blocks we already have, of pieces not in progress, or
// not on our block grid are reported in the Receipt and change nothing
// (the caller counts their bytes as wasted).
func (p *Picker) Received(key int, b Block) Receipt {
	j := p.blockIndex(b)
	if j < 0 {
		return Receipt{Status: Invalid}
	}
	pp := p.pieces[b.Piece].partial
	if pp == nil {
		return Receipt{Status: Unwanted}
	}
	bs := &pp.blocks[j]
	if bs.got {
		return Receipt{Status: Duplicate}
	}
	r := Receipt{Status: Accepted}
	if !bs.removeRequest(key) {
		r.Status = AcceptedUnrequested
	}
	if bs.nreq > 0 {
		r.Cancel = append([]int(nil), bs.req[:bs.nreq]...)
		bs.nreq = 0
	}
	if r.Status == Accepted || r.Cancel != nil {
		pp.requested--
	}
	bs.got = true
	bs.from = key
	pp.received++
	r.PieceDone = pp.received == len(pp.blocks)
	return r
}

// PieceFailed resets a piece whose hash check failed, so it is picked
// again, and returns the distinct peers that sent its blocks: one of them
// sent bad data.
func (p *Picker) PieceFailed(i int) []int {
	if i < 0 || i >= p.numPieces {
		return nil
	}
	pp := p.pieces[i].partial
	if pp == nil {
		return nil
	}
	var peers []int
	for j := range pp.blocks {
		bs := &pp.blocks[j]
		if bs.got && !containsInt(peers, bs.from) {
			peers = append(peers, bs.from)
		}
	}
	p.dropPartial(pp)
	return peers
}

func containsInt(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// NumPartial returns how many pieces are in progress (including complete
// pieces waiting for their hash check).
func (p *Picker) NumPartial() int { return len(p.partials) }
