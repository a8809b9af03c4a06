package engine

import (
	"net/netip"
	"testing"
	"time"
)

// With piece memory for a single piece, every piece after the first waits
// for the one before it to be hashed and written. The loop must top up its
// requests as soon as that memory comes back, not at its next one-second
// tick: waiting for ticks left the connection idle for up to a second
// each time (the pair benchmark stalled for 0.5 s at a time whenever the
// disk fell behind), and this download would take about a tick per piece.
func TestRequestsResumeWhenPieceMemoryIsFreed(t *testing.T) {
	const pieceLength = 64 << 10
	const pieces = 24
	fx := makeFixture(t, pieceLength, pieces*pieceLength)
	seeder := newTestSession(t, Config{})
	leecher := newTestSession(t, Config{PieceMemory: pieceLength})
	st, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, st, 10*time.Second)
	out := t.TempDir()
	start := time.Now()
	lt, err := leecher.AddTorrent(fx.mi, AddOptions{SavePath: out, Peers: []netip.AddrPort{addrOf(t, seeder)}})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, lt, 60*time.Second)
	elapsed := time.Since(start)
	sameContent(t, fx.mi, fx.dataDir, out)
	// A tick per piece would be about 23 s; freed memory wakes the loop
	// at once, so the whole download takes well under a second here. The
	// bound leaves room for a slow machine and the race detector.
	if limit := time.Duration(pieces/3) * tickInterval; elapsed > limit {
		t.Fatalf("%d pieces through memory for one took %v (> %v): requests wait for the tick", pieces, elapsed.Round(time.Millisecond), limit)
	}
}

// Several torrents share piece memory for one piece: each release wakes
// the torrent waiting longest that it can serve, so all of them complete,
// none starves, and none waits for its tick.
func TestTorrentsShareScarcePieceMemory(t *testing.T) {
	const pieceLength = 64 << 10
	const perTorrent = 8
	seeder := newTestSession(t, Config{})
	leecher := newTestSession(t, Config{PieceMemory: pieceLength})
	var fixtures []fixture
	for i := range 3 {
		fx := makeFixture(t, pieceLength, int64(perTorrent*pieceLength+i)) // distinct contents
		st, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
		if err != nil {
			t.Fatal(err)
		}
		waitComplete(t, st, 10*time.Second)
		fixtures = append(fixtures, fx)
	}
	start := time.Now()
	var outs []string
	var torrents []*Torrent
	for _, fx := range fixtures {
		out := t.TempDir()
		lt, err := leecher.AddTorrent(fx.mi, AddOptions{SavePath: out, Peers: []netip.AddrPort{addrOf(t, seeder)}})
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
		torrents = append(torrents, lt)
	}
	for i, lt := range torrents {
		waitComplete(t, lt, 60*time.Second)
		sameContent(t, fixtures[i].mi, fixtures[i].dataDir, outs[i])
	}
	// About 27 pieces in all: a tick per piece would be ~27 s.
	if took, limit := time.Since(start), 9*tickInterval; took > limit {
		t.Fatalf("3 torrents through memory for one piece took %v (> %v)", took.Round(time.Millisecond), limit)
	}
}
