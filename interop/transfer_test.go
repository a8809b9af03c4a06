package interop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Transfer tests move real data between Shoal and real clients over
// loopback TCP and compare every file byte for byte with the original.

// transferTimeout bounds one transfer: generous, since Transmission waits
// for its 10 s rechoke before it uploads, and the tests run in parallel on
// two shared cores. It is a deadline for a stuck transfer, not a speed test.
const transferTimeout = 90 * time.Second

// readyTimeout bounds how long a client may take to start and, for a
// seeder, to hash-check its data.
const readyTimeout = 60 * time.Second

// Loopback addresses, one per client, so that each is told apart by IP in
// the logs and no client mistakes another for a second connection from
// the same host. Linux routes all of 127/8 to lo.
const (
	shoalIP        = "127.0.0.1"
	libtorrentIP   = "127.0.0.2"
	transmissionIP = "127.0.0.3"
	aria2IP        = "127.0.0.4"
)

func init() {
	debianPackage["aria2c"] = "aria2"
	debianPackage["transmission-daemon"] = "transmission-daemon"
}

// transferCase is a torrent to move between two clients.
type transferCase struct {
	name      string
	single    bool          // a single-file torrent (files has one entry)
	files     []fixtureFile // the content; for a multi-file torrent, paths under its top directory
	pieceSize string        // --piece-size for shoal create
}

// bigTree is a multi-file fixture of ~10 MB for 4 MiB pieces: pieces that
// span several files, empty files, and a last piece shorter than the rest.
var bigTree = append(append([]fixtureFile{}, nestedTree...),
	fixtureFile{"sub/big.dat", 8_700_011})

// transferCases covers both piece sizes the issue names, single- and
// multi-file torrents, sizes that are not piece multiples, and empty files.
var transferCases = []transferCase{
	{name: "single-16KiB", single: true, files: []fixtureFile{{"single.bin", 1_000_003}}, pieceSize: "16K"},
	{name: "multi-16KiB", files: nestedTree, pieceSize: "16K"},
	{name: "single-4MiB", single: true, files: []fixtureFile{{"large.bin", 10_000_019}}, pieceSize: "4M"},
	{name: "multi-4MiB", files: bigTree, pieceSize: "4M"},
}

// swarmCase is the torrent the three-client swarms share: many small
// pieces, so the leechers have pieces to trade with each other.
var swarmCase = transferCase{name: "multi-16KiB", files: append(append([]fixtureFile{}, nestedTree...),
	fixtureFile{"sub/more.dat", 2_000_001}), pieceSize: "16K"}

// fixture is a transfer case laid out on disk with its torrent.
type fixture struct {
	torrent  string // the .torrent from shoal create
	name     string // the torrent's name: the file or top directory
	content  string // the original content: the file, or the top directory
	parent   string // the directory holding content, a seeder's save path
	size     int64  // total bytes
	infoHash string
}

// makeFixture writes a case's content into a fresh directory and makes its
// torrent with shoal create.
func makeFixture(t *testing.T, c transferCase) fixture {
	t.Helper()
	dir := t.TempDir()
	f := fixture{parent: filepath.Join(dir, "seed")}
	if c.single {
		if len(c.files) != 1 {
			t.Fatalf("case %s: a single-file case needs exactly one file", c.name)
		}
		f.name = c.files[0].Path
		makeTree(t, f.parent, c.files)
	} else {
		f.name = "tree-" + c.name
		makeTree(t, filepath.Join(f.parent, f.name), c.files)
	}
	for _, file := range c.files {
		f.size += int64(file.Size)
	}
	f.content = filepath.Join(f.parent, f.name)
	f.torrent = filepath.Join(dir, c.name+".torrent")
	shoal(t, "create", f.content, "-o", f.torrent, "--piece-size", c.pieceSize, "--no-date")
	f.infoHash = shoalInfoJSON(t, f.torrent).InfoHash
	return f
}

// compareDownload fails the test unless saveDir/name holds exactly the
// fixture's files (every regular file, with the same bytes) and nothing else.
func compareDownload(t *testing.T, who string, f fixture, saveDir string) {
	t.Helper()
	compareTree(t, who, f, saveDir, false)
}

// compareTree is compareDownload, optionally allowing zero-length files
// to be absent: Transmission 3.00 never creates them.
func compareTree(t *testing.T, who string, f fixture, saveDir string, emptyMayBeMissing bool) {
	t.Helper()
	got := filepath.Join(saveDir, f.name)
	want := listFiles(t, f.content)
	have := listFiles(t, got)
	for rel := range want {
		a, err := os.ReadFile(filepath.Join(f.parent, rel))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := have[rel]; !ok {
			if len(a) == 0 && emptyMayBeMissing {
				continue
			}
			t.Errorf("%s: %s is missing from the download in %s", who, rel, saveDir)
			continue
		}
		b, err := os.ReadFile(filepath.Join(saveDir, rel))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: %s differs from the original: %s", who, rel, firstDifference(a, b))
		}
	}
	for rel := range have {
		if _, ok := want[rel]; !ok {
			t.Errorf("%s: the download has %s, which is not in the torrent", who, rel)
		}
	}
}

// listFiles returns the regular files at or under root, as slash paths
// relative to root's parent (so they start with the torrent's name).
func listFiles(t *testing.T, root string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	base := filepath.Dir(root)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(base, p)
			if err != nil {
				return err
			}
			out[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Errorf("listing %s: %v", root, err)
	}
	return out
}

// firstDifference describes where two byte slices first differ.
func firstDifference(a, b []byte) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d bytes, want %d", len(b), len(a))
	}
	for i := range a {
		if a[i] != b[i] {
			return fmt.Sprintf("first differing byte at offset %d", i)
		}
	}
	return "equal"
}

var (
	portsMu sync.Mutex
	// portsTaken holds the ports handed out in this run, so parallel tests
	// never pick the same one.
	portsTaken = map[int]bool{}
)

// freePort picks a random high TCP port that nothing listens on (on any
// address) and that no other test of this run has been given.
func freePort(t *testing.T) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 200 {
		port := 20000 + rand.IntN(40000)
		if portsTaken[port] {
			continue
		}
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ln.Close()
		portsTaken[port] = true
		return port
	}
	t.Fatal("no free TCP port found in 20000-59999")
	return 0
}

// hostPort joins an IP and a port.
func hostPort(ip string, port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }

// syncBuffer collects a process's output while tests read it.
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

// proc is an external client running for a test, in its own process group
// so that stopping it also stops anything it started.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, once done is closed
	// logFile, when set, is the client's own log; failure messages quote
	// its lines about connections (see logHighlights).
	logFile string
}

// startProc starts a client; the test's cleanup stops it if it still runs.
func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: filepath.Base(name), cmd: exec.Command(name, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", p.name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop() })
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL if it has not
// exited within 5 s, and returns how the process ended.
func (p *proc) stop() error {
	if p.exited() {
		return p.err
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s ignored SIGTERM for 5 s and was killed", p.name)
	}
	// Anything left in the group (a forked child) goes too.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return p.err
}

// wait waits for the process to exit by itself; false if it still runs
// after timeout.
func (p *proc) wait(timeout time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// output is what the process printed so far, for failure messages.
func (p *proc) output() string {
	out := fmt.Sprintf("--- %s stdout:\n%s--- %s stderr:\n%s", p.name, tail(p.stdout.String()), p.name, tail(p.stderr.String()))
	if p.logFile != "" {
		out += fmt.Sprintf("--- %s log %s, connection events:\n%s", p.name, p.logFile, logHighlights(p.logFile))
	}
	return out
}

// connectionEvent matches the log lines that explain why a connection
// ended: handshakes, piece-set messages, errors and disconnections.
var connectionEvent = regexp.MustCompile(`(?i)handshake|bitfield|have (all|none)|eof|exception|error|banned|drop|clos|timeout`)

// logHighlights returns the last connection events of a client's log.
func logHighlights(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error() + "\n"
	}
	var keep []string
	for line := range strings.Lines(string(data)) {
		if connectionEvent.MatchString(line) {
			keep = append(keep, line)
		}
	}
	return tail(strings.Join(keep, ""))
}

// tail keeps the last lines of a long output.
func tail(s string) string {
	const keep = 40
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > keep {
		lines = append([]string{fmt.Sprintf("[... %d lines ...]\n", len(lines)-keep)}, lines[len(lines)-keep:]...)
	}
	return strings.Join(lines, "")
}

// waitFor polls until cond is true, failing the test if the process exits
// first or timeout passes.
func (p *proc) waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if p.exited() {
			if cond() {
				return
			}
			t.Fatalf("%s exited (%v) before %s\n%s", p.name, p.err, what, p.output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %s after %v\n%s", p.name, what, timeout, p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitOutput waits until the process has printed text on stdout or stderr.
func (p *proc) waitOutput(t *testing.T, text string, timeout time.Duration) {
	t.Helper()
	p.waitFor(t, fmt.Sprintf("%q in its output", text), timeout, func() bool {
		return strings.Contains(p.stdout.String(), text) || strings.Contains(p.stderr.String(), text)
	})
}

// waitSuccess waits for the process to exit 0 within timeout.
func (p *proc) waitSuccess(t *testing.T, timeout time.Duration) {
	t.Helper()
	if !p.wait(timeout) {
		t.Fatalf("%s has not finished after %v\n%s", p.name, timeout, p.output())
	}
	if p.err != nil {
		t.Fatalf("%s failed: %v\n%s", p.name, p.err, p.output())
	}
}

// shoalGet starts `shoal get` of f into a fresh directory, dialing peers.
func shoalGet(t *testing.T, f fixture, peers ...string) (p *proc, saveDir string) {
	t.Helper()
	requireShoal(t)
	saveDir = t.TempDir()
	args := []string{"get", f.torrent, "-o", saveDir, "--bind", shoalIP, "--port", strconv.Itoa(freePort(t)),
		"--data-dir", t.TempDir(), "--json", "--no-dht"}
	for _, peer := range peers {
		args = append(args, "--peer", peer)
	}
	return startProc(t, shoalBin, args...), saveDir
}

// getDone is the last line of `shoal get --json`.
type getDone struct {
	Done            bool    `json:"done"`
	InfoHash        string  `json:"info_hash"`
	Downloaded      int64   `json:"downloaded"`
	Uploaded        int64   `json:"uploaded"`
	VerifiedAtStart *int    `json:"verified_at_start"`
	Seconds         float64 `json:"seconds"`
}

// finishShoalGet waits for `shoal get` to exit 0, checks its final JSON
// line, and compares what it saved with the original.
func finishShoalGet(t *testing.T, p *proc, f fixture, saveDir string) getDone {
	t.Helper()
	p.waitSuccess(t, transferTimeout)
	var done getDone
	sc := bufio.NewScanner(strings.NewReader(p.stdout.String()))
	for sc.Scan() {
		var line getDone
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Done {
			done = line
		}
	}
	switch {
	case !done.Done:
		t.Errorf("shoal get printed no {\"done\": true} line\n%s", p.output())
	case done.InfoHash != f.infoHash:
		t.Errorf("shoal get: info_hash %q, want %q", done.InfoHash, f.infoHash)
	case done.VerifiedAtStart == nil || *done.VerifiedAtStart != 0:
		t.Errorf("shoal get into an empty directory: verified_at_start %v, want 0", done.VerifiedAtStart)
	case done.Downloaded < f.size:
		t.Errorf("shoal get: downloaded %d bytes, but the torrent holds %d", done.Downloaded, f.size)
	}
	compareDownload(t, "shoal get", f, saveDir)
	return done
}

// shoalSeed starts `shoal seed` of f on a fresh port, dialing peers, and
// waits until it has verified the content and seeds. It returns the
// address leechers can dial.
func shoalSeed(t *testing.T, f fixture, peers ...string) (p *proc, addr string) {
	t.Helper()
	requireShoal(t)
	addr = hostPort(shoalIP, freePort(t))
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"seed", f.torrent, f.content, "--bind", host, "--port", port, "--data-dir", t.TempDir(), "--no-dht"}
	for _, peer := range peers {
		args = append(args, "--peer", peer)
	}
	p = startProc(t, shoalBin, args...)
	p.waitOutput(t, "seeding "+f.name+" on "+addr, readyTimeout)
	return p, addr
}

// stopShoalSeed stops `shoal seed` as Ctrl-C would and checks that it
// exits cleanly (status 0), as the CLI promises.
func stopShoalSeed(t *testing.T, p *proc) {
	t.Helper()
	if err := p.stop(); err != nil {
		t.Errorf("shoal seed stopped with SIGTERM: %v (want exit status 0)\n%s", err, p.output())
	}
}
