package engine

import (
	"net/netip"
	"slices"
	"time"

	"shoal/peerwire"
)

// Peer exchange (BEP 11): every connected peer that announced ut_pex gets,
// at most once per pexInterval, the peers we connected to and
// disconnected from since our previous message to it; what peers send us
// becomes addresses to connect to. Off with Config.NoPEX and for private
// torrents (BEP 27: their peers come from their tracker only).

// pexInterval is how often a peer may get a PEX message from us (BEP 11:
// "no more than 1 PEX message per minute"); a variable so tests need not
// wait a minute. Only tests change it, before they start sessions.
var pexInterval = time.Minute

// pexMaxPeers bounds each list we send after the first message (BEP 11: 50),
// the current peers the first message lists, and the added peers we take
// from one message we receive.
const pexMaxPeers = 50

// pexEnabled reports whether the torrent exchanges peers.
func (t *Torrent) pexEnabled() bool {
	return !t.s.cfg.NoPEX && !t.info.Private
}

// pexAddr is the address other peers can reach p on, with its flags: the
// address we dialled, or for an incoming connection its IP with the
// listen port it announced (BEP 10 "p"); ok is false when we know no such
// address.
func (t *Torrent) pexAddr(p *peer) (netip.AddrPort, peerwire.PEXFlags, bool) {
	var flags peerwire.PEXFlags
	addr := p.addr
	if p.incoming {
		if p.ext.listenPort == 0 {
			return netip.AddrPort{}, 0, false
		}
		addr = netip.AddrPortFrom(p.addr.Addr(), uint16(p.ext.listenPort))
	} else {
		// BEP 11: 0x10, "outgoing connection, peer is reachable".
		flags |= peerwire.PEXReachable
	}
	if p.ext.uploadOnly || p.isSeed(t.info.NumPieces()) {
		flags |= peerwire.PEXSeed
	}
	return addr, flags, true
}

// pexTick sends a PEX message to each peer whose interval has passed.
func (t *Torrent) pexTick(now time.Time) {
	if !t.pexEnabled() {
		return
	}
	var current map[netip.AddrPort]peerwire.PEXFlags // built once, for the first peer due
	for _, p := range t.peers {
		if p.ext.pexID == 0 || now.Sub(p.ext.pexSentAt) < pexInterval {
			continue
		}
		if current == nil {
			current = make(map[netip.AddrPort]peerwire.PEXFlags, len(t.peers))
			for _, q := range t.peers {
				if addr, flags, ok := t.pexAddr(q); ok {
					current[addr] = flags
				}
			}
		}
		t.sendPEX(p, current, now)
	}
}

// sendPEX tells p which of the current peers it has not heard of yet and
// which of those it heard of are gone (pexDiff).
func (t *Torrent) sendPEX(p *peer, current map[netip.AddrPort]peerwire.PEXFlags, now time.Time) {
	self, _, _ := t.pexAddr(p)
	msg := pexDiff(current, p.ext.pexSent, self, p.addr)
	if len(msg.Added) == 0 && len(msg.Dropped) == 0 {
		return
	}
	payload, err := msg.Marshal()
	if err != nil {
		t.s.log.Debug("pex message", "err", err)
		return
	}
	if !p.conn.Send(peerwire.Message{ID: peerwire.Extended, ExtendedID: p.ext.pexID, Payload: payload}) {
		return
	}
	if p.ext.pexSent == nil {
		p.ext.pexSent = make(map[netip.AddrPort]bool)
	}
	for _, a := range msg.Added {
		p.ext.pexSent[a.Addr] = true
	}
	for _, addr := range msg.Dropped {
		delete(p.ext.pexSent, addr)
	}
	p.ext.pexSentAt = now
}

// pexDiff is the PEX message for a peer that was told sent (as added, not
// yet dropped), now that current are our peers: those it has not heard of
// and those gone, at most pexMaxPeers of each (the rest waits for the next
// message, BEP 11). The receiver's own addresses (exclude) are never
// listed, and no address is both added and dropped.
func pexDiff(current map[netip.AddrPort]peerwire.PEXFlags, sent map[netip.AddrPort]bool, exclude ...netip.AddrPort) peerwire.PEXMessage {
	var msg peerwire.PEXMessage
	for addr, flags := range current {
		if len(msg.Added) >= pexMaxPeers {
			break
		}
		if sent[addr] || slices.Contains(exclude, addr) {
			continue
		}
		msg.Added = append(msg.Added, peerwire.PEXPeer{Addr: addr, Flags: flags})
	}
	for addr := range sent {
		if len(msg.Dropped) >= pexMaxPeers {
			break
		}
		if _, ok := current[addr]; !ok {
			msg.Dropped = append(msg.Dropped, addr)
		}
	}
	return msg
}

// handlePEX takes the added peers of a ut_pex message as addresses to
// connect to: at most pexMaxPeers per message, one per IP address (BEP 11:
// a list of many ports of one host is a way to aim connections at it),
// none from a peer that sends more often than BEP 11 allows (within 3/4
// of the interval of its previous message), and none beyond the torrent's
// known-peer limit (addKnown). A malformed message is ignored.
func (t *Torrent) handlePEX(p *peer, payload []byte, now time.Time) {
	if !t.pexEnabled() {
		return
	}
	if !p.ext.pexReceivedAt.IsZero() && now.Sub(p.ext.pexReceivedAt) < pexInterval*3/4 {
		t.s.log.Debug("pex message too soon", "addr", p.addr)
		return
	}
	msg, err := peerwire.ParsePEX(payload)
	if err != nil {
		t.s.log.Debug("pex message", "addr", p.addr, "err", err)
		return
	}
	p.ext.pexReceivedAt = now
	t.addPEXPeers(msg.Added)
}

// addPEXPeers adds the peers of one PEX message to the known peers and
// counts those that were new. Peers we are connected to already are left
// out: one that connected to us is known by its ephemeral address, and
// dialling its listen address would only make a duplicate connection.
func (t *Torrent) addPEXPeers(added []peerwire.PEXPeer) {
	connected := make(map[netip.AddrPort]bool, len(t.peers))
	for _, p := range t.peers {
		if addr, _, ok := t.pexAddr(p); ok {
			connected[addr] = true
		}
	}
	seenIP := make(map[netip.Addr]bool)
	var addrs []netip.AddrPort
	for _, a := range added {
		if len(addrs) >= pexMaxPeers {
			break
		}
		ip := a.Addr.Addr().Unmap()
		if seenIP[ip] || connected[netip.AddrPortFrom(ip, a.Addr.Port())] {
			continue
		}
		seenIP[ip] = true
		addrs = append(addrs, a.Addr)
	}
	before := len(t.known)
	t.addKnown(addrs, false)
	t.pexLearned += len(t.known) - before
	if len(addrs) > 0 {
		t.connectMore(time.Now())
	}
}
