package peerconn

import (
	"errors"
	"net"
	"reflect"
	"sync/atomic"
	"testing"

	"shoal/peerwire"
)

func TestUploadFlow(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			ours, theirs := tr.pair(t)
			st := &fakeStorage{}
			c, _ := newTestConn(t, ours, Options{ReadBlock: st.ReadBlock})
			peer := newFakePeer(t, theirs)
			reqs := []Request{
				{Piece: 1, Begin: 16384, Length: peerwire.BlockSize},
				{Piece: 0, Begin: 0, Length: peerwire.BlockSize},
				{Piece: 19, Begin: 32768, Length: 1234}, // a short last block
			}
			for _, r := range reqs {
				if !c.QueueUpload(r.Piece, r.Begin, r.Length) {
					t.Fatalf("QueueUpload(%+v) = false", r)
				}
			}
			for _, r := range reqs {
				checkPiece(t, peer.readSkipKeepAlive(), r)
			}
			if got := st.readsSoFar(); !reflect.DeepEqual(got, reqs) {
				t.Fatalf("ReadBlock calls %+v, want %+v", got, reqs)
			}
			want := int64(2*peerwire.BlockSize + 1234)
			eventually(t, "payload counted", func() bool { return c.Stats().PayloadSent == want })
			if st := c.Stats(); st.BytesSent < want+3*13 {
				t.Fatalf("stats %+v: fewer bytes sent than the three PIECE messages", st)
			}
		})
	}
}

func TestCancelUploadBeforeSend(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			ours, theirs := tr.pair(t)
			st, entered, release := gatedStorage()
			defer release()
			c, _ := newTestConn(t, ours, Options{ReadBlock: st.ReadBlock})
			peer := newFakePeer(t, theirs)
			c.QueueUpload(0, 0, 100) // taken by the writer, held in ReadBlock
			waitClosed(t, entered, "ReadBlock")
			c.QueueUpload(1, 0, 100)
			c.QueueUpload(2, 0, 100)
			if !c.CancelUpload(1, 0, 100) {
				t.Fatal("CancelUpload of a queued request = false")
			}
			if !c.CancelUpload(0, 0, 100) {
				t.Fatal("CancelUpload of the request being read = false")
			}
			if c.CancelUpload(5, 0, 100) || c.CancelUpload(2, 0, 99) {
				t.Fatal("CancelUpload of a request never queued = true")
			}
			release()
			// Only piece 2 is sent; pieces 0 and 1 were cancelled.
			checkPiece(t, peer.readSkipKeepAlive(), Request{Piece: 2, Begin: 0, Length: 100})
			for _, r := range st.readsSoFar() {
				if r.Piece == 1 {
					t.Fatal("ReadBlock was called for a cancelled request")
				}
			}
			if c.CancelUpload(2, 0, 100) {
				t.Fatal("CancelUpload of a block already sent = true")
			}
		})
	}
}

func TestClearUploads(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			ours, theirs := tr.pair(t)
			st, entered, release := gatedStorage()
			defer release()
			c, _ := newTestConn(t, ours, Options{ReadBlock: st.ReadBlock})
			peer := newFakePeer(t, theirs)
			c.QueueUpload(0, 0, 100)
			waitClosed(t, entered, "ReadBlock")
			c.QueueUpload(1, 0, 100)
			c.QueueUpload(1, 100, 100)
			dropped := c.ClearUploads()
			want := []Request{{0, 0, 100}, {1, 0, 100}, {1, 100, 100}}
			if !reflect.DeepEqual(dropped, want) {
				t.Fatalf("ClearUploads = %+v, want %+v", dropped, want)
			}
			if c.QueuedUploads() != 0 {
				t.Fatalf("%d uploads still queued", c.QueuedUploads())
			}
			release()
			c.Send(peerwire.Message{ID: peerwire.Choke})
			if m := peer.readSkipKeepAlive(); m.ID != peerwire.Choke {
				t.Fatalf("got %+v, want CHOKE and no PIECE", msgSummary(m))
			}
			// The queue works again afterwards.
			c.QueueUpload(3, 0, 10)
			checkPiece(t, peer.readSkipKeepAlive(), Request{Piece: 3, Begin: 0, Length: 10})
		})
	}
}

func TestControlMessagesGoBeforeBlocks(t *testing.T) {
	ours, theirs := pipePair(t)
	st, entered, release := gatedStorage()
	defer release()
	counted := &writeCounter{Conn: ours}
	c, _ := newTestConn(t, counted, Options{ReadBlock: st.ReadBlock})
	peer := newFakePeer(t, theirs)
	c.QueueUpload(0, 0, 100)
	waitClosed(t, entered, "ReadBlock")
	c.QueueUpload(1, 0, 100)
	for i := range 10 {
		c.Send(peerwire.Message{ID: peerwire.Have, Index: uint32(i)})
	}
	release()
	checkPiece(t, peer.read(), Request{Piece: 0, Begin: 0, Length: 100})
	for i := range 10 {
		if m := peer.read(); m.ID != peerwire.Have || m.Index != uint32(i) {
			t.Fatalf("got %+v, want HAVE %d", msgSummary(m), i)
		}
	}
	checkPiece(t, peer.read(), Request{Piece: 1, Begin: 0, Length: 100})
	// Two blocks and ten messages queued while the writer was busy went
	// out in one write.
	if n := counted.writes.Load(); n != 1 {
		t.Fatalf("%d writes, want 1 batch", n)
	}
}

func TestQueueUploadBounds(t *testing.T) {
	ours, _ := pipePair(t)
	st, entered, release := gatedStorage()
	defer release()
	c, _ := newTestConn(t, ours, Options{ReadBlock: st.ReadBlock, MaxUploadQueue: 2})
	if !c.QueueUpload(0, 0, 100) {
		t.Fatal("first QueueUpload = false")
	}
	waitClosed(t, entered, "ReadBlock")
	cases := []struct {
		piece  int
		begin  int64
		length int
		want   bool
	}{
		{1, 0, peerwire.BlockSize, true},
		{1, 0, peerwire.BlockSize, true}, // duplicate: accepted, not queued twice
		{1, 0, 0, false},
		{1, 0, peerwire.BlockSize + 1, false},
		{-1, 0, 10, false},
		{1, -5, 10, false},
		{2, 0, 10, true},
		{3, 0, 10, false}, // queue full
	}
	for _, tc := range cases {
		if got := c.QueueUpload(tc.piece, tc.begin, tc.length); got != tc.want {
			t.Errorf("QueueUpload(%d, %d, %d) = %v, want %v", tc.piece, tc.begin, tc.length, got, tc.want)
		}
	}
	if n := c.QueuedUploads(); n != 2 {
		t.Fatalf("%d queued, want 2", n)
	}
	// The set behind the duplicate check follows cancels and clears.
	if !c.CancelUpload(1, 0, peerwire.BlockSize) || c.CancelUpload(1, 0, peerwire.BlockSize) {
		t.Fatal("CancelUpload of a queued request: want true once, then false")
	}
	if !c.QueueUpload(1, 0, peerwire.BlockSize) || c.QueuedUploads() != 2 {
		t.Fatalf("re-queueing a cancelled request failed; %d queued", c.QueuedUploads())
	}
	c.ClearUploads()
	if !c.QueueUpload(2, 0, 10) || c.QueuedUploads() != 1 {
		t.Fatalf("queueing after ClearUploads failed; %d queued, want 1", c.QueuedUploads())
	}
}

func TestQueueUploadWithoutStorage(t *testing.T) {
	ours, _ := pipePair(t)
	c, _ := newTestConn(t, ours, Options{})
	if c.QueueUpload(0, 0, 100) {
		t.Fatal("QueueUpload without ReadBlock = true")
	}
}

func TestReadBlockErrorCloses(t *testing.T) {
	ours, _ := pipePair(t)
	diskErr := errors.New("disk on fire")
	c, events := newTestConn(t, ours, Options{ReadBlock: func(int, int64, []byte) error { return diskErr }})
	c.QueueUpload(4, 16384, 100)
	ev := nextEvent(t, events)
	if !ev.Closed || !errors.Is(ev.Err, diskErr) {
		t.Fatalf("got %+v, want Closed with the storage error", ev)
	}
	waitDone(t, c)
}

// TestConnToConn runs two Conns against each other: one requests, the
// other serves the block.
func TestConnToConn(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			a, b := tr.pair(t)
			st := &fakeStorage{}
			seeder, seederEvents := newTestConn(t, a, Options{ReadBlock: st.ReadBlock})
			leecher, leecherEvents := newTestConn(t, b, Options{})
			r := Request{Piece: 7, Begin: 16384, Length: peerwire.BlockSize}
			leecher.Send(peerwire.Message{ID: peerwire.Request, Index: 7, Begin: 16384, Length: peerwire.BlockSize})
			ev := nextEvent(t, seederEvents)
			if ev.Closed || ev.Msg.ID != peerwire.Request {
				t.Fatalf("seeder got %+v", ev)
			}
			seeder.QueueUpload(int(ev.Msg.Index), int64(ev.Msg.Begin), int(ev.Msg.Length))
			ev = nextEvent(t, leecherEvents)
			checkPiece(t, ev.Msg, r)
			eventually(t, "counters", func() bool {
				return seeder.Stats().PayloadSent == peerwire.BlockSize && leecher.Stats().PayloadReceived == peerwire.BlockSize
			})
		})
	}
}

// writeCounter counts the Write calls on a connection.
type writeCounter struct {
	net.Conn
	writes atomic.Int32
}

func (w *writeCounter) Write(b []byte) (int, error) {
	w.writes.Add(1)
	return w.Conn.Write(b)
}
