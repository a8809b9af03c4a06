package metainfo

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testFile is a file to create below a test directory.
type testFile struct {
	path string // slash-separated, relative
	data []byte
}

// patterned returns n deterministic, non-repeating-looking bytes so that
// a misplaced byte changes a piece hash.
func patterned(seed, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed*2654435761 + 1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// writeFiles creates files below dir.
func writeFiles(t testing.TB, dir string, files []testFile) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// hashPieces computes piece hashes of data independently of the builder.
func hashPieces(data []byte, pieceLength int) []PieceHash {
	var out []PieceHash
	for start := 0; start < len(data); start += pieceLength {
		out = append(out, sha1.Sum(data[start:min(start+pieceLength, len(data))]))
	}
	return out
}

// fileList flattens Info.Files into "a/b:len" strings for comparison.
func fileList(info *Info) []string {
	var out []string
	for _, f := range info.Files {
		out = append(out, strings.Join(f.Path, "/")+":"+strconv.FormatInt(f.Length, 10))
	}
	return out
}

func TestAutoPieceLength(t *testing.T) {
	const (
		KiB = int64(1) << 10
		MiB = KiB << 10
		GiB = MiB << 10
	)
	tests := []struct {
		total, want int64
	}{
		{0, 16 * KiB},
		{1, 16 * KiB},
		{16 * KiB, 16 * KiB},
		{32 * MiB, 16 * KiB}, // exactly 2048 pieces of 16 KiB
		{32*MiB + 1, 32 * KiB},
		{1 * GiB, 512 * KiB}, // 2048 pieces
		{1*GiB + 1, 1 * MiB}, // 1025 pieces
		{4 * GiB, 2 * MiB},
		{32 * GiB, 16 * MiB},
		{32*GiB + 1, 16 * MiB}, // capped: 2049 pieces
		{1 << 50, 16 * MiB},
		{1<<63 - 1, 16 * MiB},
	}
	for _, tt := range tests {
		if got := AutoPieceLength(tt.total); got != tt.want {
			t.Errorf("AutoPieceLength(%d) = %d, want %d", tt.total, got, tt.want)
		}
	}
	// Between the clamps, the piece count is always in (1024, 2048].
	for total := 32*MiB + 1; total < 32*GiB; total = total*3/2 + 12345 {
		l := AutoPieceLength(total)
		if l&(l-1) != 0 {
			t.Fatalf("AutoPieceLength(%d) = %d, not a power of two", total, l)
		}
		if n := (total + l - 1) / l; n <= 1024 || n > 2048 {
			t.Fatalf("AutoPieceLength(%d) = %d gives %d pieces", total, l, n)
		}
	}
}

func TestBuildPieceLengthValidation(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, []testFile{{"f", patterned(1, 1000)}})
	root := filepath.Join(dir, "f")
	tests := []struct {
		length int64
		ok     bool
	}{
		{0, true},
		{16 << 10, true},
		{1 << 20, true},
		{256 << 20, true},
		{8 << 10, false},
		{-16384, false},
		{3 << 14, false},
		{16<<10 + 1, false},
		{512 << 20, false},
	}
	for _, tt := range tests {
		_, err := Build(context.Background(), root, BuildOptions{PieceLength: tt.length})
		if (err == nil) != tt.ok {
			t.Errorf("PieceLength %d: err = %v, want ok=%v", tt.length, err, tt.ok)
		}
	}
}

func TestBuildSingleFile(t *testing.T) {
	for _, size := range []int{1, 16383, 16384, 16385, 3*16384 - 1, 3 * 16384, 100000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			dir := t.TempDir()
			data := patterned(size, size)
			writeFiles(t, dir, []testFile{{"movie.mkv", data}})
			mi, err := Build(context.Background(), filepath.Join(dir, "movie.mkv"), BuildOptions{PieceLength: 16384})
			if err != nil {
				t.Fatal(err)
			}
			info := &mi.Info
			if !info.SingleFile || info.Name != "movie.mkv" || len(info.Files) != 1 ||
				info.Files[0].Length != int64(size) || len(info.Files[0].Path) != 0 {
				t.Fatalf("info = %+v", *info)
			}
			if info.PieceLength != 16384 {
				t.Errorf("PieceLength = %d", info.PieceLength)
			}
			if want := hashPieces(data, 16384); !slices.Equal(info.Pieces, want) {
				t.Errorf("pieces differ: got %d, want %d", len(info.Pieces), len(want))
			}
			if mi.InfoHash != InfoHash(sha1.Sum(mi.InfoBytes)) {
				t.Error("InfoHash is not the SHA-1 of InfoBytes")
			}
		})
	}
}

func TestBuildMultiFile(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "album")
	files := []testFile{
		{"b.txt", patterned(1, 20000)},
		{"a/z.bin", patterned(2, 16384)}, // exactly one piece
		{"a/empty", nil},
		{".hidden", patterned(3, 7)},
		{"a/.cfg/x", patterned(4, 40000)},
		{"B", patterned(5, 1)},
		{"c/d/e/f", patterned(6, 16383)},
		{"c/d/e/g", nil},
	}
	writeFiles(t, root, files)
	if err := os.MkdirAll(filepath.Join(root, "emptydir", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	mi, err := Build(context.Background(), root, BuildOptions{PieceLength: 16384, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Sorted by path components bytewise: '.' < 'B' < 'a' < 'b' < 'c'.
	wantOrder := []string{".hidden", "B", "a/.cfg/x", "a/empty", "a/z.bin", "b.txt", "c/d/e/f", "c/d/e/g"}
	var concat []byte
	var wantList []string
	for _, p := range wantOrder {
		for _, f := range files {
			if f.path == p {
				concat = append(concat, f.data...)
				wantList = append(wantList, p+":"+strconv.Itoa(len(f.data)))
			}
		}
	}
	if mi.Info.SingleFile || mi.Info.Name != "album" {
		t.Fatalf("SingleFile=%v Name=%q", mi.Info.SingleFile, mi.Info.Name)
	}
	if got := fileList(&mi.Info); !slices.Equal(got, wantList) {
		t.Fatalf("files:\n got %q\nwant %q", got, wantList)
	}
	if want := hashPieces(concat, 16384); !slices.Equal(mi.Info.Pieces, want) {
		t.Fatalf("pieces differ: got %d, want %d", len(mi.Info.Pieces), len(want))
	}
}

// TestBuildPieceBoundaries builds trees whose file boundaries fall on,
// just before and just after piece boundaries.
func TestBuildPieceBoundaries(t *testing.T) {
	const pl = 16384
	tests := []struct {
		name  string
		sizes []int
	}{
		{"one piece", []int{pl}},
		{"two files one piece", []int{pl / 2, pl / 2}},
		{"files span pieces", []int{pl - 1, 2, pl - 1}},
		{"many tiny", []int{1, 1, 1, 0, 1, 1, 0, 0, 1}},
		{"small then big", []int{3, 3*pl + 5}},
		{"exact multiple", []int{pl, pl, 2 * pl}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var files []testFile
			var concat []byte
			for i, n := range tt.sizes {
				data := patterned(i+n, n)
				files = append(files, testFile{"f" + strconv.Itoa(10+i), data})
				concat = append(concat, data...)
			}
			writeFiles(t, dir, files)
			for _, workers := range []int{1, 2, 5} {
				mi, err := Build(context.Background(), dir, BuildOptions{PieceLength: pl, Workers: workers})
				if err != nil {
					t.Fatal(err)
				}
				if want := hashPieces(concat, pl); !slices.Equal(mi.Info.Pieces, want) {
					t.Fatalf("workers=%d: pieces differ", workers)
				}
			}
		})
	}
}

func TestBuildSymlinks(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside")
	writeFiles(t, outside, []testFile{{"target.bin", patterned(7, 5000)}, {"sub/inner", patterned(8, 300)}})
	root := filepath.Join(dir, "root")
	writeFiles(t, root, []testFile{{"plain", patterned(9, 100)}})
	mustSymlink(t, filepath.Join(outside, "target.bin"), filepath.Join(root, "link.bin"))
	mustSymlink(t, filepath.Join(outside, "sub"), filepath.Join(root, "linkdir"))

	mi, err := Build(context.Background(), root, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"link.bin:5000", "linkdir/inner:300", "plain:100"}
	if got := fileList(&mi.Info); !slices.Equal(got, want) {
		t.Fatalf("files = %q, want %q", got, want)
	}
	concat := slices.Concat(patterned(7, 5000), patterned(8, 300), patterned(9, 100))
	if !slices.Equal(mi.Info.Pieces, hashPieces(concat, 16384)) {
		t.Fatal("pieces differ")
	}

	// A symlink given as the root is followed too; the name is the link's.
	mustSymlink(t, filepath.Join(outside, "target.bin"), filepath.Join(dir, "rootlink"))
	mi, err = Build(context.Background(), filepath.Join(dir, "rootlink"), BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !mi.Info.SingleFile || mi.Info.Name != "rootlink" || mi.Info.Files[0].Length != 5000 {
		t.Fatalf("root symlink: %+v", mi.Info)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, root string) // root exists, empty
		wantErr string                          // substring; "ROOT" is replaced by root
	}{
		{"empty directory", func(t *testing.T, root string) {}, "contains no files"},
		{"only empty dirs", func(t *testing.T, root string) {
			os.MkdirAll(filepath.Join(root, "a", "b"), 0o755)
		}, "contains no files"},
		{"only empty files", func(t *testing.T, root string) {
			writeFiles(t, root, []testFile{{"a", nil}, {"b/c", nil}})
		}, "holds no data"},
		{"broken symlink", func(t *testing.T, root string) {
			writeFiles(t, root, []testFile{{"ok", []byte("x")}, {"sub/a", []byte("y")}})
			mustSymlink(t, filepath.Join(root, "missing"), filepath.Join(root, "sub", "dangling"))
		}, "broken symlink \"ROOT/sub/dangling\""},
		{"symlink loop", func(t *testing.T, root string) {
			writeFiles(t, root, []testFile{{"ok", []byte("x")}})
			mustSymlink(t, filepath.Join(root, "l2"), filepath.Join(root, "l1"))
			mustSymlink(t, filepath.Join(root, "l1"), filepath.Join(root, "l2"))
		}, "symlink loop at \"ROOT/l1\""},
		{"symlink to ancestor", func(t *testing.T, root string) {
			writeFiles(t, root, []testFile{{"d/ok", []byte("x")}})
			mustSymlink(t, root, filepath.Join(root, "d", "up"))
		}, "symlink loop at \"ROOT/d/up\""},
		{"socket", func(t *testing.T, root string) {
			writeFiles(t, root, []testFile{{"ok", []byte("x")}})
			l, err := net.Listen("unix", filepath.Join(root, "sock"))
			if err != nil {
				t.Skipf("unix sockets unavailable: %v", err)
			}
			t.Cleanup(func() { l.Close() })
		}, "\"ROOT/sock\" is not a regular file or directory"},
		{"missing root", func(t *testing.T, root string) { os.Remove(root) }, "ROOT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A short base directory keeps the socket path under the
			// length limit of sockaddr_un.
			base, err := os.MkdirTemp("", "sb")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(base) })
			root := filepath.Join(base, "r")
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, root)
			_, err = Build(context.Background(), root, BuildOptions{})
			want := strings.ReplaceAll(tt.wantErr, "ROOT", root)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want it to contain %q", err, want)
			}
		})
	}
}

// TestBuildFileChangedSize changes a file between the walk and the hashing.
func TestBuildFileChangedSize(t *testing.T) {
	for _, change := range []struct {
		name string
		size int64
	}{{"shrunk", 10}, {"grown", 70000}} {
		t.Run(change.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, []testFile{{"a", patterned(1, 50000)}, {"b", patterned(2, 50000)}})
			walked, err := walkRoot(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			victim := filepath.Join(dir, "b")
			if err := os.Truncate(victim, change.size); err != nil {
				t.Fatal(err)
			}
			h := &pieceHasher{files: walked.files, total: walked.total, pieceLength: 16384,
				pieces: make([]PieceHash, (walked.total+16383)/16384)}
			err = h.run(context.Background(), 2, nil)
			if err == nil {
				err = checkSizesUnchanged(walked.files)
			}
			if err == nil || !strings.Contains(err.Error(), strconv.Quote(victim)) {
				t.Fatalf("err = %v, want it to name %q", err, victim)
			}
		})
	}
}

func TestBuildOptions(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, []testFile{{"x/f", patterned(1, 100)}})
	root := filepath.Join(dir, "x")
	date := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	tiers := [][]string{{"http://a/announce", "http://b/announce"}, {}, {"udp://c:80"}}
	seeds := []string{"http://seed/"}
	mi, err := Build(context.Background(), root, BuildOptions{
		Trackers: tiers, WebSeeds: seeds, Private: true, Comment: "hi",
		Source: "SRC", CreationDate: date,
	})
	if err != nil {
		t.Fatal(err)
	}
	if mi.Announce != "http://a/announce" {
		t.Errorf("Announce = %q", mi.Announce)
	}
	wantTiers := [][]string{{"http://a/announce", "http://b/announce"}, {"udp://c:80"}}
	if !slices.EqualFunc(mi.AnnounceList, wantTiers, slices.Equal) {
		t.Errorf("AnnounceList = %q", mi.AnnounceList)
	}
	tiers[0][0] = "changed"
	if mi.AnnounceList[0][0] != "http://a/announce" {
		t.Error("AnnounceList shares memory with the options")
	}
	if !slices.Equal(mi.URLList, seeds) || !mi.Info.Private || mi.Info.Source != "SRC" ||
		mi.Comment != "hi" || !mi.CreationDate.Equal(date) || mi.CreatedBy != DefaultCreatedBy {
		t.Errorf("mi = %+v", mi)
	}
	private := mi.InfoHash

	mi, err = Build(context.Background(), root, BuildOptions{CreatedBy: "other/1"})
	if err != nil {
		t.Fatal(err)
	}
	if mi.CreatedBy != "other/1" || mi.Announce != "" || mi.AnnounceList != nil || mi.URLList != nil ||
		!mi.CreationDate.IsZero() || mi.Info.Private {
		t.Errorf("mi = %+v", mi)
	}
	if mi.InfoHash == private {
		t.Error("private flag and source did not change the info hash")
	}

	for _, bad := range []BuildOptions{
		{Trackers: [][]string{{""}}},
		{WebSeeds: []string{""}},
	} {
		if _, err := Build(context.Background(), root, bad); err == nil {
			t.Errorf("Build(%+v) succeeded", bad)
		}
	}
}

func TestBuildDeterministic(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, []testFile{
		{"t/z", patterned(1, 70000)}, {"t/a/b", patterned(2, 12345)}, {"t/a/c", nil}, {"t/m", patterned(3, 99)},
	})
	root := filepath.Join(dir, "t")
	opts := BuildOptions{PieceLength: 32768, Trackers: [][]string{{"http://t/a"}}, Comment: "c"}
	var first []byte
	for _, workers := range []int{1, 2, 4, 0} {
		opts.Workers = workers
		mi, err := Build(context.Background(), root, opts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := mi.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
		} else if !bytes.Equal(first, b) {
			t.Fatalf("workers=%d: output differs", workers)
		}
	}
	// A trailing separator names the same directory and the same torrent.
	opts.Workers = 0
	mi, err := Build(context.Background(), root+string(filepath.Separator), opts)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := mi.Marshal(); err != nil || !bytes.Equal(b, first) {
		t.Fatalf("root with trailing separator: output differs (err %v)", err)
	}
	// What Build writes, Parse reads back with the same info hash.
	parsed, err := Parse(first)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.InfoHash != mi.InfoHash || parsed.Info.Name != "t" || len(parsed.Info.Files) != 4 {
		t.Fatalf("Parse(Build) = %+v", parsed)
	}
}

// TestBuildProgress checks that progress is non-decreasing, ends at the
// total, and (under -race) is never called concurrently.
func TestBuildProgress(t *testing.T) {
	dir := t.TempDir()
	size := 3<<20 + 17
	writeFiles(t, dir, []testFile{{"f", patterned(1, size)}})
	var calls []int64
	_, err := Build(context.Background(), filepath.Join(dir, "f"), BuildOptions{
		PieceLength: 16384, Workers: 2,
		Progress: func(hashed, total int64) {
			if total != int64(size) {
				t.Errorf("total = %d", total)
			}
			calls = append(calls, hashed)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) < 2 || calls[len(calls)-1] != int64(size) {
		t.Fatalf("calls = %v", calls)
	}
	if !slices.IsSorted(calls) {
		t.Fatalf("progress decreased: %v", calls)
	}
}

func TestBuildCancel(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big")
	// A sparse file reads as zeros without touching the disk.
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()

	before := runtime.NumGoroutine()

	// Cancelled before starting.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, root := range []string{path, dir} { // hashing, and the walk
		if _, err := Build(ctx, root, BuildOptions{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("pre-cancelled %s: err = %v", root, err)
		}
	}

	// Cancelled from the progress callback once hashing is under way.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	var seen int64
	_, err = Build(ctx, path, BuildOptions{PieceLength: 16384, Workers: 3, Progress: func(hashed, total int64) {
		seen = hashed
		if hashed > 0 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if seen >= 1<<30 {
		t.Fatal("hashing finished before the cancel took effect")
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Build took %v to stop", d)
	}
	// Every goroutine Build started has exited when it returns; allow the
	// runtime a moment for unrelated ones (e.g. the test timer).
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Build, %d before", n, before)
	}
}

// requireTool returns the path of an external program, skipping the test
// when it is missing, or failing it when CI=true (a missing client is a
// failure in CI).
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// interopTree is a directory the real tools order the same way Build does:
// mktorrent sorts by the whole path with strcmp, which agrees with the
// component order unless a name contains a byte below '/' next to a
// directory of the same prefix (e.g. "dir.txt" and "dir/x").
var interopTree = []testFile{
	{"readme.txt", patterned(1, 1234)},
	{".hidden", patterned(2, 33)},
	{"Zeta/one.bin", patterned(3, 40000)},
	{"data/empty", nil},
	{"data/sub/two.bin", patterned(4, 65536)},
	{"data/three.bin", patterned(5, 32768*2+1)},
	{"x y/space name", patterned(6, 5)},
}

func TestBuildMatchesMktorrent(t *testing.T) {
	mktorrent := requireTool(t, "mktorrent")
	dir := t.TempDir()
	root := filepath.Join(dir, "content")
	writeFiles(t, root, interopTree)
	single := filepath.Join(root, "data", "three.bin")
	tests := []struct {
		name string
		root string
		opts BuildOptions
		args []string
	}{
		{"multi", root, BuildOptions{PieceLength: 32768}, []string{"-l", "15"}},
		{"multi private source", root, BuildOptions{PieceLength: 65536, Private: true, Source: "SRC"}, []string{"-l", "16", "-p", "-s", "SRC"}},
		{"single", single, BuildOptions{PieceLength: 32768}, []string{"-l", "15"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, "m"+strconv.Itoa(i)+".torrent")
			args := append([]string{"-d", "-t", "2", "-o", out}, tt.args...)
			cmd := exec.Command(mktorrent, append(args, tt.root)...)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("mktorrent: %v\n%s", err, b)
			}
			theirs, err := Load(out)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := Build(context.Background(), tt.root, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if ours.InfoHash != theirs.InfoHash {
				t.Fatalf("info hash %v, mktorrent %v\nours:   %q\ntheirs: %q", ours.InfoHash, theirs.InfoHash,
					fileList(&ours.Info), fileList(&theirs.Info))
			}
		})
	}
}

// libtorrentCreateScript builds a v1-only torrent with libtorrent from a file
// list given in Build's order (libtorrent's own add_files keeps readdir
// order for v1-only torrents) and prints its info hash.
const libtorrentCreateScript = `
import hashlib, json, os, sys
import libtorrent as lt
root, piece_length, private = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
fs = lt.file_storage()
for path, size in json.loads(sys.argv[4]):
    fs.add_file(path, size)
ct = lt.create_torrent(fs, piece_length, flags=lt.create_torrent.v1_only)
ct.set_priv(private)
lt.set_piece_hashes(ct, os.path.dirname(root))
print(hashlib.sha1(lt.bencode(ct.generate()[b"info"])).hexdigest())
`

func TestBuildMatchesLibtorrent(t *testing.T) {
	python := "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import libtorrent").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-libtorrent is required in CI: %v", err)
		}
		t.Skipf("python3-libtorrent not available: %v", err)
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "content")
	writeFiles(t, root, interopTree)
	for _, tt := range []struct {
		root    string
		opts    BuildOptions
		private string
	}{
		{root, BuildOptions{PieceLength: 16384}, "0"},
		{root, BuildOptions{PieceLength: 32768, Private: true}, "1"},
		{filepath.Join(root, "data", "three.bin"), BuildOptions{PieceLength: 16384}, "0"},
	} {
		ours, err := Build(context.Background(), tt.root, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		var list strings.Builder
		list.WriteString("[")
		for i, f := range ours.Info.Files {
			if i > 0 {
				list.WriteString(",")
			}
			p := strings.Join(append([]string{ours.Info.Name}, f.Path...), "/")
			list.WriteString("[" + strconv.Quote(p) + "," + strconv.FormatInt(f.Length, 10) + "]")
		}
		list.WriteString("]")
		out, err := exec.Command(python, "-c", libtorrentCreateScript, tt.root,
			strconv.FormatInt(tt.opts.PieceLength, 10), tt.private, list.String()).CombinedOutput()
		if err != nil {
			t.Fatalf("libtorrent: %v\n%s", err, out)
		}
		if got, want := ours.InfoHash.String(), strings.TrimSpace(string(out)); got != want {
			t.Errorf("%s: info hash %s, libtorrent %s", tt.root, got, want)
		}
	}
}

// BenchmarkBuild hashes a 256 MiB file (from the page cache after the
// first run) with one and two workers.
func BenchmarkBuild(b *testing.B) {
	const size = 256 << 20
	path := filepath.Join(b.TempDir(), "bench.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	chunk := patterned(1, 1<<20)
	for range size / len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	for _, workers := range []int{1, 2} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if _, err := Build(context.Background(), path, BuildOptions{PieceLength: 1 << 20, Workers: workers}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
