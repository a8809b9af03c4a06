package dht

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"shoal/dht/krpc"
	"shoal/internal/testkit"
	"shoal/metainfo"
)

// TestIncomingRateLimit floods a node from one IP: beyond the burst the
// queries are dropped and counted, and another IP is still served.
func TestIncomingRateLimit(t *testing.T) {
	n := newTestNode(t, 0, func(c *Config) { c.SourceRate = 1; c.SourceBurst = 5 })
	flood := newRawClient(t, "127.0.0.205")
	ping := func(c *rawClient) []byte {
		b, _ := (&krpc.Msg{T: "p", Y: "q", Q: "ping", A: &krpc.Args{ID: c.id}}).Encode()
		return b
	}
	for range 40 {
		flood.sendRaw(n, ping(flood))
	}
	replies := 0
	for flood.recv(300*time.Millisecond) != nil {
		replies++
	}
	if replies < 5 || replies > 7 {
		t.Errorf("%d replies to a flood of 40 with burst 5", replies)
	}
	if st := n.Stats(); st.Dropped < 33 || st.QueriesIn != 40 {
		t.Errorf("dropped %d of %d queries", st.Dropped, st.QueriesIn)
	}
	other := newRawClient(t, "127.0.0.206")
	if m := other.roundTrip(n, krpc.MethodPing, &krpc.Args{}); m.Y != krpc.KindResponse {
		t.Fatalf("another source was not served: %+v", m)
	}
}

// TestOutgoingRateLimit checks that background pings respect the
// outgoing token bucket.
func TestOutgoingRateLimit(t *testing.T) {
	n := newTestNode(t, 0, func(c *Config) { c.QueryRate = 1; c.QueryBurst = 3 })
	sink := newRawClient(t, "127.0.0.207")
	for range 20 {
		n.AddNode(sink.addr())
	}
	if got := n.Stats().QueriesOut; got != 3 {
		t.Fatalf("%d queries sent, burst 3", got)
	}
}

// TestQueryTimeout checks that an unanswered query fails after the
// timeout, counts against the node and that a reply from the wrong address
// does not complete it.
func TestQueryTimeout(t *testing.T) {
	n := newTestNode(t, 0, func(c *Config) { c.QueryTimeout = 200 * time.Millisecond })
	silent := newRawClient(t, "127.0.0.208")
	spoofer := newRawClient(t, "127.0.0.209")
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := n.query(context.Background(), silent.addr(), krpc.MethodPing, &krpc.Args{})
		done <- err
	}()
	q := silent.conn
	q.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 2048)
	size, _, err := q.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	m, err := krpc.Decode(buf[:size])
	if err != nil || len(m.T) != 2 || m.V != DefaultVersion {
		t.Fatalf("query %+v %v: want a 2-byte tid and our version", m, err)
	}
	// Right tid, wrong source.
	b, _ := (&krpc.Msg{T: m.T, Y: "r", R: &krpc.Return{ID: spoofer.id}}).Encode()
	spoofer.sendRaw(n, b)
	err = <-done
	if !errors.Is(err, errTimeout) {
		t.Fatalf("query ended with %v, want a timeout", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > time.Second {
		t.Errorf("timeout after %v", d)
	}
	if st := n.Stats(); st.Timeouts != 1 || st.RepliesIn != 0 {
		t.Errorf("stats %+v", st)
	}
	if n.hasNode(ID(spoofer.id)) {
		t.Error("spoofed reply entered the table")
	}
}

// TestAddNode pings an address and inserts the node once it answers.
func TestAddNode(t *testing.T) {
	a := newTestNode(t, 0, nil)
	b := newTestNode(t, 1, nil)
	a.AddNode(b.Addr())
	waitFor(t, func() bool { return a.hasNode(b.ID()) }, "b in a's table")
	// b was queried by an unknown node and pinged it back.
	waitFor(t, func() bool { return b.hasNode(a.ID()) }, "a in b's table")
}

// TestReadOnly checks BEP 43: a read-only node marks its queries ro=1,
// answers no query, stays out of others' tables and can still look up.
func TestReadOnly(t *testing.T) {
	nodes := testNetwork(t, 10, 5)
	ro := newTestNode(t, 50, func(c *Config) {
		c.ReadOnly = true
		c.Bootstrap = []string{nodes[0].Addr().String()}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ro.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if ro.Stats().Nodes < 5 {
		t.Errorf("read-only node's table has %d nodes", ro.Stats().Nodes)
	}
	ih := metainfo.InfoHash{9, 9, 9}
	if err := nodes[3].Announce(ctx, ih, 5000, nil); err != nil {
		t.Fatal(err)
	}
	got := 0
	if err := ro.GetPeers(ctx, ih, func(p []netip.AddrPort) { got += len(p) }); err != nil || got != 1 {
		t.Fatalf("read-only get_peers: %d peers, %v", got, err)
	}
	time.Sleep(100 * time.Millisecond) // let any ping of ro arrive
	for i, n := range nodes {
		if n.hasNode(ro.ID()) {
			t.Errorf("node %d put the read-only node in its table", i)
		}
	}
	if st := ro.Stats(); st.RepliesOut != 0 || st.Errors != 0 {
		t.Errorf("read-only node answered: %+v", st)
	}
	c := newRawClient(t, "127.0.0.210")
	b, _ := (&krpc.Msg{T: "p", Y: "q", Q: "ping", A: &krpc.Args{ID: c.id}}).Encode()
	c.sendRaw(ro, b)
	if r := c.recv(200 * time.Millisecond); r != nil {
		t.Fatalf("read-only node answered a ping: %q", r)
	}
}

// TestStateRoundTrip saves a node's state on Close and checks that a new
// node loads the id and bootstraps from the saved nodes alone.
func TestStateRoundTrip(t *testing.T) {
	before := runtime.NumGoroutine()
	nodes := testNetwork(t, 10, 5)
	path := filepath.Join(t.TempDir(), "dht.state")
	a := newTestNode(t, 60, func(c *Config) { c.StateFile = path; c.Bootstrap = []string{nodes[0].Addr().String()} })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	had := a.Stats().GoodNodes
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := loadState(path)
	if err != nil || st.id != a.ID() || len(st.nodes) != had || had < 5 {
		t.Fatalf("loaded id %v (want %v), %d nodes (had %d), %v", st.id, a.ID(), len(st.nodes), had, err)
	}
	if left, _ := filepath.Glob(path + ".tmp*"); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	b := newTestNode(t, 61, func(c *Config) { c.StateFile = path })
	if b.ID() != a.ID() {
		t.Fatalf("id %v after restart, want %v", b.ID(), a.ID())
	}
	waitFor(t, func() bool { return b.Stats().Nodes >= 5 }, "table filled from the saved nodes")
	// A corrupt state file is ignored, not fatal.
	os.WriteFile(path, []byte("d2:id3:abce"), 0o644)
	c := newTestNode(t, 62, func(c *Config) { c.StateFile = path })
	if c.ID() == (ID{}) {
		t.Fatal("zero id")
	}
	for _, n := range append(nodes, b, c) {
		n.Close()
	}
	testkit.WaitGoroutines(t, before)
}

// TestCallerConn checks a node on a socket the caller owns: Close stops
// the reader without closing the socket.
func TestCallerConn(t *testing.T) {
	before := runtime.NumGoroutine()
	pc, err := net.ListenPacket("udp", "127.0.0.211:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	n, err := New(Config{Conn: pc})
	if err != nil {
		t.Fatal(err)
	}
	if n.Addr().String() != pc.LocalAddr().String() {
		t.Fatalf("Addr %v, socket %v", n.Addr(), pc.LocalAddr())
	}
	n.Close()
	testkit.WaitGoroutines(t, before)
	pc.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := pc.WriteTo([]byte("x"), pc.LocalAddr()); err != nil {
		t.Fatalf("caller's socket unusable after Close: %v", err)
	}
}

func TestBootstrapWithoutContacts(t *testing.T) {
	n := newTestNode(t, 0, nil)
	if err := n.Bootstrap(context.Background()); !errors.Is(err, errNoContacts) {
		t.Fatalf("bootstrap with nothing to ask: %v", err)
	}
	dead := newRawClient(t, "127.0.0.212")
	m := newTestNode(t, 1, func(c *Config) {
		c.QueryTimeout = 100 * time.Millisecond
		c.Bootstrap = []string{dead.addr().String(), "bad address", "localhost:0"}
	})
	if err := m.Bootstrap(context.Background()); !errors.Is(err, errNoAnswers) {
		t.Fatalf("bootstrap from a silent node: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
