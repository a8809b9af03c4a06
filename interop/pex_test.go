package interop

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The PEX tests (BEP 11) build a small libtorrent swarm in which only one
// peer, L1, exchanges peers:
//
//   - S seeds, with ut_pex off: it neither tells nor learns peers by PEX,
//     so it knows only who dials it.
//   - L2 downloads everything from S and stays connected, ut_pex off.
//   - L1 dials S and L2 and wants only one small file, so it never holds
//     the rest of the torrent; ut_pex on.
//
// The newcomer (Shoal in TestShoalLearnsSwarmByPEX, libtorrent in the
// harness) is told only L1's address. Whatever it cannot get from L1
// it must get from S or L2, which it can find only in L1's ut_pex
// messages: libtorrent sends the first one about a second after the
// extended handshake, then one a minute.

// pexCase is the torrent of the PEX tests: the nested tree, whose first
// file L1 fetches and nothing else.
var pexCase = transferCase{name: "pex-16KiB", files: nestedTree, pieceSize: "16K"}

// pexSwarm is S, L1 and L2, running.
type pexSwarm struct {
	seed, l1, l2 *ltProc
}

// startPEXSwarm starts S, L2 and L1 on f and waits until L1 is connected
// to both others and has its one file, so it is ready to tell a newcomer
// about them.
func startPEXSwarm(t *testing.T, f fixture) pexSwarm {
	t.Helper()
	var sw pexSwarm
	sw.seed = startLtDHT(t, "swarm", f.torrent, f.parent, "--seed", "--no-pex")
	sw.l2 = startLtDHT(t, "swarm", f.torrent, t.TempDir(), "--no-pex", "--peer", sw.seed.addr)
	sw.l1 = startLtDHT(t, "swarm", f.torrent, t.TempDir(), "--files", strconv.Itoa(firstFileIndex(t, f)),
		"--peer", sw.seed.addr, "--peer", sw.l2.addr)
	sw.l1.waitEvent(t, "L1 finished with its one file, connected to S and L2", readyTimeout, func(ev ltEvent) bool {
		return ev.Event == "status" && ev.State == "finished" &&
			listsPeer(ev.Peers, sw.seed.addr) && listsPeer(ev.Peers, sw.l2.addr)
	})
	return sw
}

// firstFileIndex is the index, in the torrent as libtorrent reads it, of
// the fixture's first file (a.bin): the only file L1 downloads.
func firstFileIndex(t *testing.T, f fixture) int {
	t.Helper()
	for i, file := range libtorrentInfo(t, f.torrent).Files {
		if slices.Equal(file.Path, []string{f.name, pexCase.files[0].Path}) {
			return i
		}
	}
	t.Fatalf("libtorrent does not list %s/%s in %s", f.name, pexCase.files[0].Path, f.torrent)
	return 0
}

// listsPeer reports whether peers holds one at addr.
func listsPeer(peers []ltPeer, addr string) bool {
	return slices.ContainsFunc(peers, func(p ltPeer) bool { return p.Addr == addr })
}

// sawPeerID returns the address of the first peer whose peer id starts
// with pidPrefix among those p reported, and whether there was one.
func sawPeerID(p *ltProc, pidPrefix string) (string, bool) {
	var addr string
	_, ok := p.find(func(ev ltEvent) bool {
		switch ev.Event {
		case "peer":
			addr = ev.Addr
			return strings.HasPrefix(ev.PID, pidPrefix)
		case "peer_disconnected":
			addr = ev.Peer
			return strings.HasPrefix(ev.PID, pidPrefix)
		}
		return false
	})
	return addr, ok
}

// TestLibtorrentPEXHarness checks the PEX swarm with libtorrent alone: a
// libtorrent newcomer X told only L1 must learn S and L2 by PEX (libtorrent
// marks them so), dial them, and finish. It guards the swarm set-up that
// the Shoal PEX tests rely on.
func TestLibtorrentPEXHarness(t *testing.T) {
	t.Parallel()
	requireLibtorrent(t)
	f := ltFixture(t, "pex-harness", nestedTree)
	sw := startPEXSwarm(t, f)

	x := startLtDHT(t, "swarm", f.torrent, t.TempDir(), "--peer", sw.l1.addr)
	ev := x.waitEvent(t, "X seeding, with S and L2 learned by PEX", transferTimeout, func(ev ltEvent) bool {
		return ev.Event == "status" && ev.Seeding && learnedByPEX(ev.Peers, sw.seed.addr) && learnedByPEX(ev.Peers, sw.l2.addr)
	})
	compareDownload(t, "libtorrent X", f, saveDirOf(t, x))
	t.Logf("X seeding with S and L2 from PEX %.1fs after it started; timeline:\n%s", ev.T, timeline(x))
}

// learnedByPEX reports whether peers holds one at addr that libtorrent
// learned by PEX.
func learnedByPEX(peers []ltPeer, addr string) bool {
	return slices.ContainsFunc(peers, func(p ltPeer) bool { return p.Addr == addr && p.PEX })
}

// saveDirOf is the SAVE_PATH argument an lt_dht.py swarm was started with.
func saveDirOf(t *testing.T, p *ltProc) string {
	t.Helper()
	args := p.cmd.Args
	if len(args) < 5 {
		t.Fatalf("%s: no save path in %q", p.name, args)
	}
	return args[4] // python3 lt_dht.py swarm TORRENT SAVE_PATH ...
}

// shoalPeerIDPrefix starts the peer id of every Shoal session (Azureus
// style, the engine's peerIDPrefix), which is how libtorrent tells Shoal's
// connections from the others'.
const shoalPeerIDPrefix = "-SH"

// pexTimeout bounds how long Shoal may take to reach S or L2 once it
// runs: libtorrent's first ut_pex message comes about a second after the
// extended handshake and the next a minute later, so this allows for a
// missed first one.
const pexTimeout = 75 * time.Second

// TestShoalLearnsSwarmByPEX: `shoal get --peer L1 --no-dht`, given no
// tracker, DHT or other peer, must take S and L2 from L1's ut_pex
// message, dial them and download from them what L1 does not have (L1
// holds only the pieces of one small file, so completing at all needs
// them). S and L2 have PEX off and dial only the addresses they are
// given, so a connection with Shoal's peer id at either is one Shoal made
// to an address it had from L1 alone. At least one must see one (Shoal
// may be done before it dials both).
func TestShoalLearnsSwarmByPEX(t *testing.T) {
	t.Parallel()
	requireShoal(t)
	requireLibtorrent(t)
	f := makeFixture(t, pexCase)
	sw := startPEXSwarm(t, f)

	me := newShoalPeer(t)
	saveDir := t.TempDir()
	get := startPiped(t, shoalEnv(t), shoalBin, "get", f.torrent, "-o", saveDir, "--peer", sw.l1.addr, "--no-dht",
		"--bind", me.ip, "--port", strconv.Itoa(me.port), "--data-dir", t.TempDir(), "--json")
	get.name = "shoal get --peer L1 on " + me.addr()

	others := []struct {
		name string
		lt   *ltProc
	}{{"S", sw.seed}, {"L2", sw.l2}}
	dialedSomeone := func() bool {
		for _, o := range others {
			if _, ok := sawPeerID(o.lt, shoalPeerIDPrefix); ok {
				return true
			}
		}
		return false
	}
	// S and L2 report a peer within 100 ms of its handshake, or as it
	// disconnects: allow a second for that after Shoal has exited.
	deadline := time.Now().Add(pexTimeout)
	graceStarted := false
	for !dialedSomeone() {
		if get.exited() && !graceStarted {
			graceStarted = true
			if grace := time.Now().Add(time.Second); grace.Before(deadline) {
				deadline = grace
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("neither S (%s) nor L2 (%s) had a connection from Shoal (peer id %s...) after %v: "+
				"Shoal did not dial the peers in L1's PEX\n%s\n%s\n%s\n%s", sw.seed.addr, sw.l2.addr, shoalPeerIDPrefix,
				pexTimeout, get.output(), sw.l1.report(), sw.seed.report(), sw.l2.report())
		}
		time.Sleep(50 * time.Millisecond)
	}
	finishShoalGet(t, get.proc, f, saveDir)
	for _, o := range others {
		if addr, ok := sawPeerID(o.lt, shoalPeerIDPrefix); ok {
			t.Logf("%s (%s) had a connection from Shoal at %s", o.name, o.lt.addr, addr)
		} else {
			t.Logf("%s (%s) had no connection from Shoal", o.name, o.lt.addr)
		}
	}
}

// TestLibtorrentLearnsSwarmByPEXFromShoal is the other direction: Shoal
// sends the ut_pex message. The libtorrent seeder S has PEX off; `shoal get
// --peer S --no-dht`, its download held to a crawl by --max-down, stays
// connected to S. A libtorrent newcomer X told only Shoal's address must
// get S from Shoal's PEX (libtorrent marks a peer learned that way; X has
// no other source), dial it and finish.
func TestLibtorrentLearnsSwarmByPEXFromShoal(t *testing.T) {
	t.Parallel()
	requireShoal(t)
	requireLibtorrent(t)
	f := makeFixture(t, pexCase)
	seed := startLtDHT(t, "swarm", f.torrent, f.parent, "--seed", "--no-pex")

	me := newShoalPeer(t)
	get := startPiped(t, shoalEnv(t), shoalBin, "get", f.torrent, "-o", t.TempDir(), "--peer", seed.addr, "--no-dht",
		"--max-down", "20K", "--bind", me.ip, "--port", strconv.Itoa(me.port), "--data-dir", t.TempDir(), "--json")
	get.name = "shoal get --peer S on " + me.addr()
	// Shoal's status lines count its peers: wait until S is one of them.
	get.waitOutput(t, `"peers":1`, readyTimeout)

	x := startLtDHT(t, "swarm", f.torrent, t.TempDir(), "--peer", me.addr())
	ev := x.waitEvent(t, "X seeding, with S learned by PEX", transferTimeout, func(ev ltEvent) bool {
		return ev.Event == "status" && ev.Seeding && learnedByPEX(ev.Peers, seed.addr)
	})
	compareDownload(t, "libtorrent X", f, saveDirOf(t, x))
	if get.exited() {
		t.Errorf("shoal get exited while held to 20 KB/s; the test needs it connected to S throughout\n%s", get.output())
	}
	t.Logf("X seeding with S from Shoal's PEX %.1fs after it started; timeline:\n%s", ev.T, timeline(x))
}
