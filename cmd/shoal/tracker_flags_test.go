package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"shoal/metainfo"
)

// announceStub answers announces with one fixed peer and scrapes with fixed
// counts, and records the announce events.
type announceStub struct {
	peer netip.AddrPort
	mu   sync.Mutex
	seen []string
}

func (f *announceStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/announce":
		f.mu.Lock()
		f.seen = append(f.seen, r.URL.Query().Get("event"))
		f.mu.Unlock()
		peers := append(f.peer.Addr().AsSlice(), binary.BigEndian.AppendUint16(nil, f.peer.Port())...)
		w.Write([]byte("d8:intervali1800e5:peers6:" + string(peers) + "e"))
	case "/scrape":
		ih := r.URL.Query().Get("info_hash")
		w.Write([]byte("d5:filesd20:" + ih + "d8:completei3e10:downloadedi9e10:incompletei2eeee"))
	default:
		http.NotFound(w, r)
	}
}

func (f *announceStub) events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

func TestGetFindsPeersThroughTracker(t *testing.T) {
	c := makeContent(t, "tracked.bin", 16<<10, 200<<10)
	_, _, seedAddr := startSeeder(t, c, 0)
	ft := &announceStub{peer: netip.MustParseAddrPort(seedAddr)}
	srv := httptest.NewServer(ft)
	defer srv.Close()
	out := t.TempDir()
	args := append(getArgs(c.torrent, out, t.TempDir()), "--tracker", srv.URL+"/announce", "--json")
	done := doneLine(t, shoalTimeout(t, 60*time.Second, args...))
	if done.Downloaded != 200<<10 {
		t.Errorf("downloaded %d bytes", done.Downloaded)
	}
	want, _ := os.ReadFile(c.root)
	got, err := os.ReadFile(filepath.Join(out, "tracked.bin"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("downloaded file differs (%v)", err)
	}
	ev := ft.events()
	if len(ev) != 3 || ev[0] != "started" || ev[1] != "completed" || ev[2] != "stopped" {
		t.Fatalf("tracker saw events %q, want started, completed, stopped", ev)
	}
}

func TestGetTrackerFlagUsage(t *testing.T) {
	c := makeContent(t, "x.bin", 16<<10, 1000)
	for _, bad := range []string{"ftp://example.com/announce", "udp://example.com"} {
		r := shoal(t, append(getArgs(c.torrent, t.TempDir(), t.TempDir()), "--tracker", bad)...)
		assertUsage(t, r, "shoal get", "--tracker")
	}
	private := writeTorrent(t, "p.torrent", &metainfo.MetaInfo{Announce: "http://a.example/announce"},
		metainfo.Info{Name: "p", PieceLength: 16 << 10, SingleFile: true, Private: true, Files: []metainfo.File{{Length: 100}}})
	r := shoal(t, append(getArgs(private, t.TempDir(), t.TempDir()), "--tracker", "http://b.example/announce")...)
	assertUsage(t, r, "shoal get", "private")
}

func TestInfoScrape(t *testing.T) {
	srv := httptest.NewServer(&announceStub{})
	defer srv.Close()
	// A UDP port that was free a moment ago: nobody answers there.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "udp://" + pc.LocalAddr().String()
	pc.Close()
	good := srv.URL + "/announce"
	torrent := writeTorrent(t, "s.torrent", &metainfo.MetaInfo{AnnounceList: [][]string{{good}, {dead}}},
		metainfo.Info{Name: "s", PieceLength: 16 << 10, SingleFile: true, Files: []metainfo.File{{Length: 100}}})

	r := shoal(t, "info", "--scrape", torrent)
	if r.code != exitOK {
		t.Fatalf("info --scrape: %+v", r)
	}
	l := lines(r.stdout)
	if len(l) != 2 || l[0] != good+": 3 seeders, 2 leechers, 9 completed" || !strings.HasPrefix(l[1], dead+": error: ") {
		t.Fatalf("output:\n%s", r.stdout)
	}

	r = shoal(t, "info", "--scrape", "--json", torrent)
	var got scrapeJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != exitOK {
		t.Fatalf("info --scrape --json: %v %+v", err, r)
	}
	mi, _ := metainfo.Load(torrent)
	if got.InfoHash != mi.InfoHash.String() || len(got.Scrape) != 2 {
		t.Fatalf("json %+v", got)
	}
	g, d := got.Scrape[0], got.Scrape[1]
	if g.URL != good || g.Seeders == nil || *g.Seeders != 3 || *g.Leechers != 2 || *g.Completed != 9 || g.Error != "" {
		t.Errorf("good tracker: %+v", g)
	}
	if d.URL != dead || d.Tier != 1 || d.Seeders != nil || d.Error == "" {
		t.Errorf("dead tracker: %+v", d)
	}

	onlyDead := writeTorrent(t, "d.torrent", &metainfo.MetaInfo{Announce: dead},
		metainfo.Info{Name: "d", PieceLength: 16 << 10, SingleFile: true, Files: []metainfo.File{{Length: 100}}})
	r = shoal(t, "info", "--scrape", onlyDead)
	if r.code != exitFailure || !strings.Contains(r.stderr, "none of the 1 trackers answered") {
		t.Fatalf("all trackers dead: %+v", r)
	}
	none := writeTorrent(t, "n.torrent", &metainfo.MetaInfo{},
		metainfo.Info{Name: "n", PieceLength: 16 << 10, SingleFile: true, Files: []metainfo.File{{Length: 100}}})
	assertFailure(t, shoal(t, "info", "--scrape", none), "no trackers")
}
