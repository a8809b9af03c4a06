package swarmtest

import (
	"sync"
	"testing"
	"time"

	"shoal/engine"
	"shoal/peerwire"
)

// Short timeouts for these tests, in place of the defaults (10 s for the
// handshake, 3 min of silence): "one byte a minute" becomes one byte
// every 700 ms.
const (
	testHandshakeTimeout = time.Second
	testIdleTimeout      = 2 * time.Second
)

func slowSwarm(t *testing.T) *Swarm {
	cfg := engine.Config{HandshakeTimeout: testHandshakeTimeout, IdleTimeout: testIdleTimeout}
	return NewSwarm(t, SwarmOptions{Seeder: cfg, Leecher: cfg})
}

// TestSilentConnections: fifty connections that never send a byte each
// cost the seeder one goroutine until Config.HandshakeTimeout, then are
// closed; an honest leecher's download completes meanwhile.
func TestSilentConnections(t *testing.T) {
	sw := slowSwarm(t)
	w := StartWatch()
	const conns = 50
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		var peers []*Peer
		for range conns {
			p, err := DialErr(Addr(50), sw.SeederAddr(t))
			if err != nil {
				t.Error(err)
				return
			}
			defer p.Close()
			peers = append(peers, p)
		}
		// One after another: by the time the first is closed, so are the
		// others, or nearly.
		for i, p := range peers {
			if n, closed := bytesUntilClosed(p, closeWait); !closed || n != 0 {
				t.Errorf("silent connection %d: %d bytes back, closed %v; want closed", i, n, closed)
			}
		}
	})
	w.Check(t, conns+goroutineBound, heapBound)
}

// TestSilentAfterHandshake: a peer that completes the handshake and then
// sends nothing, not even a keep-alive, is closed after
// Config.IdleTimeout (BEP 3: peers send keep-alives while idle); an honest
// leecher's download completes meanwhile.
func TestSilentAfterHandshake(t *testing.T) {
	sw := slowSwarm(t)
	w := StartWatch()
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		p, _, err := handshakeErr(Addr(51), sw.SeederAddr(t), sw.Content.MetaInfo.InfoHash, fastExt())
		if err != nil {
			t.Error(err)
			return
		}
		defer p.Close()
		p.Serve(nil)
		if !WaitPeer(sw.SeederTorrent, Addr(51), true, closeWait) {
			t.Error("peer never listed")
		}
		if !p.WaitClosed(closeWait) {
			t.Error("silent peer still connected")
		}
	})
	w.Check(t, goroutineBound, heapBound)
}

// trickle writes b one byte every interval until it is all sent, a write
// fails, or stop closes.
func trickle(p *Peer, b []byte, interval time.Duration, stop <-chan struct{}) {
	for i := range b {
		if p.Write(b[i:i+1]) != nil {
			return
		}
		select {
		case <-time.After(interval):
		case <-stop:
			return
		}
	}
}

// TestTrickledHandshake: a peer sending its handshake one byte at a time
// cannot hold the connection open past Config.HandshakeTimeout: the
// deadline covers the whole handshake, not each read. An honest
// leecher's download completes meanwhile.
func TestTrickledHandshake(t *testing.T) {
	sw := slowSwarm(t)
	w := StartWatch()
	hs := peerwire.AppendHandshake(nil, peerwire.Handshake{Reserved: fastExt(), InfoHash: sw.Content.MetaInfo.InfoHash, PeerID: hostileID()})
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		p, err := DialErr(Addr(52), sw.SeederAddr(t))
		if err != nil {
			t.Error(err)
			return
		}
		defer p.Close()
		stop := make(chan struct{})
		defer close(stop)
		// 68 bytes at one per 100 ms would take 6.8 s.
		go trickle(p, hs, 100*time.Millisecond, stop)
		if _, closed := bytesUntilClosed(p, closeWait); !closed {
			t.Error("trickling peer still connected")
		}
	})
	w.Check(t, goroutineBound, heapBound)
}

// TestTrickledMessages: after the handshake, a peer sending a byte every
// 700 ms never completes a message within Config.IdleTimeout and is
// closed; a peer sending a keep-alive every 300 ms stays (the timeout is
// for silence, not for being idle). An honest leecher's download
// completes meanwhile.
func TestTrickledMessages(t *testing.T) {
	sw := slowSwarm(t)
	w := StartWatch()
	ih := sw.Content.MetaInfo.InfoHash
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		slow, _, err := handshakeErr(Addr(53), sw.SeederAddr(t), ih, fastExt())
		if err != nil {
			t.Error(err)
			return
		}
		defer slow.Close()
		live, _, err := handshakeErr(Addr(54), sw.SeederAddr(t), ih, fastExt())
		if err != nil {
			t.Error(err)
			return
		}
		defer live.Close()
		for _, p := range []*Peer{slow, live} {
			p.Serve(nil)
			if err := p.Send(peerwire.Message{ID: peerwire.HaveNone}); err != nil {
				t.Error(err)
				return
			}
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			// Keep-alives, a byte at a time: never a whole one in time.
			trickle(slow, make([]byte, 400), 700*time.Millisecond, stop)
		}()
		go func() {
			defer wg.Done()
			for {
				if live.Send(peerwire.Message{KeepAlive: true}) != nil {
					return
				}
				select {
				case <-time.After(300 * time.Millisecond):
				case <-stop:
					return
				}
			}
		}()
		defer wg.Wait()
		defer close(stop)
		if !slow.WaitClosed(closeWait) {
			t.Error("peer trickling a byte at a time still connected")
		}
		// The trickler was cut off after IdleTimeout; once the peer
		// sending keep-alives has outlived that again, it must still be
		// served.
		time.Sleep(testIdleTimeout)
		if !answered(live) {
			t.Errorf("peer sending keep-alives was dropped: %v", live.ServeErr())
		}
	})
	w.Check(t, goroutineBound, heapBound)
}
