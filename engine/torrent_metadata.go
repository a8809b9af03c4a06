package engine

import (
	"net/netip"
	"time"

	"shoal/peerwire"
)

// The extended message ids we assign (BEP 10): a peer sends us ut_pex and
// ut_metadata messages under these. The numbers are libtorrent's, which
// makes captures easy to compare; any distinct non-zero ids would do.
const (
	extIDPEX      uint8 = 1
	extIDMetadata uint8 = 2
)

// Flood protection for ut_metadata (BEP 9 suggests it): per connection we
// answer at most metadataServeFactor times the metadata's piece count in
// all, and at most metadataBurst pieces per metadataWindow, so that a peer
// that asks without reading cannot pile up more than 2 MiB of copies in
// its send queue. Other requests are rejected; a fetcher asks again later.
const (
	metadataServeFactor = 4
	metadataBurst       = 128
	metadataWindow      = 5 * time.Second
)

// peerExt is what a peer told us in its extended handshake (BEP 10) and
// the state of the extensions we run with it.
type peerExt struct {
	metadataID uint8 // its id for ut_metadata; 0: not supported
	pexID      uint8 // its id for ut_pex; 0: not supported
	listenPort int   // its "p": the port it accepts connections on; 0 if unknown
	uploadOnly bool  // BEP 21 upload_only: a seed or partial seed

	metadataServed int       // ut_metadata requests answered with data
	windowServed   int       // of those, in the window that started at windowStart
	windowStart    time.Time // start of the current metadataWindow

	// pexSent holds the addresses we told the peer about as added and not
	// yet as dropped (BEP 11); pexSentAt is when our last message went.
	pexSent   map[netip.AddrPort]bool
	pexSentAt time.Time
	// pexReceivedAt is when the peer's last accepted ut_pex arrived.
	pexReceivedAt time.Time
}

// ourExtendedHandshake is the BEP 10 handshake we send a peer of this
// torrent: ut_metadata with the size of our metadata (BEP 9), and ut_pex
// unless peer exchange is off for this torrent (BEP 11, BEP 27).
func (t *Torrent) ourExtendedHandshake(p *peer) peerwire.ExtendedHandshake {
	hs := peerwire.ExtendedHandshake{V: clientName(), Reqq: ourReqq, M: map[string]int{}}
	hs.YourIP = p.addr.Addr()
	if port := t.listenPort(); port != 0 {
		hs.P = port
	}
	if n := len(t.mi.InfoBytes); n > 0 && n <= peerwire.MaxMetadataSize {
		hs.M[peerwire.ExtMetadata] = int(extIDMetadata)
		hs.MetadataSize = n
	}
	if t.pexEnabled() {
		hs.M[peerwire.ExtPEX] = int(extIDPEX)
	}
	return hs
}

// sendExtendedHandshake sends ourExtendedHandshake to p.
func (t *Torrent) sendExtendedHandshake(p *peer) {
	hs := t.ourExtendedHandshake(p)
	if payload, err := hs.Marshal(); err == nil {
		p.conn.Send(peerwire.Message{ID: peerwire.Extended, ExtendedID: 0, Payload: payload})
	}
}

// handleExtended applies an extended message (BEP 10): the handshake, or
// a message of an extension we announced under our id for it. Messages
// under ids we did not assign are ignored.
func (t *Torrent) handleExtended(p *peer, m peerwire.Message) error {
	switch m.ExtendedID {
	case 0:
		hs, err := peerwire.ParseExtendedHandshake(m.Payload)
		if err != nil {
			return protocolError("extension handshake: %v", err)
		}
		if hs.Reqq > 0 {
			p.reqq = min(hs.Reqq, maxReqq)
		}
		if hs.V != "" {
			p.client = hs.V
		}
		p.ext.update(hs)
	case extIDMetadata:
		return t.handleMetadataMessage(p, m.Payload)
	case extIDPEX:
		t.handlePEX(p, m.Payload, time.Now())
	}
	return nil
}

// update applies a (possibly later) extended handshake. BEP 10: the m
// dictionary is additive, and an id of 0 turns an extension off.
func (e *peerExt) update(hs peerwire.ExtendedHandshake) {
	if _, ok := hs.M[peerwire.ExtMetadata]; ok {
		e.metadataID, _ = hs.ID(peerwire.ExtMetadata)
	}
	if _, ok := hs.M[peerwire.ExtPEX]; ok {
		e.pexID, _ = hs.ID(peerwire.ExtPEX)
	}
	if hs.P != 0 {
		e.listenPort = hs.P
	}
	e.uploadOnly = hs.UploadOnly
}

// allowMetadata counts one more metadata piece to send, unless the flood
// limits forbid it.
func (e *peerExt) allowMetadata(pieces int, now time.Time) bool {
	if now.Sub(e.windowStart) >= metadataWindow {
		e.windowStart, e.windowServed = now, 0
	}
	if e.metadataServed >= metadataServeFactor*pieces || e.windowServed >= metadataBurst {
		return false
	}
	e.metadataServed++
	e.windowServed++
	return true
}

// handleMetadataMessage serves our metadata (BEP 9): a request gets the
// 16 KiB piece of the info dictionary, or a reject for a piece that does
// not exist or beyond the flood limits. Data and rejects are ignored: we
// have the metadata.
func (t *Torrent) handleMetadataMessage(p *peer, payload []byte) error {
	mm, err := peerwire.ParseMetadataMessage(payload)
	if err != nil {
		return protocolError("%v", err)
	}
	if mm.Type != peerwire.MetadataRequest || p.ext.metadataID == 0 {
		// We cannot answer a peer that gave no id for ut_metadata.
		return nil
	}
	info := t.mi.InfoBytes
	n := peerwire.MetadataPieces(len(info))
	reply := peerwire.MetadataMessage{Type: peerwire.MetadataReject, Piece: mm.Piece}
	if len(info) <= peerwire.MaxMetadataSize && mm.Piece < n && p.ext.allowMetadata(n, time.Now()) {
		t.metaServed++
		begin := mm.Piece * peerwire.MetadataPieceSize
		reply = peerwire.MetadataMessage{
			Type: peerwire.MetadataData, Piece: mm.Piece, TotalSize: len(info),
			Data: info[begin : begin+peerwire.MetadataPieceLen(len(info), mm.Piece)],
		}
	}
	out, err := reply.Marshal()
	if err != nil {
		return nil // cannot happen for a piece index in range; nothing to send
	}
	p.conn.Send(peerwire.Message{ID: peerwire.Extended, ExtendedID: p.ext.metadataID, Payload: out})
	return nil
}
