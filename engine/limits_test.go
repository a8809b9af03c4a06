//go:build linux

package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"shoal/metainfo"
	"shoal/peerwire"
)

// openFDs counts the process's open file descriptors (Linux), not
// counting the one used to list them.
func openFDs(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("listing file descriptors: %v", err)
	}
	return len(entries) - 1
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// tinyTorrents writes n single-file torrents of 32 KiB (two pieces), each
// with content of its own (so each has its own info hash), in one
// directory, and returns their metainfo and the directory.
func tinyTorrents(t *testing.T, n int) ([]*metainfo.MetaInfo, string) {
	t.Helper()
	dir := t.TempDir()
	out := make([]*metainfo.MetaInfo, n)
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("t%03d.bin", i))
		data := make([]byte, 32<<10)
		r := rand.New(rand.NewPCG(uint64(i), 7))
		for j := range data {
			data[j] = byte(r.UintN(256))
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		mi, err := metainfo.Build(context.Background(), p, metainfo.BuildOptions{PieceLength: 16 << 10})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = mi
	}
	return out, dir
}

// seedAll adds the torrents to s and waits until every one is seeding.
func seedAll(t *testing.T, s *Session, mis []*metainfo.MetaInfo, dir string) []*Torrent {
	t.Helper()
	tors := make([]*Torrent, len(mis))
	for i, mi := range mis {
		tor, err := s.AddTorrent(mi, AddOptions{SavePath: dir})
		if err != nil {
			t.Fatal(err)
		}
		tors[i] = tor
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, tor := range tors {
		for tor.Stats().State != StateSeeding {
			if time.Now().After(deadline) {
				st := tor.Stats()
				t.Fatalf("%s not seeding after 60 s: state %v, err %v", tor.Name(), st.State, st.Err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return tors
}

// rawHandshake dials addr from the local IP from, sends a handshake for ih
// and reads the answer. It returns the connection (open) whether or not
// the session answered, and whether it did.
func rawHandshake(from net.IP, addr string, ih metainfo.InfoHash, timeout time.Duration) (net.Conn, bool, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: from}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, false, err
	}
	nc.SetDeadline(time.Now().Add(timeout))
	hs := peerwire.Handshake{InfoHash: ih, PeerID: peerwire.NewPeerID("-LT0001-")}
	hs.Reserved.SetExtended(true)
	hs.Reserved.SetFast(true)
	if err := peerwire.WriteHandshake(nc, hs); err != nil {
		return nc, false, nil // refused: closed before we wrote
	}
	_, got, err := peerwire.ReadHandshakeStart(nc)
	if err != nil || got != ih {
		return nc, false, nil
	}
	if _, err := peerwire.ReadPeerID(nc); err != nil {
		return nc, false, nil
	}
	nc.SetDeadline(time.Time{})
	return nc, true, nil
}

// peak keeps the largest value it was shown.
type peak struct{ v atomic.Int64 }

func (p *peak) see(v int64) {
	for {
		old := p.v.Load()
		if v <= old || p.v.CompareAndSwap(old, v) {
			return
		}
	}
}

// Documented bounds of TestFiveHundredPeersTwoHundredTorrents (the
// derivation is in docs/security.md, "Resource bounds"):
//
//   - file descriptors: what the process had with the session seeding and
//     no peer, + MaxConns accepted connections (handshaking or established:
//     the accept loop's bound) + MaxHalfOpen outgoing dials (none here) +
//     min(files, MaxOpenFiles) per torrent with a peer (idle seeding
//     torrents close their files) + fdMargin (a refused connection between
//     accept and close, the runtime's timers);
//   - goroutines: the idle baseline + 1 per handshake in progress + 2 per
//     connection (reader and writer) + 1 loop per awake torrent +
//     HashWorkers + DiskWorkers + goroutineMargin; handshakes and
//     connections together are at most MaxConns;
//   - heap: heapPerConn per accepted connection + heapPerTorrent per awake
//     torrent, over the idle baseline.
const (
	fdMargin        = 8
	goroutineMargin = 16
	heapPerConn     = 256 << 10 // peerconn buffers, send queue, rate meters
	heapPerTorrent  = 64 << 10  // an awake torrent's loop, peers, picker
)

// The peers of TestFiveHundredPeersTwoHundredTorrents run in a child
// process (this test binary again, running TestLimitsPeerProcess), so that
// every descriptor and goroutine of this process is the session's.
const (
	peerProcessEnv = "SHOAL_LIMITS_PEER_PROCESS" // "addr hash1,hash2,..." (hex)
	peerProcessN   = 500
)

// TestFiveHundredPeersTwoHundredTorrents: one session seeding 200 small
// torrents, 500 peers connecting at once from 127.0.x.y addresses, each
// handshaking for a random torrent of the 200 (a fifth send nothing, a
// fifth go idle after the handshake, the rest read what the session
// sends). Established connections never exceed MaxConns, incoming
// handshakes in flight never exceed their bound, and the process's file
// descriptors, goroutines and heap stay under the documented bounds; when
// the peers leave, descriptors and goroutines fall back to the baseline.
func TestFiveHundredPeersTwoHundredTorrents(t *testing.T) {
	if testing.Short() {
		t.Skip("500 connections and 200 torrents")
	}
	const (
		torrents        = 200
		maxConns        = 120
		filesPerTorrent = 1
	)
	mis, dir := tinyTorrents(t, torrents)
	s := newTestSession(t, Config{
		MaxConns:         maxConns,
		DataDir:          t.TempDir(),
		HandshakeTimeout: 3 * time.Second,
	})
	cfg := s.cfg // with the defaults filled in
	tors := seedAll(t, s, mis, dir)

	hashes := make([]string, len(mis))
	for i, mi := range mis {
		hashes[i] = mi.InfoHash.String()
	}
	child := exec.Command(os.Args[0], "-test.run=^TestLimitsPeerProcess$", "-test.count=1")
	child.Env = append(os.Environ(), peerProcessEnv+"="+s.Addr().String()+" "+strings.Join(hashes, ","))
	child.Stderr = os.Stderr
	toChild, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	fromChild, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	lines := bufio.NewScanner(fromChild)
	expect := func(prefix string) string {
		t.Helper()
		for lines.Scan() {
			if strings.HasPrefix(lines.Text(), prefix) {
				return lines.Text()
			}
		}
		t.Fatalf("peer process ended before %q: %v", prefix, lines.Err())
		return ""
	}
	expect("ready")

	// Baseline: the session seeding 200 torrents with no peer, the peer
	// process started.
	waitParked(t, tors...)
	fdsBase := openFDs(t)
	goBase := runtime.NumGoroutine()
	heapBase := heapInUse()
	t.Logf("baseline: %d fds, %d goroutines, %d KiB heap", fdsBase, goBase, heapBase>>10)

	var maxConnsSeen, maxHandshaking, maxIncoming, maxFDs, maxGoroutines peak
	sample := func() {
		maxConnsSeen.see(s.conns.Load())
		maxHandshaking.see(s.handshaking.Load())
		maxIncoming.see(s.incoming.Load())
		if entries, err := os.ReadDir("/proc/self/fd"); err == nil { // not openFDs: no t.Fatal off the test goroutine
			maxFDs.see(int64(len(entries) - 1))
		}
		maxGoroutines.see(int64(runtime.NumGoroutine()) - 1) // not the sampler
	}
	stopSampler := make(chan struct{})
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampler:
				return
			case <-tick.C:
				sample()
			}
		}
	}()

	fmt.Fprintln(toChild, "go")
	var answered, refused, silent, failed int
	if _, err := fmt.Sscanf(expect("settled"), "settled %d %d %d %d", &answered, &refused, &silent, &failed); err != nil {
		t.Fatal(err)
	}
	// The silent peers are cut off after the handshake timeout: let that
	// pass, then measure with only the established connections left.
	time.Sleep(cfg.HandshakeTimeout + 500*time.Millisecond)
	established := s.conns.Load()
	heapPeak := heapInUse()
	close(stopSampler)
	<-samplerDone
	sample()

	t.Logf("%d answered, %d refused, %d silent, %d dials failed; established %d (peak %d), handshakes peak %d, accepted alive peak %d",
		answered, refused, silent, failed, established, maxConnsSeen.v.Load(), maxHandshaking.v.Load(), maxIncoming.v.Load())
	if failed != 0 {
		t.Errorf("%d dials failed: the listener stopped taking connections into its backlog", failed)
	}
	if answered+refused+silent+failed != peerProcessN {
		t.Errorf("%d+%d+%d+%d outcomes for %d peers", answered, refused, silent, failed, peerProcessN)
	}
	if got := maxConnsSeen.v.Load(); got > int64(cfg.MaxConns) {
		t.Errorf("established connections reached %d, MaxConns %d", got, cfg.MaxConns)
	}
	if got := maxHandshaking.v.Load(); got > int64(cfg.MaxConns) {
		t.Errorf("incoming handshakes in flight reached %d, bound %d", got, cfg.MaxConns)
	}
	if got := maxIncoming.v.Load(); got > int64(cfg.MaxConns) {
		t.Errorf("accepted connections alive reached %d, bound %d", got, cfg.MaxConns)
	}
	if answered < cfg.MaxConns/4 {
		t.Errorf("only %d of %d peers were served; MaxConns %d", answered, peerProcessN, cfg.MaxConns)
	}
	if established > int64(answered) || established < int64(answered)/2 {
		t.Errorf("%d connections established for %d answered handshakes", established, answered)
	}

	// The bounds, derived as the comment above the constants says.
	awake := min(torrents, cfg.MaxConns)
	fdBound := int64(fdsBase + cfg.MaxConns + cfg.MaxHalfOpen + awake*min(filesPerTorrent, cfg.MaxOpenFiles) + fdMargin)
	goBound := int64(goBase + 2*cfg.MaxConns + awake + cfg.HashWorkers + cfg.DiskWorkers + goroutineMargin)
	heapBound := heapBase + uint64(cfg.MaxConns)*heapPerConn + uint64(awake)*heapPerTorrent
	t.Logf("fds: peak %d, bound %d; goroutines: peak %d, bound %d; heap %d KiB, bound %d KiB",
		maxFDs.v.Load(), fdBound, maxGoroutines.v.Load(), goBound, heapPeak>>10, heapBound>>10)
	if got := maxFDs.v.Load(); got > fdBound {
		t.Errorf("the process held %d file descriptors, bound %d", got, fdBound)
	}
	if got := maxGoroutines.v.Load(); got > goBound {
		t.Errorf("the process ran %d goroutines, bound %d", got, goBound)
	}
	if heapPeak > heapBound {
		t.Errorf("heap in use %d KiB with the peers connected, bound %d KiB", heapPeak>>10, heapBound>>10)
	}

	// The peers leave: descriptors and goroutines come back to the
	// baseline (the torrents park again, their files closed).
	toChild.Close()
	expect("done")
	if err := child.Wait(); err != nil {
		t.Fatalf("peer process: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		fds, gs := openFDs(t), runtime.NumGoroutine()
		if fds <= fdsBase && gs <= goBase && s.incoming.Load() == 0 && s.conns.Load() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the peers left: %d fds (baseline %d), %d goroutines (baseline %d), %d connections, %d accepted alive",
				fds, fdsBase, gs, goBase, s.conns.Load(), s.incoming.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLimitsPeerProcess is the peer side of
// TestFiveHundredPeersTwoHundredTorrents, run in a child process: on "go"
// it connects peerProcessN peers at once, reports "settled ANSWERED
// REFUSED SILENT FAILED" when each has its outcome, holds the connections until
// its stdin closes, then closes them and reports "done".
func TestLimitsPeerProcess(t *testing.T) {
	spec := os.Getenv(peerProcessEnv)
	if spec == "" {
		t.Skip("only run by TestFiveHundredPeersTwoHundredTorrents")
	}
	addr, list, _ := strings.Cut(spec, " ")
	var hashes []metainfo.InfoHash
	for _, h := range strings.Split(list, ",") {
		ih, err := metainfo.ParseInfoHash(h)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, ih)
	}
	in := bufio.NewScanner(os.Stdin)
	fmt.Println("ready")
	if !in.Scan() || in.Text() != "go" {
		t.Fatal("no go from the parent")
	}
	release := make(chan struct{})
	type outcome int
	const (
		answered outcome = iota
		refused
		silent
		failed
	)
	outcomes := make(chan outcome, peerProcessN)
	var wg sync.WaitGroup
	for i := range peerProcessN {
		from := net.IPv4(127, 0, byte(7+i/250), byte(1+i%250))
		ih := hashes[rand.IntN(len(hashes))]
		wg.Go(func() {
			if i%5 == 0 { // connects and sends nothing
				d := net.Dialer{Timeout: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: from}}
				nc, err := d.Dial("tcp", addr)
				if err != nil {
					outcomes <- failed
					return
				}
				defer nc.Close()
				outcomes <- silent
				<-release
				return
			}
			nc, ok, err := rawHandshake(from, addr, ih, 30*time.Second)
			if err != nil {
				outcomes <- failed
				return
			}
			defer nc.Close()
			if !ok {
				outcomes <- refused
				return
			}
			outcomes <- answered
			if i%5 == 1 { // idle after the handshake: reads nothing
				<-release
				return
			}
			// Reads what the session sends (extension handshake,
			// HAVE_ALL, ...) until released.
			go func() { <-release; nc.SetReadDeadline(time.Now()) }()
			buf := make([]byte, 4096)
			for {
				if _, err := nc.Read(buf); err != nil {
					return
				}
			}
		})
	}
	var count [4]int
	for range peerProcessN {
		count[<-outcomes]++
	}
	fmt.Printf("settled %d %d %d %d\n", count[answered], count[refused], count[silent], count[failed])
	for in.Scan() {
	}
	close(release)
	wg.Wait()
	fmt.Println("done")
}

// acceptLog collects a session's log lines, safe for the logger and the
// test at once.
type acceptLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *acceptLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *acceptLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestAcceptSurvivesEMFILE lowers the descriptor limit, uses up every
// descriptor the process has left and connects a peer: the session's
// accept fails with EMFILE and the session neither exits nor spins, and
// as soon as descriptors are free again the waiting peer is served.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	mis, dir := tinyTorrents(t, 1)
	logs := new(acceptLog)
	s := newTestSession(t, Config{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	seedAll(t, s, mis, dir)
	ih := mis[0].InfoHash
	addr := s.Addr().String()

	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	low := orig
	low.Cur = uint64(openFDs(t) + 64)
	if low.Cur > orig.Max {
		t.Skipf("hard descriptor limit %d too low", orig.Max)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
				t.Errorf("restoring the descriptor limit: %v", err)
			}
		}
	}
	defer restore()

	// A peer connected before the exhaustion stays served throughout.
	before, ok, err := rawHandshake(net.IPv4(127, 0, 9, 1), addr, ih, 10*time.Second)
	if err != nil || !ok {
		t.Fatalf("handshake before exhaustion: answered %v, %v", ok, err)
	}
	defer before.Close()

	// Use up every descriptor below the limit, keeping one for the
	// client's socket.
	var filler []*os.File
	defer func() {
		for _, f := range filler {
			f.Close()
		}
	}()
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatalf("filling descriptors: %v", err)
			}
			break
		}
		filler = append(filler, f)
		if len(filler) > 10000 {
			t.Fatal("no EMFILE after 10000 descriptors: the limit did not apply")
		}
	}
	filler[len(filler)-1].Close()
	filler = filler[:len(filler)-1]
	// The kernel completes the TCP handshake into the listen backlog; the
	// session's accept has no descriptor to take it with.
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 9, 2)}}
	waiting, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial with one descriptor left: %v", err)
	}
	defer waiting.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "too many open files") {
		if time.Now().After(deadline) {
			t.Fatalf("accept never reported EMFILE; log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// While out of descriptors, the accept loop backs off rather than
	// spinning: at most a few log lines per second.
	time.Sleep(time.Second)
	if n := strings.Count(logs.String(), "too many open files"); n > 20 {
		t.Errorf("accept failed %d times in about a second: it spins", n)
	}

	// Free the descriptors: the waiting peer is served.
	for _, f := range filler {
		f.Close()
	}
	filler = nil
	waiting.SetDeadline(time.Now().Add(10 * time.Second))
	hs := peerwire.Handshake{InfoHash: ih, PeerID: peerwire.NewPeerID("-LT0001-")}
	if err := peerwire.WriteHandshake(waiting, hs); err != nil {
		t.Fatal(err)
	}
	if _, got, err := peerwire.ReadHandshakeStart(waiting); err != nil || got != ih {
		t.Fatalf("the peer that waited through EMFILE: %v", err)
	}
	// So is a new one, and the first peer's connection is still up.
	restore()
	late, ok, err := rawHandshake(net.IPv4(127, 0, 9, 3), addr, ih, 10*time.Second)
	if err != nil || !ok {
		t.Fatalf("handshake after the descriptors came back: answered %v, %v", ok, err)
	}
	late.Close()
	before.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := before.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
		t.Fatalf("the connection made before the exhaustion was closed: %v", err)
	}
}

// TestReserveConnIsAtomic: goroutines racing for the last connection slots
// never take more than Config.MaxConns.
func TestReserveConnIsAtomic(t *testing.T) {
	s := &Session{cfg: Config{MaxConns: 50}}
	var wg sync.WaitGroup
	var taken atomic.Int64
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.reserveConn() {
				taken.Add(1)
			}
		}()
	}
	wg.Wait()
	if taken.Load() != 50 || s.conns.Load() != 50 {
		t.Fatalf("%d slots taken, count %d; want 50", taken.Load(), s.conns.Load())
	}
}
