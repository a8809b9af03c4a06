package interop

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// opentrackerBinary is the Debian package's binary. It is required: a
// missing opentracker fails these tests.
const opentrackerBinary = "/usr/bin/opentracker"

// opentrackerClientIP is where opentracker listens, apart from the clients.
const opentrackerClientIP = "127.0.0.16"

// startWhitelistOpentracker runs opentracker on port (HTTP and UDP) with a whitelist
// holding infoHash: the Debian build only serves listed torrents. It
// chroots into its directory, so the whitelist path in its config is
// relative to that (see docs/interop-notes).
func startWhitelistOpentracker(t *testing.T, port int, infoHash string) {
	t.Helper()
	if _, err := os.Stat(opentrackerBinary); err != nil {
		t.Fatalf("opentracker is required for this test (apt-get install opentracker): %v", err)
	}
	dir := t.TempDir()
	// opentracker drops to user nobody, who must read its whitelist.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "whitelist.txt"), []byte(infoHash+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "opentracker.conf")
	if err := os.WriteFile(conf, []byte("access.whitelist /whitelist.txt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := strconv.Itoa(port)
	ot := startProc(t, opentrackerBinary, "-f", conf, "-i", opentrackerClientIP, "-p", p, "-P", p, "-d", dir, "-u", "nobody")
	deadline := time.Now().Add(readyTimeout)
	for {
		c, err := net.DialTimeout("tcp", hostPort(opentrackerClientIP, port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if ot.exited() || time.Now().After(deadline) {
			t.Fatalf("opentracker does not listen on %s: %v\n%s", hostPort(opentrackerClientIP, port), err, ot.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clientScrapeEntry is one tracker of `shoal info --scrape --json`.
type clientScrapeEntry struct {
	URL       string `json:"url"`
	Seeders   *int   `json:"seeders"`
	Leechers  *int   `json:"leechers"`
	Completed *int   `json:"completed"`
	Error     string `json:"error"`
}

// shoalScrapeOne runs `shoal info --scrape --json` on a one-tracker torrent
// and returns that tracker's entry (with Error set if it failed).
func shoalScrapeOne(t *testing.T, torrent string) clientScrapeEntry {
	t.Helper()
	requireShoal(t)
	out, err := exec.Command(shoalBin, "info", "--scrape", "--json", torrent).Output()
	var res struct {
		Scrape []clientScrapeEntry `json:"scrape"`
	}
	if jerr := json.Unmarshal(out, &res); jerr != nil || len(res.Scrape) != 1 {
		t.Fatalf("shoal info --scrape --json: %v / %v\n%s", err, jerr, out)
	}
	return res.Scrape[0]
}

// TestShoalFindsSeederThroughOpentracker: libtorrent seeds a torrent whose
// only tracker is opentracker; `shoal get`, given no peer, finds it there
// and downloads everything, over HTTP and over UDP. Scrapes before and
// after agree with what opentracker knows: one seeder, then also one
// completed download and no leecher once shoal has stopped.
func TestShoalFindsSeederThroughOpentracker(t *testing.T) {
	t.Parallel()
	requireShoal(t)
	requireLibtorrent(t)
	for _, scheme := range []string{"http", "udp"} {
		t.Run(scheme, func(t *testing.T) {
			f := makeFixture(t, transferCase{name: "tracked-" + scheme, files: nestedTree, pieceSize: "16K"})
			port := freePort(t)
			announce := scheme + "://" + hostPort(opentrackerClientIP, port) + "/announce"
			f.torrent = filepath.Join(filepath.Dir(f.torrent), "tracked-"+scheme+".torrent")
			shoal(t, "create", f.content, "-o", f.torrent, "--piece-size", "16K", "--no-date", "-t", announce)
			f.infoHash = shoalInfoJSON(t, f.torrent).InfoHash
			startWhitelistOpentracker(t, port, f.infoHash)

			ltSeed(t, f) // announces "started" to opentracker
			var st clientScrapeEntry
			deadline := time.Now().Add(readyTimeout)
			for st = shoalScrapeOne(t, f.torrent); st.Seeders == nil || *st.Seeders != 1; st = shoalScrapeOne(t, f.torrent) {
				if time.Now().After(deadline) {
					t.Fatalf("opentracker never listed the libtorrent seeder: %+v", st)
				}
				time.Sleep(200 * time.Millisecond)
			}
			if *st.Leechers != 0 || *st.Completed != 0 {
				t.Fatalf("scrape before the download: %d leechers, %d completed; want 0, 0", *st.Leechers, *st.Completed)
			}

			get, saveDir := shoalGet(t, f) // no --peer: the tracker is the only way
			finishShoalGet(t, get, f, saveDir)

			// shoal announced "completed", then "stopped" as it exited.
			st = shoalScrapeOne(t, f.torrent)
			if st.Error != "" || *st.Seeders != 1 || *st.Leechers != 0 || *st.Completed != 1 {
				t.Fatalf("scrape after the download: %+v (seeders %v, leechers %v, completed %v); want 1, 0, 1",
					st, scrapeCount(st.Seeders), scrapeCount(st.Leechers), scrapeCount(st.Completed))
			}
		})
	}
}

func scrapeCount(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}
