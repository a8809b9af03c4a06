package dht

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"shoal/dht/krpc"
)

// fillForAbuse gives n a table that yields full 8-node replies and a store
// with many peers for one info hash and many info hashes, so every reply
// is as large as it can get before trimming.
func fillForAbuse(n *Node) (ih [20]byte) {
	now := time.Now()
	for i := range 40 {
		n.table.onReply(randomID(), netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 4, byte(i)}), 6881), true, now)
	}
	ih = [20]byte{'a', 'b', 'u', 's', 'e'}
	for i := range 200 {
		n.store.add(ih, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)}), 1000), i%2 == 0, now)
	}
	for i := range 300 {
		n.store.add([20]byte{byte(i), byte(i >> 8), 2}, netip.MustParseAddrPort("127.0.9.9:1"), false, now)
	}
	return ih
}

// minimalQueries are the smallest queries of every kind that needs no
// token (and the error cases), each with its own transaction id so the
// reply can be matched to it.
func minimalQueries(id, ih [20]byte) map[string]string {
	i, h := string(id[:]), string(ih[:])
	return map[string]string{
		"a": "d1:ad2:id20:" + i + "e1:q4:ping1:t1:a1:y1:qe",
		"b": "d1:ad2:id20:" + i + "6:target20:" + h + "e1:q9:find_node1:t1:b1:y1:qe",
		"c": "d1:ad2:id20:" + i + "9:info_hash20:" + h + "e1:q9:get_peers1:t1:c1:y1:qe",
		"d": "d1:ad2:id20:" + i + "9:info_hash20:" + h + "6:scrapei1ee1:q9:get_peers1:t1:d1:y1:qe",
		"e": "d1:ad2:id20:" + i + "9:info_hash20:" + h + "4:wantl2:n42:n6ee1:q9:get_peers1:t1:e1:y1:qe",
		"f": "d1:ad2:id20:" + i + "6:target20:" + h + "e1:q17:sample_infohashes1:t1:f1:y1:qe",
		"g": "d1:ad2:id20:" + i + "e1:q1:z1:t1:g1:y1:qe",         // unknown method: error 204
		"h": "d1:ad2:id1:xe1:q4:ping1:t1:h1:y1:qe",               // malformed id: error 203
		"i": "d1:ad2:id20:" + i + "e1:q9:find_node1:t1:i1:y1:qe", // no target: error 203
	}
}

// TestSpoofedSourceFlood plays a reflection attack: queries of every kind
// that needs no token arrive "from" 60 different addresses (each a
// loopback address of its own, standing for a spoofed victim). Everything
// the node sends each victim — replies, errors and the pings it sends
// unknown queriers — stays within AmplificationFactor times the bytes
// sent in its name, and every reply still carries "ip" and "v". The full
// 8-node find_node reply is among the replies measured.
func TestSpoofedSourceFlood(t *testing.T) {
	n := newTestNode(t, 0, nil)
	ih := fillForAbuse(n)
	goroutines := runtime.NumGoroutine()
	const victims, together = 60, 10
	var sentAll, gotAll, fullFindNodes int
	// Victims in groups of ten at once: enough to interleave, few enough
	// that the node's socket buffer drops nothing.
	for first := 0; first < victims; first += together {
		results := make(chan victimResult, together)
		for v := first; v < first+together; v++ {
			c := newRawClient(t, fmt.Sprintf("127.0.5.%d", v+1))
			if v%2 == 1 {
				// Half the victims have ids next to the node's: the table
				// has room for them, so the node also pings them back.
				c.id = randomIDWithPrefix(n.id, 150)
			}
			go func() { results <- floodVictim(n, c, ih) }()
		}
		for range together {
			r := <-results
			for _, e := range r.errs {
				t.Error(e)
			}
			sentAll += r.sent
			gotAll += r.got
			fullFindNodes += r.fullFindNodes
		}
	}
	t.Logf("%d victims: %d bytes of queries, %d bytes back (%.2fx); %d full find_node replies",
		victims, sentAll, gotAll, float64(gotAll)/float64(sentAll), fullFindNodes)
	if gotAll > AmplificationFactor*sentAll {
		t.Errorf("total %d bytes back for %d sent", gotAll, sentAll)
	}
	if fullFindNodes == 0 {
		t.Error("no find_node reply carried 8 nodes: the bound was not measured on a full reply")
	}
	st := n.Stats()
	if st.Trimmed == 0 {
		t.Error("no reply was trimmed: the test does not reach the bound")
	}
	if st.Sources != victims {
		t.Errorf("rate limiter remembers %d sources, want %d", st.Sources, victims)
	}
	// Answering cost no goroutine per query or per victim.
	if g := runtime.NumGoroutine(); g > goroutines+5 {
		t.Errorf("goroutines grew from %d to %d during the flood", goroutines, g)
	}
}

// victimResult is what one spoofed victim of TestSpoofedSourceFlood saw.
type victimResult struct {
	sent, got, fullFindNodes int
	errs                     []string
}

// floodVictim sends every minimal query in c's name and measures what
// comes back to c.
func floodVictim(n *Node, c *rawClient, ih [20]byte) victimResult {
	var r victimResult
	fail := func(format string, args ...any) {
		r.errs = append(r.errs, fmt.Sprintf("victim %v: ", c.addr().Addr())+fmt.Sprintf(format, args...))
	}
	queries := minimalQueries(c.id, ih)
	for _, q := range queries {
		if _, err := c.conn.WriteToUDPAddrPort([]byte(q), n.Addr()); err != nil {
			fail("send: %v", err)
			return r
		}
		r.sent += len(q)
	}
	replies := map[string]int{}
	for _, b := range c.recvAll(5*time.Second, 300*time.Millisecond) {
		r.got += len(b)
		m, err := krpc.Decode(b)
		if err != nil {
			fail("undecodable datagram %q: %v", b, err)
			continue
		}
		if m.Y == krpc.KindQuery {
			continue // the node's ping back: counted in got
		}
		q, ok := queries[m.T]
		if !ok {
			fail("reply with unknown tid %q", m.T)
			continue
		}
		replies[m.T]++
		if len(b) > AmplificationFactor*len(q) {
			fail("%d-byte reply to the %d-byte query %q", len(b), len(q), m.T)
		}
		if !m.IP.IsValid() || m.V != DefaultVersion {
			fail("reply %s lacks ip or v: %q", m.T, b)
		}
		if m.T == "b" && m.R != nil && len(m.R.Nodes) == bucketSize {
			r.fullFindNodes++
		}
	}
	if len(replies) != len(queries) {
		fail("answers to %d of %d queries: %v", len(replies), len(queries), replies)
	}
	if r.got > AmplificationFactor*r.sent {
		fail("%d bytes received for %d sent (%.2fx)", r.got, r.sent, float64(r.got)/float64(r.sent))
	}
	return r
}

// TestAnnounceBadTokensStoreNothing sends announce_peer with every kind of
// bad token, from several addresses: each is refused with error 203 (BEP 5),
// counted in BadTokens, and the store stays empty.
func TestAnnounceBadTokensStoreNothing(t *testing.T) {
	n := newTestNode(t, 0, nil)
	ih := [20]byte{0xbd}
	holder := newRawClient(t, "127.0.5.200")
	good := holder.roundTrip(n, krpc.MethodGetPeers, &krpc.Args{InfoHash: &ih}).R.Token
	flipped := []byte(good)
	flipped[0] ^= 1
	cases := []struct{ name, token string }{
		{"no token", ""},
		{"short", "abc"},
		{"long", good + "x"},
		{"one bit flipped", string(flipped)},
		{"all zero", strings.Repeat("\x00", tokenLen)},
		{"another address's token", good},
	}
	sent := 0
	for i, tc := range cases {
		c := newRawClient(t, fmt.Sprintf("127.0.5.%d", 201+i))
		for _, implied := range []int{0, 1} {
			m := c.roundTrip(n, krpc.MethodAnnouncePeer, &krpc.Args{InfoHash: &ih, Port: 6881, ImpliedPort: implied, Token: tc.token})
			sent++
			if m.Y != krpc.KindError || m.E.Code != krpc.ErrProtocol {
				t.Errorf("%s (implied_port %d): got %+v, want error 203", tc.name, implied, m)
			}
		}
	}
	st := n.Stats()
	if st.Torrents != 0 || st.Peers != 0 {
		t.Fatalf("store after refused announces: %d torrents, %d peers", st.Torrents, st.Peers)
	}
	if st.BadTokens != int64(sent) {
		t.Fatalf("BadTokens %d, want %d", st.BadTokens, sent)
	}
	if vals := n.store.get(ih, 100, false, false, time.Now()); len(vals) != 0 {
		t.Fatalf("store holds %v", vals)
	}
	// The holder's own token still works: the refusals did not disturb it.
	if m := holder.roundTrip(n, krpc.MethodAnnouncePeer, &krpc.Args{InfoHash: &ih, Port: 6881, Token: good}); m.Y != krpc.KindResponse {
		t.Fatalf("valid announce after the bad ones: %+v", m)
	}
	if st := n.Stats(); st.Peers != 1 || st.BadTokens != int64(sent) {
		t.Fatalf("after a valid announce: %d peers, %d bad tokens", st.Peers, st.BadTokens)
	}
}

// TestFloodManySourcesBounded floods from more source addresses than the
// rate limiter remembers: each source gets no more than its burst, the
// rest is dropped and counted, the limiter's map never grows past
// MaxSources, and the node's pending outgoing pings stay within what the
// outgoing rate allows.
func TestFloodManySourcesBounded(t *testing.T) {
	const maxSources, burst, perSource, sources = 16, 3, 10, 80
	n := newTestNode(t, 0, func(c *Config) {
		c.SourceRate = 0.5
		c.SourceBurst = burst
		c.MaxSources = maxSources
		c.QueryRate = 5
		c.QueryBurst = 10
	})
	goroutines := runtime.NumGoroutine()
	answered := 0
	for s := range sources {
		c := newRawClient(t, fmt.Sprintf("127.0.6.%d", s+1))
		ping, _ := (&krpc.Msg{T: "p", Y: krpc.KindQuery, Q: krpc.MethodPing, A: &krpc.Args{ID: c.id}}).Encode()
		for range perSource {
			c.sendRaw(n, ping)
		}
		// Wait for the burst's replies, then briefly for any beyond it.
		got := 0
		for got < burst && c.recv(3*time.Second) != nil {
			got++
		}
		for c.recv(30*time.Millisecond) != nil {
			got++
		}
		// burst, plus one token refilled if the source was slow (2 s at
		// 0.5/s: not within one source's flood, but allowed for).
		if got > burst+1 {
			t.Errorf("source %d: %d replies to %d pings, burst %d", s, got, perSource, burst)
		}
		answered += got
		if size := n.sources.size(); size > maxSources {
			t.Fatalf("after source %d the limiter remembers %d sources, limit %d", s, size, maxSources)
		}
		n.txs.mu.Lock()
		pending := len(n.txs.pending)
		n.txs.mu.Unlock()
		// Outgoing pings (to unknown queriers) wait for their timeout at
		// most; the outgoing limiter allows QueryBurst plus QueryRate per
		// second of that.
		if limit := 10 + 5*int(n.cfg.QueryTimeout/time.Second+1); pending > limit {
			t.Fatalf("%d outgoing queries pending, limit %d", pending, limit)
		}
	}
	st := n.Stats()
	t.Logf("%d queries in, %d answered, %d dropped", st.QueriesIn, answered, st.Dropped)
	if answered < sources*burst/2 {
		t.Errorf("only %d answers to %d sources with burst %d: the limiter refuses legitimate traffic", answered, sources, burst)
	}
	if st.Dropped < int64(sources*(perSource-burst-1)/2) || st.Dropped+int64(answered) > st.QueriesIn {
		t.Errorf("dropped %d, answered %d of %d queries", st.Dropped, answered, st.QueriesIn)
	}
	if st.Sources > maxSources {
		t.Errorf("Stats.Sources %d > %d", st.Sources, maxSources)
	}
	if g := runtime.NumGoroutine(); g > goroutines+5 {
		t.Errorf("goroutines grew from %d to %d during the flood", goroutines, g)
	}
}

// TestMetricsHandler checks the Prometheus text of a node's counters.
func TestMetricsHandler(t *testing.T) {
	n := newTestNode(t, 0, func(c *Config) { c.SourceBurst = 2; c.SourceRate = 0.1 })
	ih := [20]byte{1}
	c := newRawClient(t, "127.0.5.230")
	c.roundTrip(n, krpc.MethodAnnouncePeer, &krpc.Args{InfoHash: &ih, Port: 1, Token: "bad"})
	c.roundTrip(n, krpc.MethodPing, &krpc.Args{})
	c.sendRaw(n, []byte("d1:ad2:id20:01234567890123456789e1:q4:ping1:t1:x1:y1:qe")) // over the burst
	c.sendRaw(n, []byte("garbage"))                                                 // not a query: malformed
	waitFor(t, func() bool { st := n.Stats(); return st.Dropped == 1 && st.Malformed == 1 }, "drop and malformed counted")

	srv := httptest.NewServer(n.MetricsHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	for _, want := range []string{
		"shoal_dht_bad_tokens_total 1\n",
		"shoal_dht_dropped_total 1\n",
		"shoal_dht_malformed_total 1\n",
		"shoal_dht_queries_in_total 3\n",
		"shoal_dht_errors_out_total 1\n",
		"shoal_dht_rate_limited_sources 1\n",
		"shoal_dht_stored_peers 0\n",
		"# TYPE shoal_dht_trimmed_replies_total counter\n",
		"# TYPE shoal_dht_nodes gauge\n",
		`shoal_dht_nodes{state="good"} `,
		"shoal_dht_queries_out_total ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	sample := regexp.MustCompile(`^[a-z_]+(\{[a-z_]+="[a-z_]+"\})? -?[0-9]+$`)
	for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		if !strings.HasPrefix(line, "# HELP ") && !strings.HasPrefix(line, "# TYPE ") && !sample.MatchString(line) {
			t.Errorf("line %q is not in the Prometheus text format", line)
		}
	}
}
