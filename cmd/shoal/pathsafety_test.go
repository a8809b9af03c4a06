package main

import (
	"crypto/sha1"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"shoal/bencode"
	"shoal/internal/testkit"
	"shoal/metainfo"
)

// hostileInfoBytes returns a bencoded info dictionary with the given name
// and file paths (nil: single-file), made straight with package bencode
// since the builder refuses such paths. extra entries are added to the
// file list as they are.
func hostileInfoBytes(t *testing.T, name string, paths [][]string, extra ...map[string]any) []byte {
	t.Helper()
	info := map[string]any{"name": name, "piece length": 16384, "pieces": strings.Repeat("x", 20)}
	if paths == nil {
		info["length"] = 1
	} else {
		var files []any
		for _, p := range paths {
			files = append(files, map[string]any{"length": 1, "path": p})
		}
		for _, f := range extra {
			files = append(files, f)
		}
		info["files"] = files
	}
	data, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// hostileTorrent writes a .torrent around hostileInfoBytes and returns its
// file name.
func hostileTorrent(t *testing.T, name string, paths [][]string, extra ...map[string]any) string {
	t.Helper()
	data, err := bencode.Marshal(map[string]any{"info": bencode.RawMessage(hostileInfoBytes(t, name, paths, extra...))})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "hostile.torrent")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGetRefusesUnsafePaths runs shoal get on hand-made hostile torrents
// (the same attacks as metainfo's TestParseRejectsUnsafePaths): it exits 1
// with one line naming the offending path, creates no download directory
// and changes nothing outside.
func TestGetRefusesUnsafePaths(t *testing.T) {
	long := strings.Repeat("p", 250)
	deep := make([]string, 20)
	for i := range deep {
		deep[i] = long
	}
	tests := []struct {
		name  string
		tname string
		paths [][]string
		extra []map[string]any
		want  string
	}{
		{"dot-dot", "top", [][]string{{"..", "..", "victim"}}, nil, `unsafe file path "../../victim"`},
		{"absolute component", "top", [][]string{{"/etc/passwd"}}, nil, `unsafe file path "/etc/passwd"`},
		{"absolute by empty component", "top", [][]string{{"", "etc", "passwd"}}, nil, `unsafe file path "/etc/passwd"`},
		{"NUL", "top", [][]string{{"a\x00b"}}, nil, `unsafe file path "a\x00b"`},
		{"dot", "top", [][]string{{".", "x"}}, nil, `unsafe file path "./x"`},
		{"file is a directory of another", "top", [][]string{{"a"}, {"a", "b"}}, nil, `path "a" is both a file and a directory`},
		{"component of 256 bytes", "top", [][]string{{strings.Repeat("c", 256)}}, nil, "component of 256 bytes"},
		{"path longer than PATH_MAX", "top", [][]string{deep}, nil, "bytes long, at most 4095"},
		{"symlink target escaping", "top", [][]string{{"x"}}, []map[string]any{{"attr": "l", "length": 0, "path": []string{"l"}, "symlink path": []string{"..", ".."}}}, `symlink target: unsafe file path "../.."`},
		{"name ..", "..", nil, nil, `unsafe torrent name ".."`},
		{"name empty", "", [][]string{{"x"}}, nil, `unsafe torrent name ""`},
		{"name absolute", "/tmp/shoal-abs", [][]string{{"x"}}, nil, `unsafe torrent name "/tmp/shoal-abs"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := testkit.NewOutside(t)
			torrent := hostileTorrent(t, tc.tname, tc.paths, tc.extra...)
			dl := filepath.Join(t.TempDir(), "dl")
			r := shoalTimeout(t, 30*time.Second, "get", torrent, "-o", dl, "--data-dir", t.TempDir(),
				"--port", "0", "--bind", "127.0.0.1", "--no-dht")
			assertFailure(t, r, tc.want)
			if _, err := os.Lstat(dl); err == nil {
				t.Errorf("the download directory %s was created", dl)
			}
			out.Check(t)
		})
	}
}

// TestGetRefusesPlantedSymlink runs shoal get on a valid torrent into a
// download directory where the torrent's file, or its top directory, is a
// symlink to a place outside: shoal exits 1 with one line naming the
// symlink, and nothing outside changes. (The symlink is found while the
// existing data is checked, before anything is downloaded; storage's
// TestPlantedSymlink covers writes.)
func TestGetRefusesPlantedSymlink(t *testing.T) {
	single := makeContent(t, "x.bin", 16<<10, 40_000)
	multi := makeContent(t, "multi", 16<<10, 1000, 2000)
	tests := []struct {
		name   string
		c      content
		target func(o *testkit.Outside) string
	}{
		{"file to an outside file", single, func(o *testkit.Outside) string { return o.Victim }},
		{"file to an outside name that does not exist", single, func(o *testkit.Outside) string { return filepath.Join(o.Dir, "new") }},
		{"torrent directory to outside", multi, func(o *testkit.Outside) string { return o.Dir }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := testkit.NewOutside(t)
			dl := t.TempDir()
			link := filepath.Join(dl, tc.c.mi.Info.Name)
			if err := os.Symlink(tc.target(out), link); err != nil {
				t.Fatal(err)
			}
			// --json keeps status lines off stderr, so that the error is
			// the only line there.
			r := shoalTimeout(t, 60*time.Second, append(getArgs(tc.c.torrent, dl, t.TempDir()), "--json")...)
			assertFailure(t, r, link, "symlink")
			out.Check(t)
		})
	}
}

// TestGetMagnetRefusesUnsafeMetadata fetches, for a magnet link, metadata
// whose info hash is right but whose paths are hostile (a peer can send
// whatever matches the hash it was asked for, and anyone can make a magnet
// link for any info dictionary): shoal get exits 1 with one line naming
// the path, and writes nothing.
func TestGetMagnetRefusesUnsafeMetadata(t *testing.T) {
	tests := []struct {
		name  string
		tname string
		paths [][]string
		want  string
	}{
		{"dot-dot", "top", [][]string{{"..", "..", "victim"}}, `unsafe file path "../../victim"`},
		{"name absolute", "/tmp/shoal-abs", nil, `unsafe torrent name "/tmp/shoal-abs"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := testkit.NewOutside(t)
			info := hostileInfoBytes(t, tc.tname, tc.paths)
			ih := metainfo.InfoHash(sha1.Sum(info))
			peer := testkit.StartMetadataPeer(t, ih, len(info), info, testkit.MetadataPeerOptions{ManyConns: true})
			dl := filepath.Join(t.TempDir(), "dl")
			link := "magnet:?xt=urn:btih:" + ih.String() + "&x.pe=" + peer.Addr().String()
			r := shoalTimeout(t, 60*time.Second, append(getArgs(link, dl, t.TempDir()), "--json")...)
			assertFailure(t, r, tc.want, ih.String())
			if _, err := os.Lstat(dl); err == nil {
				t.Errorf("the download directory %s was created", dl)
			}
			out.Check(t)
		})
	}
}
