package engine

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"shoal/bitfield"
	"shoal/internal/testkit"
)

// pipeConn returns a handshaked connection on one end of a pipe, and the
// other end, on which a read ends when our end is closed.
func pipeConn(t *testing.T, i int) (*handshakedConn, net.Conn) {
	t.Helper()
	ours, theirs := net.Pipe()
	t.Cleanup(func() { ours.Close(); theirs.Close() })
	hc := &handshakedConn{
		nc:       ours,
		addr:     netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 2}), uint16(10000+i)),
		incoming: true,
	}
	hc.peerID[0] = byte(i)
	return hc, theirs
}

// closedWithin reports whether the far end of a pipe sees its peer close
// within d (a read of a pipe whose other end is closed ends at once).
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// TestConnToEndedTorrentIsClosed: a connection whose handshake ends just
// as its torrent is removed (or the session closes) must be closed, not
// left in a channel no loop will read again.
func TestConnToEndedTorrentIsClosed(t *testing.T) {
	fx := makeFixture(t, 16<<10, 20<<10)
	s := newTestSession(t, Config{NoListen: true})
	tor, err := s.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, tor, 10*time.Second)
	if err := tor.Remove(false); err != nil {
		t.Fatal(err)
	}
	// The torrent's channels have room: a send may succeed after the loop
	// has ended, so try enough times for that to happen.
	for i := range 32 {
		hc, theirs := pipeConn(t, i)
		tor.deliverConn(hc)
		if !closedWithin(theirs, 5*time.Second) {
			t.Fatalf("delivery %d: connection to a removed torrent left open", i)
		}
	}
}

// TestParkedTorrentUnderConcurrentUse: calls, incoming connections, stops
// and starts arriving together at torrents that park and wake all the
// time must never be lost (a lost wake-up hangs a call) nor run two loops
// (the race detector would see two goroutines touching the state), and
// closing the session then leaves no goroutine behind.
func TestParkedTorrentUnderConcurrentUse(t *testing.T) {
	base := runtime.NumGoroutine()
	s := newTestSession(t, Config{DataDir: t.TempDir(), NoListen: true})
	var torrents []*Torrent
	for i := range 3 {
		fx := makeFixture(t, 16<<10, int64(20+i)<<10)
		tor, err := s.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
		if err != nil {
			t.Fatal(err)
		}
		waitComplete(t, tor, 10*time.Second)
		torrents = append(torrents, tor)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				tor := torrents[(w+i)%len(torrents)]
				var err error
				switch i % 5 {
				case 0:
					err = tor.Stop()
				case 1:
					err = tor.Start()
				case 2:
					hc, theirs := pipeConn(t, w*100+i)
					tor.deliverConn(hc)
					// A stopped torrent refuses it; a running one keeps it
					// until it is dropped. Either way it is not lost.
					theirs.Close()
				default:
					_ = tor.Stats()
					_ = tor.Files()
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("calls hang (a lost wake-up?)\n%s", buf[:runtime.Stack(buf, true)])
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkNoEngineGoroutines(t)
	testkit.WaitGoroutines(t, base)
}

// checkNoEngineGoroutines fails the test if a goroutine running the
// engine's code is still there shortly after its sessions closed: Close
// waits for its own goroutines, and connections it closed end at once.
func checkNoEngineGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var left []string
		for _, g := range strings.Split(stacks, "\n\n") {
			// Goroutines of tests (fake peers, helpers) are not the engine's.
			if strings.Contains(g, "shoal/engine") && !strings.Contains(g, "_test.go") {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d engine goroutines left after Close:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitParked waits until the loop of each torrent has parked: its
// goroutine ended, with nothing to do.
func waitParked(t *testing.T, torrents ...*Torrent) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, tor := range torrents {
		for {
			tor.wakeMu.Lock()
			parked := !tor.looping && !tor.loopEnded
			tor.wakeMu.Unlock()
			if parked {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: loop still running after 10 s idle", tor.Name())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// hashingWhenSkipped sets up a torrent of two 2-piece files of which the
// first is on disk, hands one piece of the second file to be hashed (with
// data(piece) as its bytes) while hashing is held, skips that file, then
// lets hashing go on. It returns the session, the torrent and the piece.
func hashingWhenSkipped(t *testing.T, data func(fx fixture, piece int) []byte) (*Session, *Torrent, int) {
	t.Helper()
	const pieceLen = 16 << 10 // one block per piece
	fx := makeFixture(t, pieceLen, 2*pieceLen, 2*pieceLen)
	out := t.TempDir()
	src, _ := fx.mi.Info.FilePath(fx.dataDir, 0)
	first, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst, _ := fx.mi.Info.FilePath(out, 0)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, first, 0o644); err != nil {
		t.Fatal(err)
	}
	s := newTestSession(t, Config{NoListen: true, HashWorkers: 1})
	tor, err := s.AddTorrent(fx.mi, AddOptions{SavePath: out})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for tor.Stats().State != StateDownloading {
		if time.Now().After(deadline) {
			t.Fatalf("not downloading after its check: %+v", tor.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.hashSem <- struct{}{} // hashing waits until we let it go
	piece := -1
	tor.call(func() {
		// A peer delivers a whole piece of the second file, which goes to
		// be hashed; then the user skips that file: nothing is wanted any
		// more, no peer is left.
		tor.ensurePeerChans()
		all := bitfield.New(fx.mi.Info.NumPieces())
		all.SetAll()
		if err := tor.picker.AddPeer(-1, all); err != nil {
			t.Error(err)
			return
		}
		blocks := tor.picker.Pick(-1, 1)
		if len(blocks) != 1 || !tor.picker.Received(-1, blocks[0]).PieceDone {
			t.Errorf("picked %v: not a whole piece", blocks)
			return
		}
		tor.picker.RemovePeer(-1)
		if !s.budget.TryAcquire(pieceLen) {
			t.Error("no piece memory")
			return
		}
		piece = blocks[0].Piece
		tor.hashPiece(piece, &pieceBuf{data: data(fx, piece), senders: make([]netip.Addr, 1)})
		tor.filePrio[1] = PrioritySkip
		tor.applyPriorities()
	})
	if t.Failed() {
		t.FailNow()
	}
	// Give the loop time to park, which it must not do before the piece
	// is hashed (a correct engine passes whatever the timing).
	time.Sleep(50 * time.Millisecond)
	<-s.hashSem
	// Nothing wakes the torrent from now on: its own loop must take the
	// result and give the memory back.
	deadline = time.Now().Add(10 * time.Second)
	for s.budget.InUse() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes of piece memory still held by an idle torrent", s.budget.InUse())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s, tor, piece
}

// TestNoParkWhileHashing: a piece still being hashed when the torrent
// becomes a seed (its file was skipped meanwhile) keeps the loop awake: a
// parked loop would leave the result in its channel, and the piece's
// memory taken from the session's budget, until something else woke it.
func TestNoParkWhileHashing(t *testing.T) {
	bad := func(fixture, int) []byte { return make([]byte, 16<<10) } // fails its hash: nothing is written
	_, tor, _ := hashingWhenSkipped(t, bad)
	waitParked(t, tor)
	if st := tor.Stats(); st.State != StateSeeding || st.Wasted != 16<<10 {
		t.Errorf("after the bad piece: %v, %d bytes wasted; want seeding, %d", st.State, st.Wasted, 16<<10)
	}
}

// TestSkippedWhileHashing: a good piece whose only file the user skips
// while it is being hashed cannot be written (storage.ErrNotWanted). That
// is no storage failure: the piece is dropped and the torrent goes on.
func TestSkippedWhileHashing(t *testing.T) {
	good := func(fx fixture, piece int) []byte {
		src, _ := fx.mi.Info.FilePath(fx.dataDir, 1)
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		return b[(piece-2)*16<<10 : (piece-1)*16<<10]
	}
	_, tor, piece := hashingWhenSkipped(t, good)
	st := tor.Stats()
	if st.State != StateSeeding || st.Err != nil {
		t.Fatalf("after skipping a file whose piece was being hashed: %v (%v); want seeding, no error", st.State, st.Err)
	}
	// The piece is not counted as ours, so wanting the file again
	// downloads it again.
	tor.call(func() {
		if tor.have.Has(piece) {
			t.Errorf("piece %d marked as had, but it was never written", piece)
		}
	})
}

// TestIdleParksWithoutDataDir: without a resume store the resume data is
// never saved, and that must not keep a seeding torrent's loop ticking
// every second for good.
func TestIdleParksWithoutDataDir(t *testing.T) {
	fx := makeFixture(t, 16<<10, 40<<10)
	s := newTestSession(t, Config{NoListen: true})
	tor, err := s.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, tor, 10*time.Second)
	waitParked(t, tor)
}
