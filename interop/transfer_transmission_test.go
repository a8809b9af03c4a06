package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Transmission runs as transmission-daemon, configured through a
// settings.json in a temporary config directory and driven over its JSON
// RPC. It refuses to dial peers on 127.x ("martian" addresses) but accepts
// incoming connections, so the other side always dials it.

// transmission is one transmission-daemon for a test.
type transmission struct {
	p        *proc
	peerAddr string // where it accepts peers
	rpcURL   string
	client   http.Client

	mu        sync.Mutex // parallel subtests share one daemon
	sessionID string     // X-Transmission-Session-Id, learnt from a 409 reply
}

// Torrent status codes of Transmission's RPC (tr_torrent_activity).
const (
	trStopped = 0
	trSeeding = 6
)

// startTransmission starts a daemon listening on transmissionIP with DHT,
// LPD, PEX, uTP and port forwarding off, plaintext connections allowed
// (Shoal has no BEP 8 encryption), and no seeding limits.
func startTransmission(t *testing.T) *transmission {
	t.Helper()
	bin := requireTool(t, "transmission-daemon")
	conf := t.TempDir()
	peerPort, rpcPort := freePort(t), freePort(t)
	settings := map[string]any{
		"bind-address-ipv4":           transmissionIP,
		"bind-address-ipv6":           "::1",
		"peer-port":                   peerPort,
		"peer-port-random-on-start":   false,
		"rpc-enabled":                 true,
		"rpc-bind-address":            transmissionIP,
		"rpc-port":                    rpcPort,
		"rpc-authentication-required": false,
		"rpc-whitelist-enabled":       false,
		"rpc-host-whitelist-enabled":  false,
		"dht-enabled":                 false,
		"lpd-enabled":                 false,
		"pex-enabled":                 false,
		"utp-enabled":                 false,
		"port-forwarding-enabled":     false,
		"blocklist-enabled":           false,
		"encryption":                  0,
		"download-dir":                t.TempDir(),
		"incomplete-dir-enabled":      false,
		"rename-partial-files":        false,
		"ratio-limit-enabled":         false,
		"idle-seeding-limit-enabled":  false,
		"start-added-torrents":        true,
		"watch-dir-enabled":           false,
		"message-level":               2,
	}
	data, err := json.Marshal(settings)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "settings.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	tr := &transmission{
		p:        startProc(t, bin, "-f", "-g", conf),
		peerAddr: hostPort(transmissionIP, peerPort),
		rpcURL:   "http://" + hostPort(transmissionIP, rpcPort) + "/transmission/rpc",
		client:   http.Client{Timeout: 10 * time.Second},
	}
	var lastErr error
	tr.p.waitFor(t, "RPC answer", readyTimeout, func() bool {
		lastErr = tr.call("session-get", nil, nil)
		return lastErr == nil
	})
	return tr
}

// call makes one RPC call and decodes its arguments into result.
func (tr *transmission) call(method string, args, result any) error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	body, err := json.Marshal(map[string]any{"method": method, "arguments": args})
	if err != nil {
		return err
	}
	for range 3 {
		req, err := http.NewRequest(http.MethodPost, tr.rpcURL, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("X-Transmission-Session-Id", tr.sessionID)
		resp, err := tr.client.Do(req)
		if err != nil {
			return err
		}
		var reply struct {
			Result    string          `json:"result"`
			Arguments json.RawMessage `json:"arguments"`
		}
		decodeErr := json.NewDecoder(resp.Body).Decode(&reply)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusConflict:
			// The first call (and any after a restart) learns the session id.
			tr.sessionID = resp.Header.Get("X-Transmission-Session-Id")
			continue
		case resp.StatusCode != http.StatusOK:
			return fmt.Errorf("transmission RPC %s: HTTP %s", method, resp.Status)
		case decodeErr != nil:
			return fmt.Errorf("transmission RPC %s: reply: %v", method, decodeErr)
		case reply.Result != "success":
			return fmt.Errorf("transmission RPC %s: %s", method, reply.Result)
		}
		if result != nil {
			return json.Unmarshal(reply.Arguments, result)
		}
		return nil
	}
	return fmt.Errorf("transmission RPC %s: no session id accepted", method)
}

// add adds f's torrent with dir as its download directory and returns its id.
func (tr *transmission) add(t *testing.T, f fixture, dir string) int {
	t.Helper()
	var res struct {
		Added *struct {
			ID int `json:"id"`
		} `json:"torrent-added"`
	}
	if err := tr.call("torrent-add", map[string]any{"filename": f.torrent, "download-dir": dir}, &res); err != nil {
		t.Fatal(err)
	}
	if res.Added == nil {
		t.Fatalf("transmission torrent-add %s: no torrent-added in the reply", f.torrent)
	}
	id := res.Added.ID
	t.Cleanup(func() {
		_ = tr.call("torrent-remove", map[string]any{"ids": []int{id}, "delete-local-data": false}, nil)
	})
	return id
}

// trTorrent is the part of torrent-get this file reads.
type trTorrent struct {
	Status         int     `json:"status"`
	PercentDone    float64 `json:"percentDone"`
	LeftUntilDone  int64   `json:"leftUntilDone"`
	HaveValid      int64   `json:"haveValid"`
	Error          int     `json:"error"`
	ErrorString    string  `json:"errorString"`
	PeersConnected int     `json:"peersConnected"`
}

func (tt trTorrent) String() string {
	return fmt.Sprintf("status %d, %.1f%% done, %d bytes left, %d verified, %d peers, error %d %q",
		tt.Status, 100*tt.PercentDone, tt.LeftUntilDone, tt.HaveValid, tt.PeersConnected, tt.Error, tt.ErrorString)
}

// torrent reads one torrent's state.
func (tr *transmission) torrent(t *testing.T, id int) trTorrent {
	t.Helper()
	var res struct {
		Torrents []trTorrent `json:"torrents"`
	}
	fields := []string{"status", "percentDone", "leftUntilDone", "haveValid", "error", "errorString", "peersConnected"}
	if err := tr.call("torrent-get", map[string]any{"ids": []int{id}, "fields": fields}, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Torrents) != 1 {
		t.Fatalf("transmission torrent-get %d: %d torrents in the reply", id, len(res.Torrents))
	}
	return res.Torrents[0]
}

// waitTorrent polls a torrent until cond holds, failing on a torrent error
// or after timeout.
func (tr *transmission) waitTorrent(t *testing.T, id int, what string, timeout time.Duration, cond func(trTorrent) bool) {
	t.Helper()
	var last trTorrent
	tr.p.waitFor(t, what, timeout, func() bool {
		last = tr.torrent(t, id)
		if last.Error != 0 {
			t.Fatalf("transmission: torrent error while waiting for %s: %v\n%s", what, last, tr.p.output())
		}
		return cond(last)
	})
}

// trComplete reports whether Transmission holds every piece, verified.
func trComplete(tt trTorrent) bool {
	return tt.LeftUntilDone == 0 && tt.PercentDone == 1 && tt.Status >= 5
}

// transmissionSeed adds f to the daemon from the original content and
// waits until Transmission has verified it and seeds.
func transmissionSeed(t *testing.T, tr *transmission, f fixture) int {
	t.Helper()
	id := tr.add(t, f, f.parent)
	tr.waitTorrent(t, id, "seeding after its hash check", readyTimeout, func(tt trTorrent) bool {
		return tt.Status == trSeeding && trComplete(tt)
	})
	return id
}

// transmissionLeech adds f to the daemon with a fresh download directory.
func transmissionLeech(t *testing.T, tr *transmission, f fixture) (id int, saveDir string) {
	t.Helper()
	saveDir = t.TempDir()
	return tr.add(t, f, saveDir), saveDir
}

// finishTransmissionLeech waits until Transmission has every piece, stops
// the torrent so that its cache is written and its files closed, and
// compares the files.
func finishTransmissionLeech(t *testing.T, tr *transmission, id int, f fixture, saveDir string) {
	t.Helper()
	tr.waitTorrent(t, id, "a complete download", transferTimeout, trComplete)
	if err := tr.call("torrent-stop", map[string]any{"ids": []int{id}}, nil); err != nil {
		t.Fatal(err)
	}
	tr.waitTorrent(t, id, "the torrent stopped", readyTimeout, func(tt trTorrent) bool { return tt.Status == trStopped })
	// Transmission 3.00 does not create zero-length files (a known
	// limitation of that version), so only those may be absent.
	compareTree(t, "transmission", f, saveDir, true)
}

// Transmission refuses an incoming connection from an IP that already has
// a handshake in progress with it, and every Shoal process dials from
// 127.0.0.1 (--bind sets only the listening address). So the tests below
// start their transfers one at a time, each once Transmission reports the
// previous one connected, and then let them run side by side: each spends
// most of its time waiting for Transmission's 10 s rechoke.

// trRunning is one transfer under way between Shoal and Transmission.
type trRunning struct {
	c       transferCase
	f       fixture
	id      int   // the torrent in Transmission
	shoal   *proc // shoal get or shoal seed
	saveDir string
}

// waitConnected waits until Transmission has a peer on torrent id, or the
// Shoal process has exited (its result is checked later).
func (tr *transmission) waitConnected(t *testing.T, id int, shoal *proc) {
	t.Helper()
	tr.waitTorrent(t, id, "Shoal connected", readyTimeout, func(tt trTorrent) bool {
		return tt.PeersConnected > 0 || shoal.exited()
	})
}

// TestTransmissionSeedsShoalDownloads: Transmission is the only seeder and
// `shoal get` dials it and downloads every case.
func TestTransmissionSeedsShoalDownloads(t *testing.T) {
	t.Parallel()
	requireShoal(t)
	tr := startTransmission(t)
	var runs []trRunning
	for _, c := range transferCases {
		f := makeFixture(t, c)
		id := transmissionSeed(t, tr, f)
		get, saveDir := shoalGet(t, f, tr.peerAddr)
		tr.waitConnected(t, id, get)
		runs = append(runs, trRunning{c: c, f: f, id: id, shoal: get, saveDir: saveDir})
	}
	for _, r := range runs {
		t.Run(r.c.name, func(t *testing.T) {
			finishShoalGet(t, r.shoal, r.f, r.saveDir)
		})
	}
}

// TestShoalSeedsTransmissionDownloads: `shoal seed` is the only seeder and
// dials Transmission, which downloads every case.
func TestShoalSeedsTransmissionDownloads(t *testing.T) {
	t.Parallel()
	requireShoal(t)
	tr := startTransmission(t)
	var runs []trRunning
	for _, c := range transferCases {
		f := makeFixture(t, c)
		id, saveDir := transmissionLeech(t, tr, f)
		seed, _ := shoalSeed(t, f, tr.peerAddr)
		tr.waitConnected(t, id, seed)
		runs = append(runs, trRunning{c: c, f: f, id: id, shoal: seed, saveDir: saveDir})
	}
	for _, r := range runs {
		t.Run(r.c.name, func(t *testing.T) {
			finishTransmissionLeech(t, tr, r.id, r.f, r.saveDir)
			stopShoalSeed(t, r.shoal)
		})
	}
}
