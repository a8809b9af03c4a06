package lsd

import (
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"shoal/metainfo"
)

// unicastService builds a Service whose "group" is a plain loopback UDP
// socket, to test its scheduling and packet handling without multicast (the
// multicast path is tested between network namespaces in netns_test.go).
func unicastService(t *testing.T, interval time.Duration) (*Service, *net.UDPConn) {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	recv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); recv.Close() })
	cfg := Config{Port: 6881, Group: Group4, Interval: interval, Logger: slog.New(slog.DiscardHandler)}
	return newService(cfg, conn, recv.LocalAddr().(*net.UDPAddr).AddrPort()), recv
}

type reports struct {
	mu  sync.Mutex
	got []netip.AddrPort
}

func (r *reports) found(peers []netip.AddrPort) {
	r.mu.Lock()
	r.got = append(r.got, peers...)
	r.mu.Unlock()
}

func (r *reports) take() []netip.AddrPort {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

func announceFrom(cookie string, port int, hashes ...metainfo.InfoHash) []byte {
	return Announce{Host: Group4, Port: port, InfoHashes: hashes, Cookie: cookie}.Marshal()
}

func TestHandlePacket(t *testing.T) {
	s, _ := unicastService(t, time.Minute)
	ihA, ihB, ihC := metainfo.InfoHash{1}, metainfo.InfoHash{2}, metainfo.InfoHash{3}
	var r1, r2, rB reports
	untrack1 := s.Track(ihA, r1.found)
	s.Track(ihA, r2.found)
	s.Track(ihB, rB.found)
	src := netip.MustParseAddrPort("[::ffff:10.1.2.3]:6771") // as a dual-stack socket reports IPv4
	peer := netip.MustParseAddrPort("10.1.2.3:7000")
	now := time.Now()

	s.handlePacket(src, announceFrom(s.cookie, 7000, ihA), now)
	if got := r1.take(); len(got) != 0 {
		t.Fatalf("our own announce was reported: %v", got)
	}
	s.handlePacket(src, []byte("BT-SEARCH * HTTP/1.1\r\nPort: x\r\n"), now)
	s.handlePacket(src, announceFrom("other", 7000, ihC), now) // nobody tracks ihC
	if got := append(r1.take(), rB.take()...); len(got) != 0 {
		t.Fatalf("malformed or untracked announce reported: %v", got)
	}

	s.handlePacket(src, announceFrom("other", 7000, ihC, ihA), now)
	if got1, got2 := r1.take(), r2.take(); !slices.Equal(got1, []netip.AddrPort{peer}) || !slices.Equal(got2, got1) {
		t.Fatalf("reports %v and %v, want %v for both Tracks", got1, got2, peer)
	}
	if got := rB.take(); len(got) != 0 {
		t.Fatalf("ihB reported for an announce without it: %v", got)
	}

	// The same peer for the same torrent is reported once a minute at most.
	s.handlePacket(src, announceFrom("other", 7000, ihA), now.Add(time.Second))
	if got := r1.take(); len(got) != 0 {
		t.Fatalf("repeat announce reported again within the gap: %v", got)
	}
	s.handlePacket(src, announceFrom("other", 7000, ihA, ihB), now.Add(s.minGap))
	if got := r1.take(); !slices.Equal(got, []netip.AddrPort{peer}) {
		t.Fatalf("announce after the gap: got %v", got)
	}
	if got := rB.take(); !slices.Equal(got, []netip.AddrPort{peer}) {
		t.Fatalf("ihB: got %v", got)
	}
	r2.take()

	// After untrack only the other Track of ihA hears of peers.
	untrack1()
	untrack1()
	s.handlePacket(src, announceFrom("other", 7001, ihA), now.Add(3*s.minGap))
	if got1, got2 := r1.take(), r2.take(); len(got1) != 0 || len(got2) != 1 || got2[0].Port() != 7001 {
		t.Fatalf("after untrack: %v / %v", got1, got2)
	}
}

func TestReportTableBounded(t *testing.T) {
	s, _ := unicastService(t, time.Minute)
	ih := metainfo.InfoHash{9}
	var r reports
	s.Track(ih, r.found)
	now := time.Now()
	for i := range maxReported + 10 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 6771)
		s.handlePacket(src, announceFrom("x", 1, ih), now)
	}
	if n := len(r.take()); n != maxReported+10 {
		t.Fatalf("%d reports, want one per distinct peer", n)
	}
	if len(s.reported) > maxReported {
		t.Fatalf("report table grew to %d", len(s.reported))
	}
}

// readAnnounces reads the datagrams waiting on recv.
func readAnnounces(t *testing.T, recv *net.UDPConn) []Announce {
	t.Helper()
	var out []Announce
	buf := make([]byte, 2048)
	for {
		recv.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, _, err := recv.ReadFromUDPAddrPort(buf)
		if err != nil {
			return out
		}
		a, err := ParseAnnounce(buf[:n])
		if err != nil {
			t.Fatalf("we sent an announce we cannot parse: %v\n%q", err, buf[:n])
		}
		out = append(out, a)
	}
}

func TestAnnounceSchedule(t *testing.T) {
	s, recv := unicastService(t, 10*time.Second)
	var hashes []metainfo.InfoHash
	for i := range MaxInfoHashes + 5 {
		ih := metainfo.InfoHash{byte(i), 0xaa}
		hashes = append(hashes, ih)
		s.Track(ih, nil)
	}
	t0 := time.Now()
	if next := s.sendDue(t0); next.Before(t0) || next.After(t0.Add(coalesceDelay+time.Second)) {
		t.Fatalf("next send at %v, want within the coalescing delay", next.Sub(t0))
	}
	if got := readAnnounces(t, recv); len(got) != 0 {
		t.Fatalf("sent %d announces before the coalescing delay", len(got))
	}

	t1 := t0.Add(time.Second)
	next := s.sendDue(t1)
	got := readAnnounces(t, recv)
	if len(got) != 2 || len(got[0].InfoHashes) != MaxInfoHashes || len(got[1].InfoHashes) != 5 {
		t.Fatalf("want two packets of %d and 5 hashes, got %d packets", MaxInfoHashes, len(got))
	}
	all := append(slices.Clone(got[0].InfoHashes), got[1].InfoHashes...)
	slices.SortFunc(all, func(a, b metainfo.InfoHash) int { return strings.Compare(a.String(), b.String()) })
	if !slices.Equal(all, hashes) {
		t.Fatalf("announced %v, want %v", all, hashes)
	}
	for _, a := range got {
		if a.Port != 6881 || a.Cookie != s.cookie || a.Host != Group4 {
			t.Fatalf("announce %+v lacks our port, cookie or host", a)
		}
	}
	// Interval is 10 s but BEP 14 allows one announce a minute.
	if want := t1.Add(s.minGap); !next.Equal(want) {
		t.Fatalf("next send %v after the first, want %v", next.Sub(t1), s.minGap)
	}
	s.Track(hashes[0], nil) // tracking again must not break the limit
	if s.sendDue(t1.Add(30 * time.Second)); len(readAnnounces(t, recv)) != 0 {
		t.Fatal("re-announced within a minute")
	}
	s.sendDue(t1.Add(s.minGap))
	if got := readAnnounces(t, recv); len(got) != 2 {
		t.Fatalf("re-announce after a minute: %d packets, want 2", len(got))
	}
}

func TestCloseEndsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s, _ := unicastService(t, time.Minute)
	s.start()
	s.Track(metainfo.InfoHash{1}, nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("goroutines: %d before, %d after Close", before, after)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no port", Config{}, "port 0"},
		{"port too big", Config{Port: 70000}, "port 70000"},
		{"bad group", Config{Port: 1, Group: "nonsense"}, "group \"nonsense\""},
		{"unicast group", Config{Port: 1, Group: "10.0.0.1:6771"}, "not a multicast"},
		{"no such interface", Config{Port: 1, Interface: "shoal-nonexistent0"}, "interface \"shoal-nonexistent0\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.cfg)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestAnnounceBatchesNearlyDueTorrents(t *testing.T) {
	s, recv := unicastService(t, 20*time.Second)
	now := time.Now()
	dueNow, dueSoon, dueLater := metainfo.InfoHash{1}, metainfo.InfoHash{2}, metainfo.InfoHash{3}
	for ih, at := range map[metainfo.InfoHash]time.Time{
		dueNow:   now,
		dueSoon:  now.Add(4 * time.Second),  // within Interval/4: rides along
		dueLater: now.Add(10 * time.Second), // not yet
	} {
		s.Track(ih, nil)
		s.torrents[ih].due = at
	}
	next := s.sendDue(now)
	got := readAnnounces(t, recv)
	if len(got) != 1 || !slices.Equal(got[0].InfoHashes, []metainfo.InfoHash{dueNow, dueSoon}) {
		t.Fatalf("sent %+v, want one packet with the due and the nearly due hash", got)
	}
	if want := now.Add(10 * time.Second); !next.Equal(want) {
		t.Fatalf("next send in %v, want 10s", next.Sub(now))
	}
	// Nothing is due: a nearly due torrent alone does not cause a packet.
	if s.sendDue(now.Add(7 * time.Second)); len(readAnnounces(t, recv)) != 0 {
		t.Fatal("sent a packet although nothing was due")
	}
}
