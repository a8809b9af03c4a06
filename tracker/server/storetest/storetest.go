// Package storetest is the conformance suite for implementations of
// server.Store: every store, in memory or shared between tracker processes,
// must pass Run.
package storetest

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"shoal/metainfo"
	"shoal/tracker/server"
)

// base is the time the suite's announces happen at; stores may keep
// last-seen times at one-second resolution, so the suite moves in whole
// seconds.
var base = time.Unix(1_800_000_000, 0)

// Run checks the behaviour server.Store documents. newStore must return an
// empty store each time it is called.
func Run(t *testing.T, newStore func(t *testing.T) server.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s server.Store)
	}{
		{"EmptyScrape", testEmptyScrape},
		{"AnnounceCounts", testAnnounceCounts},
		{"NeverReturnsSelf", testNeverReturnsSelf},
		{"SeedersFirstForLeechers", testSeedersFirst},
		{"SeedersGetLeechersOnly", testSeedersGetLeechers},
		{"NumWant", testNumWant},
		{"ReannounceUpdates", testReannounce},
		{"StoppedRemoves", testStopped},
		{"CompletedCounted", testCompleted},
		{"Families", testFamilies},
		{"Expire", testExpire},
		{"SwarmsIndependent", testIndependent},
		{"LargeSwarm", testLargeSwarm},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// hash returns a distinct info hash for n.
func hash(n int) metainfo.InfoHash {
	var ih metainfo.InfoHash
	copy(ih[:], fmt.Sprintf("infohash-%011d", n))
	return ih
}

// peerID returns a distinct peer id for n.
func peerID(n int) server.PeerID {
	var id server.PeerID
	copy(id[:], fmt.Sprintf("-ST0001-%012d", n))
	return id
}

// addr4 returns 10.x.y.z:port for n.
func addr4(n int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), uint16(1000+n%60000))
}

// addr6 returns an IPv6 address for n.
func addr6(n int) netip.AddrPort {
	b := [16]byte{0x20, 0x01, 0x0d, 0xb8, 13: byte(n >> 16), 14: byte(n >> 8), 15: byte(n)}
	return netip.AddrPortFrom(netip.AddrFrom16(b), uint16(1000+n%60000))
}

func announce(t *testing.T, s server.Store, req server.AnnounceRequest) server.AnnounceResult {
	t.Helper()
	if req.Families == 0 {
		req.Families = server.FamilyBoth
	}
	if req.Time.IsZero() {
		req.Time = base
	}
	res, err := s.Announce(context.Background(), &req, nil)
	if err != nil {
		t.Fatalf("Announce(%x, peer %q): %v", req.InfoHash, req.PeerID, err)
	}
	return res
}

func join(t *testing.T, s server.Store, ih metainfo.InfoHash, n int, seeder bool) server.AnnounceResult {
	t.Helper()
	left := int64(100)
	if seeder {
		left = 0
	}
	return announce(t, s, server.AnnounceRequest{InfoHash: ih, PeerID: peerID(n), Addr: addr4(n), Left: left, Event: server.EventStarted, NumWant: 50})
}

func scrape(t *testing.T, s server.Store, ih metainfo.InfoHash) server.SwarmCounts {
	t.Helper()
	c, err := s.Scrape(context.Background(), ih)
	if err != nil {
		t.Fatalf("Scrape(%x): %v", ih, err)
	}
	return c
}

func stats(t *testing.T, s server.Store) server.StoreStats {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

func wantCounts(t *testing.T, what string, got, want server.SwarmCounts) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: counts %+v, want %+v", what, got, want)
	}
}

func testEmptyScrape(t *testing.T, s server.Store) {
	wantCounts(t, "unknown swarm", scrape(t, s, hash(1)), server.SwarmCounts{})
	if st := stats(t, s); st != (server.StoreStats{}) {
		t.Fatalf("empty store stats %+v", st)
	}
}

func testAnnounceCounts(t *testing.T, s server.Store) {
	ih := hash(1)
	res := join(t, s, ih, 1, true)
	if len(res.Peers) != 0 {
		t.Fatalf("first peer got peers %v", res.Peers)
	}
	wantCounts(t, "after one seeder", res.Counts, server.SwarmCounts{Complete: 1})
	res = join(t, s, ih, 2, false)
	wantCounts(t, "after a leecher", res.Counts, server.SwarmCounts{Complete: 1, Incomplete: 1})
	if len(res.Peers) != 1 || res.Peers[0].Addr != addr4(1) {
		t.Fatalf("leecher got %v, want the seeder %v", res.Peers, addr4(1))
	}
	wantCounts(t, "scrape", scrape(t, s, ih), server.SwarmCounts{Complete: 1, Incomplete: 1})
	if st := stats(t, s); st != (server.StoreStats{Swarms: 1, Seeders: 1, Leechers: 1}) {
		t.Fatalf("stats %+v", st)
	}
}

func testNeverReturnsSelf(t *testing.T, s server.Store) {
	ih := hash(1)
	for n := range 10 {
		join(t, s, ih, n, false)
	}
	for n := range 10 {
		res := join(t, s, ih, n, false)
		if len(res.Peers) != 9 {
			t.Fatalf("peer %d got %d peers, want 9", n, len(res.Peers))
		}
		for _, p := range res.Peers {
			if p.Addr == addr4(n) {
				t.Fatalf("peer %d was sent itself", n)
			}
		}
	}
}

func testSeedersFirst(t *testing.T, s server.Store) {
	ih := hash(1)
	for n := range 20 {
		join(t, s, ih, n, false)
	}
	for n := 100; n < 105; n++ {
		join(t, s, ih, n, true)
	}
	res := announce(t, s, server.AnnounceRequest{InfoHash: ih, PeerID: peerID(999), Addr: addr4(999), Left: 1, NumWant: 8})
	if len(res.Peers) != 8 {
		t.Fatalf("got %d peers, want 8", len(res.Peers))
	}
	for i, p := range res.Peers[:5] {
		if p.Addr.Addr().As4()[3] < 100 {
			t.Fatalf("peer %d of the answer is %v, want one of the 5 seeders first", i, p.Addr)
		}
	}
	for _, p := range res.Peers[5:] {
		if p.Addr.Addr().As4()[3] >= 100 {
			t.Fatalf("seeder %v listed after a leecher", p.Addr)
		}
	}
}

func testSeedersGetLeechers(t *testing.T, s server.Store) {
	ih := hash(1)
	for n := range 5 {
		join(t, s, ih, n, true)
	}
	join(t, s, ih, 50, false)
	res := join(t, s, ih, 60, true)
	if len(res.Peers) != 1 || res.Peers[0].Addr != addr4(50) {
		t.Fatalf("seeder got %v, want only the leecher", res.Peers)
	}
}

func testNumWant(t *testing.T, s server.Store) {
	ih := hash(1)
	for n := range 30 {
		join(t, s, ih, n, false)
	}
	for _, want := range []int{0, 1, 7, 29, 100} {
		res := announce(t, s, server.AnnounceRequest{InfoHash: ih, PeerID: peerID(5), Addr: addr4(5), Left: 1, NumWant: want})
		if len(res.Peers) != min(want, 29) {
			t.Fatalf("numwant %d: got %d peers", want, len(res.Peers))
		}
		seen := map[netip.AddrPort]bool{}
		for _, p := range res.Peers {
			if seen[p.Addr] {
				t.Fatalf("numwant %d: peer %v listed twice", want, p.Addr)
			}
			seen[p.Addr] = true
		}
	}
}

func testReannounce(t *testing.T, s server.Store) {
	ih := hash(1)
	join(t, s, ih, 1, false)
	join(t, s, ih, 2, false)
	// Peer 1 finishes and moves to a new address.
	announce(t, s, server.AnnounceRequest{InfoHash: ih, PeerID: peerID(1), Addr: addr4(77), Left: 0, Event: server.EventNone, NumWant: 5})
	wantCounts(t, "after a leecher became a seeder", scrape(t, s, ih), server.SwarmCounts{Complete: 1, Incomplete: 1})
	res := join(t, s, ih, 2, false)
	if len(res.Peers) != 1 || res.Peers[0].Addr != addr4(77) {
		t.Fatalf("got %v, want peer 1 at its new address %v", res.Peers, addr4(77))
	}
}

func testStopped(t *testing.T, s server.Store) {
	ih := hash(1)
	join(t, s, ih, 1, true)
	join(t, s, ih, 2, false)
	res := announce(t, s, server.AnnounceRequest{InfoHash: ih, PeerID: peerID(2), Addr: addr4(2), Left: 5, Event: server.EventStopped, NumWant: 50})
	if len(res.Peers) != 0 {
		t.Fatalf("stopped peer was sent %v", res.Peers)
	}
	wantCounts(t, "after stop", res.Counts, server.SwarmCounts{Complete: 1})
	res = join(t, s, ih, 3, true)
	if len(res.Peers) != 0 {
		t.Fatalf("stopped leecher still listed: %v", res.Peers)
	}
	// Stopping an unknown peer in an unknown swarm creates nothing.
	announce(t, s, server.AnnounceRequest{InfoHash: hash(9), PeerID: peerID(2), Addr: addr4(2), Event: server.EventStopped})
	if st := stats(t, s); st != (server.StoreStats{Swarms: 1, Seeders: 2}) {
		t.Fatalf("stats %+v", st)
	}
}

func testCompleted(t *testing.T, s server.Store) {
	ih := hash(1)
	join(t, s, ih, 1, false)
	announce(t, s, server.AnnounceRequest{InfoHash: ih, PeerID: peerID(1), Addr: addr4(1), Left: 0, Event: server.EventCompleted})
	announce(t, s, server.AnnounceRequest{InfoHash: ih, PeerID: peerID(2), Addr: addr4(2), Left: 0, Event: server.EventCompleted})
	wantCounts(t, "after two completions", scrape(t, s, ih), server.SwarmCounts{Complete: 2, Downloaded: 2})
}

func testFamilies(t *testing.T, s server.Store) {
	ih := hash(1)
	for n := range 4 {
		join(t, s, ih, n, true)
		announce(t, s, server.AnnounceRequest{InfoHash: ih, PeerID: peerID(100 + n), Addr: addr6(n), Left: 0})
	}
	for _, tc := range []struct {
		fam    server.Family
		v4, v6 int
	}{{server.FamilyV4, 4, 0}, {server.FamilyV6, 0, 4}, {server.FamilyBoth, 4, 4}} {
		res := announce(t, s, server.AnnounceRequest{InfoHash: ih, PeerID: peerID(999), Addr: addr4(999), Left: 1, NumWant: 50, Families: tc.fam})
		v4, v6 := 0, 0
		for _, p := range res.Peers {
			if p.Addr.Addr().Is4() {
				v4++
			} else {
				v6++
			}
		}
		if v4 != tc.v4 || v6 != tc.v6 {
			t.Fatalf("families %d: got %d IPv4 and %d IPv6 peers, want %d and %d", tc.fam, v4, v6, tc.v4, tc.v6)
		}
	}
}

func testExpire(t *testing.T, s server.Store) {
	ih := hash(1)
	for n := range 6 {
		announce(t, s, server.AnnounceRequest{InfoHash: ih, PeerID: peerID(n), Addr: addr4(n), Left: int64(n % 2), Time: base.Add(time.Duration(n) * 10 * time.Second)})
	}
	announce(t, s, server.AnnounceRequest{InfoHash: hash(2), PeerID: peerID(1), Addr: addr4(1), Time: base})
	// Peer 0 re-announces late: it must survive.
	announce(t, s, server.AnnounceRequest{InfoHash: ih, PeerID: peerID(0), Addr: addr4(0), Time: base.Add(time.Minute)})
	removed, err := s.Expire(context.Background(), base.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// Peers 1 and 2 (seen at 10 s and 20 s) and hash(2)'s only peer go.
	if removed != 3 {
		t.Fatalf("Expire removed %d peers, want 3", removed)
	}
	wantCounts(t, "after expiry", scrape(t, s, ih), server.SwarmCounts{Complete: 2, Incomplete: 2})
	if st := stats(t, s); st != (server.StoreStats{Swarms: 1, Seeders: 2, Leechers: 2}) {
		t.Fatalf("stats after expiry %+v", st)
	}
	res := announce(t, s, server.AnnounceRequest{InfoHash: ih, PeerID: peerID(9), Addr: addr4(9), Left: 1, NumWant: 50, Time: base.Add(time.Minute)})
	got := map[netip.AddrPort]bool{}
	for _, p := range res.Peers {
		got[p.Addr] = true
	}
	for _, n := range []int{0, 3, 4, 5} {
		if !got[addr4(n)] {
			t.Fatalf("peer %d missing after expiry; got %v", n, res.Peers)
		}
	}
	if len(res.Peers) != 4 {
		t.Fatalf("got %d peers after expiry, want 4", len(res.Peers))
	}
}

func testIndependent(t *testing.T, s server.Store) {
	join(t, s, hash(1), 1, true)
	res := join(t, s, hash(2), 2, false)
	if len(res.Peers) != 0 {
		t.Fatalf("swarm 2 got swarm 1's peers: %v", res.Peers)
	}
	wantCounts(t, "swarm 2", res.Counts, server.SwarmCounts{Incomplete: 1})
}

// testLargeSwarm goes past the sizes where a store might change its data
// structure, and churns it.
func testLargeSwarm(t *testing.T, s server.Store) {
	ih := hash(1)
	const n = 500
	for i := range n {
		join(t, s, ih, i, i%3 == 0)
	}
	for i := 0; i < n; i += 2 {
		announce(t, s, server.AnnounceRequest{InfoHash: ih, PeerID: peerID(i), Addr: addr4(i), Event: server.EventStopped})
	}
	for i := 1; i < n; i += 4 {
		announce(t, s, server.AnnounceRequest{InfoHash: ih, PeerID: peerID(i), Addr: addr4(i), Left: 0})
	}
	seeders, leechers := 0, 0
	for i := 1; i < n; i += 2 {
		if i%4 == 1 || i%3 == 0 {
			seeders++
		} else {
			leechers++
		}
	}
	wantCounts(t, "after churn", scrape(t, s, ih), server.SwarmCounts{Complete: seeders, Incomplete: leechers})
	for i := 1; i < n; i += 2 {
		res := announce(t, s, server.AnnounceRequest{InfoHash: ih, PeerID: peerID(i), Addr: addr4(i), Left: 1, NumWant: 200})
		if res.Counts.Complete+res.Counts.Incomplete != n/2 {
			t.Fatalf("re-announce of peer %d changed the swarm size to %+v", i, res.Counts)
		}
	}
}

func testConcurrent(t *testing.T, s server.Store) {
	const workers, per = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				n := w*per + i
				req := server.AnnounceRequest{InfoHash: hash(n % 10), PeerID: peerID(n), Addr: addr4(n), Left: int64(n % 2), NumWant: 20, Families: server.FamilyBoth, Time: base}
				if _, err := s.Announce(context.Background(), &req, nil); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Scrape(context.Background(), hash(i%10)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := stats(t, s)
	if st.Swarms != 10 || st.Seeders+st.Leechers != workers*per {
		t.Fatalf("stats after concurrent announces %+v, want 10 swarms and %d peers", st, workers*per)
	}
}
