package engine

import (
	"net"
	"testing"
	"time"

	"shoal/bitfield"
	"shoal/peerwire"
)

// rawPeer is a test's side of one connection, speaking the wire protocol
// by hand (with the fast extension).
type rawPeer struct {
	t  *testing.T
	c  net.Conn
	r  *peerwire.Reader
	np int
}

func dialRaw(t *testing.T, s *Session, ih [20]byte, np int, id string) *rawPeer {
	t.Helper()
	var res peerwire.Reserved
	res.SetFast(true)
	return dialRawAs(t, s, ih, np, id, res)
}

// dialRawAs is dialRaw announcing the extensions in res.
func dialRawAs(t *testing.T, s *Session, ih [20]byte, np int, id string, res peerwire.Reserved) *rawPeer {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := peerwire.WriteHandshake(c, peerwire.Handshake{Reserved: res, InfoHash: ih, PeerID: peerwire.NewPeerID(id)}); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, _, err := peerwire.ReadHandshakeStart(c); err != nil {
		t.Fatal(err)
	}
	if _, err := peerwire.ReadPeerID(c); err != nil {
		t.Fatal(err)
	}
	return &rawPeer{t: t, c: c, r: peerwire.NewReader(c, peerwire.ReaderOptions{NumPieces: np}), np: np}
}

func (rp *rawPeer) send(m peerwire.Message) {
	rp.t.Helper()
	if _, err := rp.c.Write(peerwire.AppendMessage(nil, m)); err != nil {
		rp.t.Fatal(err)
	}
}

// next returns the next message that is not a keep-alive or an extension
// message.
func (rp *rawPeer) next() peerwire.Message {
	rp.t.Helper()
	for {
		m, err := rp.r.ReadMessage()
		if err != nil {
			rp.t.Fatal(err)
		}
		if !m.KeepAlive && m.ID != peerwire.Extended {
			return m
		}
	}
}

// nextHave skips to the next HAVE and returns its piece.
func (rp *rawPeer) nextHave() int {
	rp.t.Helper()
	for {
		m := rp.next()
		switch m.ID {
		case peerwire.Have:
			return int(m.Index)
		case peerwire.HaveAll, peerwire.Bitfield:
			rp.t.Fatalf("a super-seeder sent %v", m.ID)
		}
	}
}

// superSeeder starts a session seeding a torrent of 8 pieces of 64 KiB.
func superSeedFixture(t *testing.T, cfg Config) (fixture, *Session) {
	fx := makeFixture(t, 64<<10, 512<<10)
	s := newTestSession(t, cfg)
	tor, err := s.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, tor, 10*time.Second)
	return fx, s
}

// TestSuperSeedOffersDistinctPieces: a super-seeder claims no pieces
// (HAVE_NONE), then offers each peer pieces nobody else was offered: one
// while the peer is choked, a second once it is unchoked, a new one each
// time the peer announces an offered piece. Once every piece is at a peer,
// it announces the rest and seeds as usual.
func TestSuperSeedOffersDistinctPieces(t *testing.T) {
	fx, s := superSeedFixture(t, Config{SuperSeed: SuperSeedOn})
	np := fx.mi.Info.NumPieces()
	a := dialRaw(t, s, fx.mi.InfoHash, np, "-TA0000-")
	if m := a.next(); m.ID != peerwire.HaveNone {
		t.Fatalf("first message %v, want HAVE_NONE", m.ID)
	}
	offered := map[int]string{}
	offer := func(who string, i int) {
		t.Helper()
		if prev, ok := offered[i]; ok {
			t.Fatalf("piece %d offered to %s after %s while others were never offered", i, who, prev)
		}
		offered[i] = who
	}
	offer("a", a.nextHave())
	a.send(peerwire.Message{ID: peerwire.Interested})
	// Unchoked, it gets a second offer (64 KiB pieces: two keep 128 KiB
	// queued).
	offer("a", a.nextHave())

	b := dialRaw(t, s, fx.mi.InfoHash, np, "-TB0000-")
	if m := b.next(); m.ID != peerwire.HaveNone {
		t.Fatalf("first message %v, want HAVE_NONE", m.ID)
	}
	offer("b", b.nextHave())

	// a "downloads" its offers: each HAVE it sends brings a new offer,
	// until every piece has been offered once.
	aHas := map[int]bool{}
	for len(offered) < np {
		for i, who := range offered {
			if who == "a" && !aHas[i] {
				aHas[i] = true
				a.send(peerwire.Message{ID: peerwire.Have, Index: uint32(i)})
				break
			}
		}
		offer("a", a.nextHave())
	}
	// Every piece is now at a or offered to b. Once b announces its
	// offers and a the rest, every piece is at a peer: super-seeding
	// ends, and b hears of every piece it was not told of.
	told := map[int]bool{}
	for i, who := range offered {
		if who == "b" {
			told[i] = true
			b.send(peerwire.Message{ID: peerwire.Have, Index: uint32(i)})
		} else if !aHas[i] {
			a.send(peerwire.Message{ID: peerwire.Have, Index: uint32(i)})
		}
	}
	for len(told) < np {
		told[b.nextHave()] = true
	}
}

// TestSuperSeedAuto: with SuperSeedAuto a seeder super-seeds only while
// its upload is capped.
func TestSuperSeedAuto(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		first peerwire.MessageID
	}{
		{"uncapped", Config{}, peerwire.HaveAll},
		{"capped", Config{UploadRate: 1 << 20}, peerwire.HaveNone},
		{"off", Config{UploadRate: 1 << 20, SuperSeed: SuperSeedOff}, peerwire.HaveAll},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx, s := superSeedFixture(t, tc.cfg)
			a := dialRaw(t, s, fx.mi.InfoHash, fx.mi.Info.NumPieces(), "-TA0000-")
			if m := a.next(); m.ID != tc.first {
				t.Fatalf("first message %v, want %v", m.ID, tc.first)
			}
		})
	}
}

// TestSuperSeedSwarm: capped leechers complete from a capped super-seeder
// with the right data.
func TestSuperSeedSwarm(t *testing.T) {
	fx := makeFixture(t, 16<<10, 1<<20)
	const rate = 1 << 20
	seeder := newTestSession(t, Config{UploadRate: rate})
	if _, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir}); err != nil {
		t.Fatal(err)
	}
	leechSwarm(t, fx, seeder, 4, Config{UploadRate: rate})
}

// TestNeedsHave: a HAVE is skipped only for an interested peer that has
// the piece; a super-seeder, never interested, hears of every piece.
func TestNeedsHave(t *testing.T) {
	has := bitfield.New(8)
	has.Set(3)
	var tor Torrent
	for _, c := range []struct {
		name       string
		has        *bitfield.Bitfield
		interested bool
		piece      int
		want       bool
	}{
		{"interested, has it", has, true, 3, false},
		{"interested, lacks it", has, true, 4, true},
		{"not interested, has it", has, false, 3, true},
		{"no bitfield yet", nil, true, 3, true},
	} {
		p := &peer{has: c.has, peerInterested: c.interested}
		if got := tor.needsHave(p, c.piece); got != c.want {
			t.Errorf("%s: needsHave = %v, want %v", c.name, got, c.want)
		}
	}
}
