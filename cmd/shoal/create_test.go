package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"shoal/metainfo"
)

// makeTree writes files (relative path -> content) below a new directory
// named name and returns the directory's path.
func makeTree(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), name)
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// dirNames lists the names in dir, to check no temporary file was left.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestParseTiers(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want [][]string
		err  string
	}{
		{"none", nil, nil, ""},
		{"commas split one tier, -t splits tiers",
			[]string{"http://a.example/announce,udp://b.example:6969", "wss://c.example/ws"},
			[][]string{{"http://a.example/announce", "udp://b.example:6969"}, {"wss://c.example/ws"}}, ""},
		{"blanks and trailing comma",
			[]string{" https://a.example/x , ", "HTTP://B.example/"},
			[][]string{{"https://a.example/x"}, {"HTTP://B.example/"}}, ""},
		{"empty tier", []string{"http://a.example/", ","}, nil, "has no URL"},
		{"bad scheme", []string{"ftp://a.example/"}, nil, "scheme must be"},
		{"no scheme", []string{"tracker.example:6969"}, nil, "tracker URL"},
		{"no host", []string{"udp://:6969"}, nil, "no host"},
		{"relative", []string{"/announce"}, nil, "scheme must be"},
		{"unparsable", []string{"http://a b.example:x/"}, nil, "invalid tracker URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTiers(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseTiers(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("parseTiers(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestCheckWebSeedURL(t *testing.T) {
	for _, ok := range []string{"http://seed.example/files/", "https://seed.example/a.iso"} {
		if err := checkURL(ok, "web seed", "http", "https"); err != nil {
			t.Errorf("checkURL(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"udp://seed.example:1/", "wss://seed.example/", "seed.example/a", "http://", ""} {
		if err := checkURL(bad, "web seed", "http", "https"); err == nil || !strings.Contains(err.Error(), "web seed") {
			t.Errorf("checkURL(%q) = %v, want an error naming the web seed", bad, err)
		}
	}
}

// TestCreateInfoRoundTrip creates a torrent with every option, reads it back
// with "info --json", and compares both with what metainfo.Build makes.
func TestCreateInfoRoundTrip(t *testing.T) {
	content := map[string]string{
		"a.txt":         strings.Repeat("a", 40000),
		"sub/b.bin":     strings.Repeat("b", 20000),
		"sub/deep/c.md": "c",
	}
	root := makeTree(t, "album", content)
	out := filepath.Join(t.TempDir(), "album.torrent")
	r := shoal(t, "create", root, "-o", out,
		"-t", "http://a.example/announce,udp://b.example:6969", "-t", "wss://c.example/ws",
		"-w", "https://seed.example/files/",
		"--piece-size", "16K", "--private", "--comment", "round trip", "--source", "TEST", "--no-date")
	if r.code != exitOK {
		t.Fatalf("create: status %d, stderr %q", r.code, r.stderr)
	}

	want, err := metainfo.Build(context.Background(), root, metainfo.BuildOptions{
		PieceLength: 16 << 10,
		Trackers:    [][]string{{"http://a.example/announce", "udp://b.example:6969"}, {"wss://c.example/ws"}},
		WebSeeds:    []string{"https://seed.example/files/"},
		Private:     true,
		Comment:     "round trip",
		Source:      "TEST",
		CreatedBy:   "shoal/" + version,
	})
	if err != nil {
		t.Fatal(err)
	}
	wantBytes, err := want.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	gotBytes, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotBytes, wantBytes) {
		t.Errorf("written torrent differs from metainfo.Build's with the same options")
	}

	// The summary: one line naming the output, the name, hash and pieces.
	if l := lines(r.stdout); len(l) != 1 {
		t.Errorf("summary should be one line, got %q", r.stdout)
	}
	for _, s := range []string{out, `"album"`, want.InfoHash.String(), "60001 bytes", "4 pieces × 16 KiB"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("summary %q does not contain %q", r.stdout, s)
		}
	}

	r = shoal(t, "info", "--json", out)
	if r.code != exitOK {
		t.Fatalf("info: status %d, stderr %q", r.code, r.stderr)
	}
	var got struct {
		InfoHash    string     `json:"info_hash"`
		Name        string     `json:"name"`
		TotalSize   int64      `json:"total_size"`
		PieceLength int64      `json:"piece_length"`
		PieceCount  int        `json:"piece_count"`
		Files       []fileJSON `json:"files"`
		Trackers    [][]string `json:"trackers"`
		WebSeeds    []string   `json:"web_seeds"`
		Private     bool       `json:"private"`
		Magnet      string     `json:"magnet"`
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("info --json output %q: %v", r.stdout, err)
	}
	if got.InfoHash != want.InfoHash.String() || got.Name != "album" || got.TotalSize != 60001 ||
		got.PieceLength != 16<<10 || got.PieceCount != 4 || !got.Private {
		t.Errorf("info --json = %+v", got)
	}
	wantFiles := []fileJSON{
		{[]string{"album", "a.txt"}, 40000},
		{[]string{"album", "sub", "b.bin"}, 20000},
		{[]string{"album", "sub", "deep", "c.md"}, 1},
	}
	if !reflect.DeepEqual(got.Files, wantFiles) {
		t.Errorf("files = %v, want %v", got.Files, wantFiles)
	}
	if !reflect.DeepEqual(got.Trackers, want.AnnounceList) {
		t.Errorf("trackers = %q, want %q", got.Trackers, want.AnnounceList)
	}
	if !reflect.DeepEqual(got.WebSeeds, []string{"https://seed.example/files/"}) {
		t.Errorf("web_seeds = %q", got.WebSeeds)
	}
	if got.Magnet != want.Magnet().String() {
		t.Errorf("magnet = %q, want %q", got.Magnet, want.Magnet().String())
	}
}

func TestCreateSingleFileWithDate(t *testing.T) {
	root := makeTree(t, "d", map[string]string{"movie.mkv": strings.Repeat("m", 100)})
	out := filepath.Join(t.TempDir(), "m.torrent")
	if r := shoal(t, "create", filepath.Join(root, "movie.mkv"), "-o", out); r.code != exitOK {
		t.Fatalf("create: %+v", r)
	}
	mi, err := metainfo.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if mi.CreationDate.IsZero() {
		t.Error("creation date missing without --no-date")
	}
	if mi.CreatedBy != "shoal/"+version {
		t.Errorf("created by = %q", mi.CreatedBy)
	}
	if !mi.Info.SingleFile || mi.Info.Name != "movie.mkv" {
		t.Errorf("info = %+v", mi.Info)
	}
	r := shoal(t, "info", "--json", out)
	var got infoJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	// A single file's path is just the torrent's name; no trackers is [].
	if got.Files == nil || !reflect.DeepEqual(*got.Files, []fileJSON{{[]string{"movie.mkv"}, 100}}) {
		t.Errorf("files = %v", got.Files)
	}
	if !strings.Contains(r.stdout, `"trackers": []`) || !strings.Contains(r.stdout, `"web_seeds": []`) {
		t.Errorf("empty lists should print as []:\n%s", r.stdout)
	}
}

func TestCreateFailures(t *testing.T) {
	root := makeTree(t, "src", map[string]string{"f": "data"})
	outDir := t.TempDir()
	out := filepath.Join(outDir, "x.torrent")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"nonexistent path", []string{"create", filepath.Join(root, "nope"), "-o", out}, []string{"nope"}},
		{"empty path", []string{"create", "", "-o", out}, []string{"empty PATH"}},
		{"bad tracker", []string{"create", root, "-o", out, "-t", "ftp://t.example/"}, []string{"ftp://t.example/", "tracker"}},
		{"tracker without host", []string{"create", root, "-o", out, "-t", "http://"}, []string{"tracker"}},
		{"empty tier", []string{"create", root, "-o", out, "-t", ","}, []string{"tier"}},
		{"bad web seed", []string{"create", root, "-o", out, "-w", "udp://s.example/"}, []string{"web seed"}},
		{"piece size not a power of two", []string{"create", root, "-o", out, "--piece-size", "3000"}, []string{"power of two"}},
		{"piece size too small", []string{"create", root, "-o", out, "--piece-size", "8K"}, []string{"8 KiB"}},
		{"piece size too large", []string{"create", root, "-o", out, "--piece-size", "1G"}, []string{"1 GiB"}},
		{"output dir missing", []string{"create", root, "-o", filepath.Join(outDir, "no", "x.torrent")}, []string{"no"}},
		{"output is a directory", []string{"create", root, "-o", outDir}, []string{outDir, "directory"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertFailure(t, shoal(t, tc.args...), tc.want...)
			if names := dirNames(t, outDir); len(names) != 0 {
				t.Errorf("failed create left files behind: %q", names)
			}
		})
	}
}

func TestCreateInterruptedWritesNothing(t *testing.T) {
	root := makeTree(t, "src", map[string]string{"f": strings.Repeat("x", 1<<20)})
	outDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := shoalContext(t, ctx, "create", root, "-o", filepath.Join(outDir, "x.torrent"))
	assertFailure(t, r, "interrupted")
	if names := dirNames(t, outDir); len(names) != 0 {
		t.Errorf("interrupted create left files behind: %q", names)
	}
}

func TestCreateOverwritesAtomically(t *testing.T) {
	root := makeTree(t, "src", map[string]string{"f": "data"})
	outDir := t.TempDir()
	out := filepath.Join(outDir, "x.torrent")
	if err := os.WriteFile(out, []byte("old contents"), 0o600); err != nil {
		t.Fatal(err)
	}

	// A failing create leaves the old file as it was.
	assertFailure(t, shoal(t, "create", filepath.Join(root, "missing"), "-o", out))
	if b, _ := os.ReadFile(out); string(b) != "old contents" {
		t.Fatalf("failed create changed the existing output: %q", b)
	}

	// A successful one replaces it, keeps its mode, and leaves no temp file.
	if r := shoal(t, "create", root, "-o", out, "--no-date"); r.code != exitOK {
		t.Fatalf("create: %+v", r)
	}
	if _, err := metainfo.Load(out); err != nil {
		t.Fatalf("replaced output does not load: %v", err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after overwrite = %v, %v; want 0600 kept", fi.Mode(), err)
	}
	if names := dirNames(t, outDir); !reflect.DeepEqual(names, []string{"x.torrent"}) {
		t.Errorf("directory holds %q, want only x.torrent", names)
	}
}

func TestWriteFileAtomicFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	// Renaming a file over a non-empty directory fails after the temporary
	// file was written: it must be removed again.
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(target, "child"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(target, []byte("data")); err == nil {
		t.Fatal("writeFileAtomic over a directory succeeded")
	}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"target"}) {
		t.Errorf("directory holds %q after a failed write, want only target", names)
	}
	if err := writeFileAtomic(filepath.Join(dir, "missing", "x"), []byte("data")); err == nil {
		t.Error("writeFileAtomic into a missing directory succeeded")
	}
}

// syncBuffer is a bytes.Buffer safe for the progress bar's goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestHashProgressDrawsAndFinishes(t *testing.T) {
	var buf syncBuffer
	p := newHashProgress(context.Background(), &buf, "hashing", true)
	p.report(0, 1000)
	p.report(600, 1000)
	p.report(300, 1000) // out of order: ignored
	p.report(1000, 1000)
	p.finish(true)
	if !strings.Contains(buf.String(), "hashing") {
		t.Errorf("progress output %q lacks the label", buf.String())
	}
	// Disabled progress is a nil value whose methods do nothing.
	var off *hashProgress = newHashProgress(context.Background(), &buf, "x", false)
	if off != nil {
		t.Fatal("disabled progress is not nil")
	}
	off.report(1, 2)
	off.finish(false)
}
