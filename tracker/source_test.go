package tracker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"shoal/metainfo"
)

// fakeTorrent is a sources.Torrent and sources.Completer with counters
// a test sets.
type fakeTorrent struct {
	up, down, left atomic.Int64
	completeC      chan struct{}
}

func newFakeTorrent(left int64) *fakeTorrent {
	ft := &fakeTorrent{completeC: make(chan struct{})}
	ft.left.Store(left)
	return ft
}

func (f *fakeTorrent) InfoHash() metainfo.InfoHash { return testHash }
func (f *fakeTorrent) Port() int                   { return 6881 }
func (f *fakeTorrent) Counters() (up, down, left int64) {
	return f.up.Load(), f.down.Load(), f.left.Load()
}
func (f *fakeTorrent) Complete() <-chan struct{} { return f.completeC }

// announceLog is what a fake HTTP tracker saw.
type announceLog struct {
	mu     sync.Mutex
	events []string
	counts []string // "up/down/left" per announce
}

func (l *announceLog) snapshot() ([]string, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...), append([]string(nil), l.counts...)
}

// httpTracker serves announces: status 0 answers with interval seconds and
// one peer; another status fails.
func httpTracker(t *testing.T, status int, interval int, hang func(event string) bool) (*httptest.Server, *announceLog) {
	log := &announceLog{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		log.mu.Lock()
		log.events = append(log.events, q.Get("event"))
		log.counts = append(log.counts, q.Get("uploaded")+"/"+q.Get("downloaded")+"/"+q.Get("left"))
		log.mu.Unlock()
		if hang != nil && hang(q.Get("event")) {
			<-r.Context().Done()
			return
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		w.Write([]byte("d8:intervali" + strconv.Itoa(interval) + "e5:peers6:\x7f\x00\x00\x07\x1a\xe1e"))
	}))
	t.Cleanup(srv.Close)
	return srv, log
}

// runSource runs s in the background and returns a channel of found
// peers and a stop function that cancels and waits for Run's result.
func runSource(t *testing.T, s *Source, ft *fakeTorrent) (<-chan []netip.AddrPort, func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	found := make(chan []netip.AddrPort, 100)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ft, func(a []netip.AddrPort) { found <- a }) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return found, stop
}

func waitFound(t *testing.T, found <-chan []netip.AddrPort) []netip.AddrPort {
	t.Helper()
	select {
	case a := <-found:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no peers found")
		return nil
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSourceEvents(t *testing.T) {
	good, log := httpTracker(t, 0, 1800, nil)
	before := runtime.NumGoroutine()
	s := NewSource([][]string{{good.URL + "/announce"}}, SourceConfig{PeerID: [20]byte{1}})
	ft := newFakeTorrent(100)
	found, stop := runSource(t, s, ft)
	if got := waitFound(t, found); len(got) != 1 || got[0] != netip.MustParseAddrPort("127.0.0.7:6881") {
		t.Fatalf("found %v", got)
	}
	ft.down.Store(100)
	ft.left.Store(0)
	close(ft.completeC)
	waitFound(t, found)
	ft.up.Store(55)
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	events, counts := log.snapshot()
	want := []string{"started", "completed", "stopped"}
	if len(events) != 3 || events[0] != want[0] || events[1] != want[1] || events[2] != want[2] {
		t.Fatalf("events %q, want %q", events, want)
	}
	if counts[0] != "0/0/100" || counts[2] != "55/100/0" {
		t.Errorf("counters %q", counts)
	}
	st := s.Status()
	if len(st) != 1 || st[0].LastAnnounce.IsZero() || st[0].LastError != "" || st[0].Peers != 1 {
		t.Errorf("status %+v", st)
	}
	waitGoroutines(t, before)
}

func TestSourceNoCompletedForASeeder(t *testing.T) {
	good, log := httpTracker(t, 0, 1800, nil)
	s := NewSource([][]string{{good.URL + "/announce"}}, SourceConfig{})
	ft := newFakeTorrent(0)
	close(ft.completeC)
	found, stop := runSource(t, s, ft)
	waitFound(t, found)
	stop()
	if events, _ := log.snapshot(); len(events) != 2 || events[0] != "started" || events[1] != "stopped" {
		t.Fatalf("events %q, want started, stopped", events)
	}
}

func TestSourceTiers(t *testing.T) {
	bad, badLog := httpTracker(t, http.StatusInternalServerError, 0, nil)
	worse, worseLog := httpTracker(t, http.StatusNotFound, 0, nil)
	good, goodLog := httpTracker(t, 0, 0, nil) // interval 0: MinInterval paces us
	s := NewSource([][]string{
		{bad.URL + "/announce", good.URL + "/announce"},
		{worse.URL + "/announce"},
	}, SourceConfig{MinInterval: 20 * time.Millisecond})
	found, stop := runSource(t, s, newFakeTorrent(1))
	for i := 0; i < 4; i++ {
		waitFound(t, found)
	}
	stop()
	badEvents, _ := badLog.snapshot()
	goodEvents, _ := goodLog.snapshot()
	worseEvents, _ := worseLog.snapshot()
	// The good tracker moved to the front of its tier after its first
	// answer, so the bad one was tried at most once; the second tier was
	// never needed.
	if len(badEvents) > 1 || len(worseEvents) != 0 || len(goodEvents) < 4 {
		t.Fatalf("announces: bad %d, worse %d, good %d", len(badEvents), len(worseEvents), len(goodEvents))
	}
	st := s.Status()
	if len(st) != 3 || st[0].URL != good.URL+"/announce" || st[2].Tier != 1 || st[2].URL != worse.URL+"/announce" {
		t.Fatalf("status order %+v", st)
	}
}

func TestSourceFallsToNextTierAndBacksOff(t *testing.T) {
	bad, badLog := httpTracker(t, http.StatusInternalServerError, 0, nil)
	good, _ := httpTracker(t, 0, 1800, nil)
	s := NewSource([][]string{{bad.URL + "/announce"}, {good.URL + "/announce"}}, SourceConfig{})
	found, stop := runSource(t, s, newFakeTorrent(1))
	waitFound(t, found)
	st := s.Status()
	if st[0].LastError == "" || st[1].LastError != "" || st[1].LastAnnounce.IsZero() || time.Until(st[1].NextAnnounce) < 20*time.Minute {
		t.Errorf("status %+v", st)
	}
	stop()
	if ev, _ := badLog.snapshot(); len(ev) != 1 {
		t.Errorf("stopped went to the tracker that did not answer: %q", ev)
	}

	// Every tracker failing: retries back off, doubling up to RetryMax.
	s = NewSource([][]string{{bad.URL + "/announce"}}, SourceConfig{RetryMin: 10 * time.Millisecond, RetryMax: 40 * time.Millisecond})
	_, stop = runSource(t, s, newFakeTorrent(1))
	time.Sleep(400 * time.Millisecond)
	stop()
	ev, _ := badLog.snapshot()
	attempts := len(ev) - 1
	// 0, 10, 30, 70, 110, ... ms: at most ~12 in 400 ms, and surely more than 3.
	if attempts < 4 || attempts > 14 {
		t.Errorf("%d attempts in 400 ms with back-off 10..40 ms", attempts)
	}
	for _, e := range ev[1:] {
		if e != "started" {
			t.Fatalf("events %q: started must be repeated until a tracker takes it, and no stopped sent", ev)
		}
	}
}

func TestSourceStopIsBounded(t *testing.T) {
	hanging, log := httpTracker(t, 0, 1800, func(event string) bool { return event == "stopped" })
	s := NewSource([][]string{{hanging.URL + "/announce"}}, SourceConfig{StopTimeout: 200 * time.Millisecond})
	found, stop := runSource(t, s, newFakeTorrent(1))
	waitFound(t, found)
	start := time.Now()
	stop()
	if d := time.Since(start); d < 150*time.Millisecond || d > 5*time.Second {
		t.Fatalf("stop took %v with a tracker that never answers stopped, want about 200 ms", d)
	}
	if ev, _ := log.snapshot(); len(ev) != 2 || ev[1] != "stopped" {
		t.Fatalf("events %q", ev)
	}
	if st := s.Status(); st[0].LastError == "" {
		t.Error("the failed stopped announce is not in the status")
	}
}

func TestSourceWithoutTrackers(t *testing.T) {
	s := NewSource([][]string{{}, {" "}}, SourceConfig{})
	_, stop := runSource(t, s, newFakeTorrent(1))
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
}

func TestTiers(t *testing.T) {
	got := Tiers("http://a/announce", [][]string{{"http://b"}, {}, {"udp://c:1", "udp://d:1"}}, "http://x")
	if len(got) != 3 || got[0][0] != "http://b" || len(got[1]) != 2 || got[2][0] != "http://x" {
		t.Fatalf("tiers %q", got)
	}
	got = Tiers("http://a/announce", nil)
	if len(got) != 1 || got[0][0] != "http://a/announce" {
		t.Fatalf("tiers %q", got)
	}
	tiers := newTiers([][]string{{"u1", "u2", "u1"}, {"u2"}, {"u3"}})
	if len(tiers) != 2 || len(tiers[0]) != 2 || tiers[1][0].status.URL != "u3" || tiers[1][0].status.Tier != 1 {
		t.Fatalf("duplicates not dropped: %d tiers", len(tiers))
	}
	tier := []*trackerEntry{{trackerID: "a"}, {trackerID: "b"}, {trackerID: "c"}}
	moveToFront(tier, 2)
	if tier[0].trackerID != "c" || tier[1].trackerID != "a" || tier[2].trackerID != "b" {
		t.Fatal("moveToFront changed the others' order")
	}
}

func TestSourceSendsTrackerIDBack(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ids = append(ids, r.URL.Query().Get("trackerid"))
		mu.Unlock()
		w.Write([]byte("d8:intervali0e5:peers0:10:tracker id2:T1e"))
	}))
	defer srv.Close()
	s := NewSource([][]string{{srv.URL + "/announce"}}, SourceConfig{MinInterval: 10 * time.Millisecond})
	_, stop := runSource(t, s, newFakeTorrent(1))
	waitFor(t, "a second announce", func() bool { mu.Lock(); defer mu.Unlock(); return len(ids) >= 2 })
	stop()
	mu.Lock()
	defer mu.Unlock()
	if ids[0] != "" || ids[1] != "T1" {
		t.Fatalf("tracker ids sent: %q", ids)
	}
}
