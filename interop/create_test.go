package interop

import (
	"path/filepath"
	"slices"
	"testing"
)

// createCase is one `shoal create` run whose torrent the real tools judge.
type createCase struct {
	name     string        // test name
	root     string        // what to create a torrent of, relative to the temp dir
	files    []fixtureFile // fixture, relative to root (single: relative to its dir)
	single   bool          // root is a file, not a directory
	args     []string      // extra shoal create flags
	trackers [][]string    // the tiers the flags ask for
	webSeeds []string      // the web seeds the flags ask for
	private  bool          // --private given
	source   string        // --source given
}

var createCases = []createCase{
	{
		name:   "single-file-auto-piece",
		root:   "single.bin",
		files:  singleFile,
		single: true,
	},
	{
		name:   "single-file-16K-pieces",
		root:   "single.bin",
		files:  singleFile,
		single: true,
		args:   []string{"--piece-size", "16K", "-t", "http://tracker.example/announce"},
		trackers: [][]string{
			{"http://tracker.example/announce"},
		},
	},
	{
		name:  "nested-tree-32K-pieces",
		root:  "tree",
		files: nestedTree,
		args:  []string{"--piece-size", "32K"},
	},
	{
		name:  "nested-tree-tiers-webseeds-private-source",
		root:  "tree",
		files: nestedTree,
		args: []string{
			"--piece-size", "64K",
			"-t", "http://a.example/announce,udp://b.example:6969/announce",
			"-t", "http://c.example/announce",
			"-w", "http://seed1.example/files",
			"-w", "http://seed2.example/mirror/",
			"--private", "--source", "INTEROP", "--comment", "made by the interop test",
		},
		trackers: [][]string{
			{"http://a.example/announce", "udp://b.example:6969/announce"},
			{"http://c.example/announce"},
		},
		webSeeds: []string{"http://seed1.example/files", "http://seed2.example/mirror/"},
		private:  true,
		source:   "INTEROP",
	},
}

// TestShoalCreateReadByLibtorrentAndTransmission makes torrents with shoal
// and checks that libtorrent and transmission-show read the same info hash,
// name, files, trackers, web seeds and private flag from them as shoal does,
// that the files are exactly the fixture's, and that libtorrent's hash check
// of the fixture data passes every piece (so the piece hashes are right).
func TestShoalCreateReadByLibtorrentAndTransmission(t *testing.T) {
	for _, tc := range createCases {
		t.Run(tc.name, func(t *testing.T) {
			requireLibtorrent(t)
			requireTool(t, "transmission-show")
			dir := t.TempDir()
			if tc.single {
				makeTree(t, dir, tc.files)
			} else {
				makeTree(t, filepath.Join(dir, tc.root), tc.files)
			}
			torrent := filepath.Join(dir, tc.name+".torrent")
			args := append([]string{"create", filepath.Join(dir, tc.root), "-o", torrent, "--no-date"}, tc.args...)
			shoal(t, args...)

			si, li := checkAgainstTools(t, torrent)
			if li.HasV2 {
				t.Errorf("libtorrent sees v2 hashes in a torrent shoal made as v1")
			}
			expectEqual(t, "name", "shoal info", si.Name, "fixture", filepath.Base(tc.root))
			got := slices.Clone(si.Files)
			sortFiles(got)
			expectEqual(t, "files (sorted)", "shoal info", got, "fixture", fixtureFiles(tc.root, tc.files, tc.single))
			expectEqual(t, "trackers", "libtorrent", sortedTiers(li.Trackers), "requested", sortedTiers(tc.trackers))
			expectEqual(t, "web seeds", "libtorrent", trimSlashes(li.WebSeeds), "requested", trimSlashes(tc.webSeeds))
			if li.Private != tc.private {
				t.Errorf("libtorrent private = %v, want %v", li.Private, tc.private)
			}
			gotSource := ""
			if li.Source != nil {
				gotSource = *li.Source
			}
			if gotSource != tc.source {
				t.Errorf("info dictionary source = %q (as libtorrent decodes it), want %q", gotSource, tc.source)
			}
			ltVerify(t, torrent, dir)
		})
	}
}

// TestShoalCreateMatchesMktorrent makes a torrent of the same data with the
// same piece length and options with shoal and with mktorrent: both write
// the same info dictionary keys, so their v1 info hashes must be identical.
// This also proves shoal orders multi-file torrents the way mktorrent does.
func TestShoalCreateMatchesMktorrent(t *testing.T) {
	cases := []struct {
		name   string
		root   string
		files  []fixtureFile
		single bool
		shoal  []string
		mktor  []string
	}{
		{"single-file", "single.bin", singleFile, true,
			[]string{"--piece-size", "32K"}, []string{"-l", "15"}},
		{"nested-tree", "tree", nestedTree, false,
			[]string{"--piece-size", "64K"}, []string{"-l", "16"}},
		{"nested-tree-private-source", "tree", nestedTree, false,
			[]string{"--piece-size", "256K", "--private", "--source", "SRC"},
			[]string{"-l", "18", "-p", "-s", "SRC"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mk := requireTool(t, "mktorrent")
			dir := t.TempDir()
			if tc.single {
				makeTree(t, dir, tc.files)
			} else {
				makeTree(t, filepath.Join(dir, tc.root), tc.files)
			}
			src := filepath.Join(dir, tc.root)
			shoalOut := filepath.Join(dir, "shoal.torrent")
			mkOut := filepath.Join(dir, "mktorrent.torrent")
			shoal(t, append([]string{"create", src, "-o", shoalOut, "--no-date"}, tc.shoal...)...)
			run(t, mk, append(append([]string{"-d", "-t", "1", "-o", mkOut}, tc.mktor...), src)...)
			a := shoalInfoJSON(t, shoalOut)
			b := shoalInfoJSON(t, mkOut)
			expectEqual(t, "file list", "shoal create", a.Files, "mktorrent", b.Files)
			expectEqual(t, "v1 info hash", "shoal create", a.InfoHash, "mktorrent", b.InfoHash)
		})
	}
}
