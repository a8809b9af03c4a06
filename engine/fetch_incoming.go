package engine

import (
	"net/netip"
	"sync"
	"time"

	"shoal/metainfo"
)

// Incoming connections during a metadata fetch. A magnet link's swarm
// finds us too: a peer that learned our address from a tracker, the DHT
// or PEX connects to ask for pieces while we are still fetching the
// metadata. libtorrent and Transmission take such connections (they have
// the torrent, without its info, from the moment the magnet is added);
// refusing them would leave a peer we cannot reach (behind NAT, say) out
// of the fetch. The accept path hands them to the fetch, which treats
// them like connections it made, except that their ports are never
// dialled (they are the peer's outgoing ports).
//
// When the fetch succeeds its connections close, and the torrent added
// next dials the peers that were connected, at the address each can be
// reached on (for a peer that dialled us, the listen port of its BEP 10
// handshake, "p"). Waiting for it to dial us again would take a minute
// with libtorrent, which waits min_reconnect_time (60 s) before
// reconnecting to a peer that closed on it.

// fetchInbox holds incoming connections for a fetch until its loop takes
// them. A mutex rather than a channel: once the fetch has ended nothing
// may be left behind, and a select on a channel and the fetch's context
// could pick the channel after the last drain.
type fetchInbox struct {
	mu     sync.Mutex
	conns  []*handshakedConn
	closed bool
	wake   chan struct{} // capacity 1: conns is not empty
}

func newFetchInbox() *fetchInbox { return &fetchInbox{wake: make(chan struct{}, 1)} }

// put queues hc for the fetch; it reports false (and the caller closes hc)
// once the fetch has ended.
func (in *fetchInbox) put(hc *handshakedConn) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed || len(in.conns) >= maxFetchConns {
		return false
	}
	in.conns = append(in.conns, hc)
	select {
	case in.wake <- struct{}{}:
	default:
	}
	return true
}

// take returns the queued connections.
func (in *fetchInbox) take() []*handshakedConn {
	in.mu.Lock()
	defer in.mu.Unlock()
	conns := in.conns
	in.conns = nil
	return conns
}

// close refuses later connections and closes those still queued.
func (in *fetchInbox) close() {
	in.mu.Lock()
	in.closed = true
	conns := in.conns
	in.conns = nil
	in.mu.Unlock()
	for _, hc := range conns {
		hc.nc.Close()
	}
}

// registerFetch makes f the fetch that incoming connections for its info
// hash go to, unless another fetch of the same hash has that role. It
// returns the function that undoes it.
func (s *Session) registerFetch(f *fetcher) (unregister func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fetches == nil {
		s.fetches = make(map[metainfo.InfoHash]*fetcher)
	}
	if _, taken := s.fetches[f.ih]; taken {
		return func() {}
	}
	s.fetches[f.ih] = f
	return func() {
		s.mu.Lock()
		delete(s.fetches, f.ih)
		s.mu.Unlock()
	}
}

// fetchFor returns the fetch taking incoming connections for ih, if any.
func (s *Session) fetchFor(ih metainfo.InfoHash) (*fetcher, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, ok := s.fetches[ih]
	return f, ok
}

// maxFetchIncoming bounds the connections peers made to us that a fetch
// keeps: anyone can connect, and a crowd of silent connections must not
// take the slots of the peers the fetch dials.
const maxFetchIncoming = maxFetchConns / 2

// addIncoming starts a connection a peer made to us during the fetch.
func (f *fetcher) addIncoming(hc *handshakedConn) {
	incoming := 0
	for _, p := range f.peers {
		if p.incoming {
			incoming++
		}
		if p.addr.Addr() == hc.addr.Addr() && p.remoteID == hc.peerID {
			hc.nc.Close() // the same peer, already connected (we dialled it too)
			return
		}
	}
	if incoming >= maxFetchIncoming || len(f.peers)+f.dialing >= maxFetchConns {
		hc.nc.Close()
		return
	}
	if k, ok := f.known[hc.addr]; (ok && (k.bad || k.connected)) || f.refusedIPs[hc.addr.Addr()] {
		hc.nc.Close()
		return
	}
	if _, ok := f.known[hc.addr]; !ok {
		// Known so that addPeer and dropPeer have an entry to update, but
		// never dialled: the port is the peer's outgoing one.
		f.known[hc.addr] = &fetchKnown{giveUp: true, incoming: true}
	}
	f.addPeer(hc)
}

// maxRefusedIPs bounds the addresses a fetch refuses to take incoming
// connections from.
const maxRefusedIPs = 256

// refuseIncoming stops taking connections from ip, a peer that dialled us
// and sent metadata that failed the hash check or broke the rules: by its
// address and port it would come back as a new peer each time.
func (f *fetcher) refuseIncoming(ip netip.Addr) {
	if f.refusedIPs == nil {
		f.refusedIPs = make(map[netip.Addr]bool)
	}
	if len(f.refusedIPs) < maxRefusedIPs {
		f.refusedIPs[ip] = true
	}
}

// fetchedPeers are the dialable peers of a successful fetch.
type fetchedPeers struct {
	addrs []netip.AddrPort
	at    time.Time
}

// Bounds of Session.fetched: a fetch whose torrent is never added must not
// leave its peers behind for long, nor many fetches pile up.
const (
	fetchedPeersTTL = 10 * time.Minute
	maxFetchedPeers = 64 // info hashes
)

// dialablePeers lists where the fetch's connected peers can be dialled.
func (f *fetcher) dialablePeers() []netip.AddrPort {
	var out []netip.AddrPort
	for _, p := range f.peers {
		if p.listenAddr.IsValid() {
			out = append(out, p.listenAddr)
		}
	}
	return out
}

// rememberFetchedPeers keeps a successful fetch's peers for the torrent
// added next with its info hash (takeFetchedPeers).
func (s *Session) rememberFetchedPeers(ih metainfo.InfoHash, addrs []netip.AddrPort) {
	if len(addrs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for k, v := range s.fetched {
		if now.Sub(v.at) > fetchedPeersTTL {
			delete(s.fetched, k)
		}
	}
	if s.fetched == nil {
		s.fetched = make(map[metainfo.InfoHash]fetchedPeers)
	}
	if _, ok := s.fetched[ih]; !ok && len(s.fetched) >= maxFetchedPeers {
		return
	}
	s.fetched[ih] = fetchedPeers{addrs: addrs, at: now}
}

// takeFetchedPeers returns and forgets the peers a fetch of ih left, if
// recent. s.mu must be held.
func (s *Session) takeFetchedPeers(ih metainfo.InfoHash) []netip.AddrPort {
	fp, ok := s.fetched[ih]
	if !ok {
		return nil
	}
	delete(s.fetched, ih)
	if time.Since(fp.at) > fetchedPeersTTL {
		return nil
	}
	return fp.addrs
}
