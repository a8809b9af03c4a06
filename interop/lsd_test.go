package interop

import (
	"strconv"
	"testing"
	"time"

	"shoal/internal/netnstest"
)

// Local service discovery (BEP 14) through the real CLI: two Shoal
// processes in two network namespaces joined by a veth pair, one seeding,
// one downloading a torrent with no tracker, no --peer and no DHT. The
// only way for them to meet is the multicast announce on the link, which
// loopback alone cannot show (multicast on lo would not prove the packets
// cross an interface), and which must not leave the test's own network.

// lsdCase is a small multi-file torrent: many 16 KiB pieces, so the
// transfer is short but not a single message.
var lsdCase = transferCase{name: "lsd-multi-16KiB", files: nestedTree, pieceSize: "16K"}

// lsdTimeout bounds each wait of the LSD test: both processes announce as
// soon as their torrent starts, so on an idle link the download is done
// in a few seconds. A deadline for a broken exchange, not a speed test.
const lsdTimeout = 20 * time.Second

// Ports inside the namespaces, which are private to the test, so fixed
// ones cannot collide with anything.
const (
	lsdSeedPort = 7001
	lsdGetPort  = 7002
)

// startInNamespace starts the shoal binary with args inside namespace ns,
// with shoalEnv's private directories. ip netns exec execs shoal in place,
// so the process startPiped stops in cleanup (by its pid's process group)
// is shoal itself.
func startInNamespace(t *testing.T, ns, name string, args ...string) *pipedProc {
	t.Helper()
	requireShoal(t)
	cmd := netnstest.Command(ns, shoalBin, args...)
	p := startPiped(t, shoalEnv(t), cmd.Path, cmd.Args[1:]...)
	p.name = name
	return p
}

// lsdSeed starts `shoal seed --lsd` of f in side's namespace and waits
// until it seeds.
func lsdSeed(t *testing.T, side netnstest.Side, f fixture) *pipedProc {
	t.Helper()
	port := strconv.Itoa(lsdSeedPort)
	p := startInNamespace(t, side.NS, "shoal seed in "+side.NS,
		"seed", f.torrent, f.content, "--bind", side.V4, "--port", port,
		"--no-dht", "--lsd", "--data-dir", t.TempDir())
	p.waitOutput(t, "seeding "+f.name+" on "+hostPort(side.V4, lsdSeedPort), lsdTimeout)
	return p
}

// lsdGet starts `shoal get --lsd --json` of target (f's torrent or its
// magnet link) in side's namespace into a fresh directory, with no way to
// find a peer but LSD.
func lsdGet(t *testing.T, side netnstest.Side, f fixture, target string) (p *pipedProc, saveDir string) {
	t.Helper()
	saveDir = t.TempDir()
	p = startInNamespace(t, side.NS, "shoal get in "+side.NS,
		"get", target, "-o", saveDir, "--bind", side.V4, "--port", strconv.Itoa(lsdGetPort),
		"--no-dht", "--lsd", "--json", "--data-dir", t.TempDir())
	return p, saveDir
}

// TestShoalFindsPeerByLSD runs the exchange in both orders. Each process
// announces when its torrent starts (and then only every 5 minutes), so
// the one that starts first learns of the other from the other's announce:
//   - seed first: the seed hears the leecher's announce and must dial it;
//   - leecher first: the leecher hears the seed's announce and dials it;
//   - a bare magnet link, seed first: the metadata fetch runs LSD too
//     (whichever side dials, the metadata comes from the seed), and
//     shoal get accepts a bare magnet with --no-dht when --lsd is given.
func TestShoalFindsPeerByLSD(t *testing.T) {
	requireShoal(t)
	netnstest.RequireRoot(t)
	f := makeFixture(t, lsdCase)
	if info := shoalInfoJSON(t, f.torrent); len(info.Trackers) != 0 {
		t.Fatalf("the LSD fixture must have no tracker, has %v", info.Trackers)
	}
	for _, tc := range []struct {
		name      string
		seedFirst bool
		magnet    bool
	}{{"SeedFirst", true, false}, {"LeecherFirst", false, false}, {"MagnetSeedFirst", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := netnstest.Pair(t)
			target := f.torrent
			if tc.magnet {
				target = bareMagnet(f.infoHash)
			}
			var seed, get *pipedProc
			var saveDir string
			if tc.seedFirst {
				seed = lsdSeed(t, a, f)
				get, saveDir = lsdGet(t, b, f, target)
			} else {
				get, saveDir = lsdGet(t, b, f, target)
				// The first status line comes once the session, and with
				// it the LSD socket, is up: the seed's announce will
				// find it listening.
				get.waitOutput(t, `"state"`, lsdTimeout)
				seed = lsdSeed(t, a, f)
			}
			// A failed test's log shows both processes' output (startPiped).
			if !get.wait(lsdTimeout) {
				t.Fatalf("shoal get found no peer by LSD, or did not finish, within %v", lsdTimeout)
			}
			// No tracker, no --peer, no DHT, and the namespaces are linked
			// only to each other: LSD is the only way they could meet.
			finishShoalGet(t, get.proc, f, saveDir)
			stopShoalSeed(t, seed.proc)
		})
	}
}
