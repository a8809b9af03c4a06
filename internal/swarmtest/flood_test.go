package swarmtest

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"shoal/peerwire"
)

// TestRequestFlood: a peer asks for many more blocks than the request
// queue we announce (BEP 10 "reqq"), all distinct. The seeder queues what
// fits, answers every other request with a REJECT (BEP 6: a peer choked
// or over its queue gets a reject rather than silence), and keeps the
// connection; memory and goroutines stay bounded and an honest leecher's
// download completes meanwhile.
func TestRequestFlood(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{Size: 2 << 20})
	w := StartWatch()
	const total = 20000
	var p *Peer
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		p = joined(t, Addr(40), sw.SeederAddr(t), sw.Content.MetaInfo.InfoHash, nil)
		if err := p.Send(peerwire.Message{ID: peerwire.Interested}); err != nil {
			t.Error(err)
			return
		}
		// Distinct requests: every piece, from offset 0, of every length
		// from 1 byte up; 1000 to a write.
		n := sw.Content.NumPieces()
		var batch []peerwire.Message
		for i := range total {
			batch = append(batch, peerwire.Message{ID: peerwire.Request, Index: uint32(i % n), Length: uint32(1 + i/n)})
			if len(batch) == 1000 {
				if err := p.Send(batch...); err != nil {
					t.Errorf("after %d requests: %v", i, err)
					return
				}
				batch = batch[:0]
			}
		}
	})
	if t.Failed() {
		return
	}
	// Every request is answered once: with the block or a REJECT.
	if !waitFor(leechTimeout, func() bool { return p.Count(peerwire.Reject)+p.Count(peerwire.Piece) >= total }) {
		t.Errorf("%d requests: %d rejects, %d blocks (closed: %v)", total, p.Count(peerwire.Reject), p.Count(peerwire.Piece), p.ServeErr())
	}
	t.Logf("%d requests: %d rejects, %d blocks", total, p.Count(peerwire.Reject), p.Count(peerwire.Piece))
	if got := p.Count(peerwire.Reject) + p.Count(peerwire.Piece); got > total {
		t.Errorf("%d answers to %d requests", got, total)
	}
	if p.Count(peerwire.Reject) == 0 {
		t.Error("no request was rejected")
	}
	if !answered(p) {
		t.Errorf("seeder stopped serving the flooding peer: %v", p.ServeErr())
	}
	w.Check(t, goroutineBound, heapBound)
}

// TestRequestFloodNotReading: a peer that floods requests and never
// reads what comes back fills the seeder's bounded send queue (the
// REJECTs pile up behind a full socket), and is disconnected instead of
// growing the seeder's memory; an honest leecher's download completes
// meanwhile.
func TestRequestFloodNotReading(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{Size: 2 << 20})
	w := StartWatch()
	sent := 0
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		p, err := DialRecvBuffer(Addr(44), sw.SeederAddr(t), 4096)
		if err != nil {
			t.Error(err)
			return
		}
		defer p.Close()
		if _, err := p.Handshake(peerwire.Handshake{Reserved: fastExt(), InfoHash: sw.Content.MetaInfo.InfoHash, PeerID: hostileID()}, closeWait); err != nil {
			t.Error(err)
			return
		}
		n := sw.Content.NumPieces()
		var buf []byte
		for i := range 2000 {
			buf = peerwire.AppendMessage(buf, peerwire.Message{ID: peerwire.Request, Index: uint32(i % n), Begin: 0, Length: uint32(1 + i/n)})
		}
		buf = append(peerwire.AppendMessage(nil, peerwire.Message{ID: peerwire.HaveNone}), buf...)
		// Up to 1.4 million requests (24 MiB): far more than the socket
		// buffers and the send queue hold.
		var werr error
		for sent = 0; sent < 700; sent++ {
			if werr = p.Write(buf); werr != nil {
				break
			}
		}
		if !IsClosed(werr) {
			t.Errorf("after %d requests the seeder still reads them (write error %v)", sent*2000, werr)
		}
	})
	t.Logf("closed after about %d requests", sent*2000)
	if !WaitPeer(sw.SeederTorrent, Addr(44), false, closeWait) {
		t.Error("seeder still lists the peer that does not read")
	}
	w.Check(t, goroutineBound, heapBound)
}

// TestHaveFlood: a peer repeating HAVE for pieces (300,000 messages) is
// only bookkeeping: nothing is sent back per HAVE, the connection stays,
// memory and goroutines stay bounded, the honest download completes.
func TestHaveFlood(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{Size: 2 << 20})
	w := StartWatch()
	var p *Peer
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		p = joined(t, Addr(41), sw.SeederAddr(t), sw.Content.MetaInfo.InfoHash, nil)
		// Never the last piece: a peer with every piece would be a seed,
		// which a seeder drops.
		n := sw.Content.NumPieces() - 1
		var buf []byte
		for i := range 300000 {
			buf = peerwire.AppendMessage(buf, peerwire.Message{ID: peerwire.Have, Index: uint32(i % n)})
			if len(buf) >= 64<<10 {
				if err := p.Write(buf); err != nil {
					t.Errorf("after %d HAVEs: %v", i, err)
					return
				}
				buf = buf[:0]
			}
		}
		p.Write(buf)
	})
	if t.Failed() {
		return
	}
	if !answered(p) {
		t.Errorf("seeder stopped serving a peer flooding HAVEs: %v", p.ServeErr())
	}
	w.Check(t, goroutineBound, heapBound)
}

// extPeer is a hostile peer that speaks BEP 10: it records the ids the
// seeder assigned in its extended handshake and counts ut_metadata
// replies by type.
type extPeer struct {
	*Peer
	mu       sync.Mutex
	theirs   map[string]int // the seeder's m dictionary
	metaData atomic.Int64   // ut_metadata data messages received
	metaRej  atomic.Int64   // ut_metadata rejects received
	metaID   uint8          // our id for ut_metadata
}

// joinExt connects an extPeer from ip to the seeder, announcing our ids
// for the extensions in ours (BEP 10), and waits for the seeder's
// extended handshake.
func joinExt(t *testing.T, sw *Swarm, ip netip.Addr, res peerwire.Reserved, ours map[string]int) *extPeer {
	t.Helper()
	ep := &extPeer{metaID: uint8(ours[peerwire.ExtMetadata])}
	p, _, err := handshakeErr(ip, sw.SeederAddr(t), sw.Content.MetaInfo.InfoHash, res)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	ep.Peer = p
	p.Serve(func(_ *Peer, m peerwire.Message) error {
		if m.ID != peerwire.Extended {
			return nil
		}
		switch {
		case m.ExtendedID == 0:
			hs, err := peerwire.ParseExtendedHandshake(m.Payload)
			if err != nil {
				return fmt.Errorf("seeder's extended handshake: %w", err)
			}
			ep.mu.Lock()
			ep.theirs = hs.M
			ep.mu.Unlock()
		case m.ExtendedID == ep.metaID && ep.metaID != 0:
			mm, err := peerwire.ParseMetadataMessage(m.Payload)
			if err != nil {
				return fmt.Errorf("seeder's ut_metadata message: %w", err)
			}
			switch mm.Type {
			case peerwire.MetadataData:
				ep.metaData.Add(1)
			case peerwire.MetadataReject:
				ep.metaRej.Add(1)
			}
		}
		return nil
	})
	hs := peerwire.ExtendedHandshake{M: ours, V: "hostile 0.1"}
	payload, err := hs.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Send(peerwire.Message{ID: peerwire.HaveNone}, peerwire.Message{ID: peerwire.Extended, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	if res.Extended() && !waitFor(closeWait, func() bool { return ep.theirID(peerwire.ExtMetadata) != 0 }) {
		t.Fatal("no extended handshake from the seeder")
	}
	return ep
}

// theirID is the seeder's id for an extension (0: none).
func (ep *extPeer) theirID(name string) uint8 {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return uint8(ep.theirs[name])
}

// floodExt sends count extended messages with id and payload, about
// 256 KiB to a write.
func floodExt(p *Peer, count int, id uint8, payload []byte) error {
	var buf []byte
	for i := range count {
		buf = peerwire.AppendMessage(buf, peerwire.Message{ID: peerwire.Extended, ExtendedID: id, Payload: payload})
		if len(buf) >= 256<<10 || i == count-1 {
			if err := p.Write(buf); err != nil {
				return fmt.Errorf("after %d messages: %w", i, err)
			}
			buf = buf[:0]
		}
	}
	return nil
}

// TestExtensionFlood: floods of extension messages (BEP 10) are ignored
// or answered within bounds, and the connection stays: ids the seeder
// never assigned are ignored (BEP 10), ut_pex messages beyond one a
// minute are dropped (BEP 11) so the seeder learns at most one message's
// worth of addresses, ut_metadata requests (BEP 9) get data at most a few
// times over and rejects after that, repeated extended handshakes are
// taken (BEP 10 allows them), and extended messages from a peer that did
// not set the BEP 10 bit are ignored. Memory and goroutines stay bounded
// and an honest leecher's download completes meanwhile.
func TestExtensionFlood(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{Size: 2 << 20})
	w := StartWatch()
	ours := map[string]int{peerwire.ExtMetadata: 3, peerwire.ExtPEX: 4}
	big := make([]byte, 32<<10)
	for i := range big {
		big[i] = byte(i)
	}
	var pex []peerwire.PEXPeer
	for i := range 200 {
		// Closed ports on loopback: the seeder's dials fail at once.
		pex = append(pex, peerwire.PEXPeer{Addr: netip.AddrPortFrom(Addr(byte(100+i%50)), uint16(1+i))})
	}
	pexPayload, err := peerwire.PEXMessage{Added: pex}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	hsPayload, err := (&peerwire.ExtendedHandshake{M: ours, V: string(big[:8<<10])}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	const requests = 3000
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		ep := joinExt(t, sw, Addr(42), fastExt(), ours)
		metaID, pexID := ep.theirID(peerwire.ExtMetadata), ep.theirID(peerwire.ExtPEX)
		if pexID == 0 {
			t.Error("seeder announced no ut_pex")
		}
		steps := []struct {
			name    string
			id      uint8
			payload []byte
			count   int
		}{
			{"unknown extended id", 200, big, 2000},
			{"ut_pex", pexID, pexPayload, 2000},
			{"ut_pex, malformed", pexID, big[:100], 2000},
			{"extended handshake", 0, hsPayload, 500},
		}
		for _, s := range steps {
			if err := floodExt(ep.Peer, s.count, s.id, s.payload); err != nil {
				t.Errorf("%s: %v", s.name, err)
				return
			}
			if !answered(ep.Peer) {
				t.Errorf("%s: seeder stopped serving the peer: %v", s.name, ep.ServeErr())
				return
			}
		}
		var req []byte
		for i := range requests {
			b, _ := peerwire.MetadataMessage{Type: peerwire.MetadataRequest, Piece: i % 3}.Marshal() // pieces 1 and 2 do not exist
			req = peerwire.AppendMessage(req, peerwire.Message{ID: peerwire.Extended, ExtendedID: metaID, Payload: b})
		}
		if err := ep.Write(req); err != nil {
			t.Errorf("ut_metadata requests: %v", err)
			return
		}
		if !waitFor(leechTimeout, func() bool { return ep.metaData.Load()+ep.metaRej.Load() >= requests }) {
			t.Errorf("%d ut_metadata requests: %d data, %d rejects", requests, ep.metaData.Load(), ep.metaRej.Load())
		}
		// The info dictionary is one metadata piece; a fetcher needs it
		// once, and we serve it at most a few times per connection.
		if d := ep.metaData.Load(); d < 1 || d > 8 {
			t.Errorf("ut_metadata piece served %d times to one peer", d)
		}
		if !answered(ep.Peer) {
			t.Errorf("seeder stopped serving the peer after ut_metadata requests: %v", ep.ServeErr())
		}
	})
	st := sw.SeederTorrent.Stats()
	t.Logf("seeder knows %d peers, %d from PEX", st.KnownPeers, st.PEXPeers)
	if st.PEXPeers > 50 {
		t.Errorf("seeder took %d addresses from a PEX flood, want at most one message's 50", st.PEXPeers)
	}
	// The seeder dials the 50 addresses it took (each dial a goroutine,
	// at most MaxConnsPerTorrent of them).
	w.Check(t, goroutineBound+50, heapBound)
}

// TestExtensionWithoutBEP10: a peer that did not set the BEP 10 bit gets
// no answer to extended messages (it cannot know our ids) and is not
// disconnected for them.
func TestExtensionWithoutBEP10(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{})
	w := StartWatch()
	var fast peerwire.Reserved
	fast.SetFast(true)
	ep := joinExt(t, sw, Addr(43), fast, map[string]int{peerwire.ExtMetadata: 3})
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		b, _ := peerwire.MetadataMessage{Type: peerwire.MetadataRequest, Piece: 0}.Marshal()
		if err := floodExt(ep.Peer, 1000, 2, b); err != nil {
			t.Error(err)
		}
	})
	if !answered(ep.Peer) {
		t.Fatalf("seeder stopped serving the peer: %v", ep.ServeErr())
	}
	if n := ep.Count(peerwire.Extended); n != 0 {
		t.Errorf("%d extended messages sent to a peer without BEP 10", n)
	}
	w.Check(t, goroutineBound, heapBound)
}
