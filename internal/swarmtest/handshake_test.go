package swarmtest

import (
	"bytes"
	"io"
	"testing"
	"time"

	"shoal/metainfo"
	"shoal/peerwire"
)

// bytesUntilClosed reads what arrives until the far end closes (true) or
// timeout passes (false), and returns how many bytes came.
func bytesUntilClosed(p *Peer, timeout time.Duration) (int64, bool) {
	p.nc.SetReadDeadline(time.Now().Add(timeout))
	n, err := io.Copy(io.Discard, p.nc)
	return n, err == nil || IsClosed(err)
}

// TestGarbageBeforeHandshake: anything but a BitTorrent handshake as the
// first bytes (BEP 3: the handshake starts with 19 and "BitTorrent
// protocol") is hung up on without a byte in answer; an honest leecher's
// download from the same seeder completes meanwhile.
func TestGarbageBeforeHandshake(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{})
	w := StartWatch()
	ih := sw.Content.MetaInfo.InfoHash
	good := peerwire.AppendHandshake(nil, peerwire.Handshake{InfoHash: ih, PeerID: hostileID()})
	cases := []struct {
		name string
		raw  []byte
	}{
		{"http request", []byte("GET /announce?info_hash=x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")},
		{"a message first", msg(peerwire.Message{ID: peerwire.Interested}, peerwire.Message{ID: peerwire.Request, Length: 1})},
		{"a bitfield first", msg(peerwire.Message{ID: peerwire.Bitfield, Payload: []byte{0xff}})},
		{"protocol string misspelt", append([]byte{19}, "BitTorrent protocoX"...)},
		{"protocol length 255", append([]byte{255}, bytes.Repeat([]byte("A"), 300)...)},
		{"protocol length 0", make([]byte, 68)},
		{"handshake shifted by one byte", append([]byte{0}, good...)},
		{"random bytes", bytes.Repeat([]byte{0x13, 0x37, 0xfe}, 400)},
	}
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		for _, tc := range cases {
			p, err := DialErr(Addr(30), sw.SeederAddr(t))
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if err := p.Write(tc.raw); err != nil && !IsClosed(err) {
				t.Errorf("%s: %v", tc.name, err)
			}
			if n, closed := bytesUntilClosed(p, closeWait); !closed || n != 0 {
				t.Errorf("%s: got %d bytes back, closed %v; want 0 bytes, closed", tc.name, n, closed)
			}
			p.Close()
		}
	})
	w.Check(t, goroutineBound, heapBound)
}

// TestWrongInfoHash: a handshake for a torrent the seeder does not have
// is hung up on before the seeder says anything (so a scanner learns
// nothing); a peer we dial that answers for another torrent is dropped.
func TestWrongInfoHash(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{})
	w := StartWatch()
	var wrong metainfo.InfoHash
	copy(wrong[:], bytes.Repeat([]byte{0xab}, len(wrong)))
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		p, err := DialErr(Addr(31), sw.SeederAddr(t))
		if err != nil {
			t.Error(err)
			return
		}
		defer p.Close()
		if err := p.SendHandshake(peerwire.Handshake{Reserved: fastExt(), InfoHash: wrong, PeerID: hostileID()}); err != nil {
			t.Error(err)
		}
		if n, closed := bytesUntilClosed(p, closeWait); !closed || n != 0 {
			t.Errorf("incoming handshake for another torrent: got %d bytes back, closed %v; want 0, closed", n, closed)
		}
	})
	// Outgoing: the leecher dials a peer that answers for another torrent.
	ln := Listen(t, Addr(32))
	if err := sw.LeecherTorrent.AddPeers(ln.Addr()); err != nil {
		t.Fatal(err)
	}
	p, err := ln.Accept(closeWait)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	theirs, err := p.ReadHandshake(closeWait)
	if err != nil {
		t.Fatal(err)
	}
	if theirs.InfoHash != sw.Content.MetaInfo.InfoHash {
		t.Errorf("leecher dialled for %x, want %x", theirs.InfoHash, sw.Content.MetaInfo.InfoHash)
	}
	if err := p.SendHandshake(peerwire.Handshake{Reserved: fastExt(), InfoHash: wrong, PeerID: hostileID()}); err != nil {
		t.Fatal(err)
	}
	if !p.WaitClosed(closeWait) {
		t.Error("leecher kept a peer that answered for another torrent")
	}
	if HasPeer(sw.LeecherTorrent, Addr(32)) {
		t.Error("peer with the wrong info hash is listed")
	}
	w.Check(t, goroutineBound, heapBound)
}

// TestOwnPeerID: a handshake carrying the session's own peer id is a
// connection to ourselves (a tracker or PEX gave us our own address) or a
// peer pretending to be us: closed, both incoming and outgoing.
func TestOwnPeerID(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{})
	w := StartWatch()
	ih := sw.Content.MetaInfo.InfoHash
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		p, err := DialErr(Addr(33), sw.SeederAddr(t))
		if err != nil {
			t.Error(err)
			return
		}
		defer p.Close()
		// The seeder answers once it has read the info hash, before the
		// peer id, as BEP 3 allows; it hangs up when the id is its own.
		theirs, err := p.Handshake(peerwire.Handshake{Reserved: fastExt(), InfoHash: ih, PeerID: sw.Seeder.PeerID()}, closeWait)
		if err == nil && theirs.PeerID != sw.Seeder.PeerID() {
			t.Errorf("seeder answered with peer id %q, not its own", theirs.PeerID[:])
		}
		if !p.WaitClosed(closeWait) {
			t.Error("seeder kept a connection carrying its own peer id")
		}
	})
	// Outgoing: the peer the leecher dials echoes the leecher's own id.
	ln := Listen(t, Addr(34))
	if err := sw.LeecherTorrent.AddPeers(ln.Addr()); err != nil {
		t.Fatal(err)
	}
	p, err := ln.Accept(closeWait)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	theirs, err := p.ReadHandshake(closeWait)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SendHandshake(peerwire.Handshake{Reserved: fastExt(), InfoHash: ih, PeerID: theirs.PeerID}); err != nil {
		t.Fatal(err)
	}
	if !p.WaitClosed(closeWait) {
		t.Error("leecher kept a connection to a peer with its own peer id")
	}
	if HasPeer(sw.LeecherTorrent, Addr(34)) {
		t.Error("peer with our own id is listed")
	}
	w.Check(t, goroutineBound, heapBound)
}

// TestPeerIDSquatting: a hostile peer that connects first under an honest
// peer's id (peer ids travel in the clear, in handshakes and non-compact
// tracker replies) must not lock that peer out: a Session keeps one
// connection per peer id only for connections from the same IP.
func TestPeerIDSquatting(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{})
	w := StartWatch()
	squatter := Dial(t, Addr(35), sw.SeederAddr(t))
	if _, err := squatter.Handshake(peerwire.Handshake{Reserved: fastExt(), InfoHash: sw.Content.MetaInfo.InfoHash, PeerID: sw.Leecher.PeerID()}, closeWait); err != nil {
		t.Fatal(err)
	}
	squatter.Serve(nil)
	if err := squatter.Send(peerwire.Message{ID: peerwire.HaveNone}); err != nil {
		t.Fatal(err)
	}
	if !WaitPeer(sw.SeederTorrent, Addr(35), true, closeWait) {
		t.Fatal("squatter not connected")
	}
	sw.StartLeecher(t)
	sw.WaitLeecher(t, leechTimeout)
	w.Check(t, goroutineBound, heapBound)
}
