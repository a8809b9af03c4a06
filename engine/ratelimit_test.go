package engine

import (
	"net/netip"
	"testing"
	"time"
)

// TestDownloadRateLimit: a leecher limited to 1 MiB/s, by its session or
// by the torrent's own limit, receives no more than that (plus the
// limiter's burst and one block) over 10 s, although the seeder could send
// far faster.
func TestDownloadRateLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 12 s")
	}
	const limit = 1 << 20
	t.Run("session", func(t *testing.T) {
		t.Parallel()
		testDownloadRateLimit(t, Config{DownloadRate: limit}, AddOptions{}, limit)
	})
	t.Run("torrent", func(t *testing.T) {
		t.Parallel()
		testDownloadRateLimit(t, Config{DownloadRate: 4 * limit}, AddOptions{DownloadRate: limit}, limit)
	})
}

func testDownloadRateLimit(t *testing.T, cfg Config, add AddOptions, limit float64) {
	fx := makeFixture(t, 64<<10, 16<<20)
	seeder := newTestSession(t, Config{})
	if _, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir}); err != nil {
		t.Fatal(err)
	}
	leecher := newTestSession(t, cfg)
	add.SavePath, add.Peers = t.TempDir(), []netip.AddrPort{addrOf(t, seeder)}
	tor, err := leecher.AddTorrent(fx.mi, add)
	if err != nil {
		t.Fatal(err)
	}
	// Let the transfer start and the initial burst pass.
	deadline := time.Now().Add(10 * time.Second)
	for float64(tor.Stats().Downloaded) < 2*limit {
		if time.Now().After(deadline) {
			t.Fatalf("transfer did not start: %+v", tor.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	start, t0 := tor.Stats().Downloaded, time.Now()
	time.Sleep(10 * time.Second)
	got, elapsed := tor.Stats().Downloaded-start, time.Since(t0)
	rate := float64(got) / elapsed.Seconds()
	t.Logf("%.0f bytes/s over %v with a limit of %.0f", rate, elapsed, limit)
	if rate > 1.1*limit {
		t.Errorf("downloaded at %.0f bytes/s, more than 10%% over the %.0f limit", rate, limit)
	}
	if rate < 0.5*limit {
		t.Errorf("downloaded at only %.0f bytes/s with a %.0f limit", rate, limit)
	}
}
