package dht

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"shoal/dht/krpc"
)

// testAddr returns a loopback address of its own for node i, so each node
// has its own source IP as on a real network (per-IP limits apply per
// node).
func testAddr(i int) string { return fmt.Sprintf("127.0.0.%d:0", 10+i%200) }

// newTestNode starts a node on 127.0.0.x with short timeouts.
func newTestNode(t *testing.T, i int, modify func(*Config)) *Node {
	t.Helper()
	cfg := Config{ListenAddr: testAddr(i), QueryTimeout: 500 * time.Millisecond}
	if modify != nil {
		modify(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// testNetwork starts count nodes that bootstrap from the first one and
// from each other until every table holds at least minNodes nodes.
func testNetwork(t *testing.T, count, minNodes int) []*Node {
	t.Helper()
	nodes := []*Node{newTestNode(t, 0, nil)}
	seed := nodes[0].Addr().String()
	for i := 1; i < count; i++ {
		nodes = append(nodes, newTestNode(t, i, func(c *Config) { c.Bootstrap = []string{seed} }))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for round := 0; ; round++ {
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Add(1)
			go func() { defer wg.Done(); n.Bootstrap(ctx) }()
		}
		wg.Wait()
		worst := count
		for _, n := range nodes {
			worst = min(worst, n.Stats().Nodes)
		}
		if worst >= minNodes {
			return nodes
		}
		if ctx.Err() != nil || round > 5 {
			t.Fatalf("network did not converge: smallest table %d nodes after %d rounds, want %d", worst, round+1, minNodes)
		}
	}
}

// rawClient speaks KRPC by hand from its own loopback address.
type rawClient struct {
	t    *testing.T
	conn *net.UDPConn
	id   [20]byte
}

func newRawClient(t *testing.T, ip string) *rawClient {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(ip+":0")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, conn: c, id: randomID()}
}

func (c *rawClient) addr() netip.AddrPort { return c.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// sendRaw sends b to n.
func (c *rawClient) sendRaw(n *Node, b []byte) {
	c.t.Helper()
	if _, err := c.conn.WriteToUDPAddrPort(b, n.Addr()); err != nil {
		c.t.Fatal(err)
	}
}

// recv waits up to d for one reply (a response or an error); queries the
// node sends us (it pings unknown nodes that query it) are skipped. It
// returns nil when no reply came.
func (c *rawClient) recv(d time.Duration) []byte {
	c.conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 70000)
	for {
		size, _, err := c.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return nil
		}
		if m, err := krpc.Decode(buf[:size]); err == nil && m.Y == krpc.KindQuery {
			continue
		}
		return buf[:size]
	}
}

// roundTrip sends a query to n and decodes its answer.
func (c *rawClient) roundTrip(n *Node, method string, args *krpc.Args) *krpc.Msg {
	c.t.Helper()
	args.ID = c.id
	q := &krpc.Msg{T: "rt", Y: krpc.KindQuery, Q: method, A: args}
	b, err := q.Encode()
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(n, b)
	reply := c.recv(2 * time.Second)
	if reply == nil {
		c.t.Fatalf("%s: no reply", method)
	}
	m, err := krpc.Decode(reply)
	if err != nil {
		c.t.Fatalf("%s: reply %q: %v", method, reply, err)
	}
	if m.T != "rt" {
		c.t.Fatalf("%s: reply tid %q", method, m.T)
	}
	return m
}

// recvAll collects every datagram (replies and queries alike) that
// arrives within d of each other, waiting up to first for the first one.
func (c *rawClient) recvAll(first, d time.Duration) [][]byte {
	var out [][]byte
	wait := first
	for {
		c.conn.SetReadDeadline(time.Now().Add(wait))
		buf := make([]byte, 70000)
		size, _, err := c.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return out
		}
		out = append(out, buf[:size])
		wait = d
	}
}

func (n *Node) hasNode(id ID) bool {
	n.table.mu.Lock()
	defer n.table.mu.Unlock()
	found, _ := n.table.find(id)
	return found != nil
}
