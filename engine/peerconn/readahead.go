package peerconn

// readAheadSize is how much of a piece the writer reads from storage at
// once. Peers request a piece's blocks in order, so one read serves the
// next several requests: a seeder's writer spent half its time in pread
// system calls of 16 KiB each (docs/benchmarks.md, "pair"), most of it the
// calls' fixed cost, not the copy.
const readAheadSize = 128 << 10

// readAhead is the part of a piece read beyond the block that was asked
// for. Pieces we serve are verified and never change, so what it holds
// stays right for as long as the connection lives.
type readAhead struct {
	piece int
	begin int64  // offset in the piece of data[0]
	data  []byte // the bytes read; nil when empty
	buf   []byte // backing array of readAheadSize, allocated on first use
}

// readBlock fills dst with the block r asks for, from what was read ahead
// if it covers the block, else by reading from storage up to readAheadSize
// of the piece from the block's start.
func (w *writer) readBlock(r Request, dst []byte) error {
	c, ra := w.c, &w.ahead
	if ra.data != nil && r.Piece == ra.piece && r.Begin >= ra.begin &&
		r.Begin+int64(len(dst)) <= ra.begin+int64(len(ra.data)) {
		copy(dst, ra.data[r.Begin-ra.begin:])
		return nil
	}
	ra.data = nil
	if c.opts.PieceSize == nil {
		return c.opts.ReadBlock(r.Piece, r.Begin, dst)
	}
	n := min(int64(readAheadSize), c.opts.PieceSize(r.Piece)-r.Begin)
	if n <= int64(len(dst)) {
		return c.opts.ReadBlock(r.Piece, r.Begin, dst)
	}
	if ra.buf == nil {
		ra.buf = make([]byte, readAheadSize)
	}
	if err := c.opts.ReadBlock(r.Piece, r.Begin, ra.buf[:n]); err != nil {
		// The block alone decides whether the request fails.
		return c.opts.ReadBlock(r.Piece, r.Begin, dst)
	}
	ra.piece, ra.begin, ra.data = r.Piece, r.Begin, ra.buf[:n]
	copy(dst, ra.data)
	return nil
}

// dropReadAhead frees what was read ahead, when the writer has nothing to
// upload: an idle connection should not hold readAheadSize for nothing.
func (w *writer) dropReadAhead() {
	w.ahead = readAhead{}
}
