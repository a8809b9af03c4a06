package engine

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"shoal/peerwire"
)

// TestAllowedFastSet: a starting peer with the fast extension is sent its
// canonical allowed fast set (BEP 6), gets those pieces while choked, and
// is refused the others with REJECT.
func TestAllowedFastSet(t *testing.T) {
	fx := makeFixture(t, 16<<10, 1<<20) // 64 pieces
	s := newTestSession(t, Config{SuperSeed: SuperSeedOff})
	tor, err := s.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, tor, 10*time.Second)
	np := fx.mi.Info.NumPieces()
	want := peerwire.AllowedFastSet(netip.MustParseAddr("127.0.0.1"), fx.mi.InfoHash, np, allowedFastK)
	if len(want) != allowedFastK {
		t.Fatalf("canonical set has %d pieces, want %d", len(want), allowedFastK)
	}

	p := dialRaw(t, s, fx.mi.InfoHash, np, "-TA0000-")
	p.send(peerwire.Message{ID: peerwire.HaveNone})
	var got []uint32
	for len(got) < len(want) {
		switch m := p.next(); m.ID {
		case peerwire.AllowedFast:
			got = append(got, m.Index)
		case peerwire.Unchoke:
			t.Fatal("unchoked a peer that is not interested")
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("allowed fast set %v, want the canonical %v", got, want)
	}
	// Not interested, so still choked: a piece of the set is served, any
	// other piece rejected.
	in := want[0]
	var out uint32
	for slices.Contains(want, out) {
		out++
	}
	p.send(peerwire.Message{ID: peerwire.Request, Index: out, Begin: 0, Length: 16 << 10})
	p.send(peerwire.Message{ID: peerwire.Request, Index: in, Begin: 0, Length: 16 << 10})
	var rejected, served bool
	for !rejected || !served {
		switch m := p.next(); m.ID {
		case peerwire.Reject:
			if m.Index != out {
				t.Fatalf("rejected piece %d, which is in the allowed fast set", m.Index)
			}
			rejected = true
		case peerwire.Piece:
			if m.Index != in {
				t.Fatalf("sent piece %d to a choked peer; only %d was allowed", m.Index, in)
			}
			served = true
		}
	}
}

// A peer that is no longer starting (it has allowedFastK pieces) gets no
// more pieces while choked, even from its set.
func TestAllowedFastOnlyWhileStarting(t *testing.T) {
	tor := &Torrent{}
	p := &peer{allowedFastOut: []uint32{3, 7}}
	if !tor.allowedFastFor(p, 7) || tor.allowedFastFor(p, 4) {
		t.Fatal("a starting peer must get exactly its set")
	}
	p.haveAll = true
	if tor.allowedFastFor(p, 7) {
		t.Fatal("a seed got a piece from its allowed fast set")
	}
}

// A seed's SUGGEST (BEP 6) is followed: the first pieces we request from it
// are the ones it suggested, in order, not those of our own choosing.
func TestSuggestedPiecesRequestedFirst(t *testing.T) {
	fx := makeFixture(t, 16<<10, 1<<20) // 64 pieces of one block each
	s, _ := metadataSeeder(t, fx.mi)    // the torrent without its data: downloading
	np := fx.mi.Info.NumPieces()
	p := dialRaw(t, s, fx.mi.InfoHash, np, "-TS0000-")
	suggested := []uint32{37, 11}
	var batch []byte
	for _, m := range []peerwire.Message{
		{ID: peerwire.HaveAll},
		{ID: peerwire.Suggest, Index: suggested[0]},
		{ID: peerwire.Suggest, Index: suggested[1]},
		{ID: peerwire.Unchoke},
	} {
		batch = peerwire.AppendMessage(batch, m)
	}
	if _, err := p.c.Write(batch); err != nil {
		t.Fatal(err)
	}
	var requested []uint32
	for len(requested) < 2 {
		if m := p.next(); m.ID == peerwire.Request && !slices.Contains(requested, m.Index) {
			requested = append(requested, m.Index)
		}
	}
	if !slices.Equal(requested, suggested) {
		t.Fatalf("first pieces requested %v, want the suggested %v", requested, suggested)
	}
}
