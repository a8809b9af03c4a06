package interop

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Helpers for the DHT, magnet and PEX tests (dht_test.go, pex_test.go):
// libtorrent driven by testdata/lt_dht.py, and Shoal's processes with the
// DHT flags.

// dhtTimeout bounds waiting for a DHT event (a bootstrap, an announce
// reaching a node): on loopback these take seconds, so this is a deadline
// for a broken exchange, not a timing assertion.
const dhtTimeout = 45 * time.Second

var (
	loopbackMu sync.Mutex
	// loopbackNext is the last byte of the next address loopbackIP hands
	// out. The DHT and PEX tests take 127.0.0.100 and up, apart from the
	// fixed addresses of the other interop tests (127.0.0.1-4, .16).
	loopbackNext = 100
)

// loopbackIP returns a 127.0.0.x address no other process of this run has
// been given, so that every node and peer is told apart by its IP: in the
// DHT a node is its address, and libtorrent's PEX lists addresses.
func loopbackIP(t *testing.T) string {
	t.Helper()
	loopbackMu.Lock()
	defer loopbackMu.Unlock()
	if loopbackNext > 254 {
		t.Fatal("out of 127.0.0.x addresses for DHT tests")
	}
	ip := "127.0.0." + strconv.Itoa(loopbackNext)
	loopbackNext++
	return ip
}

// freeDHTPort is freePort for a process that also binds UDP on the port,
// as a DHT node does on its TCP port: it checks UDP on ip too.
func freeDHTPort(t *testing.T, ip string) int {
	t.Helper()
	for range 50 {
		port := freePort(t)
		c, err := net.ListenPacket("udp", hostPort(ip, port))
		if err != nil {
			continue
		}
		c.Close()
		return port
	}
	t.Fatal("no port free for both TCP and UDP")
	return 0
}

// pipedProc is a proc whose standard input is a pipe held by the test:
// lt_dht.py runs until it is closed.
type pipedProc struct {
	*proc
	stdin io.WriteCloser
	// logOnFailure, when set, replaces the process's output in the test
	// log of a failed test.
	logOnFailure func() string
	// exitsOnEOF says the process ends by itself when its stdin closes
	// (lt_dht.py), so cleanup gives it time to before signalling it.
	exitsOnEOF bool
}

// startPiped starts a process like startProc, with a pipe on its stdin
// and env added to the environment. Cleanup closes the pipe, gives a
// process that exitsOnEOF 2 s to exit by itself, then stops it (SIGTERM
// to its process group, then SIGKILL).
func startPiped(t *testing.T, env []string, name string, args ...string) *pipedProc {
	t.Helper()
	p := &proc{name: filepath.Base(name), cmd: exec.Command(name, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", p.name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	pp := &pipedProc{proc: p, stdin: stdin}
	t.Cleanup(func() {
		// Every process's account goes into a failed test's log, so a
		// failure shows what each side of the exchange saw.
		if t.Failed() {
			if pp.logOnFailure != nil {
				t.Log(pp.logOnFailure())
			} else {
				t.Log(p.output())
			}
		}
		stdin.Close()
		if pp.exitsOnEOF {
			p.wait(2 * time.Second)
		}
		p.stop()
	})
	return pp
}

// ltPeer is one connected peer in an lt_dht.py status line.
type ltPeer struct {
	Addr     string `json:"addr"`
	PID      string `json:"pid"` // the first 8 bytes of its peer id, e.g. "-LT2080-"
	Client   string `json:"client"`
	Outgoing bool   `json:"outgoing"` // libtorrent dialed it
	PEX      bool   `json:"pex"`      // libtorrent learned it by PEX
	DHT      bool   `json:"dht"`      // libtorrent learned it from the DHT
	Seed     bool   `json:"seed"`
}

// ltEvent is one line lt_dht.py prints (see its doc string).
type ltEvent struct {
	Event    string  `json:"event"`
	T        float64 `json:"t"` // seconds since the script started
	Listen   string  `json:"listen"`
	DHTNodes int     `json:"dht_nodes"`
	IP       string  `json:"ip"`
	Port     int     `json:"port"`
	InfoHash string  `json:"info_hash"`
	NumPeers int     `json:"num_peers"`
	Peer     string  `json:"peer"` // peer_connect, peer_disconnected: its address
	// Addr, PID and Outgoing describe the peer of a "peer" event, and PID
	// that of a peer_disconnected event.
	Addr        string   `json:"addr"`
	PID         string   `json:"pid"`
	Outgoing    bool     `json:"outgoing"`
	Message     string   `json:"message"`
	State       string   `json:"state"`
	HasMetadata bool     `json:"has_metadata"`
	Progress    float64  `json:"progress"`
	Downloaded  int64    `json:"downloaded"`
	Seeding     bool     `json:"seeding"`
	Peers       []ltPeer `json:"peers"`
	// Node is the DHT node of a dht_announce_ok, dht_peers_from or
	// dht_error_reply event; Values the peers it returned; Query what it
	// answered.
	Node   string   `json:"node"`
	Values []string `json:"values"`
	Query  string   `json:"query"`
	Error  *string  `json:"error"`
	Name   string   `json:"name"`
}

// ltProc is a running lt_dht.py.
type ltProc struct {
	*pipedProc
	addr string // where it listens, TCP and (for the DHT) UDP

	mu     sync.Mutex
	parsed []ltEvent // the events of the first `read` bytes of stdout
	read   int
}

// events returns every event printed so far. Tests poll this often, so
// each line is parsed once.
func (p *ltProc) events() []ltEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.stdout.String()
	for {
		nl := strings.IndexByte(out[p.read:], '\n')
		if nl < 0 {
			break
		}
		var ev ltEvent
		if json.Unmarshal([]byte(out[p.read:p.read+nl]), &ev) == nil && ev.Event != "" {
			p.parsed = append(p.parsed, ev)
		}
		p.read += nl + 1
	}
	return slices.Clip(p.parsed)
}

// find returns the first event so far that match accepts.
func (p *ltProc) find(match func(ltEvent) bool) (ltEvent, bool) {
	for _, ev := range p.events() {
		if match(ev) {
			return ev, true
		}
	}
	return ltEvent{}, false
}

// waitEvent waits for an event that match accepts, failing the test if the
// script exits first or timeout passes.
func (p *ltProc) waitEvent(t *testing.T, what string, timeout time.Duration, match func(ltEvent) bool) ltEvent {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if ev, ok := p.find(match); ok {
			return ev
		}
		switch {
		case p.exited():
			// It may have printed the event just before exiting.
			if ev, ok := p.find(match); ok {
				return ev
			}
			t.Fatalf("%s exited (%v) before %s\n%s", p.name, p.err, what, p.report())
		case time.Now().After(deadline):
			t.Fatalf("%s: no %s after %v\n%s", p.name, what, timeout, p.report())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ltDHTScript is the path of the DHT/PEX libtorrent driver.
func ltDHTScript(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "lt_dht.py"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startLtDHT runs lt_dht.py CMD ARGS... --listen IP:PORT on a fresh address
// and waits until it listens.
func startLtDHT(t *testing.T, cmd string, args ...string) *ltProc {
	t.Helper()
	requireLibtorrent(t)
	ip := loopbackIP(t)
	addr := hostPort(ip, freeDHTPort(t, ip))
	full := append([]string{ltDHTScript(t), cmd}, args...)
	full = append(full, "--listen", addr)
	p := &ltProc{pipedProc: startPiped(t, nil, pythonPath, full...), addr: addr}
	p.name = "lt_dht.py " + cmd + " on " + addr
	p.logOnFailure = p.report
	p.exitsOnEOF = true
	p.waitEvent(t, "listening event", readyTimeout, func(ev ltEvent) bool { return ev.Event == "listening" })
	return p
}

// nodeArgs turns DHT node addresses into --node flags.
func nodeArgs(nodes []string) []string {
	var args []string
	for _, n := range nodes {
		args = append(args, "--node", n)
	}
	return args
}

// ltNode starts a libtorrent DHT node that knows nodes.
func ltNode(t *testing.T, nodes ...string) *ltProc {
	t.Helper()
	return startLtDHT(t, "node", nodeArgs(nodes)...)
}

// ltDHTSeed starts libtorrent seeding f (seed_mode, no hash check) and
// announcing it to the DHT through nodes.
func ltDHTSeed(t *testing.T, f fixture, nodes ...string) *ltProc {
	t.Helper()
	return startLtDHT(t, "seed", append([]string{f.torrent, f.parent}, nodeArgs(nodes)...)...)
}

// ltMagnetGet starts libtorrent fetching a bare magnet link into a fresh
// directory, finding peers through nodes.
func ltMagnetGet(t *testing.T, magnet string, nodes ...string) (p *ltProc, saveDir string) {
	t.Helper()
	saveDir = t.TempDir()
	args := append([]string{magnet, saveDir, "--timeout", strconv.Itoa(int(transferTimeout.Seconds()))}, nodeArgs(nodes)...)
	return startLtDHT(t, "get", args...), saveDir
}

// finishLtMagnetGet waits for libtorrent's "done" event (every piece
// verified), checks it names f, and compares the files with the original.
func finishLtMagnetGet(t *testing.T, p *ltProc, f fixture, saveDir string) ltEvent {
	t.Helper()
	done := p.waitEvent(t, "done event (download complete)", transferTimeout, func(ev ltEvent) bool { return ev.Event == "done" })
	if done.InfoHash != f.infoHash || done.Name != f.name {
		t.Errorf("libtorrent fetched info hash %s, name %q; want %s, %q", done.InfoHash, done.Name, f.infoHash, f.name)
	}
	compareDownload(t, "libtorrent", f, saveDir)
	return done
}

// bareMagnet is a magnet link with nothing but the v1 info hash: no
// tracker, no peer, no name, so the DHT is the only way to the swarm and
// the metadata must come from peers (BEP 9).
func bareMagnet(infoHash string) string { return "magnet:?xt=urn:btih:" + infoHash }

// ltFixture lays out files under a fresh directory and makes a v1-only
// torrent of them with libtorrent (16 KiB pieces), so that a test of the
// libtorrent harness alone does not depend on shoal create.
func ltFixture(t *testing.T, name string, files []fixtureFile) fixture {
	t.Helper()
	requireLibtorrent(t)
	dir := t.TempDir()
	f := fixture{parent: filepath.Join(dir, "seed"), name: name}
	f.content = filepath.Join(f.parent, name)
	makeTree(t, f.content, files)
	for _, file := range files {
		f.size += int64(file.Size)
	}
	f.torrent = filepath.Join(dir, name+".torrent")
	run(t, pythonPath, ltScript(t), "create", f.content, f.torrent, "--v1-only", "--piece-size", "16384")
	f.infoHash = libtorrentInfo(t, f.torrent).InfoHashV1
	return f
}

// shoalEnv keeps every Shoal process's files (resume data, DHT state) in
// a temporary directory, whatever flags a command has, and logs at info
// level to stderr, which failure messages quote.
func shoalEnv(t *testing.T) []string {
	return []string{"XDG_DATA_HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir(),
		"XDG_CONFIG_HOME=" + t.TempDir(), "XDG_CACHE_HOME=" + t.TempDir(), "SHOAL_LOG=info"}
}

// shoalDHTNode starts `shoal dht --listen IP:PORT` on a fresh address,
// bootstrapping from nodes (--no-bootstrap if none), and waits until it
// prints its address.
func shoalDHTNode(t *testing.T, nodes ...string) (p *pipedProc, addr string) {
	t.Helper()
	requireShoal(t)
	ip := loopbackIP(t)
	addr = hostPort(ip, freeDHTPort(t, ip))
	// --json --interval 1s: a failed test's log shows the node's table
	// size and stored torrents second by second.
	args := []string{"dht", "--listen", addr, "--json", "--interval", "1s"}
	for _, n := range nodes {
		args = append(args, "--bootstrap", n)
	}
	if len(nodes) == 0 {
		// The first node of the test's network, not a node of the
		// public DHT (whose routers the machine may not even resolve).
		args = append(args, "--no-bootstrap")
	}
	p = startPiped(t, shoalEnv(t), shoalBin, args...)
	p.name = "shoal dht on " + addr
	p.waitOutput(t, addr, readyTimeout)
	return p, addr
}

// shoalPeer is where a Shoal process listens: its --bind IP and --port,
// also its DHT node's UDP address.
type shoalPeer struct {
	ip   string
	port int
}

func (s shoalPeer) addr() string { return hostPort(s.ip, s.port) }

// newShoalPeer picks a fresh address for one Shoal process.
func newShoalPeer(t *testing.T) shoalPeer {
	ip := loopbackIP(t)
	return shoalPeer{ip: ip, port: freeDHTPort(t, ip)}
}

// dhtBootstrapArgs turns node addresses into --dht-bootstrap flags.
func dhtBootstrapArgs(nodes []string) []string {
	var args []string
	for _, n := range nodes {
		args = append(args, "--dht-bootstrap", n)
	}
	return args
}

// shoalMagnetGet starts `shoal get MAGNET --json` into a fresh directory
// with the DHT bootstrapped from nodes and nothing else to find peers.
func shoalMagnetGet(t *testing.T, magnet string, nodes ...string) (p *pipedProc, me shoalPeer, saveDir string) {
	t.Helper()
	requireShoal(t)
	me = newShoalPeer(t)
	saveDir = t.TempDir()
	args := []string{"get", magnet, "-o", saveDir, "--bind", me.ip, "--port", strconv.Itoa(me.port),
		"--data-dir", t.TempDir(), "--json"}
	args = append(args, dhtBootstrapArgs(nodes)...)
	p = startPiped(t, shoalEnv(t), shoalBin, args...)
	p.name = "shoal get (magnet) on " + me.addr()
	return p, me, saveDir
}

// shoalDHTSeed starts `shoal seed` of f with the DHT bootstrapped from
// nodes and waits until it seeds.
func shoalDHTSeed(t *testing.T, f fixture, nodes ...string) (p *pipedProc, me shoalPeer) {
	t.Helper()
	requireShoal(t)
	me = newShoalPeer(t)
	args := []string{"seed", f.torrent, f.content, "--bind", me.ip, "--port", strconv.Itoa(me.port),
		"--data-dir", t.TempDir()}
	args = append(args, dhtBootstrapArgs(nodes)...)
	p = startPiped(t, shoalEnv(t), shoalBin, args...)
	p.name = "shoal seed on " + me.addr()
	p.waitOutput(t, "seeding "+f.name+" on "+me.addr(), readyTimeout)
	return p, me
}

// timeline renders the events of an lt_dht.py run that tell how long each
// step took (status lines left out), for the test log.
func timeline(p *ltProc) string {
	var b strings.Builder
	for _, ev := range p.events() {
		switch ev.Event {
		case "status", "dht_get_peers":
			continue
		case "dht_announce":
			fmt.Fprintf(&b, "  %6.2fs %s from %s:%d for %s\n", ev.T, ev.Event, ev.IP, ev.Port, ev.InfoHash)
		case "dht_announce_ok":
			fmt.Fprintf(&b, "  %6.2fs %s by %s\n", ev.T, ev.Event, ev.Node)
		case "dht_peers_from":
			fmt.Fprintf(&b, "  %6.2fs %s %s: %v\n", ev.T, ev.Event, ev.Node, ev.Values)
		case "dht_error_reply":
			fmt.Fprintf(&b, "  %6.2fs %s from %s to %s: %s\n", ev.T, ev.Event, ev.Node, ev.Query, ev.Message)
		case "peer":
			fmt.Fprintf(&b, "  %6.2fs %s %s %s\n", ev.T, ev.Event, ev.Addr, ev.PID)
		case "peer_disconnected":
			fmt.Fprintf(&b, "  %6.2fs %s %s %s\n", ev.T, ev.Event, ev.Peer, ev.PID)
		case "dht_reply":
			fmt.Fprintf(&b, "  %6.2fs %s (%d peers)\n", ev.T, ev.Event, ev.NumPeers)
		case "peer_connect":
			fmt.Fprintf(&b, "  %6.2fs %s %s\n", ev.T, ev.Event, ev.Peer)
		case "error":
			fmt.Fprintf(&b, "  %6.2fs %s: %s\n", ev.T, ev.Event, ev.Message)
		default:
			fmt.Fprintf(&b, "  %6.2fs %s\n", ev.T, ev.Event)
		}
	}
	return b.String()
}

// report is a short account of an lt_dht.py run for failure messages:
// its timeline, its last status line and its stderr.
func (p *ltProc) report() string {
	last := ""
	lines := strings.Split(strings.TrimSpace(p.stdout.String()), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], `"event": "status"`) {
			last = lines[i]
			break
		}
	}
	state := "still running"
	if p.exited() {
		state = fmt.Sprintf("exited: %v", p.err)
	}
	return fmt.Sprintf("--- %s (%s) timeline:\n%s--- last status: %s\n--- stderr:\n%s", p.name, state, timeline(p), last, tail(p.stderr.String()))
}
