package interop

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// aria2 has no option to dial a peer by address: it finds peers through
// trackers, the DHT, or peers that dial it. So Shoal (and libtorrent)
// always dial aria2, on the fixed port it is given.

// aria2Listening is what aria2c prints once it accepts peers.
const aria2Listening = "IPv4 BitTorrent: listening on TCP port"

// startAria2 starts aria2c on f's torrent, saving into (or seeding from)
// dir, with extra options; it waits until aria2 accepts peers and returns
// the address to dial.
func startAria2(t *testing.T, f fixture, dir string, extra ...string) (p *proc, addr string) {
	t.Helper()
	bin := requireTool(t, "aria2c")
	port := freePort(t)
	addr = hostPort(aria2IP, port)
	logFile := filepath.Join(t.TempDir(), "aria2.log")
	args := []string{
		"--no-conf",
		"--dir=" + dir,
		"--interface=" + aria2IP,
		"--listen-port=" + strconv.Itoa(port),
		"--disable-ipv6=true",
		"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
		"--file-allocation=none",
		"--bt-save-metadata=false",
		"--summary-interval=0", "--show-console-readout=false", "--enable-color=false",
		"--console-log-level=notice",
		"--log=" + logFile, "--log-level=info",
		// If this test process dies, aria2 stops by itself.
		"--stop-with-process=" + strconv.Itoa(os.Getpid()),
	}
	args = append(args, extra...)
	args = append(args, f.torrent)
	p = startProc(t, bin, args...)
	p.logFile = logFile
	p.waitOutput(t, aria2Listening, readyTimeout)
	return p, addr
}

// aria2Seed starts aria2 seeding f from the original content: it
// hash-checks the data first and then seeds with no ratio limit.
func aria2Seed(t *testing.T, f fixture) (p *proc, addr string) {
	t.Helper()
	return startAria2(t, f, f.parent, "--check-integrity=true", "--seed-ratio=0.0")
}

// aria2Leech starts aria2 downloading f into a fresh directory; it exits 0
// once the download is complete (--seed-time=0).
func aria2Leech(t *testing.T, f fixture) (p *proc, addr, saveDir string) {
	t.Helper()
	saveDir = t.TempDir()
	p, addr = startAria2(t, f, saveDir, "--seed-time=0")
	return p, addr, saveDir
}

// finishAria2Leech waits for aria2 to exit 0 and compares its files.
func finishAria2Leech(t *testing.T, p *proc, f fixture, saveDir string) {
	t.Helper()
	p.waitSuccess(t, transferTimeout)
	compareDownload(t, "aria2", f, saveDir)
}

// TestAria2SeedsShoalDownloads: aria2 is the only seeder and `shoal get`
// dials it and downloads every case.
func TestAria2SeedsShoalDownloads(t *testing.T) {
	t.Parallel()
	requireShoal(t)
	requireTool(t, "aria2c")
	for _, c := range transferCases {
		t.Run(c.name, func(t *testing.T) {
			f := makeFixture(t, c)
			_, ariaAddr := aria2Seed(t, f)
			get, saveDir := shoalGet(t, f, ariaAddr)
			finishShoalGet(t, get, f, saveDir)
		})
	}
}

// TestShoalSeedsAria2Downloads: `shoal seed` is the only seeder; it dials
// aria2 (--peer), which downloads every case and exits.
func TestShoalSeedsAria2Downloads(t *testing.T) {
	t.Parallel()
	requireShoal(t)
	requireTool(t, "aria2c")
	for _, c := range transferCases {
		t.Run(c.name, func(t *testing.T) {
			f := makeFixture(t, c)
			aria, ariaAddr, saveDir := aria2Leech(t, f)
			seed, _ := shoalSeed(t, f, ariaAddr)
			finishAria2Leech(t, aria, f, saveDir)
			stopShoalSeed(t, seed)
		})
	}
}
