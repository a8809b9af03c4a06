package tracker

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"shoal/metainfo"
)

// fakeUDPTracker answers BEP 15 requests on 127.0.0.1 and records them.
type fakeUDPTracker struct {
	t    *testing.T
	conn *net.UDPConn
	done chan struct{}

	mu         sync.Mutex
	connects   int
	announces  []udpAnnounceSeen
	scrapes    [][]metainfo.InfoHash
	connIDs    map[uint64]bool
	drop       int    // datagrams to ignore (retransmission tests)
	failWith   string // answer announces with this error
	interval   uint32
	peers      []byte // compact peers to answer with
	scrapeResp []byte // scrape body to answer with; nil: 12 bytes of counts per hash
}

type udpAnnounceSeen struct {
	req     AnnounceRequest
	urlData string
}

func newFakeUDPTracker(t *testing.T) *fakeUDPTracker {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeUDPTracker{t: t, conn: conn, done: make(chan struct{}), connIDs: map[uint64]bool{}, interval: 1800}
	go f.serve()
	t.Cleanup(func() { conn.Close(); <-f.done })
	return f
}

func (f *fakeUDPTracker) url(path string) string {
	return "udp://" + f.conn.LocalAddr().String() + path
}

func (f *fakeUDPTracker) serve() {
	defer close(f.done)
	buf := make([]byte, 2048)
	for {
		n, from, err := f.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if resp := f.handle(buf[:n]); resp != nil {
			f.conn.WriteToUDP(resp, from)
		}
	}
}

func (f *fakeUDPTracker) handle(p []byte) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.drop > 0 {
		f.drop--
		return nil
	}
	if len(p) < 16 {
		return nil
	}
	action, tid := binary.BigEndian.Uint32(p[8:]), binary.BigEndian.Uint32(p[12:])
	resp := binary.BigEndian.AppendUint32(nil, action)
	resp = binary.BigEndian.AppendUint32(resp, tid)
	if action == udpActionConnect {
		if binary.BigEndian.Uint64(p) != udpProtocolID {
			f.t.Errorf("connect without the protocol id")
			return nil
		}
		f.connects++
		id := uint64(f.connects) * 0x1234567
		f.connIDs[id] = true
		return binary.BigEndian.AppendUint64(resp, id)
	}
	if !f.connIDs[binary.BigEndian.Uint64(p)] {
		f.t.Errorf("request with unknown connection id %x", binary.BigEndian.Uint64(p))
		return nil
	}
	switch action {
	case udpActionAnnounce:
		if len(p) < udpAnnounceLen {
			f.t.Errorf("announce of %d bytes", len(p))
			return nil
		}
		var a udpAnnounceSeen
		copy(a.req.InfoHash[:], p[16:36])
		copy(a.req.PeerID[:], p[36:56])
		a.req.Downloaded = int64(binary.BigEndian.Uint64(p[56:]))
		a.req.Left = int64(binary.BigEndian.Uint64(p[64:]))
		a.req.Uploaded = int64(binary.BigEndian.Uint64(p[72:]))
		a.req.Event = Event(binary.BigEndian.Uint32(p[80:]))
		a.req.Key = binary.BigEndian.Uint32(p[88:])
		a.req.NumWant = int(int32(binary.BigEndian.Uint32(p[92:])))
		a.req.Port = binary.BigEndian.Uint16(p[96:])
		for opts := p[udpAnnounceLen:]; len(opts) > 0; {
			switch opts[0] {
			case 0:
				opts = nil
			case 1:
				opts = opts[1:]
			default:
				if len(opts) < 2 || len(opts) < 2+int(opts[1]) {
					f.t.Errorf("truncated option")
					return nil
				}
				end := 2 + int(opts[1])
				if opts[0] == udpURLDataOption {
					a.urlData += string(opts[2:end])
				}
				opts = opts[end:]
			}
		}
		f.announces = append(f.announces, a)
		if f.failWith != "" {
			return append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, udpActionError), tid), f.failWith...)
		}
		resp = binary.BigEndian.AppendUint32(resp, f.interval)
		resp = binary.BigEndian.AppendUint32(resp, 4) // leechers
		resp = binary.BigEndian.AppendUint32(resp, 2) // seeders
		return append(resp, f.peers...)
	case udpActionScrape:
		var hashes []metainfo.InfoHash
		for q := p[16:]; len(q) >= 20; q = q[20:] {
			hashes = append(hashes, metainfo.InfoHash(q[:20]))
		}
		f.scrapes = append(f.scrapes, hashes)
		if f.scrapeResp != nil {
			return append(resp, f.scrapeResp...)
		}
		for i := range hashes {
			resp = binary.BigEndian.AppendUint32(resp, uint32(10*i+1)) // seeders
			resp = binary.BigEndian.AppendUint32(resp, uint32(10*i+2)) // completed
			resp = binary.BigEndian.AppendUint32(resp, uint32(10*i+3)) // leechers
		}
		return resp
	}
	return nil
}

func fastClient() *Client {
	return &Client{UDPRetransmitBase: 20 * time.Millisecond, UDPMaxRetransmits: 3}
}

func TestUDPAnnounce(t *testing.T) {
	f := newFakeUDPTracker(t)
	f.mu.Lock()
	f.peers = []byte{127, 0, 0, 9, 0x1a, 0xe1, 127, 0, 0, 10, 0, 80}
	f.mu.Unlock()
	c := fastClient()
	defer c.Close()
	long := "/announce?passkey=" + strings.Repeat("k", 300) // two BEP 41 options
	req := AnnounceRequest{InfoHash: testHash, PeerID: [20]byte{'-', 'S'}, Port: 6881, Uploaded: 1, Downloaded: 2, Left: 3,
		Event: EventCompleted, NumWant: -1, Key: 77}
	for i := 0; i < 3; i++ {
		res, err := c.Announce(context.Background(), f.url(long), req)
		if err != nil {
			t.Fatal(err)
		}
		want := &AnnounceResponse{Interval: 1800 * time.Second, Seeders: 2, Leechers: 4, Peers: []netip.AddrPort{
			netip.MustParseAddrPort("127.0.0.9:6881"), netip.MustParseAddrPort("127.0.0.10:80")}}
		assertResponse(t, res, want)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.connects != 1 {
		t.Errorf("%d connects for 3 announces within a minute, want 1 (BEP 15: reuse the connection id)", f.connects)
	}
	if len(f.announces) != 3 {
		t.Fatalf("%d announces", len(f.announces))
	}
	if got := f.announces[0]; got.req != req || got.urlData != long {
		t.Errorf("tracker saw %+v, URL data %q\nwant %+v, %q", got.req, got.urlData, req, long)
	}
}

func TestUDPConnectionIDExpires(t *testing.T) {
	f := newFakeUDPTracker(t)
	c := fastClient()
	defer c.Close()
	if _, err := c.Announce(context.Background(), f.url(""), AnnounceRequest{}); err != nil {
		t.Fatal(err)
	}
	ut, _ := c.udpTrackerFor(f.conn.LocalAddr().String())
	ut.sem <- struct{}{}
	ut.connIDAt = time.Now().Add(-udpConnIDLifetime - time.Second)
	<-ut.sem
	if _, err := c.Announce(context.Background(), f.url(""), AnnounceRequest{}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.connects != 2 {
		t.Errorf("%d connects, want a new one after the id expired", f.connects)
	}
	if f.announces[0].urlData != "" {
		t.Errorf("URL data %q for a URL without a path", f.announces[0].urlData)
	}
}

func TestUDPRetransmits(t *testing.T) {
	f := newFakeUDPTracker(t)
	f.mu.Lock()
	f.drop = 2 // the connect, then the first announce (retransmitted after a new connect)
	f.mu.Unlock()
	c := fastClient()
	defer c.Close()
	if _, err := c.Announce(context.Background(), f.url("/announce"), AnnounceRequest{}); err != nil {
		t.Fatalf("announce with lost packets: %v", err)
	}
	f.mu.Lock()
	f.drop = 100
	f.mu.Unlock()
	c.UDPMaxRetransmits = 2
	start := time.Now()
	_, err := c.Announce(context.Background(), f.url("/announce"), AnnounceRequest{})
	if err == nil || !strings.Contains(err.Error(), "no answer after 2 retransmissions") {
		t.Fatalf("error %v", err)
	}
	// 20 + 40 + 80 ms: the timeouts double (BEP 15).
	if d := time.Since(start); d < 140*time.Millisecond {
		t.Errorf("gave up after %v, before the 15·2^n schedule allows", d)
	}
}

func TestUDPErrorsAndContext(t *testing.T) {
	f := newFakeUDPTracker(t)
	f.mu.Lock()
	f.failWith = "unregistered torrent"
	f.mu.Unlock()
	c := fastClient()
	defer c.Close()
	_, err := c.Announce(context.Background(), f.url(""), AnnounceRequest{})
	var fe *FailureError
	if !errors.As(err, &fe) || fe.Reason != "unregistered torrent" {
		t.Fatalf("error %v, want the tracker's message", err)
	}
	f.mu.Lock()
	f.drop = 1000
	f.mu.Unlock()
	c.UDPRetransmitBase = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.Announce(ctx, f.url(""), AnnounceRequest{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context's", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the context did not interrupt the wait")
	}
	c.Close()
	if _, err := c.Announce(context.Background(), f.url(""), AnnounceRequest{}); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestUDPCloseEndsExchange(t *testing.T) {
	f := newFakeUDPTracker(t)
	f.mu.Lock()
	f.drop = 1000
	f.mu.Unlock()
	before := runtime.NumGoroutine()
	c := &Client{UDPRetransmitBase: time.Hour}
	done := make(chan error, 1)
	go func() {
		_, err := c.Announce(context.Background(), f.url(""), AnnounceRequest{})
		done <- err
	}()
	waitFor(t, "the connect request", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.drop < 1000 })
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClientClosed) {
			t.Fatalf("error %v, want ErrClientClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the exchange")
	}
	waitGoroutines(t, before)
}

func TestUDPDeadTrackerFailsFast(t *testing.T) {
	// A port nobody listens on: the ICMP port-unreachable ends the wait.
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := conn.LocalAddr().String()
	conn.Close()
	c := &Client{}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Announce(ctx, "udp://"+addr, AnnounceRequest{}); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want a refusal before the deadline", err)
	}
}

func TestUDPScrape(t *testing.T) {
	f := newFakeUDPTracker(t)
	c := fastClient()
	defer c.Close()
	hashes := make([]metainfo.InfoHash, 80) // two packets of at most 74
	for i := range hashes {
		hashes[i][0], hashes[i][1] = byte(i), 1
	}
	got, err := c.Scrape(context.Background(), f.url("/announce"), hashes)
	if err != nil {
		t.Fatal(err)
	}
	if got[hashes[0]] != (ScrapeStats{Seeders: 1, Completed: 2, Leechers: 3}) || got[hashes[75]] != (ScrapeStats{Seeders: 11, Completed: 12, Leechers: 13}) {
		t.Fatalf("got %+v / %+v", got[hashes[0]], got[hashes[75]])
	}
	f.mu.Lock()
	if len(f.scrapes) != 2 || len(f.scrapes[0]) != 74 || len(f.scrapes[1]) != 6 {
		t.Errorf("scrapes of %d packets", len(f.scrapes))
	}
	f.scrapeResp = []byte{1, 2, 3}
	f.mu.Unlock()
	if _, err := c.Scrape(context.Background(), f.url(""), hashes[:1]); err == nil || !strings.Contains(err.Error(), "3 bytes for 1 torrents") {
		t.Fatalf("short scrape: %v", err)
	}
}

func TestParseUDP(t *testing.T) {
	hdr := func(action, tid uint32, rest ...byte) []byte {
		return append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, action), tid), rest...)
	}
	for _, tc := range []struct {
		name       string
		p          []byte
		match      bool
		errPart    string
		bodyLength int
	}{
		{"short", []byte{0, 0, 0, 1, 0, 0}, false, "", 0},
		{"other transaction", hdr(1, 8), false, "", 0},
		{"match", hdr(1, 7, 1, 2), true, "", 2},
		{"error", hdr(3, 7, 'n', 'o', '\n'), true, "tracker refused: no?", 0},
		{"wrong action", hdr(2, 7), true, "action 2, want 1", 0},
	} {
		body, match, err := parseUDPResponse(tc.p, udpActionAnnounce, 7)
		if match != tc.match || len(body) != tc.bodyLength || (tc.errPart == "") != (err == nil) ||
			(err != nil && !strings.Contains(err.Error(), tc.errPart)) {
			t.Errorf("%s: body %v match %v err %v", tc.name, body, match, err)
		}
	}
	for _, tc := range []struct {
		body []byte
		ipv6 bool
		want string
	}{
		{make([]byte, 11), false, "19 bytes, want at least 20"},
		{append(make([]byte, 12), 1, 2, 3), false, "peers is 3 bytes, not a multiple of 6"},
		{append(make([]byte, 12), make([]byte, 6)...), true, "not a multiple of 18"},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}, false, "interval 4294967295 s out of range"},
		{[]byte{0, 0, 0, 1, 0x80, 0, 0, 0, 0, 0, 0, 0}, false, "leechers 2147483648 out of range"},
	} {
		if _, err := parseUDPAnnounce(tc.body, tc.ipv6, 10); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%x: error %v, want %q", tc.body, err, tc.want)
		}
	}
	v6 := append(make([]byte, 12), netip.MustParseAddr("2001:db8::7").AsSlice()...)
	v6 = append(v6, 0x1a, 0xe1)
	r, err := parseUDPAnnounce(v6, true, 10)
	if err != nil || len(r.Peers) != 1 || r.Peers[0] != netip.MustParseAddrPort("[2001:db8::7]:6881") {
		t.Fatalf("IPv6 announce: %+v %v", r, err)
	}
}
