package engine

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"shoal/bitfield"
	"shoal/metainfo"
	"shoal/peerwire"
)

// lyingSeeder is a peer that claims every piece and answers requests from
// the real data, except that it flips a byte in every block of the pieces
// in corrupt.
type lyingSeeder struct {
	ln      net.Listener
	mi      *metainfo.MetaInfo
	data    []byte // the torrent's content, concatenated
	corrupt map[int]bool
	// rejectFirst is how many requests to refuse with REJECT (BEP 6)
	// before serving any.
	rejectFirst int
	// lateBitfield makes it start with HAVE_NONE and send its full
	// BITFIELD a moment later, as aria2 does.
	lateBitfield bool
	requests     atomic.Int64 // REQUESTs received
}

func (ls *lyingSeeder) requestsSeen() int64 { return ls.requests.Load() }

// startLyingSeeder listens on addr and serves like ls says (ln is set here).
func startLyingSeeder(t *testing.T, addr string, ls *lyingSeeder) *lyingSeeder {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ls.ln = ln
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go ls.serve(c)
		}
	}()
	return ls
}

func (ls *lyingSeeder) addr() netip.AddrPort {
	return ls.ln.Addr().(*net.TCPAddr).AddrPort()
}

func (ls *lyingSeeder) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, _, err := peerwire.ReadHandshakeStart(c); err != nil {
		return
	}
	var res peerwire.Reserved
	res.SetFast(true)
	if err := peerwire.WriteHandshake(c, peerwire.Handshake{Reserved: res, InfoHash: ls.mi.InfoHash, PeerID: peerwire.NewPeerID("-XX0000-")}); err != nil {
		return
	}
	if _, err := peerwire.ReadPeerID(c); err != nil {
		return
	}
	w := bufio.NewWriter(c)
	if ls.lateBitfield {
		w.Write(peerwire.AppendMessage(nil, peerwire.Message{ID: peerwire.HaveNone}))
		w.Write(peerwire.AppendMessage(nil, peerwire.Message{ID: peerwire.Unchoke}))
		w.Flush()
		time.Sleep(100 * time.Millisecond)
		full := bitfield.New(ls.mi.Info.NumPieces())
		full.SetAll()
		w.Write(peerwire.AppendMessage(nil, peerwire.Message{ID: peerwire.Bitfield, Payload: full.Bytes()}))
	} else {
		w.Write(peerwire.AppendMessage(nil, peerwire.Message{ID: peerwire.HaveAll}))
		w.Write(peerwire.AppendMessage(nil, peerwire.Message{ID: peerwire.Unchoke}))
	}
	w.Flush()
	r := peerwire.NewReader(c, peerwire.ReaderOptions{NumPieces: ls.mi.Info.NumPieces()})
	for {
		m, err := r.ReadMessage()
		if err != nil {
			return
		}
		if m.ID != peerwire.Request || m.KeepAlive {
			continue
		}
		ls.requests.Add(1)
		if ls.rejectFirst > 0 {
			ls.rejectFirst--
			w.Write(peerwire.AppendMessage(nil, peerwire.Message{ID: peerwire.Reject, Index: m.Index, Begin: m.Begin, Length: m.Length}))
			if err := w.Flush(); err != nil {
				return
			}
			continue
		}
		off := int64(m.Index)*ls.mi.Info.PieceLength + int64(m.Begin)
		block := append([]byte(nil), ls.data[off:off+int64(m.Length)]...)
		if ls.corrupt[int(m.Index)] {
			block[0] ^= 0xff
		}
		w.Write(peerwire.AppendMessage(nil, peerwire.Message{ID: peerwire.Piece, Index: m.Index, Begin: m.Begin, Payload: block}))
		if err := w.Flush(); err != nil {
			return
		}
	}
}

// TestPeerSendingBadDataIsBanned: a peer serves corrupt pieces; the
// leecher bans it and completes from an honest seeder.
func TestPeerSendingBadDataIsBanned(t *testing.T) {
	fx := makeFixture(t, 16<<10, 256<<10)
	data, err := os.ReadFile(fx.dataDir + "/content")
	if err != nil {
		t.Fatal(err)
	}
	corrupt := map[int]bool{}
	for i := 0; i < fx.mi.Info.NumPieces(); i++ {
		corrupt[i] = true // it lies about everything: whatever we take from it fails
	}
	liar := startLyingSeeder(t, "127.0.0.2:0", &lyingSeeder{mi: fx.mi, data: data, corrupt: corrupt})
	leecher := newTestSession(t, Config{})
	out := t.TempDir()
	tor, err := leecher.AddTorrent(fx.mi, AddOptions{SavePath: out, Peers: []netip.AddrPort{liar.addr()}})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the liar has been caught, then bring in an honest seeder.
	deadline := time.Now().Add(20 * time.Second)
	for leecher.Banned()[liar.addr().Addr()] == "" {
		if time.Now().After(deadline) {
			t.Fatalf("liar not banned; stats %+v", tor.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := tor.Stats(); st.PiecesHave != 0 || st.Wasted == 0 {
		t.Errorf("after the bad pieces: %d pieces verified, %d bytes wasted", st.PiecesHave, st.Wasted)
	}
	// A banned address may not connect again.
	tor.AddPeers(liar.addr())
	seeder := newTestSession(t, Config{})
	if _, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir}); err != nil {
		t.Fatal(err)
	}
	tor.AddPeers(addrOf(t, seeder))
	waitComplete(t, tor, 30*time.Second)
	sameContent(t, fx.mi, fx.dataDir, out)
	for _, p := range tor.Peers() {
		if p.Addr.Addr() == liar.addr().Addr() {
			t.Error("banned peer is connected")
		}
	}
}

// TestRequestsToSilentPeerTimeOut: a peer that unchokes us and then never
// sends a block is snubbed, and its requests go to a peer that answers.
func TestRequestsToSilentPeerTimeOut(t *testing.T) {
	fx := makeFixture(t, 16<<10, 128<<10)
	// A peer that completes the handshake, claims everything, unchokes, and
	// then never answers.
	ln, err := net.Listen("tcp", "127.0.0.3:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		peerwire.ReadHandshakeStart(c)
		var res peerwire.Reserved
		res.SetFast(true)
		peerwire.WriteHandshake(c, peerwire.Handshake{Reserved: res, InfoHash: fx.mi.InfoHash, PeerID: peerwire.NewPeerID("-XX0000-")})
		peerwire.ReadPeerID(c)
		c.Write(peerwire.AppendMessage(nil, peerwire.Message{ID: peerwire.HaveAll}))
		c.Write(peerwire.AppendMessage(nil, peerwire.Message{ID: peerwire.Unchoke}))
		io.Copy(io.Discard, c)
	}()
	silent := ln.Addr().(*net.TCPAddr).AddrPort()
	leecher := newTestSession(t, Config{RequestTimeout: 2 * time.Second})
	out := t.TempDir()
	tor, err := leecher.AddTorrent(fx.mi, AddOptions{SavePath: out, Peers: []netip.AddrPort{silent}})
	if err != nil {
		t.Fatal(err)
	}
	// The silent peer takes our requests; after RequestTimeout it counts
	// as snubbed and its requests are released.
	snubbed := func() bool {
		for _, p := range tor.Peers() {
			if p.Addr == silent {
				return p.Snubbed
			}
		}
		return false
	}
	deadline := time.Now().Add(10 * time.Second)
	for !snubbed() {
		if time.Now().After(deadline) {
			t.Fatal("silent peer never marked snubbed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	seeder := newTestSession(t, Config{})
	if _, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir}); err != nil {
		t.Fatal(err)
	}
	tor.AddPeers(addrOf(t, seeder))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tor.WaitComplete(ctx); err != nil {
		t.Fatalf("requests held by a silent peer were never given to the seeder: %v", err)
	}
	sameContent(t, fx.mi, fx.dataDir, out)
}

// leechFromFake serves a 200 KiB torrent from a fake peer configured by
// ls (its mi and data are filled in here) on addr, and starts a leecher
// that knows only that peer.
func leechFromFake(t *testing.T, addr string, ls *lyingSeeder) (fx fixture, tor *Torrent, out string) {
	t.Helper()
	fx = makeFixture(t, 16<<10, 200<<10)
	data, err := os.ReadFile(fx.dataDir + "/content")
	if err != nil {
		t.Fatal(err)
	}
	ls.mi, ls.data = fx.mi, data
	startLyingSeeder(t, addr, ls)
	leecher := newTestSession(t, Config{})
	out = t.TempDir()
	tor, err = leecher.AddTorrent(fx.mi, AddOptions{SavePath: out, Peers: []netip.AddrPort{ls.addr()}})
	if err != nil {
		t.Fatal(err)
	}
	return fx, tor, out
}

// TestRejectedRequestsAreRetried: a peer that rejects our first requests
// (its queue was full, say) must get new ones; nothing else would wake the
// download up.
func TestRejectedRequestsAreRetried(t *testing.T) {
	fx, tor, out := leechFromFake(t, "127.0.0.4:0", &lyingSeeder{rejectFirst: 40})
	waitComplete(t, tor, 20*time.Second)
	sameContent(t, fx.mi, fx.dataDir, out)
}

// TestBitfieldAfterHaveNone: aria2 sends HAVE_NONE, then a BITFIELD once
// it has pieces, against BEP 3's letter; we take the later bitfield
// instead of disconnecting.
func TestBitfieldAfterHaveNone(t *testing.T) {
	fx, tor, out := leechFromFake(t, "127.0.0.5:0", &lyingSeeder{lateBitfield: true})
	waitComplete(t, tor, 20*time.Second)
	sameContent(t, fx.mi, fx.dataDir, out)
}

// TestPeerRejectingEverythingIsSnubbed: a peer that rejects every request
// gets one request at a time instead of an endless stream of them.
func TestPeerRejectingEverythingIsSnubbed(t *testing.T) {
	refuser := &lyingSeeder{rejectFirst: 1 << 30}
	_, tor, _ := leechFromFake(t, "127.0.0.6:0", refuser)
	deadline := time.Now().Add(10 * time.Second)
	for {
		peers := tor.Peers()
		if len(peers) == 1 && peers[0].Snubbed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a peer rejecting everything was not snubbed: %+v", peers)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Snubbed, it is asked once a second (an unbounded loop sends
	// thousands a second on loopback).
	before := refuser.requestsSeen()
	time.Sleep(2 * time.Second)
	if n := refuser.requestsSeen() - before; n > 4 {
		t.Errorf("%d requests to a snubbed peer in 2 s", n)
	}
}
