package engine

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"shoal/engine/sources"
)

// lateSource reports its peers only after a while, as a tracker would, and
// records what it was told about the torrent.
type lateSource struct {
	peers   []netip.AddrPort
	counted chan int64 // "left" as the source saw it
}

func (s lateSource) Name() string { return "late" }

func (s lateSource) Run(ctx context.Context, t sources.Torrent, found func([]netip.AddrPort)) error {
	select {
	case <-time.After(100 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	_, _, left := t.Counters()
	s.counted <- left
	found(s.peers)
	<-ctx.Done()
	return ctx.Err()
}

func TestPeerSourceFeedsConnections(t *testing.T) {
	fx := makeFixture(t, 16<<10, 100<<10)
	seeder := newTestSession(t, Config{})
	if _, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir}); err != nil {
		t.Fatal(err)
	}
	src := lateSource{peers: []netip.AddrPort{addrOf(t, seeder)}, counted: make(chan int64, 1)}
	leecher := newTestSession(t, Config{})
	tor, err := leecher.AddTorrent(fx.mi, AddOptions{SavePath: t.TempDir(), Sources: []sources.Source{src}})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, tor, 20*time.Second)
	if left := <-src.counted; left != fx.mi.Info.TotalLength() {
		t.Errorf("source saw left = %d, want %d", left, fx.mi.Info.TotalLength())
	}
	if st := tor.Stats(); st.KnownPeers != 1 {
		t.Errorf("KnownPeers = %d, want 1", st.KnownPeers)
	}
}
