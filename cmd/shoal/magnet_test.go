package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"shoal/engine"
	"shoal/metainfo"
)

// magnetFor is a magnet link for c with only its info hash and name.
func magnetFor(c content) string {
	return (&metainfo.Magnet{InfoHash: c.mi.InfoHash, HasV1: true, Name: c.mi.Info.Name}).String()
}

func TestInfoFetchSavesTorrent(t *testing.T) {
	c := makeContent(t, "album", 16<<10, 100_000, 5_000)
	_, _, addr := startSeeder(t, c, 0)
	out := filepath.Join(t.TempDir(), "fetched.torrent")
	link := magnetFor(c) + "&tr=" + "http%3A%2F%2F127.0.0.1%3A1%2Fannounce"
	r := shoalTimeout(t, 30*time.Second, "info", "--fetch", link, "-o", out, "--peer", addr,
		"--no-dht", "--port", "0", "--bind", "127.0.0.1", "--data-dir", t.TempDir())
	if r.code != exitOK {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	mi, err := metainfo.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if mi.InfoHash != c.mi.InfoHash || mi.Info.Name != "album" || len(mi.Info.Files) != 2 {
		t.Fatalf("saved torrent %s %q, want %s", mi.InfoHash, mi.Info.Name, c.mi.InfoHash)
	}
	if mi.Announce != "http://127.0.0.1:1/announce" {
		t.Errorf("saved announce %q, want the magnet's tr", mi.Announce)
	}
	if !strings.Contains(r.stdout, c.mi.InfoHash.String()) || !strings.Contains(r.stderr, "saved "+out) {
		t.Errorf("output does not describe the torrent:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	// Nothing but the .torrent is left in its directory (no temporary file).
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("%d files next to the saved torrent", len(entries))
	}
}

func TestInfoFetchBadInputs(t *testing.T) {
	c := makeContent(t, "x.bin", 16<<10, 40_000)
	dir := t.TempDir()
	link := magnetFor(c)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no output", []string{"info", "--fetch", link, "--peer", "127.0.0.1:1"}, "-o FILE"},
		{"not a magnet", []string{"info", "--fetch", c.torrent, "-o", filepath.Join(dir, "x")}, "magnet"},
		{"with scrape", []string{"info", "--fetch", "--scrape", link, "-o", filepath.Join(dir, "x")}, "--scrape"},
		{"no peer source", []string{"info", "--fetch", link, "-o", filepath.Join(dir, "x"), "--no-dht"}, "--no-dht"},
		{"dht flags contradict", []string{"info", "--fetch", link, "-o", filepath.Join(dir, "x"), "--peer", "127.0.0.1:1",
			"--no-dht", "--dht-bootstrap", "127.0.0.1:2", "--port", "0", "--data-dir", dir}, "contradict"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertUsage(t, shoalTimeout(t, 10*time.Second, tc.args...), "shoal info", tc.want)
		})
	}
}

func TestGetMagnet(t *testing.T) {
	c := makeContent(t, "album", 16<<10, 100_000, 0, 70_001)
	_, _, addr := startSeeder(t, c, 0)
	out := t.TempDir()
	// The seeder comes as the magnet's x.pe, not --peer.
	link := magnetFor(c) + "&x.pe=" + addr
	r := shoalTimeout(t, 60*time.Second, append(getArgs(link, out, t.TempDir()), "--json")...)
	done := doneLine(t, r)
	if done.InfoHash != c.mi.InfoHash.String() {
		t.Errorf("info_hash %q, want %s", done.InfoHash, c.mi.InfoHash)
	}
	sameData(t, c.mi, c.root, out)
	if !strings.Contains(r.stdout, `"state":"fetching metadata"`) {
		t.Errorf("no status line while fetching the metadata:\n%s", r.stdout)
	}
}

func TestFetchStatusLine(t *testing.T) {
	sp := &statusPrinter{name: "album"}
	got := sp.fetchLine(engine.FetchProgress{Peers: 2, Known: 7, DHTNodes: 130, Received: 16 << 10, Size: 40 << 10})
	for _, want := range []string{"album", "fetching metadata", "peers 2", "known 7", "dht nodes 130", "16 KiB / 40 KiB"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q does not contain %q", got, want)
		}
	}
}
