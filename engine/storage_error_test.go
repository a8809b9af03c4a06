package engine

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStorageErrorStopsOnlyThatTorrent: a torrent whose files cannot be
// written goes to the error state with the path in the message, stops
// exchanging pieces, and another torrent in the same session completes.
func TestStorageErrorStopsOnlyThatTorrent(t *testing.T) {
	bad := makeFixture(t, 16<<10, 100<<10, 50<<10)
	good := makeFixture(t, 16<<10, 300<<10)
	seeder := newTestSession(t, Config{})
	for _, fx := range []fixture{bad, good} {
		if _, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir}); err != nil {
			t.Fatal(err)
		}
	}
	leecher := newTestSession(t, Config{})
	out := t.TempDir()
	peers := []netip.AddrPort{addrOf(t, seeder)}
	badTor, err := leecher.AddTorrent(bad.mi, AddOptions{SavePath: out})
	if err != nil {
		t.Fatal(err)
	}
	for badTor.Stats().State != StateDownloading {
		time.Sleep(10 * time.Millisecond)
	}
	// After the check, a plain file appears where the torrent's directory
	// must go: every write of a verified piece fails.
	if err := os.WriteFile(filepath.Join(out, "content"), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	badTor.AddPeers(peers...)
	goodTor, err := leecher.AddTorrent(good.mi, AddOptions{SavePath: t.TempDir(), Peers: peers})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = badTor.WaitComplete(ctx)
	st := badTor.Stats()
	if err == nil || st.State != StateError || st.Err == nil || !strings.Contains(st.Err.Error(), "content") {
		t.Fatalf("bad torrent: WaitComplete %v, state %v, err %v", err, st.State, st.Err)
	}
	t.Logf("error state: %v", st.Err)
	if st.Peers != 0 {
		t.Errorf("torrent in error state still has %d peers", st.Peers)
	}
	waitComplete(t, goodTor, 20*time.Second)
	// Once the obstacle is gone, starting again resumes the download.
	if err := os.Remove(filepath.Join(out, "content")); err != nil {
		t.Fatal(err)
	}
	if err := badTor.Start(); err != nil {
		t.Fatal(err)
	}
	badTor.AddPeers(peers...)
	waitComplete(t, badTor, 20*time.Second)
	sameContent(t, bad.mi, bad.dataDir, out)
}

// TestStopStartDuringCheck: stopping a torrent while it checks its data and
// starting it again must not take the stopped check's result for the new
// one (it would report "context canceled" as an error).
func TestStopStartDuringCheck(t *testing.T) {
	fx := makeFixture(t, 16<<10, 8<<20)
	s := newTestSession(t, Config{HashWorkers: 1})
	tor, err := s.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if err := tor.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := tor.Start(); err != nil {
			t.Fatal(err)
		}
	}
	waitComplete(t, tor, 20*time.Second)
	if st := tor.Stats(); st.State != StateSeeding || st.Err != nil || st.PiecesHave != st.Pieces {
		t.Fatalf("after stop/start during the check: %+v", st)
	}
}
