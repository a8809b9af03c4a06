package dht

import (
	"encoding/hex"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestBloomBEP33Vector inserts the addresses of BEP 33's test vector and
// compares the filter and the size estimate.
func TestBloomBEP33Vector(t *testing.T) {
	var f bloomFilter
	for i := range 256 {
		f.add(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}))
	}
	base := netip.MustParseAddr("2001:db8::").As16()
	for i := 0; i <= 0x3e7; i++ {
		a := base
		a[14], a[15] = byte(i>>8), byte(i)
		f.add(netip.AddrFrom16(a))
	}
	want := strings.Join(strings.Fields(`
 F6C3F5EA A07FFD91 BDE89F77 7F26FB2B FF37BDB8 FB2BBAA2 FD3DDDE7 BACFFF75 EE7CCBAE
 FE5EEDB1 FBFAFF67 F6ABFF5E 43DDBCA3 FD9B9FFD F4FFD3E9 DFF12D1B DF59DB53 DBE9FA5B
 7FF3B8FD FCDE1AFB 8BEDD7BE 2F3EE71E BBBFE93B CDEEFE14 8246C2BC 5DBFF7E7 EFDCF24F
 D8DC7ADF FD8FFFDF DDFFF7A4 BBEEDF5C B95CE81F C7FCFF1F F4FFFFDF E5F7FDCB B7FD79B3
 FA1FC77B FE07FFF9 05B7B7FF C7FEFEFF E0B8370B B0CD3F5B 7F2BD93F EB4386CF DD6F7FD5
 BFAF2E9E BFFFFEEC D67ADBF7 C67F17EF D5D75EBA 6FFEBA7F FF47A91E B1BFBB53 E8ABFB57
 62ABE8FF 237279BF EFBFEEF5 FFC5FEBF DFE5ADFF ADFEE1FB 737FFFFB FD9F6AEF FEEE76B6
 FD8F72EF`), "")
	if got := strings.ToUpper(hex.EncodeToString(f[:])); got != want {
		t.Fatalf("filter\n got %s\nwant %s", got, want)
	}
	if est := f.estimate(); math.Abs(est-1224.9308) > 0.001 {
		t.Fatalf("estimate %.4f, want 1224.9308", est)
	}
	var empty bloomFilter
	if empty.estimate() != 0 {
		t.Fatalf("empty filter estimates %v", empty.estimate())
	}
}

func TestTokens(t *testing.T) {
	ts := newTokenSecrets()
	a, b := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	tok := ts.make(a)
	if !ts.valid(tok, a) || ts.valid(tok, b) || ts.valid("", a) || ts.valid(tok[:4], a) {
		t.Fatal("token checks wrong right after issue")
	}
	ts.rotate()
	if !ts.valid(tok, a) {
		t.Fatal("token refused after one rotation")
	}
	ts.rotate()
	if ts.valid(tok, a) {
		t.Fatal("token accepted after two rotations")
	}
}

func TestPeerStore(t *testing.T) {
	now := time.Now()
	s := newPeerStore(2, 3, 30*time.Minute)
	ih1, ih2, ih3 := [20]byte{1}, [20]byte{2}, [20]byte{3}
	p := func(i int, port uint16) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 1, byte(i)}), port)
	}
	s.add(ih1, p(1, 100), false, now)
	s.add(ih1, p(1, 101), true, now) // same IP: updated, not added (BEP 33)
	if tor, peers := s.counts(); tor != 1 || peers != 1 {
		t.Fatalf("counts %d %d after re-announce", tor, peers)
	}
	if got := s.get(ih1, 10, false, false, now); len(got) != 1 || got[0].Port() != 101 {
		t.Fatalf("get %v", got)
	}
	// Per-torrent limit: the oldest announce makes room.
	s.add(ih1, p(2, 1), false, now.Add(time.Second))
	s.add(ih1, p(3, 1), false, now.Add(2*time.Second))
	s.add(ih1, p(4, 1), false, now.Add(3*time.Second))
	got := s.get(ih1, 10, false, false, now.Add(3*time.Second))
	if len(got) != 3 {
		t.Fatalf("%d peers stored, limit 3", len(got))
	}
	for _, g := range got {
		if g.Addr() == p(1, 0).Addr() {
			t.Fatal("the oldest peer was kept over a newer one")
		}
	}
	// Torrent limit.
	if !s.add(ih2, p(9, 1), true, now) || s.add(ih3, p(9, 1), false, now) {
		t.Fatal("torrent limit of 2 not applied")
	}
	// noseed puts non-seeds first; IPv6 queries get no IPv4 values.
	s.add(ih2, p(8, 1), false, now)
	if got := s.get(ih2, 1, false, true, now); len(got) != 1 || got[0] != p(8, 1) {
		t.Fatalf("noseed gave %v", got)
	}
	if got := s.get(ih2, 10, true, false, now); len(got) != 0 {
		t.Fatalf("IPv6 query got IPv4 values %v", got)
	}
	seeds, peers, ok := s.bloom(ih2, now)
	if !ok || seeds.estimate() < 0.5 || seeds.estimate() > 1.5 || peers.estimate() < 0.5 || peers.estimate() > 1.5 {
		t.Fatalf("bloom: ok %v, seeds %.2f peers %.2f", ok, seeds.estimate(), peers.estimate())
	}
	if _, _, ok := s.bloom(ih3, now); ok {
		t.Fatal("filters for an unknown torrent")
	}
	samples, num := s.sample(10, now)
	if num != 2 || len(samples) != 2 {
		t.Fatalf("sample: %d of %d", len(samples), num)
	}
	// Expiry after the TTL frees the slots.
	s.expire(now.Add(31 * time.Minute))
	if tor, peers := s.counts(); tor != 0 || peers != 0 {
		t.Fatalf("after expiry: %d torrents, %d peers", tor, peers)
	}
	if !s.add(ih3, p(9, 1), false, now.Add(31*time.Minute)) {
		t.Fatal("store still full after expiry")
	}
}

func TestSourceLimiter(t *testing.T) {
	now := time.Now()
	l := newSourceLimiter(20, 50, 100)
	ip := netip.MustParseAddr("127.0.0.9")
	allowed := 0
	for range 200 {
		if l.allow(ip, now) {
			allowed++
		}
	}
	if allowed != 50 {
		t.Fatalf("burst allowed %d, want 50", allowed)
	}
	// 100 ms at 20/s refills two tokens.
	later := now.Add(100 * time.Millisecond)
	var got []bool
	for range 3 {
		got = append(got, l.allow(ip, later))
	}
	if !got[0] || !got[1] || got[2] {
		t.Fatalf("after 100 ms: %v, want two allowed", got)
	}
	for i := range 1000 {
		l.allow(netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)}), now)
	}
	if l.size() > 100 {
		t.Fatalf("limiter remembers %d sources, limit 100", l.size())
	}
}
