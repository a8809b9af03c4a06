package interop

import (
	"strconv"
	"testing"
)

// TestShoalFetchesMagnetFromIncomingLibtorrent: `shoal get` has a bare
// magnet link and one peer address that does not answer (as trackers
// often hand out); the only peer with the torrent is libtorrent, which
// knows Shoal's address and dials it, as it would after finding it on a
// tracker or in the DHT. Shoal must take that connection while it fetches
// the metadata (BEP 9), then download the data and match the original.
// Before, a connection for a torrent whose metadata was still being
// fetched was refused, and shoal get waited forever; then, with the
// connection taken, the download waited a minute for libtorrent to dial
// again.
func TestShoalFetchesMagnetFromIncomingLibtorrent(t *testing.T) {
	t.Parallel()
	requireShoal(t)
	requireLibtorrent(t)
	f := makeFixture(t, transferCases[1]) // multi-file, 16 KiB pieces
	port := freePort(t)
	saveDir := t.TempDir()
	deadPeer := hostPort("127.0.0.9", freePort(t)) // nothing listens there
	get := startProc(t, shoalBin, "get", bareMagnet(f.infoHash), "-o", saveDir,
		"--bind", shoalIP, "--port", strconv.Itoa(port), "--data-dir", t.TempDir(),
		"--json", "--no-dht", "--peer", deadPeer)
	get.waitOutput(t, `"state":"fetching`, readyTimeout)
	ltSeed(t, f, hostPort(shoalIP, port))
	done := finishShoalGet(t, get, f, saveDir)
	// The fetch's connection closes when the metadata is complete, and
	// libtorrent would dial again only after min_reconnect_time (60 s):
	// Shoal dials it back at the listen port of its extended handshake.
	if done.Seconds > 30 {
		t.Errorf("shoal get took %.1f s: the torrent waited for libtorrent to dial again instead of dialling it", done.Seconds)
	}
}
