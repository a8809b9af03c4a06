package swarmtest

import (
	"net/netip"
	"testing"
	"time"

	"shoal/metainfo"
	"shoal/peerwire"
)

// closeWait is how long a test waits for a Session to hang up on a peer
// that broke the rules: generous, since the whole suite may share two
// busy cores; a correct engine closes at once.
const closeWait = 10 * time.Second

// leechTimeout bounds an honest download (of a few MiB on loopback).
const leechTimeout = 60 * time.Second

// Bounds on what a hostile peer may make a Session use, over the baseline
// taken before it connects (an honest leecher downloading alongside
// included): goroutines, and heap in use. The floods send more than
// heapBound in all, so a Session that kept what it is sent would fail.
const (
	goroutineBound = 80
	heapBound      = 32 << 20
)

// hostileID returns a fresh peer id for a hostile peer: a Session keeps
// one connection per peer id, so two hostile peers must not share one.
func hostileID() peerwire.PeerID { return peerwire.NewPeerID("-HO0001-") }

// fastExt advertises the fast extension (BEP 6) and the extension
// protocol (BEP 10), as Shoal does.
func fastExt() peerwire.Reserved {
	var r peerwire.Reserved
	r.SetFast(true)
	r.SetExtended(true)
	return r
}

// handshakeErr dials to from ip and completes a handshake for ih with
// reserved bits res; the caller closes the Peer.
func handshakeErr(from netip.Addr, to netip.AddrPort, ih metainfo.InfoHash, res peerwire.Reserved) (*Peer, peerwire.Handshake, error) {
	p, err := DialErr(from, to)
	if err != nil {
		return nil, peerwire.Handshake{}, err
	}
	hs, err := p.Handshake(peerwire.Handshake{Reserved: res, InfoHash: ih, PeerID: hostileID()}, closeWait)
	if err != nil {
		p.Close()
		return nil, hs, err
	}
	return p, hs, nil
}

// joined dials to from ip, completes a handshake with the fast extension
// and BEP 10 and says it has no pieces (BEP 6 HAVE_NONE), then reads in
// the background (Serve) with handle.
func joined(t testing.TB, from netip.Addr, to netip.AddrPort, ih metainfo.InfoHash, handle func(*Peer, peerwire.Message) error) *Peer {
	t.Helper()
	p, _, err := handshakeErr(from, to, ih, fastExt())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if err := p.Send(peerwire.Message{ID: peerwire.HaveNone}); err != nil {
		t.Fatal(err)
	}
	p.Serve(handle)
	return p
}

// answered reports whether the Session answers a request (with the block
// or a BEP 6 REJECT) within closeWait: a peer whose earlier messages were
// ignored is still served; one that was disconnected is not.
func answered(p *Peer) bool {
	before := p.Count(peerwire.Reject) + p.Count(peerwire.Piece)
	if err := p.Send(peerwire.Message{ID: peerwire.Request, Index: 0, Begin: 0, Length: 1}); err != nil {
		return false
	}
	deadline := time.Now().Add(closeWait)
	for p.Count(peerwire.Reject)+p.Count(peerwire.Piece) == before {
		if time.Now().After(deadline) || p.ServeErr() != nil {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// waitFor polls cond every few milliseconds for up to timeout.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// stopped reports whether stop is closed, without waiting.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}
