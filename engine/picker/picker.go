package picker

import (
	"fmt"
	"math/rand/v2"

	"shoal/metainfo"
)

// BlockSize is the length of the blocks we request: 16 KiB, the size every
// client accepts (BEP 3 notes larger requests may be dropped).
const BlockSize = 16 << 10

// MaxRequesters is how many peers may have an outstanding request for one
// block at once. Only endgame requests a block from more than one peer.
const MaxRequesters = 3

// DefaultRandomFirst is how many pieces are picked at random before
// switching to rarest first.
const DefaultRandomFirst = 4

// probeBudget bounds how many bucket entries a fast search looks at before
// falling back to a walk over the peer's own pieces; it keeps the cost of a
// pick low both for peers with most pieces and for peers with very few.
const probeBudget = 128

// Priority is a piece's (or file's) download priority.
type Priority int8

// Priorities, lowest first. The zero value is Skip.
const (
	Skip   Priority = iota // not wanted: never requested
	Low                    // wanted after Normal and High pieces
	Normal                 // the default for every piece
	High                   // wanted before all others
)

const numLevels = int(High) + 1

// String returns the priority's name.
func (p Priority) String() string {
	switch p {
	case Skip:
		return "skip"
	case Low:
		return "low"
	case Normal:
		return "normal"
	case High:
		return "high"
	}
	return fmt.Sprintf("Priority(%d)", int8(p))
}

// Block is one request: Length bytes at offset Begin of piece Piece.
type Block struct {
	Piece  int
	Begin  int64
	Length int64
}

// Options tune a Picker. The zero value is usable.
type Options struct {
	// Rand is the source of every random choice; when nil a generator
	// seeded with Seed is used.
	Rand *rand.Rand
	// Seed seeds the generator when Rand is nil. 0 means a random seed.
	Seed uint64
	// RandomFirst is how many verified pieces we need before rarest first
	// replaces random choice. 0 means DefaultRandomFirst; negative means
	// rarest first from the start.
	RandomFirst int
}

// Picker tracks pieces, blocks and peers for one torrent. It is not safe
// for concurrent use.
type Picker struct {
	numPieces   int
	pieceLength int64
	totalLength int64
	maxBlocks   int // blocks in a full-size piece

	pieces []pieceState
	levels [numLevels]level // fresh pieces by priority, then availability

	partials []*partialPiece // pieces in progress
	spare    []*partialPiece // reusable partialPiece values

	peers    map[int]*peer
	peerList []*peer // the same peers, for fast iteration
	seeds    int     // peers that have every piece (not counted in pieceState.avail)

	numHave   int // verified pieces
	numWanted int // pieces with priority above Skip that we don't have

	sequential  bool
	seqCursor   int // no fresh piece has a lower index
	randomFirst int
	rng         *rand.Rand
	epoch       uint64 // marks partial pieces visited by one endgame pick
}

type pieceState struct {
	avail   int32         // connected non-seed peers that have the piece
	pos     int32         // index in its bucket; -1 when not in a bucket
	prio    Priority      // download priority
	have    bool          // verified
	partial *partialPiece // block state while in progress, else nil
}

// New returns a Picker for the pieces of l, every piece missing and of
// Normal priority.
func New(l *metainfo.Layout, o Options) *Picker {
	p := &Picker{
		numPieces:   l.NumPieces(),
		pieceLength: l.PieceLength(),
		totalLength: l.TotalLength(),
		peers:       make(map[int]*peer),
		rng:         o.Rand,
		randomFirst: o.RandomFirst,
	}
	if p.rng == nil {
		seed := o.Seed
		if seed == 0 {
			seed = rand.Uint64()
		}
		p.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	}
	if p.randomFirst == 0 {
		p.randomFirst = DefaultRandomFirst
	}
	if p.numPieces > 0 {
		p.maxBlocks = p.numBlocks(0)
	}
	p.pieces = make([]pieceState, p.numPieces)
	for i := range p.pieces {
		p.pieces[i] = pieceState{pos: -1, prio: Normal}
		p.bucketAdd(i)
	}
	p.numWanted = p.numPieces
	return p
}

// NumPieces returns the number of pieces.
func (p *Picker) NumPieces() int { return p.numPieces }

// pieceSize returns the length of piece i.
func (p *Picker) pieceSize(i int) int64 {
	return min(p.pieceLength, p.totalLength-int64(i)*p.pieceLength)
}

// numBlocks returns how many blocks piece i has.
func (p *Picker) numBlocks(i int) int {
	return int((p.pieceSize(i) + BlockSize - 1) / BlockSize)
}

// block returns block j of piece i.
func (p *Picker) block(i, j int) Block {
	begin := int64(j) * BlockSize
	return Block{Piece: i, Begin: begin, Length: min(BlockSize, p.pieceSize(i)-begin)}
}

// blockIndex returns the index of b within its piece, or -1 when b is not
// exactly one of our blocks (a peer may send anything).
func (p *Picker) blockIndex(b Block) int {
	if b.Piece < 0 || b.Piece >= p.numPieces || b.Begin < 0 || b.Begin%BlockSize != 0 {
		return -1
	}
	size := p.pieceSize(b.Piece)
	if b.Begin >= size || b.Length != min(BlockSize, size-b.Begin) {
		return -1
	}
	return int(b.Begin / BlockSize)
}

// wanted reports whether piece i is missing and not skipped.
func (p *Picker) wanted(i int) bool {
	ps := &p.pieces[i]
	return !ps.have && ps.prio > Skip
}

// Have reports whether piece i is verified.
func (p *Picker) Have(i int) bool {
	return i >= 0 && i < p.numPieces && p.pieces[i].have
}

// NumHave returns the number of verified pieces.
func (p *Picker) NumHave() int { return p.numHave }

// NumWanted returns the number of pieces we lack and don't skip.
func (p *Picker) NumWanted() int { return p.numWanted }

// Availability returns how many connected peers have piece i, seeds
// included.
func (p *Picker) Availability(i int) int {
	if i < 0 || i >= p.numPieces {
		return 0
	}
	return int(p.pieces[i].avail) + p.seeds
}

// Priority returns piece i's priority (Skip when out of range).
func (p *Picker) Priority(i int) Priority {
	if i < 0 || i >= p.numPieces {
		return Skip
	}
	return p.pieces[i].prio
}

// SetSequential switches between rarest first (false, the default) and
// lowest index first, as streaming wants. Priorities still apply.
func (p *Picker) SetSequential(on bool) {
	p.sequential = on
	p.seqCursor = 0
}

// SetHave marks piece i verified, e.g. from resume data or a recheck.
func (p *Picker) SetHave(i int) { p.PieceVerified(i) }

// PieceVerified marks piece i verified: it passed its hash check (and was
// written). Any block state it had is dropped.
func (p *Picker) PieceVerified(i int) {
	if i < 0 || i >= p.numPieces || p.pieces[i].have {
		return
	}
	wasWanted := p.wanted(i)
	ps := &p.pieces[i]
	if ps.pos >= 0 {
		p.bucketRemove(i)
	}
	ps.have = true
	if ps.partial != nil {
		p.dropPartial(ps.partial)
	}
	p.numHave++
	if wasWanted {
		p.wantedChanged(i, -1)
	}
}

// SetPriority sets piece i's priority. A piece set to Skip while in
// progress keeps its blocks but gets no new requests.
func (p *Picker) SetPriority(i int, prio Priority) error {
	if i < 0 || i >= p.numPieces {
		return fmt.Errorf("picker: piece %d out of range [0,%d)", i, p.numPieces)
	}
	if prio < Skip || prio > High {
		return fmt.Errorf("picker: piece %d: invalid priority %d", i, int8(prio))
	}
	ps := &p.pieces[i]
	if ps.prio == prio {
		return nil
	}
	wasWanted := p.wanted(i)
	if ps.pos >= 0 {
		p.bucketRemove(i)
	}
	ps.prio = prio
	if ps.partial == nil && p.wanted(i) {
		p.bucketAdd(i)
	}
	switch nowWanted := p.wanted(i); {
	case nowWanted && !wasWanted:
		p.wantedChanged(i, +1)
	case !nowWanted && wasWanted:
		p.wantedChanged(i, -1)
	}
	return nil
}

// SetPriorities sets every piece's priority; len(prios) must be NumPieces.
func (p *Picker) SetPriorities(prios []Priority) error {
	if len(prios) != p.numPieces {
		return fmt.Errorf("picker: %d priorities for %d pieces", len(prios), p.numPieces)
	}
	for i, prio := range prios {
		if err := p.SetPriority(i, prio); err != nil {
			return err
		}
	}
	return nil
}

// PiecePriorities derives piece priorities from file priorities: a piece
// gets the highest priority of the files it holds bytes of, since a piece
// shared by a skipped and a wanted file must be downloaded whole to verify
// it. files[j] is the priority of the layout's file j; len(files) must be
// the number of files the layout was built from.
func PiecePriorities(l *metainfo.Layout, files []Priority) []Priority {
	prios := make([]Priority, l.NumPieces())
	for j, fp := range files {
		first, end := l.FilePieces(j)
		for i := first; i < end; i++ {
			prios[i] = max(prios[i], fp)
		}
	}
	return prios
}

// wantedChanged updates the wanted count and every peer's interesting
// count after piece i became wanted (d = +1) or unwanted (d = -1).
func (p *Picker) wantedChanged(i int, d int) {
	p.numWanted += d
	for _, pr := range p.peerList {
		if !pr.seed && pr.bf.Has(i) {
			pr.interesting += d
		}
	}
}
