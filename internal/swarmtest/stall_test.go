package swarmtest

import (
	"testing"
	"time"

	"shoal/engine"
	"shoal/peerwire"
)

// leechWithHostileFirst starts the leecher knowing nobody, lets the
// hostile peer (from ip) join it with the fast extension, claim every
// piece and unchoke, waits until the leecher asks it for blocks, and only
// then adds the honest seeder: the hostile peer has its chance to hold on
// to the download before anyone honest is there. handle sees every
// message the leecher sends the hostile peer.
func leechWithHostileFirst(t *testing.T, sw *Swarm, ip byte, handle func(p *Peer, m peerwire.Message) error) *Peer {
	t.Helper()
	tor := sw.StartLeecherWith(t, nil)
	if !waitFor(leechTimeout, func() bool { return tor.Stats().State == engine.StateDownloading }) {
		t.Fatalf("leecher not downloading: %+v", tor.Stats())
	}
	p := joined(t, Addr(ip), sw.LeecherAddr(t), sw.Content.MetaInfo.InfoHash, handle)
	if err := p.Send(peerwire.Message{ID: peerwire.HaveAll}, peerwire.Message{ID: peerwire.Unchoke}); err != nil {
		t.Fatal(err)
	}
	if !waitFor(closeWait, func() bool { return p.Count(peerwire.Request) > 0 }) {
		t.Fatal("the leecher never asked the hostile peer for a block")
	}
	if err := tor.AddPeers(sw.SeederAddr(t)); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStallingPeer: a peer that claims every piece, unchokes, takes every
// request and never sends a block cannot hold the download: the blocks it
// holds are requested from the seeder too once nothing else is left
// (endgame), or after Config.RequestTimeout.
func TestStallingPeer(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{Size: 2 << 20})
	w := StartWatch()
	start := time.Now()
	p := leechWithHostileFirst(t, sw, 60, func(*Peer, peerwire.Message) error { return nil })
	sw.WaitLeecher(t, leechTimeout)
	t.Logf("complete %v after the staller joined; it got %d requests", time.Since(start).Round(time.Millisecond), p.Count(peerwire.Request))
	w.Check(t, goroutineBound, heapBound)
}

// TestPieceMemoryHog: a peer that answers each request for a piece with
// its first block only leaves the leecher with pieces started and never
// finished, each holding piece memory (Config.PieceMemory, a budget for
// all torrents). With a budget of a few pieces, the download must still
// complete from the honest seeder.
func TestPieceMemoryHog(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{Size: 2 << 20, PieceLength: 64 << 10,
		Leecher: engine.Config{PieceMemory: 512 << 10}})
	w := StartWatch()
	start := time.Now()
	p := leechWithHostileFirst(t, sw, 61, func(p *Peer, m peerwire.Message) error {
		if m.ID != peerwire.Request || m.Begin != 0 {
			return nil
		}
		return p.Send(peerwire.Message{ID: peerwire.Piece, Index: m.Index, Begin: 0,
			Payload: sw.Content.Block(int(m.Index), 0, int(m.Length))})
	})
	sw.WaitLeecher(t, leechTimeout)
	t.Logf("complete %v after the hog joined; it got %d requests", time.Since(start).Round(time.Millisecond), p.Count(peerwire.Request))
	w.Check(t, goroutineBound, heapBound)
}

// TestStateFlood: floods of the four state messages. A peer toggling
// CHOKE and UNCHOKE at the leecher (whose requests each UNCHOKE may
// draw), and a peer toggling INTERESTED and NOT_INTERESTED at the seeder
// (whose upload slots each may move), cost bounded work and memory;
// either peer is served or dropped, never able to stall the download.
func TestStateFlood(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{Size: 2 << 20})
	w := StartWatch()
	toggler := leechWithHostileFirst(t, sw, 62, func(*Peer, peerwire.Message) error { return nil })
	chokes := msg(peerwire.Message{ID: peerwire.Choke}, peerwire.Message{ID: peerwire.Unchoke})
	interest := msg(peerwire.Message{ID: peerwire.Interested}, peerwire.Message{ID: peerwire.NotInterested})
	done := make(chan struct{})
	go func() {
		defer close(done)
		fickle, _, err := handshakeErr(Addr(63), sw.SeederAddr(t), sw.Content.MetaInfo.InfoHash, fastExt())
		if err != nil {
			t.Error(err)
			return
		}
		defer fickle.Close()
		fickle.Serve(nil)
		fickle.Send(peerwire.Message{ID: peerwire.HaveNone})
		for range 200 {
			var b []byte
			for range 500 {
				b = append(b, interest...)
			}
			if fickle.Write(b) != nil {
				break
			}
		}
	}()
	for range 200 {
		var b []byte
		for range 500 {
			b = append(b, chokes...)
		}
		if toggler.Write(b) != nil {
			break
		}
	}
	sw.WaitLeecher(t, leechTimeout)
	<-done
	t.Logf("toggler got %d requests; leecher still connected to it: %v", toggler.Count(peerwire.Request), HasPeer(sw.LeecherTorrent, Addr(62)))
	w.Check(t, goroutineBound, heapBound)
}
