package server

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"

	"shoal/metainfo"
)

// BEP 15 wire constants.
const (
	udpProtocolID     = 0x41727101980
	udpActionConnect  = 0
	udpActionAnnounce = 1
	udpActionScrape   = 2
	udpActionError    = 3

	udpConnectLen  = 16
	udpAnnounceLen = 98
	udpHeaderLen   = 16 // connection id, action, transaction id
	udpMaxPacket   = 2048
	// udpMaxPeers6 keeps an IPv6 answer (20 + 18 per peer) within a
	// 1500-byte MTU; IPv4 answers of MaxNumWant peers already fit.
	udpMaxPeers6 = 80
)

// ServeUDP answers BEP 15 requests on conn with cfg.UDPReaders goroutines
// until ctx ends, then closes conn. Each reader owns its buffers and
// connection-id HMACs, so a packet costs no goroutine and no allocation
// beyond the store's.
func (s *Server) ServeUDP(ctx context.Context, conn *net.UDPConn) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var wg sync.WaitGroup
	errC := make(chan error, s.cfg.UDPReaders)
	for range s.cfg.UDPReaders {
		wg.Go(func() {
			if err := s.serveUDPReader(ctx, conn); err != nil {
				errC <- err
				conn.Close()
			}
		})
	}
	wg.Wait()
	conn.Close()
	select {
	case err := <-errC:
		return err
	default:
		return nil
	}
}

// udpReader is one reader goroutine's loop, one packet per system call
// (serveUDPReader batches where the system allows).
func (s *Server) udpReader(ctx context.Context, conn *net.UDPConn) error {
	h := s.newUDPHandler()
	in := make([]byte, udpMaxPacket)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(in)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.counts.errors.Add(1)
			// ICMP port-unreachable from an earlier reply surfaces here
			// on some systems; it concerns one client, not the socket.
			continue
		}
		out := h.handle(ctx, in[:n], from)
		if out == nil {
			continue
		}
		if _, err := conn.WriteToUDPAddrPort(out, from); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.counts.errors.Add(1)
		}
	}
}

// udpHandler turns one request packet into one answer. It is not safe for
// concurrent use: each reader goroutine has its own.
type udpHandler struct {
	s      *Server
	signer *connIDSigner
	out    []byte
	peers  []Peer
	req    AnnounceRequest
}

func (s *Server) newUDPHandler() *udpHandler {
	return &udpHandler{
		s:      s,
		signer: newConnIDSigner(s.keys),
		out:    make([]byte, 0, udpMaxPacket*2),
		peers:  make([]Peer, 0, MaxNumWant),
	}
}

// handle returns the answer to the packet p from addr, or nil to drop it.
// The returned slice is reused by the next call.
func (h *udpHandler) handle(ctx context.Context, p []byte, from netip.AddrPort) []byte {
	s := h.s
	if len(p) < udpHeaderLen || from.Port() == 0 {
		s.counts.reject(protoUDP, RejectShortPacket)
		return nil
	}
	connID := binary.BigEndian.Uint64(p[0:8])
	action := binary.BigEndian.Uint32(p[8:12])
	tid := p[12:16]
	now := s.now()
	if action == udpActionConnect {
		if connID != udpProtocolID {
			// Not BEP 15 at all: answering would make us a reflector.
			s.counts.reject(protoUDP, RejectMalformed)
			return nil
		}
		s.counts.connects.Add(1)
		out := h.header(udpActionConnect, tid)
		return binary.BigEndian.AppendUint64(out, h.signer.New(from, now))
	}
	if !h.signer.Valid(connID, from, now) {
		// BEP 15: a bad connection id is dropped silently, so spoofed
		// sources get nothing back.
		s.counts.reject(protoUDP, RejectBadConnID)
		return nil
	}
	switch action {
	case udpActionAnnounce:
		return h.announce(ctx, p, from, tid)
	case udpActionScrape:
		return h.scrape(ctx, p, tid)
	}
	return h.fail(tid, RejectUnknownAction)
}

func (h *udpHandler) header(action uint32, tid []byte) []byte {
	out := binary.BigEndian.AppendUint32(h.out[:0], action)
	return append(out, tid...)
}

// fail builds an error packet (action 3) carrying the reason.
func (h *udpHandler) fail(tid []byte, r Reject) []byte {
	h.s.counts.reject(protoUDP, r)
	return append(h.header(udpActionError, tid), r.String()...)
}

// announce handles a BEP 15 announce. Bytes past the fixed 98 are BEP 41
// options (such as the URL path); they are accepted and not interpreted.
// The IP address field is ignored: the source address is the peer's.
func (h *udpHandler) announce(ctx context.Context, p []byte, from netip.AddrPort, tid []byte) []byte {
	s := h.s
	if len(p) < udpAnnounceLen {
		return h.fail(tid, RejectShortPacket)
	}
	req := &h.req
	*req = AnnounceRequest{InfoHash: metainfo.InfoHash(p[16:36]), PeerID: PeerID(p[36:56])}
	req.Left = int64(binary.BigEndian.Uint64(p[64:72]))
	event := binary.BigEndian.Uint32(p[80:84])
	numWant := int32(binary.BigEndian.Uint32(p[92:96]))
	port := binary.BigEndian.Uint16(p[96:98])
	if req.Left < 0 {
		return h.fail(tid, RejectNumber)
	}
	if event > uint32(EventStopped) {
		return h.fail(tid, RejectEvent)
	}
	if port == 0 {
		return h.fail(tid, RejectPort)
	}
	req.Event = Event(event)
	req.NumWant = capNumWant(int64(numWant))
	req.Addr = peerAddr(from.Addr(), port)
	// BEP 15: over IPv4 the answer lists 6-byte IPv4 peers, over IPv6
	// 18-byte IPv6 peers.
	v4 := req.Addr.Addr().Is4()
	req.Families = FamilyV4
	if !v4 {
		req.Families = FamilyV6
		req.NumWant = min(req.NumWant, udpMaxPeers6)
	}
	req.Time = s.now()
	if !s.allowed(req) {
		return h.fail(tid, RejectNotAllowed)
	}
	res, err := s.cfg.Store.Announce(ctx, req, h.peers)
	if err != nil {
		s.cfg.Logger.Error("tracker: store announce", "err", err)
		return h.fail(tid, RejectStore)
	}
	h.peers = res.Peers[:0]
	s.counts.announces[protoUDP].Add(1)
	out := h.header(udpActionAnnounce, tid)
	out = binary.BigEndian.AppendUint32(out, uint32(sinceSeconds(s.cfg.Interval)))
	out = binary.BigEndian.AppendUint32(out, uint32(res.Counts.Incomplete))
	out = binary.BigEndian.AppendUint32(out, uint32(res.Counts.Complete))
	for _, peer := range res.Peers {
		out = appendCompact(out, peer)
	}
	h.out = out
	return out
}

// scrape handles a BEP 15 scrape: up to 74 info hashes, answered in order.
func (h *udpHandler) scrape(ctx context.Context, p []byte, tid []byte) []byte {
	s := h.s
	body := p[udpHeaderLen:]
	if len(body) == 0 || len(body)%20 != 0 {
		return h.fail(tid, RejectInfoHash)
	}
	if len(body)/20 > maxScrapeHashes {
		return h.fail(tid, RejectTooManyHashes)
	}
	out := h.header(udpActionScrape, tid)
	for ; len(body) > 0; body = body[20:] {
		ih := metainfo.InfoHash(body[:20])
		var c SwarmCounts
		if s.cfg.AllowList.Allowed(ih) {
			var err error
			if c, err = s.cfg.Store.Scrape(ctx, ih); err != nil {
				s.cfg.Logger.Error("tracker: store scrape", "err", err)
				return h.fail(tid, RejectStore)
			}
		}
		out = binary.BigEndian.AppendUint32(out, uint32(c.Complete))
		out = binary.BigEndian.AppendUint32(out, uint32(c.Downloaded))
		out = binary.BigEndian.AppendUint32(out, uint32(c.Incomplete))
	}
	s.counts.scrapes[protoUDP].Add(1)
	h.out = out
	return out
}
