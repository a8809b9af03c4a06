package swarmtest

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"shoal/engine"
)

// Loopback addresses of the honest swarm; tests give hostile peers
// addresses of their own (Addr), so banning one bans nobody honest.
var (
	SeederIP  = netip.MustParseAddr("127.0.0.1")
	LeecherIP = netip.MustParseAddr("127.0.0.2")
)

// Addr returns 127.0.0.n.
func Addr(n byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 0, n}) }

// NewSession starts a Session listening on ip (a port the system picks),
// closed when the test ends.
func NewSession(t testing.TB, ip netip.Addr, cfg engine.Config) *engine.Session {
	t.Helper()
	cfg.ListenAddr = netip.AddrPortFrom(ip, 0).String()
	s, err := engine.NewSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// SessionAddr is the address a Session accepts peers on.
func SessionAddr(t testing.TB, s *engine.Session) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// SwarmOptions configures NewSwarm; zero fields have defaults.
type SwarmOptions struct {
	// PieceLength and Size of the torrent (defaults 32 KiB and 1 MiB).
	PieceLength, Size int64
	// Seeder and Leecher configure the two sessions (ListenAddr is set
	// by NewSwarm).
	Seeder, Leecher engine.Config
}

// Swarm is an honest seeder and leecher of one torrent on loopback.
type Swarm struct {
	Content *Content
	// Seeder seeds Content from SeederIP; SeederTorrent is its torrent.
	Seeder        *engine.Session
	SeederTorrent *engine.Torrent
	// Leecher listens on LeecherIP; its torrent is added by StartLeecher.
	Leecher        *engine.Session
	LeecherTorrent *engine.Torrent
	// LeecherDir is where the leecher saves the torrent.
	LeecherDir string
}

// NewSwarm builds the torrent, starts the seeder (and waits until its
// check found every piece) and the leecher's session.
func NewSwarm(t testing.TB, o SwarmOptions) *Swarm {
	t.Helper()
	if o.PieceLength == 0 {
		o.PieceLength = 32 << 10
	}
	if o.Size == 0 {
		o.Size = 1 << 20
	}
	sw := &Swarm{Content: NewContent(t, o.PieceLength, o.Size, uint64(o.PieceLength))}
	sw.Seeder = NewSession(t, SeederIP, o.Seeder)
	tor, err := sw.Seeder.AddTorrent(sw.Content.MetaInfo, engine.AddOptions{SavePath: sw.Content.Dir})
	if err != nil {
		t.Fatal(err)
	}
	WaitComplete(t, tor, 30*time.Second)
	sw.SeederTorrent = tor
	sw.Leecher = NewSession(t, LeecherIP, o.Leecher)
	sw.LeecherDir = t.TempDir()
	return sw
}

// SeederAddr is where the seeder accepts peers.
func (sw *Swarm) SeederAddr(t testing.TB) netip.AddrPort { return SessionAddr(t, sw.Seeder) }

// LeecherAddr is where the leecher accepts peers.
func (sw *Swarm) LeecherAddr(t testing.TB) netip.AddrPort { return SessionAddr(t, sw.Leecher) }

// StartLeecher adds the torrent to the leecher, knowing the seeder.
func (sw *Swarm) StartLeecher(t testing.TB) *engine.Torrent {
	t.Helper()
	return sw.StartLeecherWith(t, []netip.AddrPort{sw.SeederAddr(t)})
}

// StartLeecherWith adds the torrent to the leecher, knowing only peers
// (none: it waits for connections, or Torrent.AddPeers).
func (sw *Swarm) StartLeecherWith(t testing.TB, peers []netip.AddrPort) *engine.Torrent {
	t.Helper()
	tor, err := sw.Leecher.AddTorrent(sw.Content.MetaInfo, engine.AddOptions{SavePath: sw.LeecherDir, Peers: peers})
	if err != nil {
		t.Fatal(err)
	}
	sw.LeecherTorrent = tor
	return tor
}

// WaitLeecher waits until the leecher has every piece, and checks its
// data is the seeder's.
func (sw *Swarm) WaitLeecher(t testing.TB, timeout time.Duration) {
	t.Helper()
	WaitComplete(t, sw.LeecherTorrent, timeout)
	sw.Content.SameAs(t, sw.LeecherDir)
}

// LeechWhile starts the leecher from the seeder and, at once, hostile in
// a goroutine; it waits for the download to complete, then closes stop
// and waits for hostile to return. hostile reports failures with t.Error.
func (sw *Swarm) LeechWhile(t testing.TB, timeout time.Duration, hostile func(stop <-chan struct{})) {
	t.Helper()
	sw.StartLeecher(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		hostile(stop)
	}()
	defer wg.Wait()
	defer close(stop)
	sw.WaitLeecher(t, timeout)
}

// WaitComplete waits until tor has every wanted piece.
func WaitComplete(t testing.TB, tor *engine.Torrent, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := tor.WaitComplete(ctx); err != nil {
		st := tor.Stats()
		t.Fatalf("%s not complete: %v (state %v, err %v, %d/%d pieces, %d peers)",
			tor.Name(), err, st.State, st.Err, st.PiecesHave, st.Pieces, st.Peers)
	}
}

// HasPeer reports whether tor is connected to a peer at ip.
func HasPeer(tor *engine.Torrent, ip netip.Addr) bool {
	for _, p := range tor.Peers() {
		if p.Addr.Addr() == ip {
			return true
		}
	}
	return false
}

// WaitPeer waits up to timeout until HasPeer(tor, ip) is want.
func WaitPeer(tor *engine.Torrent, ip netip.Addr, want bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for HasPeer(tor, ip) != want {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
