package engine

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"shoal/engine/picker"
	"shoal/peerwire"
	"shoal/storage"
)

// errBothSeeds ends a connection between two seeds: neither wants anything.
var errBothSeeds = errors.New("both sides are seeds")

// pieceBuf holds a piece while its blocks arrive.
type pieceBuf struct {
	data    []byte
	senders []netip.Addr // who sent each block, by block index
}

// badBlock remembers one block of a piece that failed its hash check: who
// sent it and a digest of what they sent. When the piece later passes, the
// blocks that differ from the good data name the peer that lied.
type badBlock struct {
	ip     netip.Addr
	begin  int64
	digest [sha1.Size]byte
}

// pieceResult is a complete piece after hashing and, if it passed, writing.
type pieceResult struct {
	gen      int // the start it belongs to (see Torrent.checkGen)
	piece    int
	buf      *pieceBuf
	ok       bool  // the hash matched
	writeErr error // writing the verified piece failed
}

// blockPool recycles the 16 KiB buffers blocks arrive in.
var blockPool = bufferPool{size: peerwire.BlockSize}

// bufferPool recycles buffers of one size (other sizes are allocated and
// left to the collector). Reusing piece buffers saves the garbage
// collector a gigabyte of garbage per gigabyte downloaded, and the kernel
// the page faults of fresh memory.
type bufferPool struct {
	size int
	pool sync.Pool
}

func (bp *bufferPool) get(n int) []byte {
	if n != bp.size {
		return make([]byte, n)
	}
	if b, ok := bp.pool.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, n)
}

func (bp *bufferPool) put(b []byte) {
	if bp.size > 0 && cap(b) == bp.size {
		b = b[:bp.size]
		bp.pool.Put(&b)
	}
}

// piecePools keeps one pool per piece length in use in a session.
type piecePools struct {
	mu    sync.Mutex
	pools map[int]*bufferPool
}

func (pp *piecePools) pool(n int) *bufferPool {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.pools == nil {
		pp.pools = make(map[int]*bufferPool)
	}
	p, ok := pp.pools[n]
	if !ok {
		p = &bufferPool{size: n}
		pp.pools[n] = p
	}
	return p
}

func (pp *piecePools) get(n int) []byte { return pp.pool(n).get(n) }
func (pp *piecePools) put(b []byte)     { pp.pool(cap(b)).put(b) }

// fillRequests tops up a peer's outstanding requests.
func (t *Torrent) fillRequests(p *peer) {
	if t.picker == nil || !p.amInterested || !p.inPicker || t.state != StateDownloading {
		return
	}
	if p.peerChoking && len(p.allowedFast) == 0 {
		return
	}
	depth := t.queueDepth(p)
	need := depth - len(p.requests)
	// Top up in batches of at least an eighth of the queue: one REQUEST
	// per arriving block would cost the writer a system call per block.
	if need <= 0 || (len(p.requests) > 0 && need < depth/8) {
		return
	}
	// The picked blocks go into a slice kept for the next top-up: a fresh
	// one grown block by block was 7 % of a leecher's CPU (pprof).
	blocks := t.pickBuf[:0]
	if p.peerChoking {
		allowed := make([]uint32, 0, len(p.allowedFast))
		for i := range p.allowedFast {
			allowed = append(allowed, i)
		}
		blocks = t.picker.AppendPickAllowedFast(blocks, p.key, need, allowed)
	} else {
		room, short := t.roomForPieces(need)
		blocks = t.picker.AppendPickStarting(blocks, p.key, need, room)
		if short {
			defer t.notifyWhenMemoryFree() // after the pieces below take their memory
		}
	}
	t.pickBuf = blocks[:0]
	now := time.Now()
	for i, b := range blocks {
		if t.pieces[b.Piece] == nil && !t.newPiece(b.Piece) {
			// Out of piece memory: hand the rest back and wait.
			for _, r := range blocks[i:] {
				t.picker.Release(p.key, r)
			}
			return
		}
		p.requests[b] = now
		p.conn.Send(peerwire.Message{ID: peerwire.Request, Index: uint32(b.Piece), Begin: uint32(b.Begin), Length: uint32(b.Length)})
	}
}

// roomForPieces is how many new pieces the session's piece memory can
// hold now, and whether that is fewer than a top-up of need blocks could
// use (the caller then asks to be woken when memory is released, once it
// has taken what there is).
func (t *Torrent) roomForPieces(need int) (n int, short bool) {
	size := max(t.info.PieceLength, 1)
	want := int((int64(need)*peerwire.BlockSize + size - 1) / size)
	n = t.s.budget.Room(size)
	return n, n < want
}

// notifyWhenMemoryFree makes the loop top up its peers' requests when the
// session's piece memory can hold one more of its pieces (one
// subscription at a time).
func (t *Torrent) notifyWhenMemoryFree() {
	if t.memFreedC == nil {
		t.memFreedC = t.s.budget.NotifyWhenFree(max(t.info.PieceLength, 1))
	}
}

// newPiece reserves memory for a piece that is starting to arrive.
func (t *Torrent) newPiece(i int) bool {
	size := t.layout.PieceSize(i)
	if !t.s.budget.TryAcquire(size) {
		// Top up again as soon as memory comes back (a piece of ours or
		// another torrent's written): waiting for the next tick left the
		// connection idle for up to a second each time the disk fell
		// behind (pair benchmark: 0.5 s stalls, a third of the transfer).
		t.notifyWhenMemoryFree()
		return false
	}
	nblocks := int((size + peerwire.BlockSize - 1) / peerwire.BlockSize)
	t.pieces[i] = &pieceBuf{data: t.s.pieceBufs.get(int(size)), senders: make([]netip.Addr, nblocks)}
	return true
}

// releasePiece gives a piece's memory back to the budget and its buffer
// to the pool.
func (t *Torrent) releasePiece(i int, pb *pieceBuf) {
	if t.pieces[i] == pb {
		delete(t.pieces, i)
	}
	t.s.budget.Release(int64(len(pb.data)))
	t.s.pieceBufs.put(pb.data)
}

// handleBlock stores a received block; a piece whose last block arrives is
// sent to be hashed.
func (t *Torrent) handleBlock(p *peer, m peerwire.Message) error {
	defer blockPool.put(m.Payload)
	b := picker.Block{Piece: int(m.Index), Begin: int64(m.Begin), Length: int64(len(m.Payload))}
	if t.picker == nil {
		t.counters.wasted += b.Length
		return nil
	}
	// A block we no longer asked this peer for (released after a choke or
	// a timeout) is still welcome if its piece lacks it; the picker says.
	if _, requested := p.requests[b]; requested {
		delete(p.requests, b)
		if p.slowStart < p.reqq {
			p.slowStart++
		}
	}
	pb := t.pieces[b.Piece]
	receipt := t.picker.Received(p.key, b)
	if !receipt.Stored() || pb == nil {
		t.counters.wasted += b.Length
	} else {
		// Only a useful block counts as the peer delivering: unrequested
		// junk must not keep a peer from being snubbed.
		p.lastBlockAt, p.snubbed, p.rejects = time.Now(), false, 0
		p.downloaded += b.Length
		copy(pb.data[b.Begin:], m.Payload)
		pb.senders[b.Begin/peerwire.BlockSize] = p.addr.Addr()
	}
	for _, k := range receipt.Cancel {
		if q, ok := t.peers[k]; ok {
			if _, had := q.requests[b]; had {
				delete(q.requests, b)
				q.conn.Send(peerwire.Message{ID: peerwire.Cancel, Index: m.Index, Begin: m.Begin, Length: uint32(b.Length)})
			}
		}
	}
	if receipt.PieceDone {
		if pb == nil {
			// Complete in the picker's eyes but with no data kept: start
			// the piece over rather than wait for it forever.
			t.picker.PieceFailed(b.Piece)
		} else {
			delete(t.pieces, b.Piece)
			t.hashPiece(b.Piece, pb)
		}
	}
	t.fillRequests(p)
	return nil
}

// hashPiece verifies a complete piece and, if it is good, writes it, on a
// worker goroutine bounded by the session's hashing and disk limits.
func (t *Torrent) hashPiece(i int, pb *pieceBuf) {
	want := t.info.Pieces[i]
	st, gen := t.st, t.checkGen
	t.directGate.Store(t.wantDirectWrites())
	t.s.wg.Add(1)
	go func() {
		defer t.s.wg.Done()
		if r, ok := t.verifyAndWrite(st, gen, i, pb, want); ok {
			select {
			case t.pieceC <- r:
				t.afterSend() // the loop may have ended just before the send
				return
			case <-t.ctx.Done():
			}
		}
		t.s.budget.Release(int64(len(pb.data))) // the loop will not see it
	}()
}

// verifyAndWrite hashes a piece and writes it if it is good. It reports
// false if the torrent ended first.
func (t *Torrent) verifyAndWrite(st interface {
	WritePiece(int, []byte) error
}, gen, i int, pb *pieceBuf, want [sha1.Size]byte) (pieceResult, bool) {
	r := pieceResult{gen: gen, piece: i, buf: pb}
	ok, alive := t.s.hasher.check(t.ctx.Done(), pb.data, want)
	if !alive {
		return r, false
	}
	r.ok = ok
	if r.ok {
		if !acquire(t.ctx, t.s.diskSem) {
			return r, false
		}
		r.writeErr = st.WritePiece(i, pb.data)
		<-t.s.diskSem
	}
	return r, true
}

func acquire(ctx interface{ Done() <-chan struct{} }, sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// pieceDone handles a hashed piece.
func (t *Torrent) pieceDone(r pieceResult) {
	t.s.budget.Release(int64(len(r.buf.data)))
	defer t.s.pieceBufs.put(r.buf.data) // judged and written: the data is no longer needed
	if t.picker == nil || t.state == StateError || r.gen != t.checkGen {
		return // the torrent stopped (and maybe started again) meanwhile
	}
	if errors.Is(r.writeErr, storage.ErrNotWanted) {
		// The user skipped the piece's files while it was being hashed:
		// not a storage failure. Drop it; it is downloaded again if its
		// files are wanted again.
		t.picker.PieceFailed(r.piece)
		return
	}
	if r.writeErr != nil {
		// A storage error stops the torrent: requesting more would only
		// fail again (and waste the swarm's bandwidth).
		t.stop(StateError, writeFailure(r.piece, r.writeErr))
		return
	}
	if !r.ok {
		t.pieceFailed(r)
		return
	}
	if !t.have.Has(r.piece) {
		t.have.Set(r.piece)
		t.countVerified(r.piece)
	}
	t.picker.PieceVerified(r.piece)
	t.resumeDirty = true
	t.judgeBadBlocks(r)
	for _, p := range t.peers {
		if t.needsHave(p, r.piece) {
			p.conn.Send(peerwire.Message{ID: peerwire.Have, Index: uint32(r.piece)})
		}
		t.updateInterest(p)
	}
	t.checkComplete()
	if t.completed {
		for _, p := range t.peers {
			if p.isSeed(t.info.NumPieces()) {
				t.dropPeer(p, errBothSeeds)
			}
		}
	}
}

// writeFailure is the error state of a torrent whose piece could not be
// written. A full disk and a read-only file system are the failures a user
// meets most and can fix: the message names them and says what to do. The
// piece was not recorded as verified, and those that were stay so: after
// Start the torrent goes on from where it stopped.
func writeFailure(piece int, err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("writing piece %d: the disk is full (free some space, then resume the download): %w", piece, err)
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("writing piece %d: the file system is read-only (make it writable, then resume the download): %w", piece, err)
	case errors.Is(err, storage.ErrSyncFailed):
		return fmt.Errorf("writing piece %d: the files could not be synced to disk (resuming the download rechecks them): %w", piece, err)
	}
	return fmt.Errorf("writing piece %d: %w", piece, err)
}

// pieceFailed handles a piece whose hash did not match. If one peer sent
// all of it, that peer is banned; otherwise we remember who sent what, and
// judge them when the piece finally passes.
func (t *Torrent) pieceFailed(r pieceResult) {
	t.counters.wasted += int64(len(r.buf.data))
	t.picker.PieceFailed(r.piece)
	senders := map[netip.Addr]bool{}
	var blocks []badBlock
	for bi, ip := range r.buf.senders {
		if !ip.IsValid() {
			continue
		}
		senders[ip] = true
		begin := int64(bi) * peerwire.BlockSize
		end := min(begin+peerwire.BlockSize, int64(len(r.buf.data)))
		blocks = append(blocks, badBlock{ip: ip, begin: begin, digest: sha1.Sum(r.buf.data[begin:end])})
	}
	if len(senders) == 1 {
		for ip := range senders {
			t.banIP(ip, fmt.Sprintf("sent piece %d that failed its hash check", r.piece))
		}
		return
	}
	t.badPieces[r.piece] = append(t.badPieces[r.piece], blocks...)
}

// judgeBadBlocks compares the blocks of earlier failed attempts at a piece
// with the data that passed: whoever sent a different block sent bad data.
func (t *Torrent) judgeBadBlocks(r pieceResult) {
	bad, ok := t.badPieces[r.piece]
	if !ok {
		return
	}
	delete(t.badPieces, r.piece)
	for _, b := range bad {
		end := min(b.begin+peerwire.BlockSize, int64(len(r.buf.data)))
		if good := sha1.Sum(r.buf.data[b.begin:end]); !bytes.Equal(good[:], b.digest[:]) {
			t.banIP(b.ip, fmt.Sprintf("sent a bad block of piece %d", r.piece))
		}
	}
}

// banIP bans an address for the session and drops its connections.
func (t *Torrent) banIP(ip netip.Addr, why string) {
	t.s.ban(ip, why)
	for _, p := range t.peers {
		if p.addr.Addr() == ip {
			t.dropPeer(p, errors.New("banned: "+why))
		}
	}
}
