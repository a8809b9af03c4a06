package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"shoal/metainfo"
)

// writeTorrent encodes mi with info as its info dictionary into a file in a
// temporary directory and returns the file's path.
func writeTorrent(t *testing.T, name string, mi *metainfo.MetaInfo, info metainfo.Info) string {
	t.Helper()
	// One (dummy) hash per piece, so the torrent is well formed.
	var total int64
	for _, f := range info.Files {
		total += f.Length
	}
	info.Pieces = make([]metainfo.PieceHash, (total+info.PieceLength-1)/info.PieceLength)
	if err := mi.SetInfo(info); err != nil {
		t.Fatal(err)
	}
	data, err := mi.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// paddedTorrent has two real files separated by a BEP 47 padding file and
// only a BEP 3 "announce".
func paddedTorrent(t *testing.T) string {
	return writeTorrent(t, "padded.torrent", &metainfo.MetaInfo{Announce: "http://only.example/announce"}, metainfo.Info{
		Name:        "padded",
		PieceLength: 16 << 10,
		Files: []metainfo.File{
			{Path: []string{"one.bin"}, Length: 1000},
			{Path: []string{".pad", "15384"}, Length: 15384, Attr: "p"},
			{Path: []string{"dir", "two.bin"}, Length: 5000},
		},
	})
}

func TestInfoJSONTorrent(t *testing.T) {
	r := shoal(t, "info", "--json", paddedTorrent(t))
	if r.code != exitOK {
		t.Fatalf("info: %+v", r)
	}
	var got infoJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	wantFiles := []fileJSON{{[]string{"padded", "one.bin"}, 1000}, {[]string{"padded", "dir", "two.bin"}, 5000}}
	if got.Files == nil || !reflect.DeepEqual(*got.Files, wantFiles) {
		t.Errorf("files = %v, want %v (padding left out)", got.Files, wantFiles)
	}
	// The total counts padding: it is part of the piece data.
	if got.TotalSize == nil || *got.TotalSize != 21384 || *got.PieceCount != 2 {
		t.Errorf("total_size = %v, piece_count = %v", got.TotalSize, got.PieceCount)
	}
	if !reflect.DeepEqual(got.Trackers, [][]string{{"http://only.example/announce"}}) {
		t.Errorf("trackers = %q, want the announce URL as the only tier", got.Trackers)
	}
	if got.Private == nil || *got.Private {
		t.Errorf("private = %v, want false present", got.Private)
	}
	if len(got.InfoHash) != 40 || strings.ToLower(got.InfoHash) != got.InfoHash {
		t.Errorf("info_hash = %q", got.InfoHash)
	}
	if !strings.HasPrefix(got.Magnet, "magnet:?") || !strings.Contains(got.Magnet, got.InfoHash) {
		t.Errorf("magnet = %q", got.Magnet)
	}
	// Key set and order are part of the contract.
	var keys []string
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.Token() // {
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	wantKeys := []string{"info_hash", "name", "total_size", "piece_length", "piece_count", "files", "trackers", "web_seeds", "private", "magnet"}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("keys = %q, want %q", keys, wantKeys)
	}
}

func TestInfoJSONMagnet(t *testing.T) {
	const hash = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
	link := "magnet:?xt=urn:btih:" + hash + "&dn=Some+Name&tr=http%3A%2F%2Fa.example%2Fannounce&tr=udp%3A%2F%2Fb.example%3A6969&ws=http%3A%2F%2Fseed.example%2F"
	r := shoal(t, "info", "--json", link)
	if r.code != exitOK {
		t.Fatalf("info: %+v", r)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"total_size", "piece_length", "piece_count", "files", "private"} {
		if _, ok := got[k]; ok {
			t.Errorf("magnet JSON has torrent-only key %q", k)
		}
	}
	if got["info_hash"] != hash || got["name"] != "Some Name" {
		t.Errorf("info_hash/name = %v/%v", got["info_hash"], got["name"])
	}
	wantTiers := []any{[]any{"http://a.example/announce"}, []any{"udp://b.example:6969"}}
	if !reflect.DeepEqual(got["trackers"], wantTiers) {
		t.Errorf("trackers = %v, want each tr as its own tier", got["trackers"])
	}
	if !reflect.DeepEqual(got["web_seeds"], []any{"http://seed.example/"}) {
		t.Errorf("web_seeds = %v", got["web_seeds"])
	}
	if m, _ := got["magnet"].(string); !strings.Contains(m, hash) {
		t.Errorf("magnet = %v", got["magnet"])
	}

	// The human form names the same things.
	r = shoal(t, "info", link)
	for _, s := range []string{"Some Name", hash, "Tier 1: http://a.example/announce", "Tier 2: udp://b.example:6969", "http://seed.example/"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("info output lacks %q:\n%s", s, r.stdout)
		}
	}
}

func TestInfoJSONMagnetV2Only(t *testing.T) {
	mh := "1220" + strings.Repeat("ab", 32)
	r := shoal(t, "info", "--json", "magnet:?xt=urn:btmh:"+mh)
	if r.code != exitOK {
		t.Fatalf("info: %+v", r)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got["info_hash"] != "" || !reflect.DeepEqual(got["trackers"], []any{}) || !strings.Contains(got["magnet"].(string), mh) {
		t.Errorf("v2-only magnet JSON = %v", got)
	}
	if r := shoal(t, "info", "magnet:?xt=urn:btmh:"+mh); !strings.Contains(r.stdout, "v2 hash:    "+mh) || strings.Contains(r.stdout, "Info hash") {
		t.Errorf("v2-only magnet text:\n%s", r.stdout)
	}
}

func TestInfoText(t *testing.T) {
	files := make([]metainfo.File, 0, 103)
	for i := range 101 {
		files = append(files, metainfo.File{Path: []string{"docs", fmt.Sprintf("f%03d.txt", i)}, Length: 100})
	}
	// A padding file in the middle, where BEP 47 puts them: not listed.
	files = append(files[:1], append([]metainfo.File{{Path: []string{".pad", "10"}, Length: 10, Attr: "p"}}, files[1:]...)...)
	path := writeTorrent(t, "many.torrent", &metainfo.MetaInfo{
		AnnounceList: [][]string{{"http://a.example/1", "http://b.example/2"}, {"udp://c.example:1"}},
		URLList:      []string{"http://seed.example/"},
		Comment:      "a \x1b[31mcomment",
		CreatedBy:    "test",
	}, metainfo.Info{Name: "many", PieceLength: 16 << 10, Files: files, Private: true, Source: "SRC"})
	r := shoal(t, "info", path)
	if r.code != exitOK {
		t.Fatalf("info: %+v", r)
	}
	for _, s := range []string{
		"Name:       many\n",
		"Size:       9.9 KiB (10110 bytes)\n",
		"Pieces:     1 × 16 KiB\n",
		"Private:    yes\n",
		"Created by: test\n",
		"Comment:    a \\x1b[31mcomment\n", // escape sequences are shown, not obeyed
		"Source:     SRC\n",
		"  Tier 1: http://a.example/1, http://b.example/2\n",
		"  Tier 2: udp://c.example:1\n",
		"Web seeds:\n  http://seed.example/\n",
		"Files (101):\n  many/\n    docs/\n      f000.txt (100 B)\n",
		"      f099.txt (100 B)\n  ... 1 more\n",
		"Magnet:     magnet:?",
	} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("info output lacks %q:\n%s", s, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "f100") || strings.Contains(r.stdout, ".pad") {
		t.Errorf("info lists more than 100 files or a padding file:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "Created:") {
		t.Errorf("info shows a creation date the torrent does not have")
	}
}

func TestInfoTextSingleFile(t *testing.T) {
	path := writeTorrent(t, "one.torrent", &metainfo.MetaInfo{}, metainfo.Info{
		Name: "one.iso", PieceLength: 16 << 10, SingleFile: true,
		Files: []metainfo.File{{Length: 3 << 20}},
	})
	r := shoal(t, "info", path)
	for _, s := range []string{"Files (1):\n  one.iso (3 MiB)\n", "Trackers:   none\n", "Size:       3 MiB (3145728 bytes)\n"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("info output lacks %q:\n%s", s, r.stdout)
		}
	}
}

func TestInfoFailures(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "broken.torrent")
	if err := os.WriteFile(corrupt, []byte("d8:announce3:abce"), 0o644); err != nil {
		t.Fatal(err)
	}
	notTorrent := filepath.Join(dir, "list.torrent")
	if err := os.WriteFile(notTorrent, []byte("li1ee"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"corrupt torrent", []string{"info", corrupt}, []string{"broken.torrent"}},
		{"corrupt torrent, json", []string{"info", "--json", corrupt}, []string{"broken.torrent"}},
		{"not a dictionary", []string{"info", notTorrent}, []string{"list.torrent"}},
		{"missing file", []string{"info", filepath.Join(dir, "absent.torrent")}, []string{"absent.torrent"}},
		{"directory", []string{"info", dir}, []string{dir}},
		{"empty argument", []string{"info", ""}, []string{"empty"}},
		{"bad magnet hash", []string{"info", "magnet:?xt=urn:btih:zzzz"}, []string{"magnet"}},
		{"magnet without xt", []string{"info", "magnet:?dn=x"}, []string{"magnet"}},
		{"magnet with newline", []string{"info", "magnet:?xt=urn:btih:\nzz"}, []string{"magnet"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := shoal(t, tc.args...)
			assertFailure(t, r, tc.want...)
			if r.stdout != "" {
				t.Errorf("failure wrote to stdout: %q", r.stdout)
			}
		})
	}
}
