package engine

import (
	"net/netip"
	"testing"
	"time"

	"shoal/metainfo"
	"shoal/peerwire"
)

// fastPEX shortens the PEX interval for one test (sessions are started
// after it and closed before it is restored).
func fastPEX(t *testing.T) {
	old := pexInterval
	pexInterval = 300 * time.Millisecond
	t.Cleanup(func() { pexInterval = old })
}

// pexTrio starts three sessions with torrent mi, none with its data, so
// that nobody completes and every connection stays: A knows only B, B
// knows only C.
func pexTrio(t *testing.T, mi *metainfo.MetaInfo, cfg Config) (a, c *Torrent, cID peerwire.PeerID) {
	t.Helper()
	sa, sb, sc := newTestSession(t, cfg), newTestSession(t, cfg), newTestSession(t, cfg)
	tc, err := sc.AddTorrent(mi, AddOptions{SavePath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.AddTorrent(mi, AddOptions{SavePath: t.TempDir(), Peers: []netip.AddrPort{addrOf(t, sc)}}); err != nil {
		t.Fatal(err)
	}
	ta, err := sa.AddTorrent(mi, AddOptions{SavePath: t.TempDir(), Peers: []netip.AddrPort{addrOf(t, sb)}})
	if err != nil {
		t.Fatal(err)
	}
	return ta, tc, sc.PeerID()
}

// connectedTo reports whether tor is connected to the peer with this id
// (by id: when two peers learn of each other at once, the connection
// that stays may be the one the other opened).
func connectedTo(tor *Torrent, id peerwire.PeerID) bool {
	for _, p := range tor.Peers() {
		if p.ID == id {
			return true
		}
	}
	return false
}

// TestPEXIntroducesPeers: A learns C's address from B (BEP 11) and
// connects to it.
func TestPEXIntroducesPeers(t *testing.T) {
	fastPEX(t)
	fx := makeFixture(t, 16<<10, 100000)
	a, c, cID := pexTrio(t, fx.mi, Config{})
	deadline := time.Now().Add(15 * time.Second)
	for !connectedTo(a, cID) {
		if time.Now().After(deadline) {
			t.Fatalf("A never connected to C: stats %+v, peers %+v", a.Stats(), a.Peers())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// B tells A about C and C about A: whichever dialled first, one of
	// them took the other's address from PEX.
	if learned := a.Stats().PEXPeers + c.Stats().PEXPeers; learned < 1 {
		t.Errorf("PEXPeers of A and C = %d, want at least 1", learned)
	}
}

// TestPEXOff: no peer exchange for a private torrent (BEP 27) or with
// Config.NoPEX.
func TestPEXOff(t *testing.T) {
	fastPEX(t)
	fx := makeFixture(t, 16<<10, 100000)
	private := *fx.mi
	info := private.Info
	info.Private = true
	if err := private.SetInfo(info); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mi   *metainfo.MetaInfo
		cfg  Config
	}{
		{"private", &private, Config{}},
		{"NoPEX", fx.mi, Config{NoPEX: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, c, cID := pexTrio(t, tc.mi, tc.cfg)
			// Several intervals, and time for the once-a-second tick to
			// send in each.
			time.Sleep(4*pexInterval + 1500*time.Millisecond)
			if connectedTo(a, cID) || a.Stats().PEXPeers != 0 || a.Stats().KnownPeers != 1 || len(c.Peers()) != 1 {
				t.Fatalf("A learned of C: stats %+v, peers %+v", a.Stats(), a.Peers())
			}
		})
	}
}

func TestPEXDiff(t *testing.T) {
	ap := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 6881)
	}
	receiver := ap(0)
	current := map[netip.AddrPort]peerwire.PEXFlags{receiver: 0, ap(1): peerwire.PEXSeed, ap(2): peerwire.PEXReachable}
	// First message: every current peer but the receiver.
	msg := pexDiff(current, nil, receiver)
	if len(msg.Added) != 2 || len(msg.Dropped) != 0 {
		t.Fatalf("first message %+v", msg)
	}
	for _, a := range msg.Added {
		if a.Addr == receiver || a.Flags != current[a.Addr] {
			t.Fatalf("first message %+v", msg)
		}
	}
	// ap(1) left, ap(3) came: one added, one dropped.
	sent := map[netip.AddrPort]bool{ap(1): true, ap(2): true}
	delete(current, ap(1))
	current[ap(3)] = 0
	msg = pexDiff(current, sent, receiver)
	if len(msg.Added) != 1 || msg.Added[0].Addr != ap(3) || len(msg.Dropped) != 1 || msg.Dropped[0] != ap(1) {
		t.Fatalf("update %+v", msg)
	}
	// Nothing changed: nothing to say.
	sent = map[netip.AddrPort]bool{ap(2): true, ap(3): true}
	if msg = pexDiff(current, sent, receiver); len(msg.Added)+len(msg.Dropped) != 0 {
		t.Fatalf("no change gave %+v", msg)
	}
	// At most 50 of each.
	many := map[netip.AddrPort]peerwire.PEXFlags{}
	gone := map[netip.AddrPort]bool{}
	for i := range 120 {
		many[ap(1000+i)] = 0
		gone[ap(2000+i)] = true
	}
	if msg = pexDiff(many, gone); len(msg.Added) != pexMaxPeers || len(msg.Dropped) != pexMaxPeers {
		t.Fatalf("%d added, %d dropped; want %d each", len(msg.Added), len(msg.Dropped), pexMaxPeers)
	}
}

// TestHandlePEX checks what a received PEX message adds to the known
// peers: at most 50, one per IP, none from a peer that sends too often,
// none for a private torrent.
func TestHandlePEX(t *testing.T) {
	newTorrent := func(private bool) *Torrent {
		s := &Session{cfg: Config{}.withDefaults()}
		s.log = s.cfg.Logger
		return &Torrent{s: s, info: &metainfo.Info{Private: private}, known: map[netip.AddrPort]*knownPeer{},
			peers: map[int]*peer{}}
	}
	msg := func(addrs ...string) []byte {
		var m peerwire.PEXMessage
		for _, a := range addrs {
			m.Added = append(m.Added, peerwire.PEXPeer{Addr: netip.MustParseAddrPort(a)})
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tor := newTorrent(false)
	p := &peer{addr: netip.MustParseAddrPort("10.0.0.1:1")}
	now := time.Now()
	tor.handlePEX(p, msg("10.0.0.2:1", "10.0.0.2:2", "10.0.0.3:1"), now)
	if len(tor.known) != 2 || tor.pexLearned != 2 {
		t.Fatalf("known %v after a message with 2 distinct IPs", tor.known)
	}
	tor.handlePEX(p, msg("10.0.0.4:1"), now.Add(pexInterval/2))
	if len(tor.known) != 2 {
		t.Fatal("a message within half an interval was accepted")
	}
	tor.handlePEX(p, []byte("garbage"), now.Add(pexInterval))
	var many []string
	for i := range 80 {
		many = append(many, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}), 1).String())
	}
	tor.handlePEX(p, msg(many...), now.Add(pexInterval))
	if len(tor.known) != 2+pexMaxPeers || tor.pexLearned != 2+pexMaxPeers {
		t.Fatalf("known %d, learned %d after 80 more; want %d", len(tor.known), tor.pexLearned, 2+pexMaxPeers)
	}
	// A peer we are connected to (here: one that connected to us and
	// announced its listen port 5) is not dialled again.
	fresh := newTorrent(false)
	fresh.peers[1] = &peer{addr: netip.MustParseAddrPort("10.0.0.9:40000"), incoming: true, ext: peerExt{listenPort: 5}}
	fresh.handlePEX(&peer{addr: p.addr}, msg("10.0.0.9:5", "10.0.0.9:6"), now)
	if _, ok := fresh.known[netip.MustParseAddrPort("10.0.0.9:6")]; len(fresh.known) != 1 || !ok {
		t.Fatalf("known %v; want only 10.0.0.9:6", fresh.known)
	}
	private := newTorrent(true)
	private.handlePEX(p, msg("10.0.0.2:1"), now)
	if len(private.known) != 0 {
		t.Fatal("a private torrent took peers from PEX")
	}
}
