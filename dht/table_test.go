package dht

import (
	"net/netip"
	"testing"
	"time"
)

// idAt returns an id sharing exactly bits leading bits with self, with
// a distinguishing last byte.
func idAt(self ID, bits int, tag byte) ID {
	id := randomIDWithPrefix(self, bits)
	id[19] = tag
	return id
}

func addrN(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 6881)
}

func TestTableSplitsOnlyOwnBucket(t *testing.T) {
	now := time.Now()
	self := randomID()
	tb := newTable(self, now)
	// Eight far nodes fill the single bucket; the ninth splits it.
	for i := range 8 {
		tb.onReply(idAt(self, 0, byte(i)), addrN(i), true, now)
	}
	if len(tb.buckets) != 1 {
		t.Fatalf("%d buckets before the table is full", len(tb.buckets))
	}
	tb.onReply(idAt(self, 3, 99), addrN(99), true, now)
	if n, _, b := tb.counts(now); n != 9 || b != 2 {
		t.Fatalf("after the split: %d nodes in %d buckets, want 9 in 2", n, b)
	}
	// Bucket 0 (far half) is full and does not contain our id: a new far
	// node cannot split it and, all being good, waits as a replacement.
	tb.onReply(idAt(self, 0, 100), addrN(100), true, now)
	if len(tb.buckets[0].nodes) != 8 || len(tb.buckets[0].replacements) != 1 {
		t.Fatalf("far bucket: %d nodes, %d replacements", len(tb.buckets[0].nodes), len(tb.buckets[0].replacements))
	}
	if n, _ := tb.find(idAt(self, 0, 100)); n != nil {
		t.Fatal("a node entered a full bucket of good nodes")
	}
	// Nodes close to us keep splitting the last bucket.
	for i := range 40 {
		tb.onReply(idAt(self, 10+i%20, byte(i)), addrN(200+i), true, now)
	}
	if _, _, b := tb.counts(now); b < 10 {
		t.Fatalf("only %d buckets after close nodes arrived", b)
	}
	for i, b := range tb.buckets {
		if len(b.nodes) > bucketSize {
			t.Fatalf("bucket %d holds %d nodes", i, len(b.nodes))
		}
		for _, n := range b.nodes {
			if i != tb.bucketIndex(n.id) {
				t.Fatalf("node %v in bucket %d, belongs in %d", n.id, i, tb.bucketIndex(n.id))
			}
		}
	}
	tb.onReply(self, addrN(999), true, now)
	if n, _ := tb.find(self); n != nil {
		t.Fatal("our own id entered the table")
	}
}

func TestTableStatus(t *testing.T) {
	now := time.Now()
	n := &tableNode{lastReply: now}
	for _, tc := range []struct {
		name      string
		lastReply time.Time
		lastQuery time.Time
		failures  int
		want      nodeStatus
	}{
		{"recent reply", now.Add(-14 * time.Minute), time.Time{}, 0, statusGood},
		{"old reply", now.Add(-16 * time.Minute), time.Time{}, 0, statusQuestionable},
		{"old reply, recent query", now.Add(-time.Hour), now.Add(-time.Minute), 0, statusGood},
		{"never replied, recent query", time.Time{}, now.Add(-time.Minute), 0, statusQuestionable},
		{"one failure", now, time.Time{}, 1, statusGood},
		{"two failures", now, time.Time{}, 2, statusBad},
	} {
		n.lastReply, n.lastQuery, n.failures = tc.lastReply, tc.lastQuery, tc.failures
		if got := n.status(now); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
}

// fillFarBucket makes a table whose far bucket (index 0) is full.
func fillFarBucket(t *testing.T, now time.Time) (*table, ID) {
	self := randomID()
	tb := newTable(self, now)
	tb.onReply(idAt(self, 5, 200), addrN(500), true, now) // forces the first split later
	for i := range 8 {
		tb.onReply(idAt(self, 0, byte(i)), addrN(i), true, now)
	}
	if len(tb.buckets) < 2 || len(tb.buckets[0].nodes) != 8 {
		t.Fatalf("setup: %d buckets, far bucket %d nodes", len(tb.buckets), len(tb.buckets[0].nodes))
	}
	return tb, self
}

func TestTableReplacesBadNodes(t *testing.T) {
	now := time.Now()
	tb, self := fillFarBucket(t, now)
	victim := tb.buckets[0].nodes[3]
	// A new node waits in the replacement cache while all are good.
	newID := idAt(self, 0, 50)
	tb.onReply(newID, addrN(50), true, now)
	// The victim fails twice: bad, and replaced from the cache.
	tb.onFailure(victim.addr, now)
	if n, _ := tb.find(victim.id); n == nil {
		t.Fatal("one failure removed a node")
	}
	tb.onFailure(victim.addr, now)
	if n, _ := tb.find(victim.id); n != nil {
		t.Fatal("a bad node stayed in the table despite a replacement")
	}
	if n, _ := tb.find(newID); n == nil {
		t.Fatal("the replacement did not take the bad node's place")
	}
	// A bad node without replacements waiting is replaced by the next new
	// node directly.
	v2 := tb.buckets[0].nodes[0]
	tb.onFailure(v2.addr, now)
	tb.onFailure(v2.addr, now)
	id3 := idAt(self, 0, 51)
	if q := tb.onReply(id3, addrN(51), true, now); q.IsValid() {
		t.Fatalf("asked to ping %v while a bad node could be replaced", q)
	}
	if n, _ := tb.find(id3); n == nil {
		t.Fatal("new node did not replace the bad one")
	}
}

func TestTablePingsQuestionable(t *testing.T) {
	now := time.Now()
	tb, self := fillFarBucket(t, now)
	later := now.Add(20 * time.Minute) // every node is questionable now
	oldest := tb.buckets[0].nodes[0]
	oldest.lastReply = now.Add(-time.Minute)
	q := tb.onReply(idAt(self, 0, 60), addrN(60), true, later)
	if q != oldest.addr {
		t.Fatalf("pinged %v, want the least recently seen %v", q, oldest.addr)
	}
	// While that ping is out, the next newcomer has the next questionable
	// node pinged, and maintenance another one still.
	q2 := tb.onReply(idAt(self, 0, 61), addrN(61), true, later)
	if !q2.IsValid() || q2 == oldest.addr {
		t.Fatalf("second newcomer pinged %v", q2)
	}
	ping, _ := tb.maintenance(later)
	for _, p := range ping {
		if p == oldest.addr || p == q2 {
			t.Fatal("maintenance pinged a node already being pinged")
		}
	}
	if len(ping) == 0 {
		t.Fatal("maintenance pinged nothing while replacements wait")
	}
	// The pinged node answers: it stays, good again.
	tb.onReply(oldest.id, oldest.addr, true, later)
	if oldest.status(later) != statusGood || oldest.pinging {
		t.Fatalf("answered node: status %d pinging %v", oldest.status(later), oldest.pinging)
	}
}

func TestTablePrefersVerified(t *testing.T) {
	now := time.Now()
	self := randomID()
	tb := newTable(self, now)
	tb.onReply(idAt(self, 5, 200), addrN(500), true, now)
	pub := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{8, 8, byte(i), 1}), 6881)
	}
	for i := range 8 {
		tb.onReply(idAt(self, 0, byte(i)), pub(i), false, now) // unverified, public
	}
	ip := netip.MustParseAddr("8.8.99.1")
	sec := SecureID(ip)
	sec[0] = ^self[0] // into the far bucket; the caller reports it verified
	tb.onReply(sec, netip.AddrPortFrom(ip, 6881), true, now)
	if n, _ := tb.find(sec); n == nil {
		t.Fatal("verified node did not displace an unverified public one")
	}
	if len(tb.buckets[0].replacements) != 1 {
		t.Fatalf("displaced node not kept as a replacement: %d", len(tb.buckets[0].replacements))
	}
}

func TestTableRefreshTargets(t *testing.T) {
	now := time.Now()
	tb, _ := fillFarBucket(t, now)
	if _, refresh := tb.maintenance(now.Add(time.Minute)); len(refresh) != 0 {
		t.Fatalf("fresh buckets refreshed: %d", len(refresh))
	}
	_, refresh := tb.maintenance(now.Add(16 * time.Minute))
	if len(refresh) != len(tb.buckets) {
		t.Fatalf("%d refresh targets for %d stale buckets", len(refresh), len(tb.buckets))
	}
	for i, target := range refresh {
		if got := tb.bucketIndex(target); got != i {
			t.Errorf("refresh target %d falls in bucket %d", i, got)
		}
	}
	if _, again := tb.maintenance(now.Add(17 * time.Minute)); len(again) != 0 {
		t.Fatalf("refreshed again a minute later: %d", len(again))
	}
}

func TestTableClosest(t *testing.T) {
	now := time.Now()
	self := randomID()
	tb := newTable(self, now)
	for i := range 30 {
		tb.onReply(idAt(self, i%12, byte(i)), addrN(i), true, now)
	}
	target := randomID()
	got := tb.closest(target, 8, now)
	if len(got) != 8 {
		t.Fatalf("%d closest, want 8", len(got))
	}
	for i := 1; i < len(got); i++ {
		if commonPrefixLen(target, got[i].ID) > commonPrefixLen(target, got[i-1].ID) {
			t.Fatalf("not sorted by distance at %d", i)
		}
	}
}
