package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"shoal/engine/peerconn"
	"shoal/peerwire"
)

// fetchPeer is one connection of a metadata fetch.
type fetchPeer struct {
	key        int
	conn       *peerconn.Conn
	addr       netip.AddrPort
	listenAddr netip.AddrPort // where it can be dialled: addr, or for one that dialled us its BEP 10 "p"
	remoteID   peerwire.PeerID
	incoming   bool // it dialled us
	handshaked bool // its extended handshake arrived
	since      time.Time
	metadataID uint8 // its id for ut_metadata; 0: it offers none (yet)
	pexID      uint8 // its id for ut_pex
	size       int   // the metadata_size it announced; 0 if none
	// requests are the metadata pieces asked of it, with when.
	requests map[int]time.Time
	// refused holds pieces it rejected or did not send in time, with
	// when: they go to other peers first.
	refused map[int]time.Time
	// pexAt is when its last accepted ut_pex arrived.
	pexAt time.Time
}

// addPeer starts a connection whose BitTorrent handshake is done: it
// sends our extended handshake (BEP 10) offering ut_metadata and ut_pex,
// and BEP 6's HAVE_NONE, since we have no piece.
func (f *fetcher) addPeer(hc *handshakedConn) {
	k := f.known[hc.addr]
	ours := f.s.ourReserved()
	if !hc.reserved.Extended() {
		// Without the extension protocol there is no ut_metadata.
		hc.nc.Close()
		k.giveUp = true
		return
	}
	if !f.s.reserveConn() {
		// The session is at Config.MaxConns: try this address again later.
		hc.nc.Close()
		k.nextTry = time.Now().Add(5 * time.Second)
		return
	}
	f.nextKey++
	p := &fetchPeer{key: f.nextKey, addr: hc.addr, remoteID: hc.peerID, since: time.Now(),
		requests: make(map[int]time.Time), refused: make(map[int]time.Time)}
	p.incoming = hc.incoming
	if !hc.incoming {
		p.listenAddr = hc.addr
	}
	p.conn = peerconn.New(f.ctx, hc.nc, peerconn.Options{Key: p.key, Events: f.eventC,
		ReadTimeout: f.s.cfg.IdleTimeout, KeepAlive: keepAliveInterval(f.s.cfg.IdleTimeout)})
	f.peers[p.key] = p
	k.connected = true
	hs := peerwire.ExtendedHandshake{
		M:      map[string]int{peerwire.ExtMetadata: int(extIDMetadata), peerwire.ExtPEX: int(extIDPEX)},
		V:      clientName(),
		Reqq:   ourReqq,
		YourIP: hc.addr.Addr(),
		P:      f.listenPort(),
	}
	if payload, err := hs.Marshal(); err == nil {
		p.conn.Send(peerwire.Message{ID: peerwire.Extended, ExtendedID: 0, Payload: payload})
	}
	if ours.Fast() && hc.reserved.Fast() {
		p.conn.Send(peerwire.Message{ID: peerwire.HaveNone})
	}
}

// dropPeer closes a connection. bad marks its address as never to be
// tried again.
func (f *fetcher) dropPeer(p *fetchPeer, why error, bad bool) {
	if f.peers[p.key] != p {
		return
	}
	delete(f.peers, p.key)
	f.s.conns.Add(-1)
	p.conn.Close(why)
	f.closing = append(f.closing, p.conn)
	f.meta.release(p)
	if k := f.known[p.addr]; k != nil {
		k.connected = false
		k.bad = k.bad || bad
		k.nextTry = time.Now().Add(10 * time.Second)
		if k.incoming {
			// Its port was the peer's outgoing one: nothing to retry, and
			// kept entries would grow with every connection a peer makes.
			delete(f.known, p.addr)
			if k.bad {
				f.refuseIncoming(p.addr.Addr())
			}
		}
	}
	f.s.log.Debug("metadata fetch: peer dropped", "addr", p.addr, "err", why, "bad", bad)
}

// handleEvent applies a message or the end of a connection.
func (f *fetcher) handleEvent(ev peerconn.Event) {
	p, ok := f.peers[ev.Conn.Key()]
	if !ok || p.conn != ev.Conn {
		return
	}
	if ev.Closed {
		f.dropPeer(p, ev.Err, false)
		return
	}
	m := ev.Msg
	if m.ID != peerwire.Extended {
		return // bitfields, haves, keep-alives: nothing to do before the metadata
	}
	var err error
	bad := false
	switch m.ExtendedID {
	case 0:
		err = f.handleHandshake(p, m.Payload)
	case extIDMetadata:
		bad, err = f.handleMetadata(p, m.Payload)
	case extIDPEX:
		f.handlePEX(p, m.Payload)
	}
	if err != nil {
		f.dropPeer(p, err, bad)
	}
}

// errNoMetadata closes a connection to a peer that cannot give the metadata.
var errNoMetadata = errors.New("peer does not offer the metadata (ut_metadata)")

// handleHandshake applies a peer's extended handshake (BEP 10).
func (f *fetcher) handleHandshake(p *fetchPeer, payload []byte) error {
	hs, err := peerwire.ParseExtendedHandshake(payload)
	if err != nil {
		return err
	}
	p.handshaked = true
	if !p.listenAddr.IsValid() && hs.P > 0 {
		p.listenAddr = netip.AddrPortFrom(p.addr.Addr(), uint16(hs.P))
	}
	if _, ok := hs.M[peerwire.ExtPEX]; ok {
		p.pexID, _ = hs.ID(peerwire.ExtPEX)
	}
	if _, ok := hs.M[peerwire.ExtMetadata]; ok {
		p.metadataID, _ = hs.ID(peerwire.ExtMetadata)
	}
	if hs.MetadataSize > 0 {
		p.size = hs.MetadataSize
	}
	switch {
	case p.size > peerwire.MaxMetadataSize:
		f.known[p.addr].giveUp = true
		return fmt.Errorf("metadata_size %d is above the limit of %d", p.size, peerwire.MaxMetadataSize)
	case p.metadataID == 0:
		f.known[p.addr].giveUp = true
		return errNoMetadata
	}
	if f.firstMetaAt.IsZero() {
		f.firstMetaAt = time.Now()
	}
	return nil
}

// handleMetadata applies a ut_metadata message (BEP 9). bad reports a
// peer that broke the rules in a way that makes it untrustworthy.
func (f *fetcher) handleMetadata(p *fetchPeer, payload []byte) (bad bool, err error) {
	mm, err := peerwire.ParseMetadataMessage(payload)
	if err != nil {
		return true, err
	}
	switch mm.Type {
	case peerwire.MetadataRequest:
		// BEP 9: a peer without the whole metadata MUST reject requests.
		if p.metadataID != 0 {
			out, err := peerwire.MetadataMessage{Type: peerwire.MetadataReject, Piece: mm.Piece}.Marshal()
			if err == nil {
				p.conn.Send(peerwire.Message{ID: peerwire.Extended, ExtendedID: p.metadataID, Payload: out})
			}
		}
	case peerwire.MetadataReject:
		f.meta.rejected(p, mm.Piece, time.Now())
	case peerwire.MetadataData:
		return f.meta.data(p, mm)
	}
	return false, nil
}

// handlePEX takes up to pexMaxPeers added peers of a ut_pex message
// (BEP 11) as addresses to try, ignoring messages that come too often.
func (f *fetcher) handlePEX(p *fetchPeer, payload []byte) {
	now := time.Now()
	if !p.pexAt.IsZero() && now.Sub(p.pexAt) < pexInterval*3/4 {
		return
	}
	msg, err := peerwire.ParsePEX(payload)
	if err != nil {
		return
	}
	p.pexAt = now
	var addrs []netip.AddrPort
	for _, a := range msg.Added[:min(len(msg.Added), pexMaxPeers)] {
		addrs = append(addrs, a.Addr)
	}
	f.addKnown(addrs)
}

// requestPieces asks peers for the metadata pieces nobody is sending.
// Until several peers are there to share them, it waits a moment
// (fetchGatherWait) while connections are still being made.
func (f *fetcher) requestPieces(now time.Time) {
	var offering []*fetchPeer
	pending := f.dialing
	for _, p := range f.peers {
		switch {
		case p.metadataID != 0:
			offering = append(offering, p)
		case !p.handshaked:
			pending++
		}
	}
	if len(offering) == 0 {
		return
	}
	if len(offering) < 2 && pending > 0 && now.Sub(f.firstMetaAt) < fetchGatherWait {
		return
	}
	for _, r := range f.meta.assign(offering, now) {
		out, err := peerwire.MetadataMessage{Type: peerwire.MetadataRequest, Piece: r.piece}.Marshal()
		if err == nil {
			r.peer.conn.Send(peerwire.Message{ID: peerwire.Extended, ExtendedID: r.peer.metadataID, Payload: out})
		}
	}
}

// expireRequests gives the pieces a peer has not sent in time to others,
// and drops peers that never sent their extended handshake.
func (f *fetcher) expireRequests(now time.Time) {
	for _, p := range f.peers {
		if !p.handshaked && now.Sub(p.since) > fetchHandshakeWait {
			f.known[p.addr].giveUp = true
			f.dropPeer(p, errors.New("no extended handshake"), false)
			continue
		}
		for piece, at := range p.requests {
			if now.Sub(at) >= fetchRequestTimeout {
				f.meta.rejected(p, piece, now)
			}
		}
	}
}
