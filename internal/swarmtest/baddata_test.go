package swarmtest

import (
	"testing"

	"shoal/engine"
	"shoal/peerwire"
)

// TestWrongDataIsBanned: a peer that claims every piece and answers every
// request with corrupted data is banned by IP once a piece it sent fails
// its hash check (BEP 3: pieces are checked against their SHA-1), may not
// connect again, and the download completes from the honest seeder.
func TestWrongDataIsBanned(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{Size: 2 << 20, PieceLength: 64 << 10})
	w := StartWatch()
	liarIP := Addr(10)
	tor := sw.StartLeecherWith(t, nil)
	if !waitFor(leechTimeout, func() bool { return tor.Stats().State == engine.StateDownloading }) {
		t.Fatalf("leecher not downloading: %+v", tor.Stats())
	}
	liar := joined(t, liarIP, sw.LeecherAddr(t), sw.Content.MetaInfo.InfoHash, func(liar *Peer, m peerwire.Message) error {
		if m.ID != peerwire.Request {
			return nil
		}
		block := sw.Content.Block(int(m.Index), int64(m.Begin), int(m.Length))
		if block == nil {
			t.Errorf("leecher requested %v, outside the torrent", m)
			return nil
		}
		block[0] ^= 0xff
		return liar.Send(peerwire.Message{ID: peerwire.Piece, Index: m.Index, Begin: m.Begin, Payload: block})
	})
	// joined said HAVE_NONE; now it claims everything (BEP 6 lets a later
	// bitfield replace it here, as aria2 does) and unchokes.
	if err := liar.Send(peerwire.Message{ID: peerwire.HaveAll}, peerwire.Message{ID: peerwire.Unchoke}); err != nil {
		t.Fatal(err)
	}
	if !waitFor(closeWait, func() bool { return liar.Count(peerwire.Request) > 0 }) {
		t.Fatal("the leecher never asked the liar for a block")
	}
	// The honest seeder joins while the liar is serving.
	if err := tor.AddPeers(sw.SeederAddr(t)); err != nil {
		t.Fatal(err)
	}
	sw.WaitLeecher(t, leechTimeout)
	if why := sw.Leecher.Banned()[liarIP]; why == "" {
		t.Errorf("liar not banned; banned: %v", sw.Leecher.Banned())
	} else {
		t.Logf("banned: %s", why)
	}
	if !liar.WaitClosed(closeWait) {
		t.Error("banned liar still connected")
	}
	if st := tor.Stats(); st.Wasted == 0 {
		t.Errorf("no bytes counted as wasted: %+v", st)
	}
	// A banned address is refused before the handshake is answered.
	again := Dial(t, liarIP, sw.LeecherAddr(t))
	if _, err := again.Handshake(peerwire.Handshake{Reserved: fastExt(), InfoHash: sw.Content.MetaInfo.InfoHash, PeerID: hostileID()}, closeWait); !IsClosed(err) {
		t.Errorf("banned address reconnecting: handshake answered (err %v)", err)
	}
	if HasPeer(tor, liarIP) {
		t.Error("banned peer connected again")
	}
	w.Check(t, goroutineBound, heapBound)
}

// junkBlock is a block of zeros for piece i, never requested.
func junkBlock(i int) peerwire.Message {
	return peerwire.Message{ID: peerwire.Piece, Index: uint32(i), Begin: 0, Payload: make([]byte, peerwire.BlockSize)}
}

// TestUnrequestedBlocks: a peer that has nothing and sends blocks of junk
// for pieces the leecher is downloading, never asked for, does not spoil
// the download (the junk is not taken into pieces, or, where it was, the
// piece fails, is fetched again and its sender banned), and is
// disconnected after a bounded number of them (BEP 6: a block never
// requested closes the connection; see maxUnrequestedBlocks in
// engine/torrent_messages.go for why not at the first).
func TestUnrequestedBlocks(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{Size: 4 << 20, PieceLength: 64 << 10,
		Seeder: engine.Config{UploadRate: 4 << 20}}) // the download lasts about a second
	w := StartWatch()
	ip := Addr(11)
	n := sw.Content.NumPieces()
	sent := 0
	sw.LeechWhile(t, leechTimeout, func(stop <-chan struct{}) {
		downloading := func() bool { return sw.LeecherTorrent.Stats().State == engine.StateDownloading }
		if !waitFor(closeWait, downloading) {
			t.Error("leecher not downloading")
			return
		}
		p, _, err := handshakeErr(ip, sw.LeecherAddr(t), sw.Content.MetaInfo.InfoHash, fastExt())
		if err != nil {
			t.Error(err)
			return
		}
		defer p.Close()
		p.Serve(nil)
		p.Send(peerwire.Message{ID: peerwire.HaveNone})
		for ; sent < 10000 && !stopped(stop); sent++ {
			if err := p.Send(junkBlock(sent % n)); err != nil {
				break // closed by the leecher
			}
		}
		if !p.WaitClosed(closeWait) {
			t.Errorf("peer sending %d unrequested blocks still connected", sent)
		}
	})
	t.Logf("%d junk blocks sent before the leecher hung up; banned: %v", sent, sw.Leecher.Banned())
	w.Check(t, goroutineBound, heapBound)
}

// TestBlocksForPiecesWeHave: blocks for pieces the seeder has are
// ignored (counted as wasted; BEP 3 has blocks arrive after a request was
// cancelled), the connection stays, until the peer has sent more than any
// request queue could explain; then it is disconnected. An honest
// leecher's download from the same seeder completes meanwhile.
func TestBlocksForPiecesWeHave(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{Size: 2 << 20})
	w := StartWatch()
	ip := Addr(12)
	n := sw.Content.NumPieces()
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		p, _, err := handshakeErr(ip, sw.SeederAddr(t), sw.Content.MetaInfo.InfoHash, fastExt())
		if err != nil {
			t.Error(err)
			return
		}
		defer p.Close()
		p.Serve(nil)
		p.Send(peerwire.Message{ID: peerwire.HaveNone})
		const ignored = 200
		for i := range ignored {
			b := sw.Content.Block(i%n, 0, peerwire.BlockSize) // even the right data
			if err := p.Send(peerwire.Message{ID: peerwire.Piece, Index: uint32(i % n), Payload: b}); err != nil {
				t.Errorf("block %d: %v", i, err)
				return
			}
		}
		if !answered(p) {
			t.Errorf("seeder hung up after %d blocks of pieces it has", ignored)
			return
		}
		if st := sw.SeederTorrent.Stats(); st.Wasted < ignored*peerwire.BlockSize {
			t.Errorf("seeder counted %d bytes wasted, want at least %d", st.Wasted, ignored*peerwire.BlockSize)
		}
		for i := 0; i < 5000; i++ {
			if err := p.Send(junkBlock(i % n)); err != nil {
				break
			}
		}
		if !p.WaitClosed(closeWait) {
			t.Error("peer flooding blocks of pieces the seeder has still connected")
		}
	})
	if !WaitPeer(sw.SeederTorrent, ip, false, closeWait) {
		t.Error("seeder still lists the flooding peer")
	}
	w.Check(t, goroutineBound, heapBound)
}
