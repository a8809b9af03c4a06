package engine

import (
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
