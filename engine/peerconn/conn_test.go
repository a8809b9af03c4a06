package peerconn

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"shoal/peerwire"
)

func TestMessagesBothWays(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			ours, theirs := tr.pair(t)
			c, events := newTestConn(t, ours, Options{Key: 7})
			peer := newFakePeer(t, theirs)

			// Ours → theirs, in order.
			sent := []peerwire.Message{
				{ID: peerwire.Interested},
				{ID: peerwire.Have, Index: 5},
				{ID: peerwire.Bitfield, Payload: []byte{0xff, 0x0f, 0xf0}},
				{ID: peerwire.Request, Index: 3, Begin: 16384, Length: 16384},
				{ID: peerwire.Extended, ExtendedID: 2, Payload: []byte("d1:ai1ee")},
			}
			for _, m := range sent {
				if !c.Send(m) {
					t.Fatalf("Send(%+v) = false", m)
				}
			}
			for _, want := range sent {
				got := peer.readSkipKeepAlive()
				if got.ID != want.ID || got.Index != want.Index || got.Begin != want.Begin ||
					got.Length != want.Length || got.ExtendedID != want.ExtendedID || !bytes.Equal(got.Payload, want.Payload) {
					t.Fatalf("peer got %+v, want %+v", got, want)
				}
			}

			// Theirs → ours, in order, each payload a private copy.
			piece := bytes.Repeat([]byte{0xab}, peerwire.BlockSize)
			received := []peerwire.Message{
				{ID: peerwire.Bitfield, Payload: []byte{0x80, 0x00, 0x10}},
				{ID: peerwire.Unchoke},
				{ID: peerwire.Have, Index: 19},
				{KeepAlive: true},
				{ID: peerwire.Piece, Index: 3, Begin: 16384, Length: peerwire.BlockSize, Payload: piece},
				{ID: peerwire.Extended, ExtendedID: 0, Payload: []byte("de")},
			}
			var wire int
			for _, m := range received {
				wire += len(peerwire.AppendMessage(nil, m))
			}
			writeErr := peer.writeAsync(received...)
			var got []Event
			for _, m := range received {
				if m.KeepAlive {
					continue // keep-alives are not delivered
				}
				ev := nextEvent(t, events)
				if ev.Closed || ev.Conn != c || ev.Conn.Key() != 7 {
					t.Fatalf("unexpected event %+v", ev)
				}
				got = append(got, ev)
			}
			i := 0
			for _, want := range received {
				if want.KeepAlive {
					continue
				}
				m := got[i].Msg
				i++
				if m.ID != want.ID || m.Index != want.Index || m.Begin != want.Begin || m.ExtendedID != want.ExtendedID || !bytes.Equal(m.Payload, want.Payload) {
					t.Fatalf("event %d: got %+v, want %+v", i, msgSummary(m), msgSummary(want))
				}
			}
			if err := <-writeErr; err != nil {
				t.Fatal(err)
			}
			var sentWire int
			for _, m := range sent {
				sentWire += len(peerwire.AppendMessage(nil, m))
			}
			// The writer counts after its write returns, which may be
			// after the peer has read the bytes.
			eventually(t, "bytes sent counted", func() bool { return c.Stats().BytesSent == int64(sentWire) })
			st := c.Stats()
			if st.PayloadReceived != peerwire.BlockSize || st.BytesReceived != int64(wire) || st.PayloadSent != 0 {
				t.Fatalf("stats %+v, want %d payload and %d bytes received, no payload sent", st, peerwire.BlockSize, wire)
			}
		})
	}
}

func TestPeerHangupGivesOneClosedEvent(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			ours, theirs := tr.pair(t)
			c, events := newTestConn(t, ours, Options{})
			peer := newFakePeer(t, theirs)
			if err := <-peer.writeAsync(peerwire.Message{ID: peerwire.HaveAll}); err != nil {
				t.Fatal(err)
			}
			theirs.Close()
			ev := nextEvent(t, events)
			if ev.Closed || ev.Msg.ID != peerwire.HaveAll {
				t.Fatalf("first event %+v, want HAVE ALL", ev)
			}
			ev = nextEvent(t, events)
			if !ev.Closed || ev.Conn != c || !errors.Is(ev.Err, io.EOF) {
				t.Fatalf("got %+v, want Closed with io.EOF", ev)
			}
			waitDone(t, c)
			// Closed is the last event: nothing can follow once Done is closed.
			if n := len(events); n != 0 {
				t.Fatalf("%d events after Closed", n)
			}
			if !errors.Is(c.Err(), io.EOF) {
				t.Fatalf("Err() = %v", c.Err())
			}
			if c.Send(peerwire.Message{ID: peerwire.Choke}) {
				t.Fatal("Send on a closed Conn returned true")
			}
		})
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	ours, _ := pipePair(t)
	c, events := newTestConn(t, ours, Options{ReadBlock: (&fakeStorage{}).ReadBlock})
	first := errors.New("first reason")
	c.Close(first)
	c.Close(errors.New("second reason"))
	c.Close(nil)
	ev := nextEvent(t, events)
	if !ev.Closed || ev.Err != first {
		t.Fatalf("got %+v, want Closed with the first reason", ev)
	}
	waitDone(t, c)
	if len(events) != 0 {
		t.Fatalf("%d more events", len(events))
	}
	if c.Err() != first {
		t.Fatalf("Err() = %v", c.Err())
	}
	if c.Send(peerwire.Message{ID: peerwire.Choke}) || c.QueueUpload(0, 0, 100) {
		t.Fatal("Send or QueueUpload accepted on a closed Conn")
	}
}

func TestCloseNilReportsErrClosed(t *testing.T) {
	ours, _ := pipePair(t)
	c, events := newTestConn(t, ours, Options{})
	c.Close(nil)
	if ev := nextEvent(t, events); !ev.Closed || !errors.Is(ev.Err, ErrClosed) {
		t.Fatalf("got %+v", ev)
	}
}

func TestGarbageFromPeer(t *testing.T) {
	cases := []struct {
		name string
		raw  []byte
		want error
	}{
		{"unknown message id", []byte{0, 0, 0, 1, 99}, peerwire.ErrUnknownMessage},
		{"huge length prefix", []byte{0xff, 0xff, 0xff, 0xff, 7}, peerwire.ErrMessageTooLong},
		{"have with wrong length", []byte{0, 0, 0, 3, byte(peerwire.Have), 1, 2}, peerwire.ErrBadLength},
		{"bitfield of the wrong size", []byte{0, 0, 0, 2, byte(peerwire.Bitfield), 0xff}, peerwire.ErrBadBitfield},
		{"piece larger than a block", []byte{0, 0, 0x40, 0x0a, byte(peerwire.Piece)}, peerwire.ErrMessageTooLong},
	}
	for _, tr := range transports {
		for _, tc := range cases {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				ours, theirs := tr.pair(t)
				c, events := newTestConn(t, ours, Options{})
				peer := newFakePeer(t, theirs)
				peer.writeRawAsync(tc.raw)
				ev := nextEvent(t, events)
				if !ev.Closed || !errors.Is(ev.Err, tc.want) || !strings.Contains(ev.Err.Error(), "bad message") {
					t.Fatalf("got %+v, want Closed with %v", ev, tc.want)
				}
				waitDone(t, c)
			})
		}
	}
}

func TestKeepAliveWhenIdle(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			ours, theirs := tr.pair(t)
			newTestConn(t, ours, Options{KeepAlive: 20 * time.Millisecond})
			peer := newFakePeer(t, theirs)
			for range 2 {
				if m := peer.read(); !m.KeepAlive {
					t.Fatalf("got %+v, want keep-alive", msgSummary(m))
				}
			}
		})
	}
}

func TestSendQueueOverflowCloses(t *testing.T) {
	// Nobody reads the pipe, so the writer blocks in its first write and
	// the queue fills up.
	ours, _ := pipePair(t)
	c, events := newTestConn(t, ours, Options{MaxSendQueue: 4})
	refused := false
	for i := range 20 {
		if !c.Send(peerwire.Message{ID: peerwire.Have, Index: uint32(i)}) {
			refused = true
			break
		}
	}
	if !refused {
		t.Fatal("Send accepted 20 messages with a queue of 4 and a blocked writer")
	}
	ev := nextEvent(t, events)
	if !ev.Closed || !errors.Is(ev.Err, ErrSendOverflow) {
		t.Fatalf("got %+v, want Closed with ErrSendOverflow", ev)
	}
	waitDone(t, c)
}

func TestWriteTimeout(t *testing.T) {
	ours, _ := pipePair(t)
	c, events := newTestConn(t, ours, Options{WriteTimeout: 20 * time.Millisecond})
	c.Send(peerwire.Message{ID: peerwire.Interested})
	ev := nextEvent(t, events)
	if !ev.Closed || !errors.Is(ev.Err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %+v, want Closed with a deadline error", ev)
	}
	waitDone(t, c)
}

func TestReadTimeout(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			ours, theirs := tr.pair(t)
			go io.Copy(io.Discard, theirs) // take our keep-alives, send nothing
			c, events := newTestConn(t, ours, Options{ReadTimeout: 30 * time.Millisecond, KeepAlive: 5 * time.Millisecond})
			ev := nextEvent(t, events)
			if !ev.Closed || !errors.Is(ev.Err, os.ErrDeadlineExceeded) {
				t.Fatalf("got %+v, want Closed with a deadline error", ev)
			}
			waitDone(t, c)
		})
	}
}

func TestContextCancelEndsGoroutines(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			check := goroutineBaseline(t)
			ours, theirs := tr.pair(t)
			st, entered, release := gatedStorage()
			defer release()
			events := make(chan Event) // never read: the reader blocks on it
			ctx, cancel := context.WithCancel(context.Background())
			c := New(ctx, ours, Options{Events: events, NumPieces: testNumPieces, ReadBlock: st.ReadBlock})
			peer := newFakePeer(t, theirs)
			// Reader: blocked delivering HAVE ALL. Writer: blocked in
			// ReadBlock, then in a write nobody reads (on a pipe).
			peer.writeAsync(peerwire.Message{ID: peerwire.HaveAll})
			c.QueueUpload(1, 0, 1000)
			waitClosed(t, entered, "ReadBlock")
			cancel()
			release()
			waitDone(t, c)
			if !errors.Is(c.Err(), context.Canceled) {
				t.Fatalf("Err() = %v, want context.Canceled", c.Err())
			}
			ours.Close()
			theirs.Close()
			check()
		})
	}
}

func TestConnLeaksNothing(t *testing.T) {
	check := goroutineBaseline(t)
	for range 20 {
		for _, tr := range transports {
			ours, theirs := tr.pair(t)
			events := make(chan Event, 16)
			ctx, cancel := context.WithCancel(context.Background())
			c := New(ctx, ours, Options{Events: events, KeepAlive: time.Millisecond})
			c.Send(peerwire.Message{ID: peerwire.Interested})
			theirs.Close()
			waitDone(t, c)
			cancel()
		}
	}
	check()
}

func TestFreeUndeliveredPiece(t *testing.T) {
	ours, theirs := pipePair(t)
	var (
		mu        sync.Mutex
		allocated [][]byte
		freed     [][]byte
	)
	var allocs atomic.Int32
	events := make(chan Event) // never read
	c := New(context.Background(), ours, Options{
		Events:    events,
		NumPieces: testNumPieces,
		Alloc: func(n int) []byte {
			b := make([]byte, n)
			mu.Lock()
			allocated = append(allocated, b)
			mu.Unlock()
			allocs.Add(1)
			return b
		},
		Free: func(b []byte) {
			mu.Lock()
			freed = append(freed, b)
			mu.Unlock()
		},
	})
	peer := newFakePeer(t, theirs)
	peer.writeAsync(peerwire.Message{ID: peerwire.Piece, Index: 1, Payload: make([]byte, 100)})
	eventually(t, "a piece buffer allocated", func() bool { return allocs.Load() == 1 })
	c.Close(nil)
	go func() { <-events }() // the Closed event may still be delivered
	waitDone(t, c)
	mu.Lock()
	defer mu.Unlock()
	if len(freed) != 1 || &freed[0][0] != &allocated[0][0] {
		t.Fatalf("freed %d buffers, want the one allocated", len(freed))
	}
}

func TestNilEventsDiscards(t *testing.T) {
	ours, theirs := pipePair(t)
	c := New(context.Background(), ours, Options{NumPieces: testNumPieces})
	peer := newFakePeer(t, theirs)
	if err := <-peer.writeAsync(peerwire.Message{ID: peerwire.Have, Index: 1}, peerwire.Message{ID: peerwire.Have, Index: 2}); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	waitDone(t, c)
	if !errors.Is(c.Err(), io.EOF) {
		t.Fatalf("Err() = %v", c.Err())
	}
}

// TestHavesShareWrites: HAVEs queued together go out in one write, in
// order, within haveDelay; a message that is not a HAVE is not held back
// behind them.
func TestHavesShareWrites(t *testing.T) {
	ours, theirs := tcpPair(t)
	wc := &writeCounter{Conn: ours}
	c, _ := newTestConn(t, wc, Options{})
	peer := newFakePeer(t, theirs)
	start := time.Now()
	for i := range testNumPieces {
		c.Send(peerwire.Message{ID: peerwire.Have, Index: uint32(i)})
	}
	for i := range testNumPieces {
		if m := peer.readSkipKeepAlive(); m.ID != peerwire.Have || m.Index != uint32(i) {
			t.Fatalf("message %d: %v %d, want HAVE %d", i, m.ID, m.Index, i)
		}
	}
	if n := wc.writes.Load(); n > 2 {
		t.Errorf("%d HAVEs took %d writes", testNumPieces, n)
	}
	if waited := time.Since(start); waited < haveDelay/2 {
		t.Errorf("HAVEs went out after %v: not held to be gathered", waited)
	}
	// An INTERESTED sent behind a HAVE takes it along at once.
	c.Send(peerwire.Message{ID: peerwire.Have, Index: 3})
	c.Send(peerwire.Message{ID: peerwire.Interested})
	if m := peer.readSkipKeepAlive(); m.ID != peerwire.Have {
		t.Fatalf("got %v, want HAVE", m.ID)
	}
	if m := peer.readSkipKeepAlive(); m.ID != peerwire.Interested {
		t.Fatalf("got %v, want INTERESTED", m.ID)
	}
}
