package engine

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestNoSelfConnection: given our own address, we connect to nobody.
func TestNoSelfConnection(t *testing.T) {
	fx := makeFixture(t, 16<<10, 64<<10)
	s := newTestSession(t, Config{})
	tor, err := s.AddTorrent(fx.mi, AddOptions{SavePath: t.TempDir(), Peers: []netip.AddrPort{addrOf(t, s)}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if st := tor.Stats(); st.Peers != 0 || st.KnownPeers != 1 {
		t.Errorf("connected to ourselves: %d peers, %d known", st.Peers, st.KnownPeers)
	}
}

// TestSimultaneousDialsKeepOneConnection: two peers that dial each other at
// the same moment end up with exactly one connection, not zero or two:
// both sides keep the one opened by the peer with the smaller peer id.
func TestSimultaneousDialsKeepOneConnection(t *testing.T) {
	fx := makeFixture(t, 16<<10, 64<<10)
	for round := 0; round < 5; round++ {
		a := newTestSession(t, Config{})
		b := newTestSession(t, Config{})
		ta, err := a.AddTorrent(fx.mi, AddOptions{SavePath: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		tb, err := b.AddTorrent(fx.mi, AddOptions{SavePath: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		for ta.Stats().State != StateDownloading || tb.Stats().State != StateDownloading {
			time.Sleep(5 * time.Millisecond)
		}
		start := time.Now()
		go ta.AddPeers(addrOf(t, b))
		go tb.AddPeers(addrOf(t, a))
		deadline := time.Now().Add(5 * time.Second)
		for {
			pa, pb := ta.Stats().Peers, tb.Stats().Peers
			if pa == 1 && pb == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d and %d peers, want 1 each", round, pa, pb)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("round %d: one connection after %v", round, time.Since(start))
		time.Sleep(200 * time.Millisecond)
		if pa, pb := ta.Stats().Peers, tb.Stats().Peers; pa != 1 || pb != 1 {
			t.Fatalf("round %d: settled at %d and %d peers", round, pa, pb)
		}
		a.Close()
		b.Close()
	}
}

// TestFreedSlotGoesToWaitingPeer: with one upload slot, when the peer
// holding it stops being interested, the waiting peer is unchoked at once
// rather than at the next 10 s rechoke.
func TestFreedSlotGoesToWaitingPeer(t *testing.T) {
	fx := makeFixture(t, 16<<10, 256<<10)
	seeder := newTestSession(t, Config{UploadSlots: 1})
	st, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, st, 10*time.Second)
	first := newTestSession(t, Config{})
	t1, err := first.AddTorrent(fx.mi, AddOptions{SavePath: t.TempDir(), Peers: []netip.AddrPort{addrOf(t, seeder)}})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, t1, 10*time.Second)
	// The first leecher is now a seed and was disconnected; a new one and a
	// slow one compete.
	second := newTestSession(t, Config{DownloadRate: 64 << 10})
	t2, err := second.AddTorrent(fx.mi, AddOptions{SavePath: t.TempDir(), Peers: []netip.AddrPort{addrOf(t, seeder)}})
	if err != nil {
		t.Fatal(err)
	}
	unchoked := func(tor *Torrent) bool {
		for _, p := range tor.Peers() {
			if !p.PeerChoking {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(5 * time.Second)
	for !unchoked(t2) {
		if time.Now().After(deadline) {
			t.Fatal("second leecher never unchoked")
		}
		time.Sleep(20 * time.Millisecond)
	}
	third := newTestSession(t, Config{})
	t3, err := third.AddTorrent(fx.mi, AddOptions{SavePath: t.TempDir(), Peers: []netip.AddrPort{addrOf(t, seeder)}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	// Choked, it may get only its allowed fast set (BEP 6).
	if st := t3.Stats(); unchoked(t3) || st.Downloaded > allowedFastK*16<<10 {
		t.Fatalf("third leecher unchoked or got more than its allowed fast set while the only slot was taken: %+v", st)
	}
	// Free the only slot: the second leecher goes away. The third must get
	// it well before the next rechoke, 10 s after the seeder started.
	second.Close()
	waitComplete(t, t3, 3*time.Second)
}

// TestSilentConnectionsAreBounded: connections that never send a handshake
// are cut off beyond MaxConns, and the session still serves real peers.
func TestSilentConnectionsAreBounded(t *testing.T) {
	fx := makeFixture(t, 16<<10, 64<<10)
	seeder := newTestSession(t, Config{MaxConns: 8})
	if _, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir}); err != nil {
		t.Fatal(err)
	}
	addr := seeder.Addr().String()
	var silent []net.Conn
	for i := 0; i < 30; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		silent = append(silent, c)
	}
	defer func() {
		for _, c := range silent {
			c.Close()
		}
	}()
	// Beyond the limit, connections are closed at once: reading from
	// them ends instead of blocking.
	closed := 0
	for _, c := range silent {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
			closed++
		}
	}
	if closed < 30-8 {
		t.Errorf("%d of 30 silent connections closed at once, want at least %d", closed, 30-8)
	}
	for _, c := range silent {
		c.Close()
	}
	// Once they are gone, a real peer is served.
	time.Sleep(100 * time.Millisecond)
	leecher := newTestSession(t, Config{})
	tor, err := leecher.AddTorrent(fx.mi, AddOptions{SavePath: t.TempDir(), Peers: []netip.AddrPort{addrOf(t, seeder)}})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, tor, 20*time.Second)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
