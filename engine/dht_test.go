package engine

import (
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"shoal/dht"
	"shoal/internal/testkit"
)

// newBootstrapNode starts a standalone DHT node on loopback for sessions to
// join through.
func newBootstrapNode(t *testing.T) *dht.Node {
	t.Helper()
	n, err := dht.New(dht.Config{ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func dhtConfig(boot *dht.Node) Config {
	return Config{DHT: DHTConfig{Enabled: true, Bootstrap: []string{boot.Addr().String()}}}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDHTFindsSeeder downloads a torrent whose only peer source is the
// DHT: the seeder announces it, the leecher looks it up.
func TestDHTFindsSeeder(t *testing.T) {
	before := runtime.NumGoroutine()
	boot := newBootstrapNode(t)
	fx := makeFixture(t, 32<<10, 300001)
	seeder := newTestSession(t, dhtConfig(boot))
	leecher := newTestSession(t, dhtConfig(boot))
	st, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, st, 10*time.Second)
	out := t.TempDir()
	lt, err := leecher.AddTorrent(fx.mi, AddOptions{SavePath: out})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, lt, 60*time.Second)
	sameContent(t, fx.mi, fx.dataDir, out)
	if seeder.DHT() == nil || seeder.DHT().Addr().Port() != addrOf(t, seeder).Port() {
		t.Errorf("the DHT node should listen on the TCP listener's port %d", addrOf(t, seeder).Port())
	}
	seeder.Close()
	leecher.Close()
	boot.Close()
	testkit.WaitGoroutines(t, before)
}

// TestPrivateTorrentStaysOffDHT checks BEP 27: a private torrent is never
// announced to the DHT, while a public one next to it is.
func TestPrivateTorrentStaysOffDHT(t *testing.T) {
	boot := newBootstrapNode(t)
	public := makeFixture(t, 32<<10, 100000)
	private := makeFixture(t, 32<<10, 100001, 5)
	info := private.mi.Info
	info.Private = true
	if err := private.mi.SetInfo(info); err != nil {
		t.Fatal(err)
	}
	seeder := newTestSession(t, dhtConfig(boot))
	for _, fx := range []fixture{private, public} {
		if _, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "the public torrent's announce", func() bool { return boot.Stats().Torrents > 0 })
	time.Sleep(time.Second) // time for a wrong announce of the private one to arrive
	if n := boot.Stats().Torrents; n != 1 {
		t.Fatalf("bootstrap node stores peers of %d torrents, want only the public one", n)
	}
}

// TestPortMessageAddsNode checks BEP 5's PORT message: two sessions with
// DHT nodes that know no other node connect as peers, and each adds the
// other's node to its routing table from the PORT message.
func TestPortMessageAddsNode(t *testing.T) {
	fx := makeFixture(t, 32<<10, 100000)
	cfg := Config{DHT: DHTConfig{Enabled: true, Bootstrap: []string{}}}
	a := newTestSession(t, cfg)
	b := newTestSession(t, cfg)
	if _, err := a.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddTorrent(fx.mi, AddOptions{SavePath: t.TempDir(), Peers: []netip.AddrPort{addrOf(t, a)}}); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*Session{"a": a, "b": b} {
		waitFor(t, 20*time.Second, name+"'s routing table to hold the other node", func() bool { return s.DHT().Stats().Nodes > 0 })
	}
}

// TestNoDHTByDefault: the zero Config runs no DHT node and advertises none.
func TestNoDHTByDefault(t *testing.T) {
	s := newTestSession(t, Config{})
	if s.DHT() != nil || s.ourReserved().DHT() {
		t.Fatal("a session with the zero Config runs a DHT node")
	}
}

// TestDHTPortTaken: when the UDP port of our TCP port is in use, the DHT
// node takes another one instead of failing the session.
func TestDHTPortTaken(t *testing.T) {
	first := newTestSession(t, Config{})
	udp, err := net.ListenPacket("udp", addrOf(t, first).String())
	if err != nil {
		t.Fatalf("holding the UDP port: %v", err)
	}
	defer udp.Close()
	first.Close()
	s := newTestSession(t, Config{ListenAddr: addrOf(t, first).String(), DHT: DHTConfig{Enabled: true, Bootstrap: []string{}}})
	if s.DHT() == nil || s.DHT().Addr().Port() == addrOf(t, s).Port() {
		t.Fatalf("DHT node: %v, TCP %v", s.DHT(), addrOf(t, s))
	}
}
