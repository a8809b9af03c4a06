package interop

import (
	"strings"
	"testing"
)

// ltSeed starts libtorrent seeding f from its original content, dialing
// peers, and waits until it has checked the data and seeds. It returns the
// address it listens on.
func ltSeed(t *testing.T, f fixture, peers ...string) (p *proc, addr string) {
	t.Helper()
	requireLibtorrent(t)
	addr = hostPort(libtorrentIP, freePort(t))
	args := []string{ltScript(t), "seed", f.torrent, f.parent, "--listen", addr}
	for _, peer := range peers {
		args = append(args, "--peer", peer)
	}
	p = startProc(t, pythonPath, args...)
	p.waitOutput(t, `"listen_port"`, readyTimeout)
	return p, addr
}

// ltDownload starts libtorrent downloading f into a fresh directory,
// dialing peers (again every second until connected).
func ltDownload(t *testing.T, f fixture, peers ...string) (p *proc, saveDir string) {
	t.Helper()
	requireLibtorrent(t)
	saveDir = t.TempDir()
	args := []string{ltScript(t), "download", f.torrent, saveDir,
		"--listen", hostPort(libtorrentIP, freePort(t)), "--timeout", "90"}
	for _, peer := range peers {
		args = append(args, "--peer", peer)
	}
	return startProc(t, pythonPath, args...), saveDir
}

// finishLtDownload waits until libtorrent has every piece verified and has
// exited, then compares its files with the original.
func finishLtDownload(t *testing.T, p *proc, f fixture, saveDir string) {
	t.Helper()
	p.waitSuccess(t, transferTimeout)
	if !strings.Contains(p.stdout.String(), `"done": true`) {
		t.Fatalf("lt.py download exited without finishing\n%s", p.output())
	}
	compareDownload(t, "libtorrent", f, saveDir)
}

// TestLibtorrentSeedsShoalDownloads: libtorrent is the only seeder and
// `shoal get --peer` downloads every case from it.
func TestLibtorrentSeedsShoalDownloads(t *testing.T) {
	t.Parallel()
	requireShoal(t)
	requireLibtorrent(t)
	for _, c := range transferCases {
		t.Run(c.name, func(t *testing.T) {
			f := makeFixture(t, c)
			_, ltAddr := ltSeed(t, f)
			get, saveDir := shoalGet(t, f, ltAddr)
			finishShoalGet(t, get, f, saveDir)
		})
	}
}

// TestShoalSeedsLibtorrentDownloads: `shoal seed` is the only seeder and
// libtorrent, told Shoal's address with connect_peer, downloads every case.
func TestShoalSeedsLibtorrentDownloads(t *testing.T) {
	t.Parallel()
	requireShoal(t)
	requireLibtorrent(t)
	for _, c := range transferCases {
		t.Run(c.name, func(t *testing.T) {
			f := makeFixture(t, c)
			seed, shoalAddr := shoalSeed(t, f)
			lt, saveDir := ltDownload(t, f, shoalAddr)
			finishLtDownload(t, lt, f, saveDir)
			stopShoalSeed(t, seed)
		})
	}
}
