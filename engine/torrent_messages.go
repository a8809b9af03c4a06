package engine

import (
	"time"

	"shoal/bitfield"
	"shoal/engine/picker"
	"shoal/peerwire"
)

// handleMessage applies one message from a peer. An error means the peer
// broke the protocol and is disconnected.
func (t *Torrent) handleMessage(p *peer, m peerwire.Message) error {
	if m.KeepAlive {
		return nil
	}
	n := t.info.NumPieces()
	switch m.ID {
	case peerwire.Choke:
		p.peerChoking = true
		if !p.fast {
			// Without BEP 6 a choke discards every pending request.
			t.releaseRequests(p)
		}
	case peerwire.Unchoke:
		p.peerChoking = false
		t.fillRequests(p)
	case peerwire.Interested:
		p.peerInterested = true
		t.maybeUnchoke(p)
	case peerwire.NotInterested:
		p.peerInterested = false
		if !p.amChoking && !p.optimistic {
			t.choke(p)
			t.fillFreeSlots()
		}
	case peerwire.Have:
		if int(m.Index) >= n {
			return protocolError("HAVE for piece %d of %d", m.Index, n)
		}
		t.ensurePeerBitfield(p)
		if !p.has.Has(int(m.Index)) {
			p.has.Set(int(m.Index))
			t.picker.PeerHave(p.key, int(m.Index))
			t.superSeedPeerHas(p)
		}
		wasInterested := p.amInterested
		t.updateInterest(p)
		if wasInterested && len(p.requests) < minQueueDepth && !t.picker.Have(int(m.Index)) {
			// A piece we lack may be what this peer's short queue waited
			// for: one a super-seeder offers, or the only one it has that
			// we want. (Becoming interested already requested; a full
			// queue is topped up as its blocks arrive.)
			t.fillRequests(p)
		}
	case peerwire.Bitfield, peerwire.HaveAll, peerwire.HaveNone:
		// BEP 3 and 6 allow these only as the first message, but aria2
		// 1.36 sends HAVE_NONE first and a BITFIELD later, once it has a
		// few pieces. Disconnecting it would starve it, so a later one
		// simply replaces what we knew of the peer's pieces.
		if m.ID != peerwire.Bitfield && !p.fast {
			return protocolError("%v without the fast extension", m.ID)
		}
		// Each costs work in proportion to the piece count (and two
		// bitfields' allocation), for 5 bytes on the wire: a peer repeating
		// them would keep the loop busy for every peer of the torrent.
		if p.pieceSets++; p.pieceSets > maxPieceSetMessages {
			return protocolError("%d bitfield, have all and have none messages; BEP 3 and 6 allow one", p.pieceSets)
		}
		if err := t.setPeerPieces(p, m); err != nil {
			return err
		}
		t.superSeedPeerHas(p)
	case peerwire.Request:
		return t.handleRequest(p, m)
	case peerwire.Cancel:
		p.conn.CancelUpload(int(m.Index), int64(m.Begin), int(m.Length))
	case peerwire.Piece:
		return t.screenBlock(p, m)
	case peerwire.Reject:
		if !p.fast {
			return protocolError("REJECT without the fast extension")
		}
		b := picker.Block{Piece: int(m.Index), Begin: int64(m.Begin), Length: int64(m.Length)}
		if _, ok := p.requests[b]; ok {
			delete(p.requests, b)
			t.picker.Release(p.key, b)
		}
		// Requests go out again at once (its queue may simply have been
		// full), but a peer that rejects a whole queue's worth without
		// sending a block is snubbed: it gets one request a second (from
		// the tick), so it cannot keep us busy re-asking.
		if p.rejects++; p.rejects > p.reqq {
			p.snubbed = true
		}
		if !p.snubbed {
			t.fillRequests(p)
		}
	case peerwire.AllowedFast:
		if !p.fast {
			return protocolError("ALLOWED_FAST without the fast extension")
		}
		if int(m.Index) < n && len(p.allowedFast) < 64 {
			if p.allowedFast == nil {
				p.allowedFast = make(map[uint32]bool)
			}
			p.allowedFast[m.Index] = true
			t.fillRequests(p)
		}
	case peerwire.Suggest:
		if !p.fast {
			return protocolError("SUGGEST without the fast extension")
		}
		// A hint (BEP 6): among fresh pieces of the same priority, the
		// next piece we start from this peer is one it suggested.
		if int(m.Index) < n && t.picker != nil && p.inPicker {
			t.picker.Suggest(p.key, int(m.Index))
			t.fillRequests(p)
		}
	case peerwire.Port:
		// BEP 5: a peer tells its DHT port once, after the handshake. Each
		// one taken costs a ping from the DHT node's shared query budget,
		// so a peer repeating PORT would spend it on pings at itself
		// (swarmtest.TestPortFlood): later ones are ignored.
		if !p.portTaken {
			p.portTaken = true
			t.peerDHTPort(p, m)
		}
	case peerwire.Extended:
		if !p.extended {
			// It never set the BEP 10 bit, so it cannot know our ids
			// (we sent it no extended handshake): nothing to act on.
			return nil
		}
		return t.handleExtended(p, m)
	}
	return nil
}

// maxPieceSetMessages is how many BITFIELD, HAVE_ALL and HAVE_NONE
// messages a connection may send in all. BEP 3 and 6 allow exactly one, as
// the first message; aria2 sends HAVE_NONE and a BITFIELD later, and a
// little more slack costs nothing.
const maxPieceSetMessages = 4

// maxUnrequestedBlocks is how many blocks in a row a peer may send that
// are not among our outstanding requests to it. BEP 6 says to close the
// connection on a block that was never requested, but we cannot tell one
// from a block we requested and then released (after a choke without
// BEP 6, a request timeout, an endgame CANCEL), which a peer may still
// send, up to a whole request queue of them (maxReqq). More than twice
// that in a row is a peer sending what nobody asked for: wasted bandwidth
// and, were it let go on, a way to slip bad data into pieces in progress.
const maxUnrequestedBlocks = 2 * maxReqq

// screenBlock refuses a block outside the torrent (BEP 3: a piece
// message names a block of a piece; anything else is a broken or hostile
// peer) and a peer that keeps sending blocks we did not ask it for, and
// hands the rest to handleBlock.
func (t *Torrent) screenBlock(p *peer, m peerwire.Message) error {
	n := t.info.NumPieces()
	end := int64(m.Begin) + int64(len(m.Payload))
	if int(m.Index) >= n || end > t.layout.PieceSize(int(m.Index)) {
		blockPool.put(m.Payload)
		return protocolError("block %d:%d+%d outside the torrent (%d pieces)", m.Index, m.Begin, len(m.Payload), n)
	}
	b := picker.Block{Piece: int(m.Index), Begin: int64(m.Begin), Length: int64(len(m.Payload))}
	if _, requested := p.requests[b]; requested {
		p.unrequested = 0
	} else if p.unrequested++; p.unrequested > maxUnrequestedBlocks {
		blockPool.put(m.Payload)
		return protocolError("%d blocks in a row that we did not request", p.unrequested)
	}
	return t.handleBlock(p, m)
}

// setPeerPieces applies BITFIELD, HAVE_ALL or HAVE_NONE.
func (t *Torrent) setPeerPieces(p *peer, m peerwire.Message) error {
	n := t.info.NumPieces()
	switch m.ID {
	case peerwire.Bitfield:
		bf, err := bitfield.FromBytes(m.Payload, n)
		if err != nil {
			return protocolError("%v", err)
		}
		p.has = bf
	case peerwire.HaveAll:
		p.haveAll = true
		p.has = bitfield.New(n)
		p.has.SetAll()
	case peerwire.HaveNone:
		p.has = bitfield.New(n)
	}
	if p.inPicker {
		t.picker.RemovePeer(p.key)
	}
	if p.haveAll {
		t.picker.PeerHaveAll(p.key)
	} else {
		t.picker.AddPeer(p.key, p.has)
	}
	p.inPicker = true
	if t.completed && p.isSeed(n) {
		return errBothSeeds
	}
	t.updateInterest(p)
	return nil
}

// ensurePeerBitfield gives a peer that sent no bitfield an empty one (BEP 3
// lets a peer with no pieces skip the bitfield).
func (t *Torrent) ensurePeerBitfield(p *peer) {
	if p.has == nil {
		p.has = bitfield.New(t.info.NumPieces())
	}
	if !p.inPicker {
		t.picker.AddPeer(p.key, p.has)
		p.inPicker = true
	}
}

// updateInterest tells the peer whether we want something it has.
func (t *Torrent) updateInterest(p *peer) {
	if t.picker == nil || !p.inPicker {
		return
	}
	want := !t.completed && t.picker.Interesting(p.key)
	if want == p.amInterested {
		return
	}
	p.amInterested = want
	if want {
		p.conn.Send(peerwire.Message{ID: peerwire.Interested})
		t.fillRequests(p)
	} else {
		p.conn.Send(peerwire.Message{ID: peerwire.NotInterested})
	}
}

// handleRequest queues an upload, or refuses it (BEP 6 REJECT when the
// fast extension is on; otherwise it is dropped silently, as BEP 3 leaves
// a choked peer's requests unanswered).
func (t *Torrent) handleRequest(p *peer, m peerwire.Message) error {
	n := t.info.NumPieces()
	if int(m.Index) >= n || m.Length == 0 || m.Length > peerwire.BlockSize ||
		int64(m.Begin)+int64(m.Length) > t.layout.PieceSize(int(m.Index)) {
		return protocolError("request for piece %d begin %d length %d out of range", m.Index, m.Begin, m.Length)
	}
	// A choked peer gets only pieces of its allowed fast set (BEP 6).
	ok := t.have.Has(int(m.Index)) && (!p.amChoking || t.allowedFastFor(p, m.Index)) &&
		p.conn.QueueUpload(int(m.Index), int64(m.Begin), int(m.Length))
	if !ok && p.fast {
		p.conn.Send(peerwire.Message{ID: peerwire.Reject, Index: m.Index, Begin: m.Begin, Length: m.Length})
	}
	return nil
}

// releaseRequests returns all of a peer's outstanding requests to the picker.
func (t *Torrent) releaseRequests(p *peer) {
	for b := range p.requests {
		t.picker.Release(p.key, b)
	}
	clear(p.requests)
}

// pressureTimeout is how long a request may be outstanding while piece
// memory is short (memoryShort). Then no new piece can start, and the
// pieces in progress are all there is to download: a block held by a peer
// that does not send it goes to another peer after this, not after
// RequestTimeout. Otherwise a peer answering only the first request of
// each piece (slow, or hostile: swarmtest.TestPieceMemoryHog) pins the
// budget and stalls the torrent, and every other torrent of the session.
const pressureTimeout = 5 * time.Second

// memoryShort reports whether the session's piece memory could not hold
// one more piece of this torrent.
func (t *Torrent) memoryShort() bool {
	b := t.s.budget
	return b.Limit()-b.InUse() < t.info.PieceLength
}

// expireRequests gives requests that have waited too long to others: all
// of a peer's when it has sent nothing for RequestTimeout while we wait on
// it, and, while piece memory is short, each that has waited
// pressureTimeout. Such a peer counts as snubbed.
func (t *Torrent) expireRequests(now time.Time) {
	short := t.memoryShort()
	var expired []picker.Block
	for _, p := range t.peers {
		if len(p.requests) == 0 {
			continue
		}
		silent := now.Sub(p.lastBlockAt) >= t.s.cfg.RequestTimeout
		expired = expired[:0]
		for b, at := range p.requests {
			if silent || (short && now.Sub(at) >= pressureTimeout) {
				expired = append(expired, b)
			}
		}
		if len(expired) == 0 {
			continue
		}
		p.snubbed = true
		for _, b := range expired {
			if p.fast {
				p.conn.Send(peerwire.Message{ID: peerwire.Cancel, Index: uint32(b.Piece), Begin: uint32(b.Begin), Length: uint32(b.Length)})
			}
			delete(p.requests, b)
			t.picker.Release(p.key, b)
		}
		for _, q := range t.peers {
			if q != p {
				t.fillRequests(q)
			}
		}
	}
}
