package interop

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// ltVerify hash-checks the data under savePath against a torrent with
// libtorrent and fails unless every piece passes.
func ltVerify(t *testing.T, torrent, savePath string) {
	t.Helper()
	requireLibtorrent(t)
	out := run(t, pythonPath, ltScript(t), "verify", torrent, savePath)
	var res struct {
		NumPieces int  `json:"num_pieces"`
		PiecesOK  int  `json:"pieces_ok"`
		Seeding   bool `json:"seeding"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("lt.py verify: %v\n%s", err, out)
	}
	if res.NumPieces == 0 || res.PiecesOK != res.NumPieces || !res.Seeding {
		t.Errorf("libtorrent hash check of %s against %s: %d of %d pieces pass (seeding=%v)",
			filepath.Base(torrent), savePath, res.PiecesOK, res.NumPieces, res.Seeding)
	}
}

// fixtureFiles is the file list a torrent of the fixture must have, sorted by
// path: single-file torrents list [name], multi-file [name, dirs..., file].
func fixtureFiles(name string, files []fixtureFile, single bool) []shoalFile {
	var out []shoalFile
	for _, f := range files {
		path := []string{name}
		if !single {
			path = append(path, strings.Split(f.Path, "/")...)
		}
		out = append(out, shoalFile{Path: path, Length: int64(f.Size)})
	}
	sortFiles(out)
	return out
}

// sortFiles orders a file list by path, for comparing sets of files whose
// torrent order the tools are free to choose.
func sortFiles(files []shoalFile) {
	slices.SortFunc(files, func(a, b shoalFile) int {
		return strings.Compare(strings.Join(a.Path, "/"), strings.Join(b.Path, "/"))
	})
}

// sortedTiers returns tiers with each tier's URLs sorted: libtorrent
// shuffles the trackers within a tier when it loads a torrent (BEP 12 asks
// clients to), so only tier membership and tier order can be compared.
func sortedTiers(tiers [][]string) [][]string {
	out := make([][]string, len(tiers))
	for i, tier := range tiers {
		out[i] = slices.Sorted(slices.Values(tier))
	}
	return out
}

// trimSlashes drops trailing slashes from web seed URLs: for multi-file
// torrents libtorrent and Transmission append "/" to a url-list entry that
// lacks one (BEP 19: the URL names the directory), while the file has none.
func trimSlashes(urls []string) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = strings.TrimSuffix(u, "/")
	}
	return out
}

// expectEqual reports a mismatch between two values that should agree, naming
// both sources.
func expectEqual[T any](t *testing.T, what, nameA string, a T, nameB string, b T) {
	t.Helper()
	ja, jb := jsonOrEmpty(a), jsonOrEmpty(b)
	if ja != jb {
		t.Errorf("%s differs:\n  %s: %s\n  %s: %s", what, nameA, ja, nameB, jb)
	}
}

// jsonOrEmpty renders v as JSON, with a nil list shown as an empty one:
// tools differ in whether "no trackers" is an absent or an empty list.
func jsonOrEmpty(v any) string {
	j, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	if string(j) == "null" {
		return "[]"
	}
	return string(j)
}

// checkAgainstTools loads torrent with shoal, libtorrent and transmission-show
// and checks that all three agree on everything the torrent says; it returns
// shoal's view for further checks. A hybrid torrent's pad files are left out
// of libtorrent's list, since shoal does not list them.
func checkAgainstTools(t *testing.T, torrent string) (shoalInfo, ltInfo) {
	t.Helper()
	si := shoalInfoJSON(t, torrent)
	li := libtorrentInfo(t, torrent)

	if len(si.InfoHash) != 40 || strings.ToLower(si.InfoHash) != si.InfoHash {
		t.Errorf("shoal info_hash %q is not 40 lowercase hex digits", si.InfoHash)
	}
	expectEqual(t, "v1 info hash", "shoal", si.InfoHash, "libtorrent", li.InfoHashV1)
	expectEqual(t, "name", "shoal", si.Name, "libtorrent", li.Name)
	expectEqual(t, "file list", "shoal", si.Files, "libtorrent", li.nonPadFiles())
	expectEqual(t, "trackers", "shoal", sortedTiers(si.Trackers), "libtorrent", sortedTiers(li.Trackers))
	expectEqual(t, "web seeds", "shoal", trimSlashes(si.WebSeeds), "libtorrent", trimSlashes(li.WebSeeds))
	expectEqual(t, "private", "shoal", si.Private, "libtorrent", &li.Private)
	expectEqual(t, "piece_length", "shoal", si.PieceLength, "libtorrent", &li.PieceLength)
	expectEqual(t, "piece_count", "shoal", si.PieceCount, "libtorrent", &li.NumPieces)
	// total_size is the torrent's whole byte space, as libtorrent's
	// total_size(): BEP 47 pad files count, although they are not listed.
	// Without pad files it is exactly the sum of the listed files.
	var listed int64
	for _, f := range si.Files {
		listed += f.Length
	}
	switch {
	case si.TotalSize == nil:
		t.Errorf("shoal info has no total_size")
	case *si.TotalSize != li.TotalSize:
		t.Errorf("total_size: shoal %d, libtorrent %d", *si.TotalSize, li.TotalSize)
	case len(li.nonPadFiles()) == len(li.Files) && *si.TotalSize != listed:
		t.Errorf("total_size %d is not the sum of the listed files, %d", *si.TotalSize, listed)
	}

	// Transmission 3.00 cannot parse hybrid v1+v2 torrents at all, so it is
	// only asked about plain v1 ones.
	if !li.HasV2 {
		ts := transmissionShow(t, torrent)
		expectEqual(t, "v1 info hash", "shoal", si.InfoHash, "transmission-show", ts.Hash)
		expectEqual(t, "name", "shoal", si.Name, "transmission-show", ts.Name)
		expectEqual(t, "file list", "shoal", transmissionFiles(si.Files), "transmission-show", ts.Files)
		expectEqual(t, "trackers", "shoal", si.Trackers, "transmission-show", ts.Trackers)
		expectEqual(t, "web seeds", "shoal", trimSlashes(si.WebSeeds), "transmission-show", trimSlashes(ts.WebSeeds))
		if si.Private != nil && *si.Private != ts.Private {
			t.Errorf("private: shoal %v, transmission-show %v", *si.Private, ts.Private)
		}
	}
	return si, li
}
