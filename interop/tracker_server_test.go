package interop

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"shoal/bencode"
)

// These tests run `shoal tracker` and a swarm of real clients that know
// nothing but the torrent's announce URL: no peer is introduced by hand.
// Transmission refuses to dial 127.x peers, so it and aria2 (the leechers)
// announce first, and libtorrent (the seeder) announces last, learns both
// from the tracker and dials them; aria2 also dials Transmission. Every
// client binds its own loopback address, which is also the source of its
// announces, so the tracker records addresses the others can reach.

// trackerServerIP is where `shoal tracker` listens.
const trackerServerIP = "127.0.0.5"

var trackerListenRE = regexp.MustCompile(`tracker: HTTP on ([0-9.:]+), UDP on ([0-9.:]+);`)

// startShoalTracker runs `shoal tracker` on one port for HTTP and UDP and
// returns that address.
func startShoalTracker(t *testing.T) string {
	t.Helper()
	requireShoal(t)
	addr := hostPort(trackerServerIP, freePort(t))
	p := startProc(t, shoalBin, "tracker", "--http", addr, "--udp", addr, "--interval", "10s")
	p.waitFor(t, "the tracker listening", readyTimeout, func() bool {
		return trackerListenRE.MatchString(p.stderr.String())
	})
	return addr
}

// makeTrackedFixture is makeFixture with announceURL in the torrent.
func makeTrackedFixture(t *testing.T, c transferCase, announceURL string) fixture {
	t.Helper()
	dir := t.TempDir()
	f := fixture{parent: filepath.Join(dir, "seed"), name: "tree-" + c.name}
	makeTree(t, filepath.Join(f.parent, f.name), c.files)
	for _, file := range c.files {
		f.size += int64(file.Size)
	}
	f.content = filepath.Join(f.parent, f.name)
	f.torrent = filepath.Join(dir, c.name+".torrent")
	shoal(t, "create", f.content, "-o", f.torrent, "--piece-size", c.pieceSize, "--no-date", "-t", announceURL)
	f.infoHash = shoalInfoJSON(t, f.torrent).InfoHash
	return f
}

// trackerStats is the part of /stats these tests read.
type trackerStats struct {
	Swarms   int `json:"swarms"`
	Seeders  int `json:"seeders"`
	Leechers int `json:"leechers"`
}

func readTrackerStats(t *testing.T, addr string) trackerStats {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/stats")
	if err != nil {
		t.Fatalf("tracker /stats: %v", err)
	}
	defer resp.Body.Close()
	var st trackerStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("tracker /stats: %v", err)
	}
	return st
}

// scrapeCounts are one torrent's counts in a scrape answer.
type scrapeCounts struct {
	Complete, Incomplete, Downloaded int
}

// httpScrape asks the tracker's /scrape about one info hash (hex).
func httpScrape(t *testing.T, addr, infoHash string) scrapeCounts {
	t.Helper()
	ih, err := hex.DecodeString(infoHash)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/scrape?info_hash=" + url.QueryEscape(string(ih)))
	if err != nil {
		t.Fatalf("HTTP scrape: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var res struct {
		Files map[string]struct {
			Complete   int `bencode:"complete"`
			Incomplete int `bencode:"incomplete"`
			Downloaded int `bencode:"downloaded"`
		} `bencode:"files"`
	}
	if err := bencode.Unmarshal(body, &res); err != nil {
		t.Fatalf("HTTP scrape answer %q: %v", body, err)
	}
	c, ok := res.Files[string(ih)]
	if !ok {
		t.Fatalf("HTTP scrape answer %q lacks the torrent", body)
	}
	return scrapeCounts{c.Complete, c.Incomplete, c.Downloaded}
}

// udpScrape asks the tracker about one info hash over BEP 15.
func udpScrape(t *testing.T, addr, infoHash string) scrapeCounts {
	t.Helper()
	ih, err := hex.DecodeString(infoHash)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 1500)
	exchange := func(req []byte, wantLen int) []byte {
		for range 5 {
			conn.Write(req)
			conn.SetReadDeadline(time.Now().Add(time.Second))
			n, err := conn.Read(buf)
			if err == nil && n >= wantLen && string(buf[4:8]) == string(req[12:16]) {
				return buf[:n]
			}
		}
		t.Fatalf("UDP tracker %s: no answer to action %d", addr, binary.BigEndian.Uint32(req[8:]))
		return nil
	}
	req := binary.BigEndian.AppendUint64(nil, 0x41727101980)
	req = binary.BigEndian.AppendUint32(req, 0)
	req = binary.BigEndian.AppendUint32(req, 11)
	connID := binary.BigEndian.Uint64(exchange(req, 16)[8:])
	req = binary.BigEndian.AppendUint64(nil, connID)
	req = binary.BigEndian.AppendUint32(req, 2)
	req = binary.BigEndian.AppendUint32(req, 12)
	req = append(req, ih...)
	ans := exchange(req, 20)
	if binary.BigEndian.Uint32(ans) != 2 {
		t.Fatalf("UDP scrape answer %q", ans)
	}
	return scrapeCounts{
		Complete:   int(binary.BigEndian.Uint32(ans[8:])),
		Downloaded: int(binary.BigEndian.Uint32(ans[12:])),
		Incomplete: int(binary.BigEndian.Uint32(ans[16:])),
	}
}

func TestShoalTrackerSwarmHTTP(t *testing.T) {
	t.Parallel()
	addr := startShoalTracker(t)
	testTrackerSwarm(t, addr, "http://"+addr+"/announce", httpScrape)
}

func TestShoalTrackerSwarmUDP(t *testing.T) {
	t.Parallel()
	addr := startShoalTracker(t)
	testTrackerSwarm(t, addr, "udp://"+addr+"/announce", udpScrape)
}

// testTrackerSwarm: Transmission and aria2 leech, libtorrent seeds, and the
// tracker at announceURL is the only way they learn of each other.
func testTrackerSwarm(t *testing.T, addr, announceURL string, scrape func(t *testing.T, addr, infoHash string) scrapeCounts) {
	mustHaveSwarmClients(t)
	tr := startTransmission(t)
	f := makeTrackedFixture(t, swarmCase, announceURL)

	trID, trDir := transmissionLeech(t, tr, f)
	waitSwarm(t, addr, "Transmission's announce", func(st trackerStats) bool { return st.Leechers >= 1 })
	// aria2 sends UDP announces from its DHT socket: "--enable-dht also
	// enables UDP tracker support" (aria2c --help). It has no nodes to
	// talk to here, so the DHT itself stays idle.
	ariaDir := t.TempDir()
	aria, _ := startAria2(t, f, ariaDir, "--seed-time=0", "--enable-dht=true",
		"--dht-listen-port="+strconv.Itoa(freePort(t)), "--dht-file-path="+filepath.Join(t.TempDir(), "dht.dat"))
	waitSwarm(t, addr, "aria2's announce", func(st trackerStats) bool { return st.Leechers >= 2 })
	lt, _ := ltSeed(t, f)

	finishAria2Leech(t, aria, f, ariaDir)
	tr.waitTorrent(t, trID, "a complete download", transferTimeout, trComplete)

	// Transmission now seeds beside libtorrent; aria2 has stopped. The
	// scrape over the protocol under test must say what /stats says, and
	// count both finished downloads once their "completed" events are in.
	var got scrapeCounts
	var st trackerStats
	deadline := time.Now().Add(readyTimeout)
	for {
		before := readTrackerStats(t, addr)
		got = scrape(t, addr, f.infoHash)
		st = readTrackerStats(t, addr)
		if st == before && st.Swarms == 1 && got.Complete == st.Seeders && got.Incomplete == st.Leechers &&
			got.Complete >= 2 && got.Downloaded >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scrape %+v does not agree with /stats %+v (want ≥ 2 seeders, ≥ 1 download)\n%s", got, st, lt.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("scrape %+v, /stats %+v", got, st)
	finishTransmissionLeech(t, tr, trID, f, trDir)
}

// mustHaveSwarmClients fails the test, rather than skipping it as
// requireTool does outside CI, when a client of the swarm is missing.
func mustHaveSwarmClients(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"aria2c", "transmission-daemon", pythonPath} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required for this test: %v", tool, err)
		}
	}
	if out, err := exec.Command(pythonPath, "-c", "import libtorrent").CombinedOutput(); err != nil {
		t.Fatalf("python3-libtorrent is required for this test: %v: %s", err, out)
	}
}

// waitSwarm polls the tracker's /stats until cond holds.
func waitSwarm(t *testing.T, addr, what string, cond func(trackerStats) bool) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		st := readTrackerStats(t, addr)
		if cond(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tracker: no %s after %v: /stats %+v", what, readyTimeout, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
