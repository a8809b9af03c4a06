package dht

import (
	"context"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"shoal/dht/krpc"
	"shoal/internal/testkit"
	"shoal/metainfo"
)

// TestLocalNetwork runs 30 nodes on loopback: they bootstrap from one
// another, an announce on one node is found by get_peers from another,
// scrapes count seeds and peers, and Close leaves no goroutine behind.
func TestLocalNetwork(t *testing.T) {
	before := runtime.NumGoroutine()
	// With k = 8 and 30 random ids a table holds 8 of the far half, up to
	// 8 of the next quarter, and so on: about 15 to 25 nodes.
	nodes := testNetwork(t, 30, 12)
	total := 0
	for i, n := range nodes {
		st := n.Stats()
		total += st.Nodes
		if st.GoodNodes < 12 || st.RepliesIn == 0 || st.QueriesIn == 0 || st.Buckets < 2 {
			t.Errorf("node %d: %+v", i, st)
		}
	}
	if avg := float64(total) / float64(len(nodes)); avg < 15 {
		t.Errorf("tables hold %.1f nodes on average, want at least 15", avg)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ih := metainfo.InfoHash(randomID())
	if err := nodes[5].Announce(ctx, ih, 6881, nil); err != nil {
		t.Fatalf("announce: %v", err)
	}
	if err := nodes[6].Announce(ctx, ih, 0, nil); err != nil { // implied_port
		t.Fatalf("announce with implied port: %v", err)
	}
	if err := nodes[7].AnnounceSeed(ctx, ih, 7000, nil); err != nil {
		t.Fatalf("announce as seed: %v", err)
	}
	var mu sync.Mutex
	var found []netip.AddrPort
	if err := nodes[20].GetPeers(ctx, ih, func(p []netip.AddrPort) {
		mu.Lock()
		found = append(found, p...)
		mu.Unlock()
	}); err != nil {
		t.Fatalf("get_peers: %v", err)
	}
	want := []netip.AddrPort{
		netip.AddrPortFrom(nodes[5].Addr().Addr(), 6881),
		nodes[6].Addr(), // implied_port: the announce's source port
		netip.AddrPortFrom(nodes[7].Addr().Addr(), 7000),
	}
	for _, w := range want {
		if !slices.Contains(found, w) {
			t.Errorf("get_peers found %v, missing %v", found, w)
		}
	}
	if len(found) != len(want) {
		t.Errorf("found %d peers (%v), want %d: each once", len(found), found, len(want))
	}

	seeds, peers, err := nodes[25].Scrape(ctx, ih)
	if err != nil || seeds != 1 || peers != 2 {
		t.Errorf("scrape: %d seeds, %d peers, %v; want 1 and 2", seeds, peers, err)
	}
	if s, p, err := nodes[25].Scrape(ctx, metainfo.InfoHash{1, 2, 3}); err != nil || s != 0 || p != 0 {
		t.Errorf("scrape of an unknown torrent: %d %d %v", s, p, err)
	}

	stored := 0
	for _, n := range nodes {
		stored += n.Stats().Peers
	}
	if stored < 3 {
		t.Errorf("%d peers stored across the network, want at least 3", stored)
	}
	for _, n := range nodes {
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	testkit.WaitGoroutines(t, before)
}

// TestTokens checks write tokens end to end: a wrong token is refused with
// error 203, the right one works, still after one secret rotation, and is
// refused after two.
func TestTokenRotation(t *testing.T) {
	n := newTestNode(t, 0, nil)
	c := newRawClient(t, "127.0.0.201")
	ih := [20]byte{0xaa}
	r := c.roundTrip(n, krpc.MethodGetPeers, &krpc.Args{InfoHash: &ih})
	if r.Y != krpc.KindResponse || r.R.Token == "" {
		t.Fatalf("get_peers: %+v", r)
	}
	tok := r.R.Token
	announce := func(token string) *krpc.Msg {
		return c.roundTrip(n, krpc.MethodAnnouncePeer, &krpc.Args{InfoHash: &ih, Port: 6881, Token: token})
	}
	expectErr := func(m *krpc.Msg, what string) {
		t.Helper()
		if m.Y != krpc.KindError || m.E.Code != krpc.ErrProtocol {
			t.Fatalf("%s: got %+v, want error 203", what, m)
		}
	}
	expectErr(announce("wrong"), "wrong token")
	expectErr(announce(tok[:len(tok)-1]+"x"), "altered token")
	// A token given to another IP does not work from ours.
	other := newRawClient(t, "127.0.0.202")
	tok2 := other.roundTrip(n, krpc.MethodGetPeers, &krpc.Args{InfoHash: &ih}).R.Token
	expectErr(announce(tok2), "another IP's token")
	if m := announce(tok); m.Y != krpc.KindResponse {
		t.Fatalf("valid token refused: %+v", m)
	}
	n.tokens.rotate()
	if m := announce(tok); m.Y != krpc.KindResponse {
		t.Fatalf("token refused after one rotation: %+v", m)
	}
	n.tokens.rotate()
	expectErr(announce(tok), "token after two rotations")
	if st := n.Stats(); st.Torrents != 1 || st.Peers != 1 {
		t.Fatalf("store after announces: %d torrents, %d peers", st.Torrents, st.Peers)
	}
}

// TestServerAnswers checks the answers to each query kind and the errors
// of BEP 5.
func TestServerAnswers(t *testing.T) {
	n := newTestNode(t, 0, nil)
	now := time.Now()
	for i := range 12 {
		n.table.onReply(randomID(), netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 3, byte(i)}), 6881), true, now)
	}
	ih := [20]byte{0x42}
	n.store.add(ih, netip.MustParseAddrPort("127.0.9.1:1000"), true, now)
	n.store.add(ih, netip.MustParseAddrPort("127.0.9.2:1000"), false, now)
	n.store.add(ih, netip.MustParseAddrPort("127.0.9.3:1000"), false, now)
	n.store.add([20]byte{0x43}, netip.MustParseAddrPort("127.0.9.4:1000"), false, now)
	c := newRawClient(t, "127.0.0.203")

	m := c.roundTrip(n, krpc.MethodPing, &krpc.Args{})
	if m.Y != "r" || m.R.ID != n.id || m.IP.AddrPort != c.addr() || m.V != DefaultVersion {
		t.Fatalf("ping: %+v (ip %v, want %v)", m, m.IP, c.addr())
	}
	m = c.roundTrip(n, krpc.MethodFindNode, &krpc.Args{Target: &ih})
	if len(m.R.Nodes) != 8 || m.R.Nodes6 != nil {
		t.Fatalf("find_node: %d nodes, %d nodes6", len(m.R.Nodes), len(m.R.Nodes6))
	}
	m = c.roundTrip(n, krpc.MethodFindNode, &krpc.Args{Target: &ih, Want: []string{"n6"}})
	if len(m.R.Nodes) != 0 {
		t.Fatalf("find_node want n6 on an IPv4 node: %d IPv4 nodes", len(m.R.Nodes))
	}
	m = c.roundTrip(n, krpc.MethodGetPeers, &krpc.Args{InfoHash: &ih, NoSeed: 1})
	if len(m.R.Values) != 3 || m.R.Token == "" || m.R.BFsd != nil {
		t.Fatalf("get_peers: %d values, token %q", len(m.R.Values), m.R.Token)
	}
	if m.R.Values[2] != netip.MustParseAddrPort("127.0.9.1:1000") {
		t.Errorf("noseed: the seed is not last: %v", m.R.Values)
	}
	// Scrape with a valid token: the filters fit since the address is
	// proven.
	m = c.roundTrip(n, krpc.MethodGetPeers, &krpc.Args{InfoHash: &ih, Scrape: 1, Token: m.R.Token})
	if m.R.BFsd == nil || m.R.BFpe == nil {
		t.Fatal("scrape with token: no bloom filters")
	}
	sd, pe := bloomFilter(*m.R.BFsd), bloomFilter(*m.R.BFpe)
	if s, p := sd.estimate(), pe.estimate(); s < 0.5 || s > 1.5 || p < 1.5 || p > 2.5 {
		t.Errorf("scrape estimates %.2f seeds %.2f peers, want 1 and 2", s, p)
	}
	m = c.roundTrip(n, krpc.MethodSampleInfohashes, &krpc.Args{Target: &ih})
	if m.R.Samples == nil || len(*m.R.Samples) != 2 || *m.R.Num != 2 || *m.R.Interval != sampleInterval || len(m.R.Nodes) == 0 {
		t.Fatalf("sample_infohashes: %+v", m.R)
	}
	if !slices.Contains(*m.R.Samples, ih) {
		t.Errorf("samples %x lack %x", *m.R.Samples, ih)
	}

	for _, tc := range []struct {
		method string
		args   *krpc.Args
		code   int
	}{
		{"vote", &krpc.Args{}, krpc.ErrMethod},
		{krpc.MethodFindNode, &krpc.Args{}, krpc.ErrProtocol},
		{krpc.MethodGetPeers, &krpc.Args{}, krpc.ErrProtocol},
		{krpc.MethodSampleInfohashes, &krpc.Args{}, krpc.ErrProtocol},
		{krpc.MethodAnnouncePeer, &krpc.Args{}, krpc.ErrProtocol},
	} {
		m := c.roundTrip(n, tc.method, tc.args)
		if m.Y != krpc.KindError || m.E.Code != tc.code {
			t.Errorf("%s %+v: got %+v, want error %d", tc.method, tc.args, m, tc.code)
		}
	}
	// A query that does not decode but has a tid gets error 203.
	c.sendRaw(n, []byte("d1:ad2:id3:abce1:q4:ping1:t2:zz1:y1:qe"))
	if m, err := krpc.Decode(c.recv(2 * time.Second)); err != nil || m.Y != "e" || m.E.Code != krpc.ErrProtocol || m.T != "zz" {
		t.Fatalf("malformed query: %+v %v", m, err)
	}
	// Garbage gets nothing.
	c.sendRaw(n, []byte("not bencode"))
	if b := c.recv(200 * time.Millisecond); b != nil {
		t.Fatalf("garbage answered with %q", b)
	}
}

// TestAmplification sends the smallest valid query of every kind to a
// node with a full table and a full store: no reply may exceed
// AmplificationFactor times the query.
func TestAmplification(t *testing.T) {
	n := newTestNode(t, 0, nil)
	now := time.Now()
	for i := range 40 {
		n.table.onReply(randomID(), netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 4, byte(i)}), 6881), true, now)
	}
	ih := [20]byte{'i', 'h'}
	for i := range 200 {
		n.store.add(ih, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)}), 1000), i%2 == 0, now)
	}
	for i := range 300 {
		n.store.add([20]byte{byte(i), byte(i >> 8), 1}, netip.MustParseAddrPort("127.0.9.9:1"), false, now)
	}
	c := newRawClient(t, "127.0.0.204")
	// An id next to the node's own: the table always has room for it, so
	// the node also pings the client, and that ping counts too.
	c.id = randomIDWithPrefix(n.id, 150)
	id := string(c.id[:])
	pings := 0
	h := string(ih[:])
	for _, tc := range []struct {
		name, query string
		want        string // a key the reply must still carry
	}{
		{"ping", "d1:ad2:id20:" + id + "e1:q4:ping1:t1:x1:y1:qe", "2:id"},
		{"find_node", "d1:ad2:id20:" + id + "6:target20:" + h + "e1:q9:find_node1:t1:x1:y1:qe", "5:nodes"},
		{"get_peers", "d1:ad2:id20:" + id + "9:info_hash20:" + h + "e1:q9:get_peers1:t1:x1:y1:qe", "6:values"},
		{"get_peers scrape", "d1:ad2:id20:" + id + "9:info_hash20:" + h + "6:scrapei1ee1:q9:get_peers1:t1:x1:y1:qe", "5:token"},
		{"get_peers want both", "d1:ad2:id20:" + id + "9:info_hash20:" + h + "4:wantl2:n42:n6ee1:q9:get_peers1:t1:x1:y1:qe", "5:token"},
		{"sample_infohashes", "d1:ad2:id20:" + id + "6:target20:" + h + "e1:q17:sample_infohashes1:t1:x1:y1:qe", "7:samples"},
		{"unknown method", "d1:ad2:id20:" + id + "e1:q1:z1:t1:x1:y1:qe", "1:e"},
		{"malformed", "d1:ad2:id1:xe1:q4:ping1:t1:x1:y1:qe", "1:e"},
	} {
		c.sendRaw(n, []byte(tc.query))
		// Everything the node sends back counts: the reply and the ping
		// it sends an unknown querier.
		var reply []byte
		total := 0
		for _, b := range c.recvAll(2*time.Second, 100*time.Millisecond) {
			total += len(b)
			if m, err := krpc.Decode(b); err == nil && m.Y != krpc.KindQuery {
				reply = b
			} else if err == nil {
				pings++
			}
		}
		if reply == nil {
			t.Errorf("%s: no reply", tc.name)
			continue
		}
		if total > AmplificationFactor*len(tc.query) {
			t.Errorf("%s: %d bytes sent for a %d-byte query, ratio %.2f > %d",
				tc.name, total, len(tc.query), float64(total)/float64(len(tc.query)), AmplificationFactor)
		}
		if !containsStr(reply, tc.want) || !containsStr(reply, "2:ip6:") || !containsStr(reply, "1:v4:") {
			t.Errorf("%s: reply %q lacks %q, ip or v", tc.name, reply, tc.want)
		}
		t.Logf("%s: %d -> %d bytes (%.2fx)", tc.name, len(tc.query), total, float64(total)/float64(len(tc.query)))
	}
	if pings == 0 {
		t.Error("the node never pinged the client; the test does not exercise that path")
	}
	if n.Stats().Trimmed == 0 {
		t.Error("no reply needed trimming; the test does not exercise the bound")
	}
}

func containsStr(b []byte, s string) bool { return strings.Contains(string(b), s) }

// TestAnnounceStoreFull checks error 201 when the peer store cannot take
// another info hash, and that announce_peer checks its arguments.
func TestAnnounceStoreFull(t *testing.T) {
	n := newTestNode(t, 0, func(c *Config) { c.MaxTorrents = 1 })
	c := newRawClient(t, "127.0.0.213")
	ih1, ih2 := [20]byte{1}, [20]byte{2}
	tok := c.roundTrip(n, krpc.MethodGetPeers, &krpc.Args{InfoHash: &ih1}).R.Token
	if m := c.roundTrip(n, krpc.MethodAnnouncePeer, &krpc.Args{InfoHash: &ih1, Port: 1, Token: tok}); m.Y != krpc.KindResponse {
		t.Fatalf("first announce: %+v", m)
	}
	m := c.roundTrip(n, krpc.MethodAnnouncePeer, &krpc.Args{InfoHash: &ih2, Port: 1, Token: tok})
	if m.Y != krpc.KindError || m.E.Code != krpc.ErrGeneric {
		t.Fatalf("announce to a full store: %+v, want error 201", m)
	}
	m = c.roundTrip(n, krpc.MethodAnnouncePeer, &krpc.Args{InfoHash: &ih1, Token: tok})
	if m.Y != krpc.KindError || m.E.Code != krpc.ErrProtocol {
		t.Fatalf("announce without a port: %+v, want error 203", m)
	}
}
