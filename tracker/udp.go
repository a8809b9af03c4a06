package tracker

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"shoal/metainfo"
)

// BEP 15 constants.
const (
	udpProtocolID      = 0x41727101980
	udpActionConnect   = 0
	udpActionAnnounce  = 1
	udpActionScrape    = 2
	udpActionError     = 3
	udpConnIDLifetime  = time.Minute // how long a client may use a connection id
	udpMaxScrapeHashes = 74          // so a scrape fits a 1500-byte datagram
	udpURLDataOption   = 2           // BEP 41 URLData
	udpURLDataChunk    = 255         // BEP 41: at most 255 bytes per option
	udpAnnounceLen     = 98          // announce request without options
	udpHeaderLen       = 8           // action and transaction id of a response
	udpAnnounceRespLen = 20          // header, interval, leechers, seeders
)

// udpTracker is one UDP tracker: its socket and connection id, shared by
// every exchange with it. One exchange runs at a time.
type udpTracker struct {
	hostport string
	sem      chan struct{} // holds one token: the right to use the socket
	connID   uint64
	connIDAt time.Time // when connID was received; zero: none

	mu     sync.Mutex   // guards changes to conn and closed, so close need not wait for sem
	conn   *net.UDPConn // connected to the tracker; nil until needed
	closed bool
}

// close closes the socket at once: an exchange in progress fails.
func (ut *udpTracker) close() {
	ut.mu.Lock()
	defer ut.mu.Unlock()
	ut.closed = true
	if ut.conn != nil {
		ut.conn.Close()
	}
}

// setConn replaces the socket (nil: none), unless the tracker is closed.
func (ut *udpTracker) setConn(c *net.UDPConn) error {
	ut.mu.Lock()
	defer ut.mu.Unlock()
	if ut.conn != nil {
		ut.conn.Close()
	}
	ut.conn = c
	if ut.closed && c != nil {
		c.Close()
		ut.conn = nil
		return ErrClientClosed
	}
	return nil
}

// udpTrackerFor returns the shared state of the tracker at hostport.
func (c *Client) udpTrackerFor(hostport string) (*udpTracker, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClientClosed
	}
	if c.udp == nil {
		c.udp = make(map[string]*udpTracker)
	}
	ut := c.udp[hostport]
	if ut == nil {
		ut = &udpTracker{hostport: hostport, sem: make(chan struct{}, 1)}
		c.udp[hostport] = ut
	}
	return ut, nil
}

// udpExchange sends one request (built by build once a connection id is
// known) and returns the response's body after its 8-byte header.
func (c *Client) udpExchange(ctx context.Context, u *url.URL, action uint32, build func(connID uint64, tid uint32) []byte) ([]byte, bool, error) {
	ut, err := c.udpTrackerFor(u.Host)
	if err != nil {
		return nil, false, err
	}
	select {
	case ut.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	defer func() { <-ut.sem }()
	if ut.conn == nil {
		var d net.Dialer
		nc, err := d.DialContext(ctx, "udp", u.Host)
		if err != nil {
			return nil, false, err
		}
		if err := ut.setConn(nc.(*net.UDPConn)); err != nil {
			return nil, false, err
		}
	}
	ipv6 := false
	if ra, ok := ut.conn.RemoteAddr().(*net.UDPAddr); ok {
		ipv6 = ra.AddrPort().Addr().Unmap().Is6()
	}
	base := c.UDPRetransmitBase
	if base <= 0 {
		base = DefaultUDPRetransmitBase
	}
	maxN := c.UDPMaxRetransmits
	if maxN <= 0 {
		maxN = DefaultUDPMaxRetransmits
	}
	buf := make([]byte, maxUDPPacket)
	n := 0 // BEP 15: the n of the 15·2^n s timeout
	for {
		var req []byte
		var want uint32
		tid := randomUint32()
		if ut.connIDAt.IsZero() || time.Since(ut.connIDAt) >= udpConnIDLifetime {
			req, want = udpConnectRequest(tid), udpActionConnect
		} else {
			req, want = build(ut.connID, tid), action
		}
		body, err := ut.roundTrip(ctx, req, want, tid, buf, base<<n)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil:
			if n >= maxN {
				return nil, ipv6, fmt.Errorf("no answer after %d retransmissions", n)
			}
			n++
			// A tracker that restarted drops requests with an id it no
			// longer knows, silently: ask for a fresh one.
			ut.connIDAt = time.Time{}
			continue
		case err != nil:
			if ctx.Err() != nil {
				return nil, ipv6, ctx.Err()
			}
			var fe *FailureError
			if !errors.As(err, &fe) {
				// A socket error (ICMP port unreachable, say): start
				// afresh next time.
				ut.setConn(nil)
				ut.connIDAt = time.Time{}
			}
			if errors.Is(err, net.ErrClosed) {
				return nil, ipv6, ErrClientClosed
			}
			return nil, ipv6, err
		}
		if want == udpActionConnect {
			if len(body) != 8 {
				return nil, ipv6, fmt.Errorf("malformed connect response: %d bytes after the header, want 8", len(body))
			}
			ut.connID, ut.connIDAt = binary.BigEndian.Uint64(body), time.Now()
			continue // now send the request itself, with the same n
		}
		return body, ipv6, nil
	}
}

// roundTrip sends req and waits up to timeout for the response with
// transaction id tid, ignoring stray datagrams. A context end interrupts
// the wait.
func (ut *udpTracker) roundTrip(ctx context.Context, req []byte, action, tid uint32, buf []byte, timeout time.Duration) ([]byte, error) {
	if _, err := ut.conn.Write(req); err != nil {
		return nil, err
	}
	if err := ut.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(interrupted)
		ut.conn.SetReadDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !stop() {
			<-interrupted // the deadline is set; let it finish before anyone resets it
		}
	}()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for {
		n, err := ut.conn.Read(buf)
		if err != nil {
			return nil, err
		}
		body, match, err := parseUDPResponse(buf[:n], action, tid)
		if !match {
			continue // an answer to an earlier request, or noise
		}
		return body, err
	}
}

// parseUDPResponse checks a datagram's header against the request: match
// says whether it answers it (same transaction id); err says what was
// wrong with a matching answer, or carries the tracker's error message.
func parseUDPResponse(p []byte, action, tid uint32) (body []byte, match bool, err error) {
	if len(p) < udpHeaderLen || binary.BigEndian.Uint32(p[4:]) != tid {
		return nil, false, nil
	}
	switch got := binary.BigEndian.Uint32(p); got {
	case action:
		return p[udpHeaderLen:], true, nil
	case udpActionError:
		return nil, true, &FailureError{Reason: printableReason(p[udpHeaderLen:])}
	default:
		return nil, true, fmt.Errorf("malformed response: action %d, want %d", got, action)
	}
}

// printableReason keeps a tracker's error message readable in logs.
func printableReason(b []byte) string {
	const maxLen = 200
	if len(b) > maxLen {
		b = b[:maxLen]
	}
	r := []rune(string(b))
	for i, c := range r {
		if c < 0x20 || c == 0x7f {
			r[i] = '?'
		}
	}
	return string(r)
}

func udpConnectRequest(tid uint32) []byte {
	p := make([]byte, 16)
	binary.BigEndian.PutUint64(p, udpProtocolID)
	binary.BigEndian.PutUint32(p[8:], udpActionConnect)
	binary.BigEndian.PutUint32(p[12:], tid)
	return p
}

// udpAnnounceRequest builds an announce (BEP 15) with the URL's path and
// query as BEP 41 URLData options.
func udpAnnounceRequest(connID uint64, tid uint32, req AnnounceRequest, urlData string) []byte {
	p := make([]byte, udpAnnounceLen, udpAnnounceLen+len(urlData)+2*(len(urlData)/udpURLDataChunk+1))
	binary.BigEndian.PutUint64(p, connID)
	binary.BigEndian.PutUint32(p[8:], udpActionAnnounce)
	binary.BigEndian.PutUint32(p[12:], tid)
	copy(p[16:36], req.InfoHash[:])
	copy(p[36:56], req.PeerID[:])
	binary.BigEndian.PutUint64(p[56:], uint64(max(req.Downloaded, 0)))
	binary.BigEndian.PutUint64(p[64:], uint64(max(req.Left, 0)))
	binary.BigEndian.PutUint64(p[72:], uint64(max(req.Uploaded, 0)))
	binary.BigEndian.PutUint32(p[80:], udpEvent(req.Event))
	// p[84:88]: IP address 0, the tracker uses the packet's source.
	binary.BigEndian.PutUint32(p[88:], req.Key)
	numWant := int32(-1)
	if req.NumWant >= 0 {
		numWant = int32(min(req.NumWant, 1<<31-1))
	}
	binary.BigEndian.PutUint32(p[92:], uint32(numWant))
	binary.BigEndian.PutUint16(p[96:], req.Port)
	for len(urlData) > 0 {
		chunk := urlData[:min(len(urlData), udpURLDataChunk)]
		p = append(p, udpURLDataOption, byte(len(chunk)))
		p = append(p, chunk...)
		urlData = urlData[len(chunk):]
	}
	return p
}

// udpEvent maps an event to BEP 15's numbering, which differs from ours
// only by name: none 0, completed 1, started 2, stopped 3.
func udpEvent(e Event) uint32 { return uint32(e) }

// udpURLData is what BEP 41 sends of a UDP tracker URL: the path and query.
func udpURLData(u *url.URL) string {
	s := u.EscapedPath()
	if u.RawQuery != "" {
		s += "?" + u.RawQuery
	}
	return s
}

func (c *Client) announceUDP(ctx context.Context, u *url.URL, req AnnounceRequest) (*AnnounceResponse, error) {
	urlData := udpURLData(u)
	body, ipv6, err := c.udpExchange(ctx, u, udpActionAnnounce, func(connID uint64, tid uint32) []byte {
		return udpAnnounceRequest(connID, tid, req, urlData)
	})
	if err != nil {
		return nil, err
	}
	return parseUDPAnnounce(body, ipv6, c.maxPeers())
}

// parseUDPAnnounce decodes an announce response after its header:
// interval, leechers, seeders, then 6-byte (IPv4) or 18-byte (IPv6)
// addresses, by the family the tracker was reached over (BEP 15).
func parseUDPAnnounce(body []byte, ipv6 bool, maxPeers int) (*AnnounceResponse, error) {
	const fixed = udpAnnounceRespLen - udpHeaderLen
	if len(body) < fixed {
		return nil, fmt.Errorf("malformed announce response: %d bytes, want at least %d", len(body)+udpHeaderLen, udpAnnounceRespLen)
	}
	r := &AnnounceResponse{}
	var err error
	if r.Interval, err = seconds("interval", int64(binary.BigEndian.Uint32(body))); err != nil {
		return nil, err
	}
	if r.Leechers, err = count("leechers", int64(binary.BigEndian.Uint32(body[4:]))); err != nil {
		return nil, err
	}
	if r.Seeders, err = count("seeders", int64(binary.BigEndian.Uint32(body[8:]))); err != nil {
		return nil, err
	}
	ipLen := 4
	if ipv6 {
		ipLen = 16
	}
	if r.Peers, err = parseCompactPeers("peers", body[fixed:], ipLen, nil, maxPeers); err != nil {
		return nil, err
	}
	return r, nil
}

func (c *Client) scrapeUDP(ctx context.Context, u *url.URL, hashes []metainfo.InfoHash) (map[metainfo.InfoHash]ScrapeStats, error) {
	out := make(map[metainfo.InfoHash]ScrapeStats, len(hashes))
	for len(hashes) > 0 {
		chunk := hashes[:min(len(hashes), udpMaxScrapeHashes)]
		body, _, err := c.udpExchange(ctx, u, udpActionScrape, func(connID uint64, tid uint32) []byte {
			p := make([]byte, 16, 16+20*len(chunk))
			binary.BigEndian.PutUint64(p, connID)
			binary.BigEndian.PutUint32(p[8:], udpActionScrape)
			binary.BigEndian.PutUint32(p[12:], tid)
			for _, ih := range chunk {
				p = append(p, ih[:]...)
			}
			return p
		})
		if err != nil {
			return nil, err
		}
		if err := parseUDPScrape(body, chunk, out); err != nil {
			return nil, err
		}
		hashes = hashes[len(chunk):]
	}
	return out, nil
}

// parseUDPScrape decodes seeders, completed and leechers (12 bytes) per
// info hash, in the order they were asked for.
func parseUDPScrape(body []byte, hashes []metainfo.InfoHash, out map[metainfo.InfoHash]ScrapeStats) error {
	if len(body) != 12*len(hashes) {
		return fmt.Errorf("malformed scrape response: %d bytes for %d torrents, want %d", len(body), len(hashes), 12*len(hashes))
	}
	for i, ih := range hashes {
		e := body[12*i:]
		var st ScrapeStats
		var err error
		if st.Seeders, err = count("seeders", int64(binary.BigEndian.Uint32(e))); err != nil {
			return err
		}
		if st.Completed, err = count("completed", int64(binary.BigEndian.Uint32(e[4:]))); err != nil {
			return err
		}
		if st.Leechers, err = count("leechers", int64(binary.BigEndian.Uint32(e[8:]))); err != nil {
			return err
		}
		out[ih] = st
	}
	return nil
}

func randomUint32() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}
