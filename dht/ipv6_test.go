package dht

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"shoal/dht/krpc"
)

// fakeConn is an in-memory PacketConn with any local address, so the
// IPv6 code paths can be tested without IPv6 sockets. Reads block until a
// read deadline in the past (which Close of a caller's socket sets).
type fakeConn struct {
	local *net.UDPAddr
	mu    sync.Mutex
	sent  []fakePacket
	wake  chan struct{}
}

type fakePacket struct {
	to netip.AddrPort
	b  []byte
}

func newFakeConn(local string) *fakeConn {
	return &fakeConn{local: net.UDPAddrFromAddrPort(netip.MustParseAddrPort(local)), wake: make(chan struct{})}
}

func (c *fakeConn) ReadFrom([]byte) (int, net.Addr, error) {
	<-c.wake
	return 0, nil, os.ErrDeadlineExceeded
}

func (c *fakeConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, fakePacket{addr.(*net.UDPAddr).AddrPort(), append([]byte(nil), b...)})
	return len(b), nil
}

// lastReplyTo returns the last reply (not a query) sent to addr.
func (c *fakeConn) lastReplyTo(addr netip.AddrPort) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.sent) - 1; i >= 0; i-- {
		if m, err := krpc.Decode(c.sent[i].b); c.sent[i].to == addr && err == nil && m.Y != krpc.KindQuery {
			return c.sent[i].b
		}
	}
	return nil
}

func (c *fakeConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sent)
}

func (c *fakeConn) Close() error                     { return errors.New("not ours to close") }
func (c *fakeConn) LocalAddr() net.Addr              { return c.local }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }
func (c *fakeConn) SetReadDeadline(t time.Time) error {
	if t.Before(time.Now()) {
		select {
		case <-c.wake:
		default:
			close(c.wake)
		}
	}
	return nil
}

// TestIPv6Node checks BEP 32 on an IPv6 node: "nodes6" by default, "nodes"
// never (its table holds IPv6 nodes only), 18-byte values, IPv4 contacts
// ignored, and a BEP 42 id from its public address.
func TestIPv6Node(t *testing.T) {
	conn := newFakeConn("[2a01:4f8::10]:6881")
	n, err := New(Config{Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if !n.v6 || !VerifyID(n.ID(), n.Addr().Addr()) {
		t.Fatalf("v6 %v, id %v not secure for %v", n.v6, n.ID(), n.Addr())
	}
	now := time.Now()
	for i := range 10 {
		n.table.onReply(randomID(), netip.AddrPortFrom(netip.MustParseAddr("2a01:4f8::100"), uint16(1000+i)), false, now)
	}
	n.AddNode(netip.MustParseAddrPort("8.8.8.8:6881")) // wrong family: ignored
	if conn.count() != 0 {
		t.Fatalf("pinged an IPv4 address from an IPv6 node")
	}
	ih := [20]byte{6}
	n.store.add(ih, netip.MustParseAddrPort("[2a01:4f8::200]:51413"), false, now)
	n.store.add(ih, netip.MustParseAddrPort("9.9.9.9:51413"), false, now) // another family's peer
	src := netip.MustParseAddrPort("[2a01:4f8::99]:7000")
	ask := func(method string, args *krpc.Args) *krpc.Return {
		t.Helper()
		args.ID = randomID()
		q, _ := (&krpc.Msg{T: "v6", Y: "q", Q: method, A: args}).Encode()
		n.dispatch(q, src)
		m, err := krpc.Decode(conn.lastReplyTo(src))
		if err != nil || m.Y != "r" {
			t.Fatalf("%s: %+v %v", method, m, err)
		}
		if m.IP.AddrPort != src {
			t.Fatalf("ip field %v, want %v", m.IP, src)
		}
		return m.R
	}
	r := ask(krpc.MethodFindNode, &krpc.Args{Target: &ih})
	// 8 IPv6 nodes take 304 bytes: more than the amplification bound
	// leaves for a small query, so the reply carries fewer.
	if len(r.Nodes6) < 4 || len(r.Nodes) != 0 {
		t.Errorf("find_node over IPv6: %d nodes6, %d nodes", len(r.Nodes6), len(r.Nodes))
	}
	r = ask(krpc.MethodFindNode, &krpc.Args{Target: &ih, Want: []string{"n4"}})
	if len(r.Nodes6) != 0 || len(r.Nodes) != 0 {
		t.Errorf("want n4 from an IPv6-only node: %d nodes6, %d nodes", len(r.Nodes6), len(r.Nodes))
	}
	r = ask(krpc.MethodGetPeers, &krpc.Args{InfoHash: &ih})
	if len(r.Values) != 1 || r.Values[0] != netip.MustParseAddrPort("[2a01:4f8::200]:51413") {
		t.Errorf("get_peers over IPv6: values %v", r.Values)
	}
	// Contacts in replies: only IPv6 ones are followed.
	got := n.contacts(&krpc.Return{
		Nodes:  krpc.Nodes{{ID: [20]byte{1}, Addr: netip.MustParseAddrPort("1.2.3.4:5")}},
		Nodes6: krpc.Nodes6{{ID: [20]byte{2}, Addr: netip.MustParseAddrPort("[2a01::5]:5")}, {ID: [20]byte{3}, Addr: netip.MustParseAddrPort("[2a01::6]:0")}},
	})
	if len(got) != 1 || got[0].ID != [20]byte{2} {
		t.Errorf("contacts %v", got)
	}
}
