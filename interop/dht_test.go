package interop

import (
	"slices"
	"testing"
	"time"
)

// The DHT tests run small DHTs on loopback (every node on its own
// 127.0.0.x address) and move a torrent that a peer knows only by a bare
// magnet link: the DHT (BEP 5) finds the seeder and the metadata comes
// from it (BEP 9). libtorrent is driven by testdata/lt_dht.py.

// dhtCase is the torrent of the Shoal DHT tests: the nested tree plus a
// 13 MB file in 16 KiB pieces, ~880 pieces, so the info dictionary
// (~18 KB) spans two 16 KiB metadata pieces (BEP 9).
var dhtCase = transferCase{name: "dht-16KiB", files: append(append([]fixtureFile{}, nestedTree...),
	fixtureFile{"sub/big.dat", 13_000_007}), pieceSize: "16K"}

// harnessBudget is what TestLibtorrentDHTHarness may take in all.
const harnessBudget = 60 * time.Second

// TestLibtorrentDHTHarness checks the libtorrent side of the DHT tests on
// its own, so a broken lt_dht.py fails here rather than as a mysterious
// Shoal failure: a libtorrent node, a libtorrent seeder that announces to
// it, and a libtorrent leecher given only a bare magnet link, each on its
// own address. The node must store the seeder's announce, and the
// leecher must find the seeder, fetch the metadata and finish with the
// original bytes, all within harnessBudget.
func TestLibtorrentDHTHarness(t *testing.T) {
	t.Parallel()
	requireLibtorrent(t)
	start := time.Now()
	f := ltFixture(t, "harness-tree", nestedTree)

	node := ltNode(t)
	seed := ltDHTSeed(t, f, node.addr)
	ann := waitStored(t, node, f.infoHash, seed.addr)
	ok := waitAnnounceTaken(t, seed, node.addr, f.infoHash)
	t.Logf("node stored the seeder's announce %.1fs after the node started; the seeder saw the reply %.1fs after it started",
		ann.T, ok.T)

	get, saveDir := ltMagnetGet(t, bareMagnet(f.infoHash), node.addr)
	done := finishLtMagnetGet(t, get, f, saveDir)
	if peers := peersFrom(get, node.addr, f.infoHash); !slices.Contains(peers, seed.addr) {
		t.Errorf("the node returned peers %v to the leecher's get_peers, not the seeder %s\n%s", peers, seed.addr, get.report())
	}
	if !peerConnectedFrom(get, seed.addr) {
		t.Errorf("libtorrent leecher never connected to the seeder %s\n%s", seed.addr, get.report())
	}
	if took := time.Since(start); took > harnessBudget {
		t.Errorf("the harness took %v, over its budget of %v", took, harnessBudget)
	}
	t.Logf("leecher done %.1fs after it started; timeline:\n%s", done.T, timeline(get))
}

// peerConnectedFrom reports whether p ever connected to a peer at addr
// (a peer_connect event, or a status line listing it).
func peerConnectedFrom(p *ltProc, addr string) bool {
	_, ok := p.find(func(ev ltEvent) bool {
		for _, peer := range ev.Peers {
			if peer.Addr == addr {
				return true
			}
		}
		return ev.Event == "peer_connect" && ev.Peer == addr
	})
	return ok
}

// waitAnnounceTaken waits until the DHT node at node answers the
// announce_peer of p (an lt_dht.py seed or get) for infoHash, failing the
// test at once if the node answers it, or the get_peers before it, with
// an error.
func waitAnnounceTaken(t *testing.T, p *ltProc, node, infoHash string) ltEvent {
	t.Helper()
	ev := p.waitEvent(t, "announce_peer taken by node "+node, dhtTimeout, func(ev ltEvent) bool {
		return ev.Node == node && ev.InfoHash == infoHash && (ev.Event == "dht_announce_ok" || ev.Event == "dht_error_reply")
	})
	if ev.Event == "dht_error_reply" {
		t.Fatalf("node %s answered libtorrent's %s with an error: %s\n%s", node, ev.Query, ev.Message, p.output())
	}
	return ev
}

// peersFrom returns every peer the DHT node at node returned to p's
// get_peers queries for infoHash.
func peersFrom(p *ltProc, node, infoHash string) []string {
	var peers []string
	for _, ev := range p.events() {
		if ev.Event == "dht_peers_from" && ev.Node == node && ev.InfoHash == infoHash {
			peers = append(peers, ev.Values...)
		}
	}
	return peers
}

// TestShoalGetsMagnetFromLibtorrentViaDHT: a libtorrent seeder announces a
// torrent to the DHT; `shoal get` given only the bare magnet link and a
// bootstrap node (--dht-bootstrap) finds the seeder through the DHT,
// fetches the two-piece metadata from it and downloads every file.
//
//   - libtorrent-node: the bootstrap node is libtorrent; it must have
//     stored the seeder's announce before Shoal starts.
//   - shoal-node: the bootstrap node is `shoal dht`, and the libtorrent
//     seeder announces through it: the Shoal node must answer
//     libtorrent's get_peers with a token that its announce_peer then
//     passes, and hand the stored peer to the Shoal leecher.
//   - mixed: the libtorrent seeder knows only a libtorrent node, which
//     stores its announce; the Shoal leecher knows only a `shoal dht` node
//     that bootstrapped from the libtorrent node (--bootstrap), so its
//     lookup must go from the Shoal node to the libtorrent one.
//   - leecher-first: Shoal starts first and its lookup finds nobody; the
//     seeder joins only after the libtorrent node has seen Shoal's
//     get_peers, so Shoal must look again (the engine retries a fruitless
//     lookup after 5 s, then 10 s, ...) and keep its magnet fetch alive.
func TestShoalGetsMagnetFromLibtorrentViaDHT(t *testing.T) {
	t.Parallel()
	requireShoal(t)
	requireLibtorrent(t)

	t.Run("libtorrent-node", func(t *testing.T) {
		t.Parallel()
		f := makeFixture(t, dhtCase)
		node := ltNode(t)
		seed := ltDHTSeed(t, f, node.addr)
		waitStored(t, node, f.infoHash, seed.addr)

		get, _, saveDir := shoalMagnetGet(t, bareMagnet(f.infoHash), node.addr)
		finishShoalGet(t, get.proc, f, saveDir)
		t.Logf("node timeline:\n%s", timeline(node))
	})

	t.Run("shoal-node", func(t *testing.T) {
		t.Parallel()
		f := makeFixture(t, dhtCase)
		_, nodeAddr := shoalDHTNode(t)
		seed := ltDHTSeed(t, f, nodeAddr)
		waitAnnounceTaken(t, seed, nodeAddr, f.infoHash)

		get, _, saveDir := shoalMagnetGet(t, bareMagnet(f.infoHash), nodeAddr)
		finishShoalGet(t, get.proc, f, saveDir)
		t.Logf("seeder timeline:\n%s", timeline(seed))
	})

	t.Run("mixed", func(t *testing.T) {
		t.Parallel()
		f := makeFixture(t, dhtCase)
		node := ltNode(t)
		_, shoalNodeAddr := shoalDHTNode(t, node.addr)
		seed := ltDHTSeed(t, f, node.addr)
		waitStored(t, node, f.infoHash, seed.addr)

		get, _, saveDir := shoalMagnetGet(t, bareMagnet(f.infoHash), shoalNodeAddr)
		finishShoalGet(t, get.proc, f, saveDir)
		t.Logf("libtorrent node timeline:\n%s", timeline(node))
	})

	t.Run("leecher-first", func(t *testing.T) {
		t.Parallel()
		f := makeFixture(t, dhtCase)
		node := ltNode(t)
		get, _, saveDir := shoalMagnetGet(t, bareMagnet(f.infoHash), node.addr)
		asked := node.waitEvent(t, "Shoal's get_peers", dhtTimeout, func(ev ltEvent) bool {
			return ev.Event == "dht_get_peers" && ev.InfoHash == f.infoHash
		})
		seed := ltDHTSeed(t, f, node.addr)
		stored := waitStored(t, node, f.infoHash, seed.addr)
		finishShoalGet(t, get.proc, f, saveDir)
		t.Logf("Shoal asked the node at %.1fs, the seeder announced at %.1fs (node's clock)", asked.T, stored.T)
	})
}

// waitStored waits until the libtorrent node has stored an announce of
// infoHash from peer (IP and port as the peer listens).
func waitStored(t *testing.T, node *ltProc, infoHash, peer string) ltEvent {
	t.Helper()
	return node.waitEvent(t, "an announce from "+peer, dhtTimeout, func(ev ltEvent) bool {
		return ev.Event == "dht_announce" && ev.InfoHash == infoHash && hostPort(ev.IP, ev.Port) == peer
	})
}

// TestLibtorrentGetsMagnetFromShoalViaDHT: `shoal seed` announces a
// torrent to the DHT; libtorrent given only the bare magnet link finds
// Shoal through the DHT, fetches the metadata from Shoal and downloads
// every file.
//
//   - libtorrent-node: the bootstrap node of both is libtorrent, which must
//     store Shoal's announce_peer (a valid token, Shoal's --bind address
//     and --port) before libtorrent's leecher starts.
//   - shoal-node: the bootstrap node of both is `shoal dht`: the libtorrent
//     leecher's get_peers goes to a Shoal node, which must return the Shoal
//     seeder that announced to it.
//   - mixed: Shoal's seeder knows only a `shoal dht` node, libtorrent's
//     leecher only a libtorrent node that was given the Shoal node
//     (add_dht_node) and took it into its routing table.
func TestLibtorrentGetsMagnetFromShoalViaDHT(t *testing.T) {
	t.Parallel()
	requireShoal(t)
	requireLibtorrent(t)

	t.Run("libtorrent-node", func(t *testing.T) {
		t.Parallel()
		f := makeFixture(t, dhtCase)
		node := ltNode(t)
		seed, me := shoalDHTSeed(t, f, node.addr)
		waitStored(t, node, f.infoHash, me.addr())

		get, saveDir := ltMagnetGet(t, bareMagnet(f.infoHash), node.addr)
		finishLtMagnetGet(t, get, f, saveDir)
		if !peerConnectedFrom(get, me.addr()) {
			t.Errorf("libtorrent never listed Shoal (%s) as a peer\n%s", me.addr(), get.report())
		}
		t.Logf("leecher timeline:\n%s", timeline(get))
		stopShoalSeed(t, seed.proc)
	})

	t.Run("shoal-node", func(t *testing.T) {
		t.Parallel()
		f := makeFixture(t, dhtCase)
		_, nodeAddr := shoalDHTNode(t)
		seed, me := shoalDHTSeed(t, f, nodeAddr)

		get, saveDir := ltMagnetGet(t, bareMagnet(f.infoHash), nodeAddr)
		finishLtMagnetGet(t, get, f, saveDir)
		if peers := peersFrom(get, nodeAddr, f.infoHash); !slices.Contains(peers, me.addr()) {
			t.Errorf("the Shoal node %s returned peers %v to libtorrent's get_peers, not the Shoal seeder %s",
				nodeAddr, peers, me.addr())
		}
		if !peerConnectedFrom(get, me.addr()) {
			t.Errorf("libtorrent never listed Shoal (%s) as a peer\n%s", me.addr(), get.report())
		}
		t.Logf("leecher timeline:\n%s", timeline(get))
		stopShoalSeed(t, seed.proc)
	})

	t.Run("mixed", func(t *testing.T) {
		t.Parallel()
		f := makeFixture(t, dhtCase)
		_, shoalNodeAddr := shoalDHTNode(t)
		node := ltNode(t, shoalNodeAddr)
		node.waitEvent(t, "the Shoal node in libtorrent's routing table", dhtTimeout, func(ev ltEvent) bool {
			return ev.Event == "status" && ev.DHTNodes > 0
		})
		seed, me := shoalDHTSeed(t, f, shoalNodeAddr)

		get, saveDir := ltMagnetGet(t, bareMagnet(f.infoHash), node.addr)
		finishLtMagnetGet(t, get, f, saveDir)
		if !peerConnectedFrom(get, me.addr()) {
			t.Errorf("libtorrent never listed Shoal (%s) as a peer\n%s", me.addr(), get.report())
		}
		t.Logf("leecher timeline:\n%s", timeline(get))
		stopShoalSeed(t, seed.proc)
	})
}
