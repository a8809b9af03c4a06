package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"shoal/metainfo"
	"shoal/peerwire"
)

// errSelfConnection means we connected to ourselves (our own peer id came
// back), which happens when a tracker or PEX hands us our own address.
var errSelfConnection = errors.New("connected to ourselves")

// handshakedConn is a connection whose BitTorrent handshake is complete.
type handshakedConn struct {
	nc       net.Conn
	addr     netip.AddrPort
	peerID   peerwire.PeerID
	reserved peerwire.Reserved
	incoming bool
}

// ourReserved advertises the extension protocol (BEP 10), the fast
// extension (BEP 6) and, while the session runs a DHT node, the DHT (BEP 5).
func (s *Session) ourReserved() peerwire.Reserved {
	var r peerwire.Reserved
	r.SetExtended(true)
	r.SetFast(true)
	r.SetDHT(s.dht != nil)
	return r
}

// dialFrom is the local address outgoing connections use: the listening
// IP when the session listens on a specific one (so peers see the address
// they can reach us on), otherwise the system's choice.
func (s *Session) dialFrom() net.Addr {
	if s.listener == nil {
		return nil
	}
	ta, ok := s.listener.Addr().(*net.TCPAddr)
	if !ok || ta.IP.IsUnspecified() {
		return nil
	}
	return &net.TCPAddr{IP: ta.IP}
}

func remoteAddrPort(nc net.Conn) netip.AddrPort {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(nc.RemoteAddr().String())
	return ap
}

// handleIncoming completes the handshake of an accepted connection: it
// reads the info hash first, so it answers only for torrents we have, then
// hands the connection to that torrent.
func (s *Session) handleIncoming(nc net.Conn) {
	addr := remoteAddrPort(nc)
	if s.isBanned(addr.Addr()) {
		nc.Close()
		return
	}
	// One deadline for the whole handshake (Config.HandshakeTimeout), not
	// one per read: a peer trickling a byte at a time cannot stretch it.
	nc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	reserved, ih, err := peerwire.ReadHandshakeStart(nc)
	if err != nil {
		nc.Close()
		return
	}
	// A torrent we have takes the connection; so does a fetch of the
	// magnet link's metadata, under the fetch's own peer id
	// (fetch_incoming.go).
	var ourID peerwire.PeerID
	var deliver func(*handshakedConn) bool
	if t, ok := s.Torrent(ih); ok {
		ourID = s.peerID
		deliver = func(hc *handshakedConn) bool { t.deliverConn(hc); return true }
	} else if f, ok := s.fetchFor(ih); ok {
		ourID, deliver = f.peerID, f.inbox.put
	} else {
		nc.Close()
		return
	}
	hs := peerwire.Handshake{Reserved: s.ourReserved(), InfoHash: ih, PeerID: ourID}
	if err := peerwire.WriteHandshake(nc, hs); err != nil {
		nc.Close()
		return
	}
	id, err := peerwire.ReadPeerID(nc)
	if err != nil || id == s.peerID || id == ourID {
		nc.Close()
		return
	}
	nc.SetDeadline(time.Time{})
	if !deliver(&handshakedConn{nc: nc, addr: addr, peerID: id, reserved: reserved, incoming: true}) {
		nc.Close()
	}
}

// dial connects to addr for torrent t and completes the handshake. It waits
// for a half-open slot first, so at most MaxHalfOpen attempts run at once.
func (s *Session) dial(ctx context.Context, t *Torrent, addr netip.AddrPort) (*handshakedConn, error) {
	return s.dialAs(ctx, t.infoHash, s.peerID, addr)
}

// dialAs is dial for an info hash, with or without a torrent, under peer
// id ourID: a magnet link's metadata is fetched before there is a torrent,
// under a peer id of its own (fetch.go).
func (s *Session) dialAs(ctx context.Context, infoHash metainfo.InfoHash, ourID peerwire.PeerID, addr netip.AddrPort) (*handshakedConn, error) {
	select {
	case s.halfOpen <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.halfOpen }()
	if s.isBanned(addr.Addr()) {
		return nil, errors.New("banned")
	}
	d := net.Dialer{Timeout: s.cfg.HandshakeTimeout, LocalAddr: s.dialFrom()}
	nc, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	hs := peerwire.Handshake{Reserved: s.ourReserved(), InfoHash: infoHash, PeerID: ourID}
	if err := peerwire.WriteHandshake(nc, hs); err != nil {
		nc.Close()
		return nil, err
	}
	reserved, ih, err := peerwire.ReadHandshakeStart(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if ih != infoHash {
		nc.Close()
		return nil, fmt.Errorf("peer answered for info hash %s", ih)
	}
	id, err := peerwire.ReadPeerID(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if id == s.peerID || id == ourID {
		nc.Close()
		return nil, errSelfConnection
	}
	nc.SetDeadline(time.Time{})
	return &handshakedConn{nc: nc, addr: addr, peerID: id, reserved: reserved}, nil
}
