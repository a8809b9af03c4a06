package sources

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"shoal/metainfo"
)

type fakeTorrent struct{}

func (fakeTorrent) InfoHash() metainfo.InfoHash      { return metainfo.InfoHash{1} }
func (fakeTorrent) Port() int                        { return 6881 }
func (fakeTorrent) Counters() (up, down, left int64) { return 0, 0, 100 }

func TestManualReportsOnceAndStopsWithContext(t *testing.T) {
	peers := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.2:6881"), netip.MustParseAddrPort("[::1]:51413")}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan []netip.AddrPort, 2)
	done := make(chan error, 1)
	go func() { done <- Manual{Peers: peers}.Run(ctx, fakeTorrent{}, func(a []netip.AddrPort) { got <- a }) }()
	select {
	case a := <-got:
		if len(a) != 2 || a[0] != peers[0] || a[1] != peers[1] {
			t.Fatalf("reported %v, want %v", a, peers)
		}
		a[0] = netip.AddrPort{} // the caller may keep and change what it got
		if !peers[0].IsValid() {
			t.Fatal("Run handed out its own slice")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing reported")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not end with its context")
	}
	if len(got) != 0 {
		t.Fatal("reported twice")
	}
}
