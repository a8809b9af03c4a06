package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"shoal/engine"
	"shoal/metainfo"
)

// content is a torrent made in a test, with its data on disk.
type content struct {
	mi      *metainfo.MetaInfo
	torrent string // the .torrent file
	root    string // the content: the file, or the top directory
}

// makeContent writes files of the given sizes with pseudo-random bytes
// (one size: a single-file torrent named name; more: a directory name
// holding f0.bin, f1.bin, ...) and makes a torrent of them.
func makeContent(t *testing.T, name string, pieceLength int64, sizes ...int64) content {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, name)
	r := rand.New(rand.NewPCG(uint64(pieceLength), uint64(len(sizes))))
	write := func(p string, size int64) {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if len(sizes) == 1 {
		write(root, sizes[0])
	} else {
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, size := range sizes {
			write(filepath.Join(root, "f"+strconv.Itoa(i)+".bin"), size)
		}
	}
	mi, err := metainfo.Build(context.Background(), root, metainfo.BuildOptions{PieceLength: pieceLength})
	if err != nil {
		t.Fatal(err)
	}
	data, err := mi.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	torrent := filepath.Join(dir, name+".torrent")
	if err := os.WriteFile(torrent, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return content{mi: mi, torrent: torrent, root: root}
}

// startSeeder seeds c from its content in an engine session on 127.0.0.1
// with an upload limit (0: none) and returns its address.
func startSeeder(t *testing.T, c content, uploadRate int64) (*engine.Session, *engine.Torrent, string) {
	t.Helper()
	sess, err := engine.NewSession(engine.Config{ListenAddr: "127.0.0.1:0", UploadRate: uploadRate})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	tor, err := sess.AddTorrent(c.mi, engine.AddOptions{SavePath: filepath.Dir(c.root)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tor.WaitComplete(ctx); err != nil {
		t.Fatalf("seeder: %v", err)
	}
	return sess, tor, sess.Addr().String()
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// a command whose listening address the test must know in advance.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// waitListening waits until something accepts connections on addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sameData fails the test unless every file of mi under dir is byte for
// byte the file under want (the content as given to shoal create).
func sameData(t *testing.T, mi *metainfo.MetaInfo, want, dir string) {
	t.Helper()
	for i := range mi.Info.Files {
		if mi.Info.Files[i].IsPadding() {
			continue
		}
		checkFileSame(t, mi, i, want, dir)
	}
}

// checkFileSame compares file i of mi under dir with the original under
// want, the content root.
func checkFileSame(t *testing.T, mi *metainfo.MetaInfo, i int, want, dir string) {
	t.Helper()
	got, err := mi.Info.FilePath(dir, i)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := mi.Info.FilePath(filepath.Dir(want), i)
	if err != nil {
		t.Fatal(err)
	}
	a, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatalf("file %d: %v", i, err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("%s differs from %s (%d and %d bytes)", got, orig, len(b), len(a))
	}
}

// lastLine returns the last line of output ("" if there is none): the
// error, after any status lines.
func lastLine(s string) string {
	l := lines(s)
	if len(l) == 0 {
		return ""
	}
	return l[len(l)-1]
}

// getLine is the union of the status and done lines of get --json.
type getLine struct {
	Done            bool    `json:"done"`
	InfoHash        string  `json:"info_hash"`
	Downloaded      int64   `json:"downloaded"`
	Uploaded        int64   `json:"uploaded"`
	VerifiedAtStart int     `json:"verified_at_start"`
	Seconds         float64 `json:"seconds"`
	State           string  `json:"state"`
	PiecesHave      int     `json:"pieces_have"`
	Pieces          int     `json:"pieces"`
}

// parseGetJSON checks that every line of out is a JSON object and returns
// them decoded.
func parseGetJSON(t *testing.T, out string) []getLine {
	t.Helper()
	var got []getLine
	for i, l := range lines(out) {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %d is not a JSON object: %q: %v", i+1, l, err)
		}
		var gl getLine
		if err := json.Unmarshal([]byte(l), &gl); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		got = append(got, gl)
	}
	return got
}

// doneLine returns the last line of get --json, checking it is the done line.
func doneLine(t *testing.T, r result) getLine {
	t.Helper()
	if r.code != exitOK {
		t.Fatalf("get: exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	ls := parseGetJSON(t, r.stdout)
	if len(ls) == 0 {
		t.Fatal("get --json printed nothing")
	}
	last := ls[len(ls)-1]
	if !last.Done {
		t.Fatalf("last line is not done:true: %+v", last)
	}
	for _, l := range ls[:len(ls)-1] {
		if l.Done {
			t.Fatalf("done:true before the last line: %q", r.stdout)
		}
	}
	return last
}

// getArgs are the flags every test get needs: a private data directory,
// any free port on loopback, the seeder.
func getArgs(torrent, out, dataDir string, peers ...string) []string {
	args := []string{"get", torrent, "-o", out, "--data-dir", dataDir, "--port", "0", "--bind", "127.0.0.1", "--no-dht"}
	for _, p := range peers {
		args = append(args, "--peer", p)
	}
	return args
}

// shoalTimeout runs shoal in-process, giving up after d.
func shoalTimeout(t *testing.T, d time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	r := shoalContext(t, ctx, args...)
	if ctx.Err() != nil {
		t.Fatalf("shoal %v did not finish in %v; stderr:\n%s", args, d, r.stderr)
	}
	return r
}

func TestGetDownloadsAndResumes(t *testing.T) {
	// Sizes off the piece boundaries, and an empty file.
	c := makeContent(t, "album", 32<<10, 100_000, 0, 70_001, 250_000)
	_, _, addr := startSeeder(t, c, 0)
	out, dataDir := t.TempDir(), t.TempDir()
	args := append(getArgs(c.torrent, out, dataDir, addr), "--json")

	done := doneLine(t, shoalTimeout(t, 60*time.Second, args...))
	total := c.mi.Info.TotalLength()
	if done.InfoHash != c.mi.InfoHash.String() {
		t.Errorf("info_hash %q, want %s", done.InfoHash, c.mi.InfoHash)
	}
	if done.Downloaded != total || done.VerifiedAtStart != 0 {
		t.Errorf("fresh download: downloaded %d, verified_at_start %d; want %d, 0", done.Downloaded, done.VerifiedAtStart, total)
	}
	if done.Seconds <= 0 {
		t.Errorf("seconds = %v", done.Seconds)
	}
	sameData(t, c.mi, c.root, out)
	empty, _ := c.mi.Info.FilePath(out, 1)
	if fi, err := os.Stat(empty); err != nil || fi.Size() != 0 {
		t.Errorf("empty file: %v, %v", fi, err)
	}

	// The same command again finds everything verified and downloads nothing.
	again := doneLine(t, shoalTimeout(t, 60*time.Second, args...))
	if again.Downloaded != 0 || again.VerifiedAtStart != c.mi.Info.NumPieces() {
		t.Errorf("second run: downloaded %d, verified_at_start %d; want 0, %d", again.Downloaded, again.VerifiedAtStart, c.mi.Info.NumPieces())
	}
	sameData(t, c.mi, c.root, out)
}

func TestGetPlainOutput(t *testing.T) {
	c := makeContent(t, "one.bin", 16<<10, 50_000)
	_, _, addr := startSeeder(t, c, 0)
	out := t.TempDir()
	r := shoalTimeout(t, 60*time.Second, getArgs(c.torrent, out, t.TempDir(), addr)...)
	if r.code != exitOK {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	if l := lines(r.stdout); len(l) != 1 || !strings.HasPrefix(l[0], "one.bin: complete") {
		t.Errorf("stdout %q, want one line \"one.bin: complete ...\"", r.stdout)
	}
	// Not a terminal: no control sequences in the status lines.
	if strings.ContainsAny(r.stderr, "\r\x1b") {
		t.Errorf("stderr has terminal control characters: %q", r.stderr)
	}
	sameData(t, c.mi, c.root, out)
}

func TestGetOnlyOneFile(t *testing.T) {
	// 40 000-byte files in 32 KiB pieces: file 0 shares its last piece with
	// file 1; files 2 and 3 share no piece with file 0.
	c := makeContent(t, "set", 32<<10, 40_000, 40_000, 40_000, 40_000)
	_, _, addr := startSeeder(t, c, 0)
	out := t.TempDir()
	args := append(getArgs(c.torrent, out, t.TempDir(), addr), "--json", "--only", "0")
	done := doneLine(t, shoalTimeout(t, 60*time.Second, args...))

	layout := metainfo.NewLayout(&c.mi.Info)
	first0, end0 := layout.FilePieces(0)
	checkFileSame(t, c.mi, 0, c.root, out)
	for i := 1; i < len(c.mi.Info.Files); i++ {
		first, end := layout.FilePieces(i)
		shares := first < end0 && first0 < end
		p, _ := c.mi.Info.FilePath(out, i)
		_, err := os.Stat(p)
		if !shares && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("file %d shares no piece with file 0 but exists (%v)", i, err)
		}
	}
	var wantBytes int64
	for i := first0; i < end0; i++ {
		wantBytes += c.mi.Info.PieceSize(i)
	}
	if done.Downloaded != wantBytes {
		t.Errorf("downloaded %d bytes, want %d (the pieces of file 0)", done.Downloaded, wantBytes)
	}
}

func TestGetSeedRatio(t *testing.T) {
	c := makeContent(t, "ratio.bin", 16<<10, 300_000)
	_, _, seedAddr := startSeeder(t, c, 0)

	// A gets from the seeder and must then upload the whole torrent once.
	port := freePort(t)
	outA := t.TempDir()
	argsA := []string{"get", c.torrent, "-o", outA, "--data-dir", t.TempDir(), "--bind", "127.0.0.1",
		"--port", port, "--peer", seedAddr, "--seed-ratio", "1", "--json", "--no-dht"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resultC := make(chan result, 1)
	go func() { resultC <- shoalContext(t, ctx, argsA...) }()

	// B knows only A, so every byte it gets comes from A. It starts once
	// A listens, so its first connection attempt succeeds.
	waitListening(t, "127.0.0.1:"+port)
	sessB, err := engine.NewSession(engine.Config{ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer sessB.Close()
	addrA, err := netip.ParseAddrPort("127.0.0.1:" + port)
	if err != nil {
		t.Fatal(err)
	}
	outB := t.TempDir()
	torB, err := sessB.AddTorrent(c.mi, engine.AddOptions{SavePath: outB, Peers: []netip.AddrPort{addrA}})
	if err != nil {
		t.Fatal(err)
	}

	r := <-resultC
	done := doneLine(t, r)
	total := c.mi.Info.TotalLength()
	if done.Uploaded < total {
		t.Errorf("A exited with uploaded %d < ratio 1 × %d", done.Uploaded, total)
	}
	sameData(t, c.mi, c.root, outA)
	// A may have closed with a last block still in flight; the seeder
	// finishes B in that case.
	seedAP, _ := netip.ParseAddrPort(seedAddr)
	if err := torB.AddPeers(seedAP); err != nil {
		t.Fatal(err)
	}
	if err := torB.WaitComplete(ctx); err != nil {
		t.Fatalf("B: %v", err)
	}
	sameData(t, c.mi, c.root, outB)
}

func TestGetInterruptedInProcess(t *testing.T) {
	c := makeContent(t, "never.bin", 16<<10, 50_000)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	// No peer at all: only the interruption ends it.
	r := shoalContext(t, ctx, getArgs(c.torrent, t.TempDir(), t.TempDir())...)
	// Status lines come first on stderr; the error is the last line.
	if r.code != exitFailure {
		t.Fatalf("exit status %d, want %d; stderr:\n%s", r.code, exitFailure, r.stderr)
	}
	if last := lastLine(r.stderr); last != "shoal: interrupted; run the same command again to resume" {
		t.Errorf("last stderr line %q", last)
	}
}

func TestGetBadInputs(t *testing.T) {
	c := makeContent(t, "x.bin", 16<<10, 40_000)
	multi := makeContent(t, "multi", 16<<10, 1000, 2000)
	dir := t.TempDir()
	base := func(torrent string, extra ...string) []string {
		return append([]string{"get", torrent, "-o", dir, "--data-dir", dir, "--port", "0", "--no-dht"}, extra...)
	}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"missing torrent", base(filepath.Join(dir, "missing.torrent")), exitFailure, []string{"missing.torrent"}},
		{"v2-only magnet", base("magnet:?xt=urn:btmh:1220" + strings.Repeat("ab", 32)), exitFailure, []string{"urn:btih"}},
		{"magnet without peer source", base("magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567"), exitUsage, []string{"--no-dht"}},
		{"peer without port", base(c.torrent, "--peer", "127.0.0.1"), exitUsage, []string{"--peer", "127.0.0.1"}},
		{"peer port zero", base(c.torrent, "--peer", "127.0.0.1:0"), exitUsage, []string{"bad port"}},
		{"only out of range", base(multi.torrent, "--only", "0,2"), exitUsage, []string{"--only", "0 to 1"}},
		{"only not a number", base(multi.torrent, "--only", "a"), exitUsage, []string{"--only"}},
		{"only backwards range", base(multi.torrent, "--only", "1-0"), exitUsage, []string{"--only"}},
		{"max-down bad value", base(c.torrent, "--max-down", "fast"), exitUsage, []string{"max-down"}},
		{"max-up bad value", base(c.torrent, "--max-up", "-1M"), exitUsage, []string{"max-up"}},
		{"negative seed ratio", base(c.torrent, "--seed-ratio", "-1"), exitUsage, []string{"--seed-ratio"}},
		{"no torrent", []string{"get"}, exitUsage, []string{"TORRENT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := shoalTimeout(t, 10*time.Second, tc.args...)
			if tc.code == exitFailure {
				assertFailure(t, r, tc.want...)
			} else {
				assertUsage(t, r, "shoal get", tc.want...)
			}
		})
	}
}

func TestGetRepairsChangedFile(t *testing.T) {
	const pieceLength = 16 << 10
	c := makeContent(t, "docs", pieceLength, 100_000, 50_000)
	_, _, addr := startSeeder(t, c, 0)
	out := t.TempDir()
	args := append(getArgs(c.torrent, out, t.TempDir(), addr), "--json")
	doneLine(t, shoalTimeout(t, 60*time.Second, args...))

	// Change one byte of piece 1 behind shoal's back (the size stays; the
	// modification time says it changed).
	p, _ := c.mi.Info.FilePath(out, 0)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[pieceLength+5] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	again := doneLine(t, shoalTimeout(t, 60*time.Second, args...))
	if again.VerifiedAtStart != c.mi.Info.NumPieces()-1 || again.Downloaded != pieceLength {
		t.Errorf("after changing piece 1: verified_at_start %d, downloaded %d; want %d, %d",
			again.VerifiedAtStart, again.Downloaded, c.mi.Info.NumPieces()-1, pieceLength)
	}
	sameData(t, c.mi, c.root, out)
}
