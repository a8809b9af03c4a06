package metainfo

import (
	"bytes"
	"crypto/sha1"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"shoal/bencode"
)

// fixtureFile is what a fixture's file list should hold: the display path
// (torrent name first) and the length.
type fixtureFile struct {
	path    string
	length  int64
	padding bool
}

// The fixtures in testdata were made once with mktorrent 1.1 and with
// python3-libtorrent 2.0.8 (create_torrent, v1-only and default hybrid); the
// expected hashes are what libtorrent's torrent_info(...).info_hashes().v1
// reported for them.
var fixtures = []struct {
	file      string
	infoHash  string
	name      string
	pieceLen  int64
	pieces    int
	total     int64
	single    bool
	private   bool
	source    string
	comment   string
	createdBy string
	date      int64
	announce  string
	tiers     [][]string
	webSeeds  []string
	files     []fixtureFile
}{
	{
		file: "mktorrent_single.torrent", infoHash: "2bf67d9df057d0d1d67a96179d5ea3e31e8fe263",
		name: "single.bin", pieceLen: 32768, pieces: 2, total: 50000, single: true,
		createdBy: "mktorrent 1.1", date: 1795488860, announce: "http://127.0.0.1:6969/announce",
		files: []fixtureFile{{path: "single.bin", length: 50000}},
	},
	{
		file: "mktorrent_multi.torrent", infoHash: "6d0a46d13d231e37dba7836fae5b65198688f167",
		name: "multi", pieceLen: 32768, pieces: 4, total: 115000, private: true, source: "SRC",
		comment: "a comment", createdBy: "mktorrent 1.1", date: 1795488860,
		announce: "http://t1.example/ann",
		tiers:    [][]string{{"http://t1.example/ann", "http://t1b.example/ann"}, {"udp://t2.example:80"}},
		webSeeds: []string{"http://ws.example/files/"},
		files: []fixtureFile{
			{path: "multi/a.bin", length: 40000}, {path: "multi/empty"},
			{path: "multi/sub/b.txt", length: 5000}, {path: "multi/sub/c.dat", length: 70000},
		},
	},
	{
		file: "lt_v1_multi.torrent", infoHash: "39f050e49e9a1e2903784389d359e0b6173bb6c3",
		name: "multi", pieceLen: 16384, pieces: 8, total: 115000,
		createdBy: "libtorrent test", date: 1795488864, announce: "http://a.example/ann",
		files: []fixtureFile{
			{path: "multi/a.bin", length: 40000}, {path: "multi/empty"},
			{path: "multi/sub/b.txt", length: 5000}, {path: "multi/sub/c.dat", length: 70000},
		},
	},
	{
		file: "lt_hybrid_multi.torrent", infoHash: "c95bd5436b5f44fa743870fd6a9ac2d32d191f62",
		name: "multi", pieceLen: 16384, pieces: 9, total: 147456,
		createdBy: "libtorrent test", date: 1795488864, announce: "http://a.example/ann",
		tiers:    [][]string{{"http://a.example/ann"}, {"udp://b.example:1/ann"}},
		webSeeds: []string{"http://ws.example/"},
		files: []fixtureFile{
			{path: "multi/a.bin", length: 40000},
			{path: "multi/.pad/9152", length: 9152, padding: true},
			{path: "multi/empty"},
			{path: "multi/sub/b.txt", length: 5000},
			{path: "multi/.pad/11384", length: 11384, padding: true},
			{path: "multi/sub/c.dat", length: 70000},
			{path: "multi/.pad/11920", length: 11920, padding: true},
		},
	},
	{
		file: "lt_hybrid_single.torrent", infoHash: "6d07e3579c613124723f6ba5d0dfa840ed07424b",
		name: "single.bin", pieceLen: 16384, pieces: 4, total: 50000, single: true,
		createdBy: "libtorrent test", date: 1795488864,
		files: []fixtureFile{{path: "single.bin", length: 50000}},
	},
}

func TestParseFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			mi, err := Load(filepath.Join("testdata", fx.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := mi.InfoHash.String(); got != fx.infoHash {
				t.Errorf("info hash %s, libtorrent says %s", got, fx.infoHash)
			}
			if sha1.Sum(mi.InfoBytes) != [20]byte(mi.InfoHash) {
				t.Error("InfoHash is not the SHA-1 of InfoBytes")
			}
			info := &mi.Info
			if info.Name != fx.name || info.PieceLength != fx.pieceLen || info.NumPieces() != fx.pieces ||
				info.TotalLength() != fx.total || info.SingleFile != fx.single {
				t.Errorf("got name %q piece length %d pieces %d total %d single %v",
					info.Name, info.PieceLength, info.NumPieces(), info.TotalLength(), info.SingleFile)
			}
			if info.Private != fx.private || info.Source != fx.source {
				t.Errorf("private %v source %q", info.Private, info.Source)
			}
			if mi.Comment != fx.comment || mi.CreatedBy != fx.createdBy || mi.Announce != fx.announce {
				t.Errorf("comment %q created by %q announce %q", mi.Comment, mi.CreatedBy, mi.Announce)
			}
			if !mi.CreationDate.Equal(time.Unix(fx.date, 0)) {
				t.Errorf("creation date %v, want %v", mi.CreationDate, time.Unix(fx.date, 0))
			}
			if !reflect.DeepEqual(mi.AnnounceList, fx.tiers) {
				t.Errorf("announce-list %q, want %q", mi.AnnounceList, fx.tiers)
			}
			if !reflect.DeepEqual(mi.URLList, fx.webSeeds) {
				t.Errorf("url-list %q, want %q", mi.URLList, fx.webSeeds)
			}
			if len(info.Files) != len(fx.files) {
				t.Fatalf("%d files, want %d", len(info.Files), len(fx.files))
			}
			for i, f := range info.Files {
				want := fx.files[i]
				got := strings.Join(f.DisplayPath(info.Name), "/")
				if got != want.path || f.Length != want.length || f.IsPadding() != want.padding {
					t.Errorf("file %d: %s %d padding=%v, want %s %d padding=%v",
						i, got, f.Length, f.IsPadding(), want.path, want.length, want.padding)
				}
			}

			// Re-marshalling keeps the info bytes and everything else.
			data, err := mi.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			again, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again, mi) {
				t.Errorf("Parse(Marshal(x)) != x:\n%+v\n%+v", again, mi)
			}

			// SetInfo of a parsed v1-only info reproduces the tools' bytes:
			// both write canonical bencode with the same keys.
			if !strings.HasPrefix(fx.file, "lt_hybrid") {
				var fresh MetaInfo
				if err := fresh.SetInfo(mi.Info); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(fresh.InfoBytes, mi.InfoBytes) {
					t.Errorf("SetInfo bytes differ from the tool's:\n%q\n%q", fresh.InfoBytes, mi.InfoBytes)
				}
			}
		})
	}
}

// enc bencodes v for hand-made test torrents.
func enc(t testing.TB, v any) []byte {
	t.Helper()
	b, err := bencode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pieces returns n distinct fake piece hashes as a "pieces" string.
func pieces(n int) string {
	var b []byte
	for i := range n {
		h := sha1.Sum([]byte{byte(i), byte(i >> 8)})
		b = append(b, h[:]...)
	}
	return string(b)
}

// multiInfo returns an info dict with the given files (each a map) and
// one 16 KiB piece per 16 KiB of total.
func multiInfo(total int64, files ...map[string]any) map[string]any {
	list := make([]any, len(files))
	for i, f := range files {
		list[i] = f
	}
	return map[string]any{
		"name": "t", "piece length": 16384, "files": list,
		"pieces": pieces(int((total + 16383) / 16384)),
	}
}

func file(length int64, path ...string) map[string]any {
	p := make([]any, len(path))
	for i, c := range path {
		p[i] = c
	}
	return map[string]any{"length": length, "path": p}
}

func torrent(t testing.TB, info map[string]any, extra map[string]any) []byte {
	top := map[string]any{"info": info}
	for k, v := range extra {
		top[k] = v
	}
	return enc(t, top)
}

func TestParseRejects(t *testing.T) {
	single := func(mod func(map[string]any)) map[string]any {
		m := map[string]any{"name": "f", "piece length": 16384, "length": 20000, "pieces": pieces(2)}
		if mod != nil {
			mod(m)
		}
		return m
	}
	tests := []struct {
		name string
		info map[string]any
		want string
	}{
		{"no name", single(func(m map[string]any) { delete(m, "name") }), `missing "name"`},
		{"empty name", single(func(m map[string]any) { m["name"] = "" }), "empty component"},
		{"dotdot name", single(func(m map[string]any) { m["name"] = ".." }), `".." not allowed`},
		{"slash name", single(func(m map[string]any) { m["name"] = "a/b" }), "contains '/'"},
		{"no piece length", single(func(m map[string]any) { delete(m, "piece length") }), `missing "piece length"`},
		{"zero piece length", single(func(m map[string]any) { m["piece length"] = 0 }), "not positive"},
		{"negative piece length", single(func(m map[string]any) { m["piece length"] = -16384 }), "not positive"},
		{"huge piece length", single(func(m map[string]any) { m["piece length"] = int64(1) << 30 }), "larger than the limit"},
		{"no pieces", single(func(m map[string]any) { delete(m, "pieces") }), `missing "pieces"`},
		{"v2 only", single(func(m map[string]any) { delete(m, "pieces"); m["meta version"] = 2 }), "v2-only"},
		{"pieces not multiple of 20", single(func(m map[string]any) { m["pieces"] = pieces(2)[:39] }), "not a multiple of 20"},
		{"too few pieces", single(func(m map[string]any) { m["pieces"] = pieces(1) }), "1 piece hashes"},
		{"too many pieces", single(func(m map[string]any) { m["pieces"] = pieces(3) }), "need 2"},
		{"negative length", single(func(m map[string]any) { m["length"] = -1 }), "negative length"},
		{"zero length", single(func(m map[string]any) { m["length"] = 0; m["pieces"] = "" }), "no data"},
		{"both forms", single(func(m map[string]any) { m["files"] = []any{file(1, "a")} }), "both"},
		{"neither form", single(func(m map[string]any) { delete(m, "length") }), "neither"},
		{"length wrong type", single(func(m map[string]any) { m["length"] = "20000" }), "length"},
		{"no files", multiInfo(0), "no files"},
		{"all files empty", multiInfo(0, file(0, "a")), "no data"},
		{"file without length", multiInfo(1, map[string]any{"path": []any{"a"}}), `missing "length"`},
		{"file without path", multiInfo(1, map[string]any{"length": 1}), "empty path"},
		{"file with empty path", multiInfo(1, file(1)), "empty path"},
		{"dotdot path", multiInfo(1, file(1, "a", "..", "..", "etc", "passwd")), `unsafe file path "a/../../etc/passwd": component ".." not allowed`},
		{"dot path", multiInfo(1, file(1, ".")), `component "." not allowed`},
		{"empty component", multiInfo(1, file(1, "a", "", "b")), "empty component"},
		{"absolute component", multiInfo(1, file(1, "/etc", "passwd")), "contains '/'"},
		{"backslash", multiInfo(1, file(1, `..\..\x`)), `contains '\'`},
		{"nul", multiInfo(1, file(1, "a\x00b")), "NUL"},
		{"drive", multiInfo(1, file(1, "C:", "x")), "drive letter"},
		{"drive relative", multiInfo(1, file(1, "c:x")), "drive letter"},
		{"long component", multiInfo(1, file(1, strings.Repeat("x", 256))), "256 bytes"},
		{"negative file length", multiInfo(1, file(2, "a"), file(-1, "b")), "negative length"},
		{"overflow", multiInfo(1, file(1<<62, "a"), file(1<<62, "b"), file(1<<62, "c")), "overflows"},
		{"duplicate", multiInfo(2, file(1, "a", "b"), file(1, "a", "b")), `duplicate file path "a/b"`},
		{"file and dir", multiInfo(2, file(1, "a"), file(1, "a", "b")), `"a" is both a file and a directory`},
		{"dir and file", multiInfo(2, file(1, "a", "b"), file(1, "a")), `"a" is both a file and a directory`},
		{"unsafe padding path", multiInfo(2, file(1, "a"), func() map[string]any {
			p := file(1, "..")
			p["attr"] = "p"
			return p
		}()), `".." not allowed`},
		{"symlink without target", multiInfo(1, file(1, "a"), map[string]any{"path": []any{"l"}, "attr": "l"}), "symlink target"},
		{"symlink escaping", multiInfo(1, file(1, "a"), map[string]any{"path": []any{"l"}, "attr": "l", "length": 0, "symlink path": []any{"..", "x"}}), `symlink target: unsafe file path "../x"`},
		{"symlink with length", multiInfo(1, file(1, "a"), map[string]any{"path": []any{"l"}, "attr": "l", "length": 5, "symlink path": []any{"a"}}), "symlink with length 5"},
		{"files wrong type", single(func(m map[string]any) { delete(m, "length"); m["files"] = "x" }), "files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(torrent(t, tc.info, nil))
			if err == nil {
				t.Fatalf("accepted, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestParseRejectsBadFiles(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "end of input"},
		{"not a dict", []byte("li1ee"), "cannot decode"},
		{"no info", enc(t, map[string]any{"announce": "x"}), "no info dictionary"},
		{"info not a dict", enc(t, map[string]any{"info": 3}), "cannot decode"},
		{"trailing data", append(torrent(t, multiInfo(1, file(1, "a")), nil), 'x'), "trailing"},
		{"too big", make([]byte, MaxTorrentSize+1), "larger than the limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseTolerates(t *testing.T) {
	info := multiInfo(1, file(1, "a"))
	tests := []struct {
		name  string
		extra map[string]any
		check func(*MetaInfo) bool
	}{
		{"announce-list not a list", map[string]any{"announce-list": "http://x/"},
			func(mi *MetaInfo) bool { return mi.AnnounceList == nil }},
		{"announce-list tier not a list", map[string]any{"announce-list": []any{"http://x/", []any{"http://y/"}}},
			func(mi *MetaInfo) bool { return reflect.DeepEqual(mi.AnnounceList, [][]string{{"http://y/"}}) }},
		{"empty tiers and urls", map[string]any{"announce-list": []any{[]any{}, []any{"", "http://a/", 5}, []any{""}}},
			func(mi *MetaInfo) bool { return reflect.DeepEqual(mi.AnnounceList, [][]string{{"http://a/"}}) }},
		{"creation date string", map[string]any{"creation date": "yesterday"},
			func(mi *MetaInfo) bool { return mi.CreationDate.IsZero() }},
		{"creation date zero", map[string]any{"creation date": 0},
			func(mi *MetaInfo) bool { return mi.CreationDate.IsZero() }},
		{"url-list string", map[string]any{"url-list": "http://w/"},
			func(mi *MetaInfo) bool { return reflect.DeepEqual(mi.URLList, []string{"http://w/"}) }},
		{"url-list empty string", map[string]any{"url-list": ""},
			func(mi *MetaInfo) bool { return mi.URLList == nil }},
		{"url-list mixed", map[string]any{"url-list": []any{"http://w/", 1, "", "http://v/"}},
			func(mi *MetaInfo) bool { return reflect.DeepEqual(mi.URLList, []string{"http://w/", "http://v/"}) }},
		{"comment wrong type", map[string]any{"comment": 1, "announce": []any{}},
			func(mi *MetaInfo) bool { return mi.Comment == "" && mi.Announce == "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mi, err := Parse(torrent(t, info, tc.extra))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(mi) {
				t.Fatalf("unexpected result %+v", mi)
			}
		})
	}
}

func TestParseInfoVariants(t *testing.T) {
	t.Run("private", func(t *testing.T) {
		for _, tc := range []struct {
			v    any
			want bool
		}{{1, true}, {0, false}, {2, true}, {"1", false}} {
			info := multiInfo(1, file(1, "a"))
			info["private"] = tc.v
			mi, err := Parse(torrent(t, info, nil))
			if err != nil {
				t.Fatal(err)
			}
			if mi.Info.Private != tc.want {
				t.Errorf("private %v: got %v", tc.v, mi.Info.Private)
			}
		}
	})
	t.Run("padding without path and symlink", func(t *testing.T) {
		sum := sha1.Sum([]byte("x"))
		a := file(16000, "a")
		a["sha1"] = string(sum[:])
		a["attr"] = "xh"
		info := multiInfo(16385, a,
			map[string]any{"length": 384, "attr": "p"},
			map[string]any{"path": []any{"link"}, "attr": "l", "symlink path": []any{"a"}},
			file(1, "b"))
		mi, err := Parse(torrent(t, info, nil))
		if err != nil {
			t.Fatal(err)
		}
		fs := mi.Info.Files
		if !fs[0].IsExecutable() || !fs[0].IsHidden() || !bytes.Equal(fs[0].SHA1, sum[:]) {
			t.Errorf("file 0: %+v", fs[0])
		}
		if !fs[1].IsPadding() || fs[1].Path != nil {
			t.Errorf("file 1: %+v", fs[1])
		}
		if !fs[2].IsSymlink() || fs[2].Length != 0 || !reflect.DeepEqual(fs[2].SymlinkPath, []string{"a"}) {
			t.Errorf("file 2: %+v", fs[2])
		}
		// SetInfo writes the same dictionary back (canonical input).
		var fresh MetaInfo
		if err := fresh.SetInfo(mi.Info); err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(mustMarshal(t, &fresh)); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fresh.Info, mi.Info) {
			t.Errorf("SetInfo changed the info:\n%+v\n%+v", fresh.Info, mi.Info)
		}
	})
	t.Run("duplicate padding paths", func(t *testing.T) {
		p1, p2 := file(100, ".pad", "100"), file(100, ".pad", "100")
		p1["attr"], p2["attr"] = "p", "p"
		if _, err := Parse(torrent(t, multiInfo(301, file(1, "a"), p1, file(100, "b"), p2), nil)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("utf-8 names win", func(t *testing.T) {
		f := file(1, "ba\xe9")
		f["path.utf-8"] = []any{"bé"}
		info := multiInfo(1, f)
		info["name.utf-8"] = "té"
		mi, err := Parse(torrent(t, info, nil))
		if err != nil {
			t.Fatal(err)
		}
		if mi.Info.Name != "té" || mi.Info.Files[0].Path[0] != "bé" {
			t.Errorf("name %q path %q", mi.Info.Name, mi.Info.Files[0].Path)
		}
	})
	t.Run("unsorted keys keep the exact info hash", func(t *testing.T) {
		infoBytes := "d4:name1:x6:lengthi5e12:piece lengthi16384e6:pieces20:" + pieces(1)[:20] + "e"
		data := "d4:info" + infoBytes + "8:announce3:urle"
		mi, err := Parse([]byte(data))
		if err != nil {
			t.Fatal(err)
		}
		if mi.InfoHash != InfoHash(sha1.Sum([]byte(infoBytes))) || mi.Announce != "url" {
			t.Errorf("hash %s announce %q", mi.InfoHash, mi.Announce)
		}
		out, err := mi.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(out, []byte(infoBytes)) {
			t.Error("Marshal did not keep the info bytes verbatim")
		}
	})
}

func mustMarshal(t testing.TB, mi *MetaInfo) []byte {
	t.Helper()
	b, err := mi.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMarshalRoundTrip(t *testing.T) {
	info := Info{
		Name: "dir", PieceLength: 16384, Private: true, Source: "S",
		Pieces: make([]PieceHash, 2),
		Files: []File{
			{Path: []string{"a", "b"}, Length: 20000, Attr: "x"},
			{Path: []string{"c"}, Length: 0},
			{Path: []string{"d"}, Length: 100},
		},
	}
	info.Pieces[1][0] = 7
	mi := &MetaInfo{
		AnnounceList: [][]string{{"http://a/"}, {"udp://b:1", "udp://c:2"}},
		URLList:      []string{"http://w/"},
		CreationDate: time.Unix(1700000000, 0),
		Comment:      "c", CreatedBy: "shoal", Encoding: "UTF-8",
	}
	if err := mi.SetInfo(info); err != nil {
		t.Fatal(err)
	}
	data := mustMarshal(t, mi)
	if !bytes.Equal(data, mustMarshal(t, mi)) {
		t.Fatal("Marshal is not deterministic")
	}
	// Canonical: the strict decoder (sorted keys only) accepts it.
	var anyv any
	if err := bencode.Unmarshal(data, &anyv); err != nil {
		t.Fatalf("output is not canonical bencode: %v", err)
	}
	got, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	mi.Announce = "http://a/" // Marshal fills it in from the first tier.
	if !reflect.DeepEqual(got, mi) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, mi)
	}
	if !bytes.Contains(mi.InfoBytes, []byte("7:privatei1e")) || !bytes.Contains(mi.InfoBytes, []byte("6:source1:S")) {
		t.Errorf("info bytes %q lack private/source", mi.InfoBytes)
	}

	// A public torrent without source writes neither key; a single-file
	// one writes "length" and no "files".
	single := Info{Name: "f", PieceLength: 16384, Pieces: make([]PieceHash, 1), SingleFile: true,
		Files: []File{{Length: 10}}}
	var smi MetaInfo
	if err := smi.SetInfo(single); err != nil {
		t.Fatal(err)
	}
	want := "d6:lengthi10e4:name1:f12:piece lengthi16384e6:pieces20:" + string(make([]byte, 20)) + "e"
	if string(smi.InfoBytes) != want {
		t.Errorf("single info bytes %q, want %q", smi.InfoBytes, want)
	}
	if out := mustMarshal(t, &smi); string(out) != "d4:info"+want+"e" {
		t.Errorf("minimal torrent %q", out)
	}
}

func TestSetInfoValidates(t *testing.T) {
	var mi MetaInfo
	bad := Info{Name: "x", PieceLength: 16384, Pieces: make([]PieceHash, 1),
		Files: []File{{Path: []string{"..", "y"}, Length: 1}}}
	if err := mi.SetInfo(bad); err == nil || !strings.Contains(err.Error(), `"../y"`) {
		t.Fatalf("SetInfo accepted an unsafe path: %v", err)
	}
	if mi.InfoBytes != nil {
		t.Error("failed SetInfo changed mi")
	}
	if _, err := mi.Marshal(); err == nil {
		t.Error("Marshal without info succeeded")
	}
	// SetInfo copies: changing the caller's Info later does not change mi.
	good := Info{Name: "x", PieceLength: 16384, Pieces: make([]PieceHash, 1),
		Files: []File{{Path: []string{"y"}, Length: 1}}}
	if err := mi.SetInfo(good); err != nil {
		t.Fatal(err)
	}
	good.Files[0].Path[0] = "z"
	if mi.Info.Files[0].Path[0] != "y" {
		t.Error("SetInfo kept the caller's slice")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.torrent")); err == nil {
		t.Error("missing file loaded")
	}
	p := filepath.Join(dir, "bad.torrent")
	if err := os.WriteFile(p, []byte("d4:infoi1ee"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v does not name the file", err)
	}
}
