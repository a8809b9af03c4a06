package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"shoal/bitfield"
	"shoal/engine/peerconn"
	"shoal/engine/picker"
	"shoal/engine/ratemeter"
	"shoal/metainfo"
	"shoal/peerwire"
)

// defaultReqq is the request queue we assume when a peer names none in its
// extension handshake (libtorrent's default is 250), and maxReqq the most
// we keep outstanding with any one peer.
const (
	defaultReqq = 250
	maxReqq     = 1000
	// ourReqq is the request queue we announce (BEP 10 "reqq") and the
	// number of requests a connection queues for upload.
	ourReqq = 500
)

// peer is the loop's view of one connection.
type peer struct {
	key      int
	conn     *peerconn.Conn
	addr     netip.AddrPort
	id       peerwire.PeerID
	client   string
	incoming bool
	fast     bool // both sides support BEP 6
	// allowedFastOut is the BEP 6 allowed fast set we gave the peer:
	// pieces it may have while choked, while it is starting (torrent_fast.go).
	allowedFastOut []uint32
	extended       bool    // both sides support BEP 10
	ext            peerExt // its extended handshake and our extensions' state with it
	dht            bool    // both sides run a DHT node (BEP 5): PORT messages are sent
	portTaken      bool    // its PORT message went to the DHT node; later ones are ignored
	connectedAt    time.Time

	has         *bitfield.Bitfield // pieces the peer has; nil until it tells us
	haveAll     bool               // it sent HAVE_ALL (a seed)
	inPicker    bool
	pieceSets   int             // BITFIELD, HAVE_ALL and HAVE_NONE messages received
	reqq        int             // its request queue size (BEP 10)
	allowedFast map[uint32]bool // pieces it lets us request while choked (BEP 6)

	amChoking, amInterested     bool
	peerChoking, peerInterested bool
	optimistic                  bool
	snubbed                     bool

	requests    map[picker.Block]time.Time // outstanding requests we sent
	slowStart   int                        // request depth earned by blocks delivered
	rejects     int                        // REJECTs since the last block it sent
	unrequested int                        // blocks not requested from it since the last one that was
	lastBlockAt time.Time

	downMeter, upMeter   *ratemeter.Meter
	lastDown, lastUp     int64 // payload counters at the last sample
	downloaded, uploaded int64
}

func (p *peer) isSeed(numPieces int) bool {
	return p.haveAll || (p.has != nil && p.has.Count() == numPieces)
}

func (p *peer) stats(numPieces int) PeerStats {
	ps := PeerStats{
		Addr: p.addr, ID: p.id, Client: p.client, Incoming: p.incoming,
		AmChoking: p.amChoking, AmInterested: p.amInterested,
		PeerChoking: p.peerChoking, PeerInterested: p.peerInterested,
		Snubbed: p.snubbed, Downloaded: p.downloaded, Uploaded: p.uploaded,
	}
	now := time.Now()
	ps.DownloadRate, ps.UploadRate = p.downMeter.Rate(now), p.upMeter.Rate(now)
	switch {
	case p.isSeed(numPieces):
		ps.Progress = 1
	case p.has != nil && numPieces > 0:
		ps.Progress = float64(p.has.Count()) / float64(numPieces)
	}
	return ps
}

// knownPeer is an address from a peer source, and how trying it went.
type knownPeer struct {
	connected bool
	dialing   bool
	failures  int
	nextTry   time.Time
}

// dialResult is the outcome of one outgoing connection attempt.
type dialResult struct {
	addr netip.AddrPort
	hc   *handshakedConn
	err  error
}

// deliverConn hands a handshaked connection to the loop (from the
// session's accept path).
func (t *Torrent) deliverConn(hc *handshakedConn) {
	leave := t.enter() // wake a parked loop; it calls leave on receiving hc (torrent_idle.go)
	select {
	case t.connC <- hc:
		t.afterSend()
	case <-t.ctx.Done():
		leave()
		hc.nc.Close()
	}
}

// maxKnownPeers bounds the addresses a torrent remembers, whatever its
// sources report.
const maxKnownPeers = 2000

// addKnown remembers addresses to connect to. retryNow clears the back-off
// of addresses already known (a user asked for them again).
func (t *Torrent) addKnown(addrs []netip.AddrPort, retryNow bool) {
	for _, a := range addrs {
		a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
		if !a.IsValid() || a.Port() == 0 {
			continue
		}
		if kp, ok := t.known[a]; ok {
			if retryNow {
				kp.nextTry = time.Time{}
			}
		} else if len(t.known) < maxKnownPeers {
			t.known[a] = &knownPeer{}
		}
	}
}

// startSources runs every peer source until the torrent stops.
func (t *Torrent) startSources() {
	if t.stopSources != nil || len(t.sources) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(t.ctx)
	t.stopSources = cancel
	found := func(addrs []netip.AddrPort) {
		select {
		case t.foundC <- addrs:
		case <-ctx.Done():
		}
	}
	for _, src := range t.sources {
		t.s.wg.Add(1)
		go func() {
			defer t.s.wg.Done()
			if err := src.Run(ctx, sourceView{t}, found); err != nil && ctx.Err() == nil {
				t.s.log.Warn("peer source failed", "torrent", t.info.Name, "source", src.Name(), "err", err)
			}
		}()
	}
}

// sourceView is the sources.Torrent a source sees.
type sourceView struct{ t *Torrent }

func (v sourceView) InfoHash() metainfo.InfoHash { return v.t.infoHash }
func (v sourceView) Port() int                   { return v.t.listenPort() }
func (v sourceView) Counters() (up, down, left int64) {
	st := v.t.sourceStats()
	return st.Uploaded, st.Downloaded, st.WantedSize - st.HaveWanted
}

// connectMore dials known addresses while there is room for more peers.
func (t *Torrent) connectMore(now time.Time) {
	if !t.active() {
		return
	}
	for addr, kp := range t.known {
		if len(t.peers)+t.dialing >= t.s.cfg.MaxConnsPerTorrent {
			return
		}
		if kp.connected || kp.dialing || now.Before(kp.nextTry) {
			continue
		}
		kp.dialing = true
		t.dialing++
		t.s.wg.Add(1)
		go func(addr netip.AddrPort) {
			defer t.s.wg.Done()
			hc, err := t.s.dial(t.ctx, t, addr)
			select {
			case t.dialC <- dialResult{addr: addr, hc: hc, err: err}:
				t.afterSend()
			case <-t.ctx.Done():
				if hc != nil {
					hc.nc.Close()
				}
			}
		}(addr)
	}
}

func (t *Torrent) dialDone(r dialResult) {
	t.dialing--
	kp := t.known[r.addr]
	if kp != nil {
		kp.dialing = false
	}
	if r.err != nil {
		if kp != nil {
			kp.failures++
			// Back off: 5 s, 10 s, 20 s, ... up to 30 min. The first retry
			// is quick because a refusal is often momentary (Transmission
			// refuses a second handshake from an address while one is in
			// progress).
			kp.nextTry = time.Now().Add(min(5*time.Second<<min(kp.failures-1, 9), 30*time.Minute))
		}
		t.s.log.Debug("dial failed", "addr", r.addr, "err", r.err)
		return
	}
	t.addPeer(r.hc)
}

// addPeer starts exchanging messages on a handshaked connection, or
// closes it when the torrent cannot take it.
func (t *Torrent) addPeer(hc *handshakedConn) {
	reject := func(why string) {
		t.s.log.Debug("refusing peer", "addr", hc.addr, "why", why)
		hc.nc.Close()
	}
	if t.state == StateChecking && len(t.waiting) < t.s.cfg.MaxConnsPerTorrent {
		// Keep it until we know which pieces we have; the peer's messages
		// wait in the socket buffer meanwhile.
		t.waiting = append(t.waiting, hc)
		return
	}
	switch {
	case !t.active():
		reject("torrent not active")
		return
	case len(t.peers) >= t.s.cfg.MaxConnsPerTorrent:
		reject("torrent connection limit")
		return
	case t.s.conns.Load() >= int64(t.s.cfg.MaxConns):
		reject("session connection limit")
		return
	case t.s.isBanned(hc.addr.Addr()):
		reject("banned")
		return
	}
	for _, p := range t.peers {
		// The same peer id from another IP is not a duplicate connection
		// but another peer, or one squatting on an honest peer's id (ids
		// travel in the clear) to lock it out: both stay.
		if p.id != hc.peerID || p.addr.Addr() != hc.addr.Addr() {
			continue
		}
		if p.incoming == hc.incoming || !t.keepNewDuplicate(hc) {
			reject("already connected to this peer id")
			return
		}
		t.dropPeer(p, errors.New("duplicate connection"))
		break
	}
	if !t.s.reserveConn() {
		reject("session connection limit")
		return
	}
	t.nextKey++
	ours := t.s.ourReserved()
	p := &peer{
		key:         t.nextKey,
		addr:        hc.addr,
		id:          hc.peerID,
		client:      peerwire.ClientName(hc.peerID),
		incoming:    hc.incoming,
		fast:        ours.Fast() && hc.reserved.Fast(),
		extended:    ours.Extended() && hc.reserved.Extended(),
		dht:         ours.DHT() && hc.reserved.DHT(),
		connectedAt: time.Now(),
		reqq:        defaultReqq,
		slowStart:   16,
		amChoking:   true,
		peerChoking: true,
		requests:    make(map[picker.Block]time.Time),
		lastBlockAt: time.Now(),
		downMeter:   ratemeter.New(ratemeter.DefaultWindow),
		upMeter:     ratemeter.New(ratemeter.DefaultWindow),
	}
	if kp, ok := t.known[hc.addr]; ok {
		kp.connected, kp.failures = true, 0
	}
	p.conn = peerconn.New(t.ctx, hc.nc, peerconn.Options{
		Key:              p.key,
		NumPieces:        t.info.NumPieces(),
		Events:           t.eventC,
		ReadBlock:        t.st.ReadBlock,
		PieceSize:        t.layout.PieceSize,
		Alloc:            blockPool.get,
		Free:             blockPool.put,
		MaxUploadQueue:   ourReqq,
		MaxSendQueue:     maxSendQueue,
		ReadTimeout:      t.s.cfg.IdleTimeout,
		KeepAlive:        keepAliveInterval(t.s.cfg.IdleTimeout),
		UploadLimiters:   peerconn.Limiters{t.s.upLimit, t.upLimit},
		DownloadLimiters: peerconn.Limiters{t.s.downLimit, t.downLimit},
	})
	t.peers[p.key] = p
	t.sendInitial(p)
	t.s.log.Debug("peer connected", "addr", p.addr, "client", p.client, "incoming", p.incoming)
}

// keepAliveInterval is how often we send a keep-alive to an idle peer:
// every 2 min (BEP 3), or sooner when our own IdleTimeout is short (a peer
// configured like us must not time us out).
func keepAliveInterval(idleTimeout time.Duration) time.Duration {
	return min(peerconn.DefaultKeepAlive, idleTimeout*2/3)
}

// keepNewDuplicate settles two connections to the same peer made in
// opposite directions (both sides dialled at once): both sides keep the one
// opened by the peer with the smaller peer id, so exactly one survives.
func (t *Torrent) keepNewDuplicate(hc *handshakedConn) bool {
	weOpenedNew := !hc.incoming
	weAreSmaller := bytes.Compare(t.s.peerID[:], hc.peerID[:]) < 0
	return weOpenedNew == weAreSmaller
}

// sendInitial sends what must follow the handshake: the extension
// handshake (BEP 10) and our pieces, as HAVE_ALL/HAVE_NONE when the fast
// extension allows (BEP 6), else as a bitfield (omitted when empty).
func (t *Torrent) sendInitial(p *peer) {
	if p.extended {
		t.sendExtendedHandshake(p)
	}
	switch {
	case t.superSeed != nil:
		t.superSeedGreet(p)
	case p.fast && t.have.Full():
		p.conn.Send(peerwire.Message{ID: peerwire.HaveAll})
	case p.fast && t.have.Empty():
		p.conn.Send(peerwire.Message{ID: peerwire.HaveNone})
	case !t.have.Empty():
		p.conn.Send(peerwire.Message{ID: peerwire.Bitfield, Payload: append([]byte(nil), t.have.Bytes()...)})
	}
	t.sendAllowedFast(p)
	t.sendDHTPort(p)
}

func (t *Torrent) listenPort() int {
	if a := t.s.Addr(); a != nil {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			return int(ap.Port())
		}
	}
	return 0
}

// dropPeer closes a connection and forgets the peer.
func (t *Torrent) dropPeer(p *peer, err error) {
	if _, ok := t.peers[p.key]; !ok {
		return
	}
	if err == nil {
		err = errors.New("dropped")
	}
	p.conn.Close(err)
	t.sampleConn(p, time.Now())
	delete(t.peers, p.key)
	t.s.conns.Add(-1)
	if t.picker != nil && p.inPicker {
		t.picker.RemovePeer(p.key)
	}
	p.requests = nil
	if kp, ok := t.known[p.addr]; ok {
		kp.connected = false
		kp.nextTry = time.Now().Add(30 * time.Second)
	}
	t.s.log.Debug("peer dropped", "addr", p.addr, "err", err)
	// Its requests went back to the picker: give them to others; and its
	// upload slot, if it had one.
	for _, q := range t.peers {
		t.fillRequests(q)
	}
	t.fillFreeSlots()
}

// handleEvent processes one event from a peer connection.
func (t *Torrent) handleEvent(ev peerconn.Event) {
	p, ok := t.peers[ev.Conn.Key()]
	if !ok || p.conn != ev.Conn {
		if !ev.Closed && ev.Msg.ID == peerwire.Piece {
			blockPool.put(ev.Msg.Payload)
		}
		return
	}
	if ev.Closed {
		t.dropPeer(p, ev.Err)
		return
	}
	if err := t.handleMessage(p, ev.Msg); err != nil {
		t.dropPeer(p, err)
	}
}

// protocolError is a peer breaking BEP 3/6/10 rules: we disconnect it.
func protocolError(format string, args ...any) error {
	return fmt.Errorf("protocol error: "+format, args...)
}
