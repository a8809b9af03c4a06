package interop

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// ltMagnet is what testdata/lt.py magnet prints: lt.parse_magnet_uri's view.
type ltMagnet struct {
	InfoHashV1 string   `json:"info_hash_v1"`
	Name       string   `json:"name"`
	Trackers   []string `json:"trackers"`
	URLSeeds   []string `json:"url_seeds"`
}

func libtorrentMagnet(t *testing.T, uri string) ltMagnet {
	t.Helper()
	requireLibtorrent(t)
	out := run(t, pythonPath, ltScript(t), "magnet", uri)
	var m ltMagnet
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("lt.py magnet: %v\n%s", err, out)
	}
	return m
}

// flatten lists every tracker of every tier, in order.
func flatten(tiers [][]string) []string {
	var out []string
	for _, tier := range tiers {
		out = append(out, tier...)
	}
	return out
}

// TestShoalMagnetParsedByLibtorrent checks that the magnet link `shoal info
// --json` prints for a torrent parses in libtorrent to the torrent's info
// hash, name, trackers and web seeds, and that `shoal info --json MAGNET` reads the
// same link back to the same values. Names and URLs include characters that
// must be percent-encoded.
func TestShoalMagnetParsedByLibtorrent(t *testing.T) {
	requireLibtorrent(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "name with spaces & ünïcode+plus")
	makeTree(t, root, []fixtureFile{{"a", 40_000}, {"b/c", 3}})
	torrent := filepath.Join(dir, "m.torrent")
	shoal(t, "create", root, "-o", torrent, "--no-date",
		"-t", "http://a.example/announce?key=1&x=%20",
		"-t", "udp://b.example:6969/announce,http://c.example/ann",
		"-w", "http://ws.example/files/")

	si := shoalInfoJSON(t, torrent)
	if !strings.HasPrefix(si.Magnet, "magnet:?") {
		t.Fatalf("shoal info magnet %q does not start with magnet:?", si.Magnet)
	}
	lm := libtorrentMagnet(t, si.Magnet)
	li := libtorrentInfo(t, torrent)
	expectEqual(t, "info hash", "libtorrent (magnet)", lm.InfoHashV1, "libtorrent (torrent)", li.InfoHashV1)
	expectEqual(t, "info hash", "libtorrent (magnet)", lm.InfoHashV1, "shoal", si.InfoHash)
	expectEqual(t, "name", "libtorrent (magnet)", lm.Name, "shoal", si.Name)
	expectEqual(t, "trackers", "libtorrent (magnet)", lm.Trackers, "shoal", flatten(si.Trackers))
	expectEqual(t, "web seeds", "libtorrent (magnet)", trimSlashes(lm.URLSeeds), "shoal", trimSlashes(si.WebSeeds))

	// shoal reads its own magnet back; each tr becomes its own tier.
	sm := shoalInfoJSON(t, si.Magnet)
	expectEqual(t, "info hash", "shoal (magnet)", sm.InfoHash, "shoal (torrent)", si.InfoHash)
	expectEqual(t, "name", "shoal (magnet)", sm.Name, "shoal (torrent)", si.Name)
	expectEqual(t, "trackers", "shoal (magnet)", flatten(sm.Trackers), "shoal (torrent)", flatten(si.Trackers))
	expectEqual(t, "web seeds", "shoal (magnet)", sm.WebSeeds, "shoal (torrent)", si.WebSeeds)
	for i, tier := range sm.Trackers {
		if len(tier) != 1 {
			t.Errorf("magnet tracker tier %d = %q, want one tracker per tier", i, tier)
		}
	}
	if len(sm.Files) != 0 {
		t.Errorf("shoal info of a magnet lists files %v; a magnet carries none", sm.Files)
	}
}

// TestTransmissionMagnetReadByShoal checks that `shoal info --json` reads the
// magnet link transmission-show -m prints to the torrent's info hash, name
// and trackers.
func TestTransmissionMagnetReadByShoal(t *testing.T) {
	ts := requireTool(t, "transmission-show")
	mk := requireTool(t, "mktorrent")
	dir := t.TempDir()
	root := filepath.Join(dir, "tree")
	makeTree(t, root, nestedTree)
	torrent := filepath.Join(dir, "t.torrent")
	run(t, mk, "-t", "1", "-l", "15", "-a", "http://a.example/announce,http://b.example/x",
		"-a", "udp://c.example:80", "-w", "http://ws.example/d", "-o", torrent, root)
	magnet := strings.TrimSpace(string(run(t, ts, "-m", torrent)))
	sm := shoalInfoJSON(t, magnet)
	st := shoalInfoJSON(t, torrent)
	expectEqual(t, "info hash", "shoal (transmission's magnet)", sm.InfoHash, "shoal (torrent)", st.InfoHash)
	expectEqual(t, "name", "shoal (transmission's magnet)", sm.Name, "shoal (torrent)", st.Name)
	expectEqual(t, "trackers", "shoal (transmission's magnet)", flatten(sm.Trackers), "shoal (torrent)", flatten(st.Trackers))
	expectEqual(t, "web seeds", "shoal (transmission's magnet)", trimSlashes(sm.WebSeeds), "shoal (torrent)", trimSlashes(st.WebSeeds))
}
