package swarmtest

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"shoal/engine"
	"shoal/peerwire"
)

// TestPortFlood: with the DHT on, a PORT message (BEP 5) makes the
// session's DHT node ping the peer's node. A peer repeating PORT must not
// turn the node's shared query budget into a ping stream at its address:
// one PORT per connection is taken, the rest are ignored, and the
// connection stays.
func TestPortFlood(t *testing.T) {
	dhtCfg := engine.Config{DHT: engine.DHTConfig{Enabled: true, ListenAddr: "127.0.0.1:0", Bootstrap: []string{}}}
	sw := NewSwarm(t, SwarmOptions{Seeder: dhtCfg})
	w := StartWatch()
	ip := Addr(70)
	udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	var pings atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := udp.ReadFrom(buf); err != nil {
				return
			}
			pings.Add(1)
		}
	}()
	port := uint16(udp.LocalAddr().(*net.UDPAddr).Port)
	dhtBit := fastExt()
	dhtBit.SetDHT(true)
	var p *Peer
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		var err error
		p, _, err = handshakeErr(ip, sw.SeederAddr(t), sw.Content.MetaInfo.InfoHash, dhtBit)
		if err != nil {
			t.Error(err)
			return
		}
		p.Serve(nil)
		p.Send(peerwire.Message{ID: peerwire.HaveNone})
		var b []byte
		for range 5000 {
			b = peerwire.AppendMessage(b, peerwire.Message{ID: peerwire.Port, Port: port})
		}
		if err := p.Write(b); err != nil {
			t.Error(err)
		}
	})
	if p == nil {
		return
	}
	defer p.Close()
	if !answered(p) {
		t.Errorf("seeder stopped serving a peer repeating PORT: %v", p.ServeErr())
	}
	time.Sleep(time.Second) // pings still on their way
	if n := pings.Load(); n < 1 || n > 3 {
		t.Errorf("the seeder's DHT node sent %d datagrams for 5000 PORT messages, want 1 (a retry or two at most)", n)
	}
	w.Check(t, goroutineBound, heapBound)
}
