package peerconn

import (
	"context"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"shoal/peerwire"
)

// These tests never assert how long something took. A limiter refilling
// at one byte per second with a large burst shows exactly how many tokens
// were taken; one that is empty shows that nothing gets past it.

func TestUploadLimiterPaysForEveryByte(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			const burst = 4 << 20
			lim := rate.NewLimiter(1, burst)
			ours, theirs := tr.pair(t)
			st := &fakeStorage{}
			c, _ := newTestConn(t, ours, Options{ReadBlock: st.ReadBlock, UploadLimiters: Limiters{lim}})
			peer := newFakePeer(t, theirs)
			const blocks = 64
			for i := range blocks {
				if !c.QueueUpload(i/4, int64(i%4)*peerwire.BlockSize, peerwire.BlockSize) {
					t.Fatalf("QueueUpload %d = false", i)
				}
			}
			start := time.Now()
			for i := range blocks {
				checkPiece(t, peer.readSkipKeepAlive(), Request{Piece: i / 4, Begin: int64(i%4) * peerwire.BlockSize, Length: peerwire.BlockSize})
			}
			taken := burst - lim.Tokens()
			refill := time.Since(start).Seconds() + 1
			if want := float64(blocks * peerwire.BlockSize); taken < want-refill || taken > want {
				t.Fatalf("limiter gave %.0f tokens, want %.0f (payload bytes)", taken, want)
			}
		})
	}
}

func TestUploadLimiterHoldsBlocks(t *testing.T) {
	lim := rate.NewLimiter(1, peerwire.BlockSize)
	lim.AllowN(time.Now(), peerwire.BlockSize) // empty: the next block waits hours
	ours, _ := pipePair(t)
	st := &fakeStorage{}
	c, events := newTestConn(t, ours, Options{ReadBlock: st.ReadBlock, UploadLimiters: Limiters{lim}})
	c.QueueUpload(0, 0, peerwire.BlockSize)
	time.Sleep(50 * time.Millisecond)
	if n := len(st.readsSoFar()); n != 0 {
		t.Fatalf("ReadBlock called %d times before the limiter allowed it", n)
	}
	// A Conn waiting on its limiter still closes promptly.
	c.Close(nil)
	if ev := nextEvent(t, events); !ev.Closed {
		t.Fatalf("got %+v", ev)
	}
	waitDone(t, c)
}

func TestUploadLimiterWaitLetsControlThroughAndCancel(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			lim := rate.NewLimiter(1, peerwire.BlockSize)
			lim.AllowN(time.Now(), peerwire.BlockSize) // empty: a block waits hours
			ours, theirs := tr.pair(t)
			st := &fakeStorage{}
			c, _ := newTestConn(t, ours, Options{ReadBlock: st.ReadBlock, UploadLimiters: Limiters{lim}})
			peer := newFakePeer(t, theirs)
			c.QueueUpload(0, 0, peerwire.BlockSize)
			eventually(t, "the writer to take the request", func() bool { return c.QueuedUploads() == 0 })
			// The writer waits for upload tokens; our own messages still go.
			c.Send(peerwire.Message{ID: peerwire.Request, Index: 4, Begin: 0, Length: peerwire.BlockSize})
			if m := peer.readSkipKeepAlive(); m.ID != peerwire.Request || m.Index != 4 {
				t.Fatalf("got %v, want the REQUEST", m)
			}
			if !c.CancelUpload(0, 0, peerwire.BlockSize) {
				t.Fatal("CancelUpload of the request waiting on the limiter = false")
			}
			// The cancelled wait gives its tokens back.
			eventually(t, "tokens returned", func() bool { return lim.Tokens() > -100 })
			c.Send(peerwire.Message{ID: peerwire.Have, Index: 9})
			if m := peer.readSkipKeepAlive(); m.ID != peerwire.Have || m.Index != 9 {
				t.Fatalf("got %v, want HAVE 9 and no PIECE", m)
			}
			if n := len(st.readsSoFar()); n != 0 {
				t.Fatalf("ReadBlock called %d times for a cancelled request", n)
			}
		})
	}
}

func TestUploadLimiterSmallBurstIsSplit(t *testing.T) {
	// A burst smaller than a block still lets blocks through, in steps.
	lim := rate.NewLimiter(rate.Limit(1<<30), 1000)
	ours, theirs := pipePair(t)
	st := &fakeStorage{}
	c, _ := newTestConn(t, ours, Options{ReadBlock: st.ReadBlock, UploadLimiters: Limiters{lim}})
	peer := newFakePeer(t, theirs)
	c.QueueUpload(2, 0, peerwire.BlockSize)
	checkPiece(t, peer.readSkipKeepAlive(), Request{Piece: 2, Begin: 0, Length: peerwire.BlockSize})
}

func TestDownloadLimiterPaysForEveryByte(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			const burst = 4 << 20
			lim := rate.NewLimiter(1, burst)
			ours, theirs := tr.pair(t)
			_, events := newTestConn(t, ours, Options{DownloadLimiters: Limiters{lim}})
			peer := newFakePeer(t, theirs)
			const blocks = 32
			var msgs []peerwire.Message
			for i := range blocks {
				msgs = append(msgs, peerwire.Message{ID: peerwire.Piece, Index: uint32(i), Payload: make([]byte, peerwire.BlockSize)},
					peerwire.Message{ID: peerwire.Have, Index: uint32(i % testNumPieces)})
			}
			start := time.Now()
			peer.writeAsync(msgs...)
			for range msgs {
				if ev := nextEvent(t, events); ev.Closed {
					t.Fatalf("closed: %v", ev.Err)
				}
			}
			// The reader pays after delivering a piece; the HAVE after the
			// last piece proves it has paid for all of them.
			taken := burst - lim.Tokens()
			refill := time.Since(start).Seconds() + 1
			if want := float64(blocks * peerwire.BlockSize); taken < want-refill || taken > want {
				t.Fatalf("limiter gave %.0f tokens, want %.0f (payload bytes)", taken, want)
			}
		})
	}
}

func TestDownloadLimiterStopsReading(t *testing.T) {
	lim := rate.NewLimiter(1, peerwire.BlockSize)
	lim.AllowN(time.Now(), peerwire.BlockSize) // empty
	ours, theirs := pipePair(t)
	check := goroutineBaseline(t)
	events := make(chan Event, 16)
	ctx, cancel := context.WithCancel(context.Background())
	c := New(ctx, ours, Options{Events: events, NumPieces: testNumPieces, DownloadLimiters: Limiters{lim}})
	peer := newFakePeer(t, theirs)
	peer.writeAsync(
		peerwire.Message{ID: peerwire.Piece, Index: 1, Payload: make([]byte, 100)},
		peerwire.Message{ID: peerwire.Have, Index: 2},
	)
	if ev := nextEvent(t, events); ev.Closed || ev.Msg.ID != peerwire.Piece {
		t.Fatalf("got %+v, want the PIECE", ev)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(events); n != 0 {
		t.Fatalf("%d events read past an empty download limiter", n)
	}
	cancel()
	waitDone(t, c)
	theirs.Close()
	check()
}

// TestTwoLimitersBothPay: with a session limiter and a torrent limiter,
// every payload byte is charged to both, and a block waits for the
// slower one.
func TestTwoLimitersBothPay(t *testing.T) {
	const burst = 4 << 20
	session, torrent := rate.NewLimiter(1, burst), rate.NewLimiter(1, burst)
	ours, theirs := pipePair(t)
	st := &fakeStorage{}
	c, _ := newTestConn(t, ours, Options{ReadBlock: st.ReadBlock, UploadLimiters: Limiters{session, nil, torrent}})
	peer := newFakePeer(t, theirs)
	const blocks = 8
	for i := range blocks {
		c.QueueUpload(i/4, int64(i%4)*peerwire.BlockSize, peerwire.BlockSize)
	}
	for i := range blocks {
		checkPiece(t, peer.readSkipKeepAlive(), Request{Piece: i / 4, Begin: int64(i%4) * peerwire.BlockSize, Length: peerwire.BlockSize})
	}
	want := float64(blocks * peerwire.BlockSize)
	for name, lim := range map[string]*rate.Limiter{"session": session, "torrent": torrent} {
		if taken := burst - lim.Tokens(); taken < want-10 || taken > want {
			t.Errorf("%s limiter gave %.0f tokens, want %.0f", name, taken, want)
		}
	}
}

// TestEmptyTorrentLimiterHoldsBlocks: a block waits for the slowest of its
// limiters even when the others have tokens.
func TestEmptyTorrentLimiterHoldsBlocks(t *testing.T) {
	session := rate.NewLimiter(rate.Inf, 0)
	plenty := rate.NewLimiter(1, 4<<20)
	empty := rate.NewLimiter(1, peerwire.BlockSize)
	empty.AllowN(time.Now(), peerwire.BlockSize) // the next block waits hours
	ours, _ := pipePair(t)
	st := &fakeStorage{}
	c, _ := newTestConn(t, ours, Options{ReadBlock: st.ReadBlock, UploadLimiters: Limiters{session, plenty, empty}})
	c.QueueUpload(0, 0, peerwire.BlockSize)
	time.Sleep(50 * time.Millisecond)
	if n := len(st.readsSoFar()); n != 0 {
		t.Fatalf("ReadBlock called %d times while one limiter was empty", n)
	}
}
