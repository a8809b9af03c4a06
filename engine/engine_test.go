package engine

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"shoal/internal/testkit"
	"shoal/metainfo"
)

// fixture is a torrent with its data on disk.
type fixture struct {
	mi      *metainfo.MetaInfo
	dataDir string // the directory that holds the torrent's top file or directory
}

// makeFixture writes files of the given sizes (one file: single-file
// torrent) with pseudo-random content and builds a torrent of them.
func makeFixture(t testing.TB, pieceLength int64, sizes ...int64) fixture {
	t.Helper()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(uint64(len(sizes)), uint64(pieceLength)))
	root := filepath.Join(dir, "content")
	if len(sizes) > 1 {
		if err := os.MkdirAll(filepath.Join(root, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i, size := range sizes {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(r.UintN(256))
		}
		p := root
		if len(sizes) > 1 {
			p = filepath.Join(root, "sub", string(rune('a'+i))+".bin")
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mi, err := metainfo.Build(context.Background(), root, metainfo.BuildOptions{PieceLength: pieceLength})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{mi: mi, dataDir: dir}
}

// sameContent fails the test unless every file of the torrent is identical
// under both directories.
func sameContent(t *testing.T, mi *metainfo.MetaInfo, dirA, dirB string) {
	t.Helper()
	for i := range mi.Info.Files {
		a, err := mi.Info.FilePath(dirA, i)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := mi.Info.FilePath(dirB, i)
		da, err := os.ReadFile(a)
		if err != nil {
			t.Fatal(err)
		}
		db, err := os.ReadFile(b)
		if err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		if !bytes.Equal(da, db) {
			t.Fatalf("file %s differs", b)
		}
	}
}

func newTestSession(t *testing.T, cfg Config) *Session {
	t.Helper()
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1:0"
	}
	s, err := NewSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func addrOf(t *testing.T, s *Session) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

func waitComplete(t *testing.T, tor *Torrent, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := tor.WaitComplete(ctx); err != nil {
		st := tor.Stats()
		t.Fatalf("%s: %v (state %v, err %v, %d/%d pieces, %d peers)", tor.Name(), err, st.State, st.Err, st.PiecesHave, st.Pieces, st.Peers)
	}
}

func TestSeedToOneLeecher(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, tc := range []struct {
		name  string
		piece int64
		sizes []int64
	}{
		{"single", 32 << 10, []int64{1<<20 + 12345}},
		{"multi with empty file", 16 << 10, []int64{100000, 0, 16 << 10, 300001}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := makeFixture(t, tc.piece, tc.sizes...)
			seeder := newTestSession(t, Config{})
			leecher := newTestSession(t, Config{})
			st, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
			if err != nil {
				t.Fatal(err)
			}
			waitComplete(t, st, 10*time.Second) // the check finds all pieces
			out := t.TempDir()
			lt, err := leecher.AddTorrent(fx.mi, AddOptions{SavePath: out, Peers: []netip.AddrPort{addrOf(t, seeder)}})
			if err != nil {
				t.Fatal(err)
			}
			waitComplete(t, lt, 30*time.Second)
			sameContent(t, fx.mi, fx.dataDir, out)
			stats := lt.Stats()
			if stats.State != StateSeeding || stats.Progress != 1 || stats.VerifiedAtStart != 0 {
				t.Errorf("leecher stats: %+v", stats)
			}
			if stats.Downloaded < fx.mi.Info.TotalLength() {
				t.Errorf("downloaded %d of %d bytes", stats.Downloaded, fx.mi.Info.TotalLength())
			}
			seeder.Close()
			leecher.Close()
			checkNoEngineGoroutines(t)
		})
	}
	testkit.WaitGoroutines(t, before)
}

func TestSwarmOfEight(t *testing.T) {
	fx := makeFixture(t, 32<<10, 2<<20)
	seeder := newTestSession(t, Config{})
	if _, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir}); err != nil {
		t.Fatal(err)
	}
	leechSwarm(t, fx, seeder, 8, Config{})
}

// leechSwarm starts n leechers of fx, each a session with cfg that knows
// the seeder and every leecher started before it, and checks that each
// one completes with the seeder's content.
func leechSwarm(t *testing.T, fx fixture, seeder *Session, n int, cfg Config) {
	t.Helper()
	addrs := []netip.AddrPort{addrOf(t, seeder)}
	var torrents []*Torrent
	var dirs []string
	for range n {
		s := newTestSession(t, cfg)
		dir := t.TempDir()
		tor, err := s.AddTorrent(fx.mi, AddOptions{SavePath: dir, Peers: addrs})
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, addrOf(t, s))
		torrents, dirs = append(torrents, tor), append(dirs, dir)
	}
	for i, tor := range torrents {
		waitComplete(t, tor, 60*time.Second)
		sameContent(t, fx.mi, fx.dataDir, dirs[i])
	}
}

func TestResumeSkipsVerifiedPieces(t *testing.T) {
	fx := makeFixture(t, 16<<10, 512<<10)
	seeder := newTestSession(t, Config{})
	if _, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir}); err != nil {
		t.Fatal(err)
	}
	dataDir, out := t.TempDir(), t.TempDir()
	s1 := newTestSession(t, Config{DataDir: dataDir})
	tor, err := s1.AddTorrent(fx.mi, AddOptions{SavePath: out, Peers: []netip.AddrPort{addrOf(t, seeder)}})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, tor, 30*time.Second)
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := newTestSession(t, Config{DataDir: dataDir})
	tor2, err := s2.AddTorrent(fx.mi, AddOptions{SavePath: out})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, tor2, 10*time.Second)
	st := tor2.Stats()
	if st.VerifiedAtStart != fx.mi.Info.NumPieces() || st.Downloaded != 0 {
		t.Errorf("after restart: verified at start %d of %d, downloaded %d", st.VerifiedAtStart, fx.mi.Info.NumPieces(), st.Downloaded)
	}
	if st.DownloadedEver < fx.mi.Info.TotalLength() {
		t.Errorf("DownloadedEver = %d, want at least %d", st.DownloadedEver, fx.mi.Info.TotalLength())
	}
}

func TestRemoveDeletesData(t *testing.T) {
	fx := makeFixture(t, 16<<10, 64<<10, 10, 20)
	s := newTestSession(t, Config{})
	tor, err := s.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, tor, 10*time.Second)
	if err := tor.Remove(true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(fx.dataDir, "content")); !os.IsNotExist(err) {
		t.Errorf("content still there after Remove(true): %v", err)
	}
	if len(s.Torrents()) != 0 {
		t.Error("torrent still in the session")
	}
}

// TestRemoveKeepsPlantedSymlinkTargets: a symlink planted in the download
// directory must not make Remove(true) delete files outside it.
func TestRemoveKeepsPlantedSymlinkTargets(t *testing.T) {
	fx := makeFixture(t, 16<<10, 20000, 30000)
	s := newTestSession(t, Config{})
	out := t.TempDir()
	lt, err := s.AddTorrent(fx.mi, AddOptions{SavePath: out, Stopped: true})
	if err != nil {
		t.Fatal(err)
	}
	// out/content/sub -> outside, holding files with the torrent's names.
	outside := t.TempDir()
	for i := range fx.mi.Info.Files {
		p, _ := fx.mi.Info.FilePath(outside, i)
		if err := os.WriteFile(filepath.Join(outside, filepath.Base(p)), []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(out, fx.mi.Info.Name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(out, fx.mi.Info.Name, "sub")); err != nil {
		t.Fatal(err)
	}
	lt.Remove(true) // may report the planted link; must not follow it
	entries, _ := os.ReadDir(outside)
	if len(entries) != len(fx.mi.Info.Files) {
		t.Fatalf("files outside the download directory: %d left of %d", len(entries), len(fx.mi.Info.Files))
	}
}

// TestStopStartCountsBytesOnce: after Stop and Start in one session, the
// resume record the second check reads already holds this session's bytes;
// they must not be counted twice in the "ever" totals.
func TestStopStartCountsBytesOnce(t *testing.T) {
	fx := makeFixture(t, 32<<10, 200000)
	seeder := newTestSession(t, Config{})
	st, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, st, 10*time.Second)
	leecher := newTestSession(t, Config{DataDir: t.TempDir()})
	lt, err := leecher.AddTorrent(fx.mi, AddOptions{SavePath: t.TempDir(), Peers: []netip.AddrPort{addrOf(t, seeder)}})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, lt, 30*time.Second)
	if err := lt.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := lt.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for lt.Stats().State != StateSeeding {
		if time.Now().After(deadline) {
			t.Fatalf("not seeding again: %+v", lt.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s := lt.Stats(); s.DownloadedEver != s.Downloaded {
		t.Fatalf("downloaded %d bytes this session but %d ever", s.Downloaded, s.DownloadedEver)
	}
}
