package traversal

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"
)

func TestDistanceAndCloser(t *testing.T) {
	var zero, one, two, high [20]byte
	one[19] = 1
	two[19] = 2
	high[0] = 0x80
	if d := Distance(one, two); d[19] != 3 || d[0] != 0 {
		t.Fatalf("Distance(1,2) = %x, want ...03", d)
	}
	if Distance(high, high) != zero {
		t.Fatal("Distance(x,x) is not zero")
	}
	tests := []struct {
		name          string
		target, a, b  [20]byte
		wantA, wantAB bool
	}{
		{"a equals target", one, one, two, true, false},
		{"equal distance is not closer", one, two, two, false, false},
		{"high bit dominates", zero, two, high, true, false},
		{"xor not numeric difference", two, zero, one, true, false}, // 2^0=2 < 2^1=3 though |2-1| < |2-0|
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Closer(tc.target, tc.a, tc.b); got != tc.wantA {
				t.Errorf("Closer(a,b) = %v, want %v", got, tc.wantA)
			}
			if got := Closer(tc.target, tc.b, tc.a); got != tc.wantAB {
				t.Errorf("Closer(b,a) = %v, want %v", got, tc.wantAB)
			}
		})
	}
}

func sameNodes(t *testing.T, got, want []Node) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("closest mismatch:\n got  %v\n want %v", got, want)
	}
}

func TestConvergesToTrueClosest(t *testing.T) {
	net := newSimNet(1, 600)
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 20 {
		target := randomID(rng)
		start := []Node{net.nodes[rng.IntN(600)], net.nodes[rng.IntN(600)]}
		net.resetCalls()
		res := Run(context.Background(), Config{Target: target, Start: start, Query: net.query(target)})
		sameNodes(t, res.Closest, net.liveClosest(target, 8))
		if res.Failed != 0 || res.Queried == 0 || res.Queried > 100 {
			t.Fatalf("round %d: queried %d failed %d", round, res.Queried, res.Failed)
		}
		if m := net.maxCalls(); m != 1 {
			t.Fatalf("round %d: a node was queried %d times", round, m)
		}
	}
}

func TestFailingNodesAreSkipped(t *testing.T) {
	net := newSimNet(2, 400)
	rng := rand.New(rand.NewPCG(8, 8))
	target := randomID(rng)
	// The three closest nodes fail; the result must be the next eight.
	for _, n := range closestTo(target, net.nodes, 3) {
		net.set(n.Addr, simFail)
	}
	res := Run(context.Background(), Config{Target: target, Start: net.nodes[:3], Query: net.query(target)})
	sameNodes(t, res.Closest, net.liveClosest(target, 8))
	if res.Failed < 3 {
		t.Fatalf("Failed = %d, want >= 3", res.Failed)
	}
}

func TestRespectsAlpha(t *testing.T) {
	for _, alpha := range []int{1, 3, 5} {
		net := newSimNet(3, 300)
		net.delay = 2 * time.Millisecond
		target := randomID(rand.New(rand.NewPCG(9, 9)))
		res := Run(context.Background(), Config{
			Target: target, Alpha: alpha, Start: net.nodes[:10],
			Query: net.query(target), SlowAfter: time.Minute,
		})
		sameNodes(t, res.Closest, net.liveClosest(target, 8))
		got := int(net.maxInFlight.Load())
		if got > alpha {
			t.Fatalf("alpha %d: %d queries ran at once", alpha, got)
		}
		if got < alpha {
			t.Fatalf("alpha %d: only %d queries ran at once; parallelism unused", alpha, got)
		}
	}
}

func TestDeadNodesDoNotBlock(t *testing.T) {
	net := newSimNet(4, 500)
	rng := rand.New(rand.NewPCG(10, 10))
	target := randomID(rng)
	// A third of the network, including the closest nodes, never answers.
	for i, n := range net.nodes {
		if i%3 == 0 {
			net.set(n.Addr, simDead)
		}
	}
	for _, n := range closestTo(target, net.nodes, 4) {
		net.set(n.Addr, simDead)
	}
	begin := time.Now()
	res := Run(context.Background(), Config{
		Target: target, Start: net.nodes[:6], Query: net.query(target),
		SlowAfter: 20 * time.Millisecond,
	})
	elapsed := time.Since(begin)
	// Without the SlowAfter rule every dead query would hold a slot forever.
	if elapsed > 3*time.Second {
		t.Fatalf("lookup took %v with dead nodes", elapsed)
	}
	if len(res.Closest) != 8 {
		t.Fatalf("got %d nodes, want 8", len(res.Closest))
	}
	live := net.liveClosest(target, 8)
	if !slices.Contains(live, res.Closest[0]) {
		t.Fatalf("closest answer %v is not among the live closest", res.Closest[0])
	}
	if n := net.inFlight.Load(); n != 0 {
		t.Fatalf("%d queries still running after Run returned", n)
	}
}

func TestSlowOnlyNodeIsAwaited(t *testing.T) {
	// The single bootstrap node answers after several SlowAfter periods: the
	// lookup must wait for it rather than give up with nothing.
	net := newSimNet(5, 200)
	target := randomID(rand.New(rand.NewPCG(11, 11)))
	net.set(net.nodes[0].Addr, simSlow)
	res := Run(context.Background(), Config{
		Target: target, Start: net.nodes[:1], Query: net.query(target),
		SlowAfter: 10 * time.Millisecond,
	})
	sameNodes(t, res.Closest, net.liveClosest(target, 8))
}

func TestMaxQueries(t *testing.T) {
	net := newSimNet(6, 300)
	target := randomID(rand.New(rand.NewPCG(12, 12)))
	res := Run(context.Background(), Config{
		Target: target, Start: net.nodes[:20], Query: net.query(target), MaxQueries: 5,
	})
	if res.Queried != 5 || net.totalCalls() != 5 {
		t.Fatalf("Queried %d, calls %d; want 5", res.Queried, net.totalCalls())
	}
	if len(res.Closest) != 5 {
		t.Fatalf("got %d answered nodes, want 5", len(res.Closest))
	}
}

func TestCancellation(t *testing.T) {
	net := newSimNet(7, 100)
	for _, n := range net.nodes {
		net.set(n.Addr, simDead)
	}
	target := randomID(rand.New(rand.NewPCG(13, 13)))
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	begin := time.Now()
	res := Run(ctx, Config{
		Target: target, Start: net.nodes, Query: net.query(target),
		SlowAfter: 5 * time.Millisecond,
	})
	if elapsed := time.Since(begin); elapsed > time.Second {
		t.Fatalf("Run returned %v after a 50ms deadline", elapsed)
	}
	if res.Queried == 0 || len(res.Closest) != 0 {
		t.Fatalf("Queried %d Closest %v", res.Queried, res.Closest)
	}
	if n := net.inFlight.Load(); n != 0 {
		t.Fatalf("%d queries still running after Run returned", n)
	}
	// Query goroutines have sent their reply before Run returned; give the
	// runtime a moment to retire them, then check none is left.
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("goroutines: %d before, %d after", before, after)
	}
}

func TestAlreadyCancelled(t *testing.T) {
	net := newSimNet(8, 50)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Run(ctx, Config{Start: net.nodes, Query: net.query([20]byte{})})
	if res.Queried != 0 {
		t.Fatalf("Queried %d with a cancelled context", res.Queried)
	}
}

func TestDuplicatesQueriedOnce(t *testing.T) {
	net := newSimNet(9, 300)
	target := randomID(rand.New(rand.NewPCG(14, 14)))
	a, b := net.nodes[0], net.nodes[1]
	start := []Node{
		a, a, // same node twice
		{ID: a.ID, Addr: netip.MustParseAddrPort("192.0.2.1:1")},  // same id, other address
		{ID: randomID(rand.New(rand.NewPCG(1, 2))), Addr: a.Addr}, // same address, other id
		b, {Addr: b.Addr}, // and once more without id
		{Addr: netip.AddrPort{}},                                // invalid
		{ID: b.ID, Addr: netip.MustParseAddrPort("10.9.9.9:0")}, // port 0
	}
	query := net.query(target)
	// Every reply also repeats nodes the lookup already knows.
	dupQuery := func(ctx context.Context, n Node) ([]Node, error) {
		closer, err := query(ctx, n)
		return append(closer, a, b, n), err
	}
	res := Run(context.Background(), Config{Target: target, Start: start, Query: dupQuery})
	if m := net.maxCalls(); m != 1 {
		t.Fatalf("a node was queried %d times", m)
	}
	if _, ok := net.calls[netip.MustParseAddrPort("192.0.2.1:1")]; ok {
		t.Fatal("duplicate id at another address was queried")
	}
	if res.Queried != net.totalCalls() {
		t.Fatalf("Queried %d but %d calls", res.Queried, net.totalCalls())
	}
	sameNodes(t, res.Closest, net.liveClosest(target, 8))
}

func TestZeroIDStartNodes(t *testing.T) {
	net := newSimNet(10, 300)
	target := randomID(rand.New(rand.NewPCG(15, 15)))
	boot := Node{Addr: net.nodes[5].Addr}
	known := net.nodes[6]
	var order []netip.AddrPort
	query := net.query(target)
	q := func(ctx context.Context, n Node) ([]Node, error) {
		order = append(order, n.Addr) // Alpha 1: calls never overlap
		return query(ctx, n)
	}
	// The node with an id is tried first; it fails, so the lookup falls back
	// to the bootstrap address and converges through it.
	net.set(known.Addr, simFail)
	res := Run(context.Background(), Config{
		Target: target, Alpha: 1, Start: []Node{boot, known}, Query: q,
	})
	if len(order) < 2 || order[0] != known.Addr || order[1] != boot.Addr {
		t.Fatalf("query order %v, want %v then %v", order[:min(2, len(order))], known.Addr, boot.Addr)
	}
	sameNodes(t, res.Closest, net.liveClosest(target, 8))
	for _, n := range res.Closest {
		if n.ID == ([20]byte{}) {
			t.Fatal("zero-id node in Closest")
		}
	}

	// When nodes with ids already fill the K closest and all answer, a
	// zero-id address (which sorts last) is not needed.
	net.set(known.Addr, simAnswer)
	order = nil
	res = Run(context.Background(), Config{
		Target: target, Alpha: 1, Start: append([]Node{boot}, net.nodes[10:20]...), Query: q,
	})
	sameNodes(t, res.Closest, net.liveClosest(target, 8))
	if slices.Contains(order, boot.Addr) {
		t.Fatalf("zero-id node queried although the K closest with ids answered: %v", order)
	}
}

func TestZeroIDNodeLearnsItsID(t *testing.T) {
	// A bootstrap node that names itself in its reply is reported with that id.
	var target, id [20]byte
	id[0] = 1
	addr := netip.MustParseAddrPort("10.0.0.1:6881")
	q := func(ctx context.Context, n Node) ([]Node, error) {
		return []Node{{ID: id, Addr: addr}}, nil
	}
	res := Run(context.Background(), Config{Target: target, Start: []Node{{Addr: addr}}, Query: q})
	if res.Queried != 1 || len(res.Closest) != 1 || res.Closest[0].ID != id {
		t.Fatalf("got %+v", res)
	}
}

func TestNoQueryFunc(t *testing.T) {
	res := Run(context.Background(), Config{Start: []Node{{Addr: netip.MustParseAddrPort("10.0.0.1:1")}}})
	if res.Queried != 0 || res.Closest != nil {
		t.Fatalf("got %+v", res)
	}
}

func TestCandidateSetBounded(t *testing.T) {
	// A hostile node answers with thousands of fresh far-away nodes; the
	// lookup must stay bounded and still end.
	var target [20]byte
	rng := rand.New(rand.NewPCG(16, 16))
	counter := 0
	q := func(ctx context.Context, n Node) ([]Node, error) {
		out := make([]Node, 1000)
		for i := range out {
			counter++
			id := randomID(rng)
			id[0] |= 0x80
			out[i] = Node{ID: id, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(counter >> 16), byte(counter >> 8), byte(counter)}), 1)}
		}
		return out, nil
	}
	res := Run(context.Background(), Config{Target: target, Start: []Node{{Addr: netip.MustParseAddrPort("10.255.0.1:1")}}, Query: q, Alpha: 1, MaxQueries: 50})
	if res.Queried > 50 || len(res.Closest) != 8 {
		t.Fatalf("got Queried %d, %d closest", res.Queried, len(res.Closest))
	}
}
