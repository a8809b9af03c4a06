package engine

import (
	"encoding/binary"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"
)

// swarmTracker is a minimal HTTP tracker for tests: it remembers who
// announced and hands out the others, compact.
type swarmTracker struct {
	mu     sync.Mutex
	peers  map[string]netip.AddrPort // by peer id
	events map[string][]string       // peer id -> "event up/down/left" per announce
}

func newSwarmTracker(t *testing.T) (*swarmTracker, string) {
	st := &swarmTracker{peers: map[string]netip.AddrPort{}, events: map[string][]string{}}
	srv := httptest.NewServer(st)
	t.Cleanup(srv.Close)
	return st, srv.URL + "/announce"
}

func (st *swarmTracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	port, _ := strconv.Atoi(q.Get("port"))
	ip, _ := netip.ParseAddr(host)
	id := q.Get("peer_id")
	st.mu.Lock()
	defer st.mu.Unlock()
	st.events[id] = append(st.events[id], q.Get("event")+" "+q.Get("uploaded")+"/"+q.Get("downloaded")+"/"+q.Get("left"))
	var compact []byte
	for other, ap := range st.peers {
		if other != id {
			compact = append(compact, ap.Addr().AsSlice()...)
			compact = binary.BigEndian.AppendUint16(compact, ap.Port())
		}
	}
	if q.Get("event") == "stopped" {
		delete(st.peers, id)
	} else {
		st.peers[id] = netip.AddrPortFrom(ip, uint16(port))
	}
	w.Write([]byte("d8:intervali1800e5:peers" + strconv.Itoa(len(compact)) + ":" + string(compact) + "e"))
}

func (st *swarmTracker) eventsOf(id string) []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]string(nil), st.events[id]...)
}

func TestTrackersFindPeers(t *testing.T) {
	fx := makeFixture(t, 16<<10, 100<<10)
	swarm, url := newSwarmTracker(t)
	mi := *fx.mi
	mi.Announce = url
	seeder := newTestSession(t, Config{})
	if _, err := seeder.AddTorrent(&mi, AddOptions{SavePath: fx.dataDir}); err != nil {
		t.Fatal(err)
	}
	sid := seeder.PeerID()
	seederID := string(sid[:])
	deadline := time.Now().Add(10 * time.Second)
	for len(swarm.eventsOf(seederID)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the seeder never announced")
		}
		time.Sleep(10 * time.Millisecond)
	}
	leecher := newTestSession(t, Config{})
	tor, err := leecher.AddTorrent(&mi, AddOptions{SavePath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, tor, 20*time.Second)
	st := tor.Stats()
	if len(st.Trackers) != 1 || st.Trackers[0].URL != url || st.Trackers[0].LastAnnounce.IsZero() || st.Trackers[0].Peers != 1 {
		t.Fatalf("tracker stats %+v", st.Trackers)
	}
	lid := leecher.PeerID()
	leecherID := string(lid[:])
	size := strconv.FormatInt(fx.mi.Info.TotalLength(), 10)
	deadline = time.Now().Add(10 * time.Second)
	for len(swarm.eventsOf(leecherID)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no completed announce: %q", swarm.eventsOf(leecherID))
		}
		time.Sleep(10 * time.Millisecond)
	}
	leecher.Close()
	ev := swarm.eventsOf(leecherID)
	want := []string{"started 0/0/" + size, "completed 0/" + size + "/0", "stopped 0/" + size + "/0"}
	if len(ev) != 3 || ev[0] != want[0] || ev[1] != want[1] || ev[2] != want[2] {
		t.Fatalf("leecher's announces %q, want %q", ev, want)
	}
	if ev := swarm.eventsOf(seederID); ev[0] != "started 0/0/0" {
		t.Errorf("seeder's first announce %q", ev[0])
	}
}

func TestTrackerOptions(t *testing.T) {
	fx := makeFixture(t, 16<<10, 20<<10)
	mi := *fx.mi
	mi.Announce = "http://127.0.0.1:1/announce"
	s := newTestSession(t, Config{NoListen: true})
	tor, err := s.AddTorrent(&mi, AddOptions{SavePath: fx.dataDir, NoTrackers: true, Stopped: true})
	if err != nil {
		t.Fatal(err)
	}
	if tr := tor.Trackers(); tr != nil {
		t.Fatalf("NoTrackers: %+v", tr)
	}
	tor.Remove(false)
	tor, err = s.AddTorrent(&mi, AddOptions{SavePath: fx.dataDir, Trackers: []string{"udp://127.0.0.1:1"}, Stopped: true})
	if err != nil {
		t.Fatal(err)
	}
	tr := tor.Stats().Trackers
	if len(tr) != 2 || tr[0].URL != mi.Announce || tr[1].URL != "udp://127.0.0.1:1" || tr[1].Tier != 1 {
		t.Fatalf("trackers %+v", tr)
	}
}

func TestPrivateTorrentKeepsItsOwnTrackers(t *testing.T) {
	fx := makeFixture(t, 16<<10, 20<<10)
	mi := *fx.mi
	info := mi.Info
	info.Private = true
	if err := mi.SetInfo(info); err != nil {
		t.Fatal(err)
	}
	mi.Announce = "http://127.0.0.1:1/announce"
	s := newTestSession(t, Config{NoListen: true})
	tor, err := s.AddTorrent(&mi, AddOptions{SavePath: fx.dataDir, Trackers: []string{"udp://127.0.0.1:1"}, Stopped: true})
	if err != nil {
		t.Fatal(err)
	}
	if tr := tor.Trackers(); len(tr) != 1 || tr[0].URL != mi.Announce {
		t.Fatalf("private torrent's trackers %+v, want only its own", tr)
	}
}
