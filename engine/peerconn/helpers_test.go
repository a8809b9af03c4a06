package peerconn

import (
	"context"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"shoal/peerwire"
)

// testNumPieces is the piece count of the pretend torrent; a bitfield has
// (20+7)/8 = 3 bytes.
const testNumPieces = 20

// transports are the two kinds of connection every behaviour is tested
// over: synchronous in-memory pipes and real loopback TCP sockets.
var transports = []struct {
	name string
	pair func(t testing.TB) (ours, theirs net.Conn)
}{
	{"pipe", pipePair},
	{"tcp", tcpPair},
}

func pipePair(t testing.TB) (net.Conn, net.Conn) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func tcpPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		c   net.Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		accepted <- result{c, err}
	}()
	dialed, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-accepted
	if r.err != nil {
		dialed.Close()
		t.Fatal(r.err)
	}
	t.Cleanup(func() { dialed.Close(); r.c.Close() })
	return dialed, r.c
}

// fakePeer is the other end of a connection, driven by the test with
// peerwire directly.
type fakePeer struct {
	t  *testing.T
	nc net.Conn
	r  *peerwire.Reader
}

func newFakePeer(t *testing.T, nc net.Conn) *fakePeer {
	return &fakePeer{t: t, nc: nc, r: peerwire.NewReader(nc, peerwire.ReaderOptions{NumPieces: testNumPieces})}
}

// read returns the next message (keep-alives included), failing the test
// if none comes within 10 s.
func (p *fakePeer) read() peerwire.Message {
	p.t.Helper()
	if err := p.nc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		p.t.Fatal(err)
	}
	m, err := p.r.ReadMessage()
	if err != nil {
		p.t.Fatalf("peer read: %v", err)
	}
	return m
}

// readSkipKeepAlive is read ignoring keep-alives.
func (p *fakePeer) readSkipKeepAlive() peerwire.Message {
	p.t.Helper()
	for {
		if m := p.read(); !m.KeepAlive {
			return m
		}
	}
}

// writeAsync writes msgs in the background (a pipe write blocks until
// the other side reads) and returns a channel with the write's error.
func (p *fakePeer) writeAsync(msgs ...peerwire.Message) <-chan error {
	var buf []byte
	for _, m := range msgs {
		buf = peerwire.AppendMessage(buf, m)
	}
	return p.writeRawAsync(buf)
}

func (p *fakePeer) writeRawAsync(b []byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := p.nc.Write(b)
		done <- err
	}()
	return done
}

// nextEvent returns the next event, failing the test after 10 s.
func nextEvent(t *testing.T, events <-chan Event) Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
		return Event{}
	}
}

// waitDone waits for c to end, failing the test after 10 s.
func waitDone(t *testing.T, c *Conn) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Conn not done within 10 s")
	}
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fakeStorage serves blocks whose bytes are derived from their position,
// and records every read.
type fakeStorage struct {
	mu    sync.Mutex
	reads []Request
	// gate, if set, is called inside ReadBlock (to hold the writer there).
	gate func(r Request)
}

func blockByte(piece int, off int64) byte { return byte(int64(piece)*31 + off*7 + off>>8) }

func (s *fakeStorage) ReadBlock(piece int, begin int64, buf []byte) error {
	r := Request{Piece: piece, Begin: begin, Length: len(buf)}
	s.mu.Lock()
	s.reads = append(s.reads, r)
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		gate(r)
	}
	for i := range buf {
		buf[i] = blockByte(piece, begin+int64(i))
	}
	return nil
}

func (s *fakeStorage) readsSoFar() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reads...)
}

// checkPiece fails unless m is the PIECE message for r with the right bytes.
func checkPiece(t *testing.T, m peerwire.Message, r Request) {
	t.Helper()
	if m.KeepAlive || m.ID != peerwire.Piece || int(m.Index) != r.Piece || int64(m.Begin) != r.Begin || len(m.Payload) != r.Length {
		t.Fatalf("got %+v (payload %d bytes), want PIECE %+v", msgSummary(m), len(m.Payload), r)
	}
	for i, b := range m.Payload {
		if want := blockByte(r.Piece, r.Begin+int64(i)); b != want {
			t.Fatalf("PIECE %+v: byte %d is %d, want %d", r, i, b, want)
		}
	}
}

func msgSummary(m peerwire.Message) peerwire.Message {
	m.Payload = nil
	return m
}

// gatedStorage holds the writer inside the first ReadBlock until release
// is called (release may be called more than once; defer it so a failing
// test doesn't hang its cleanup); entered is closed once it is there.
func gatedStorage() (st *fakeStorage, entered chan struct{}, release func()) {
	entered = make(chan struct{})
	releaseC := make(chan struct{})
	var once, releaseOnce sync.Once
	st = &fakeStorage{}
	st.gate = func(Request) {
		once.Do(func() {
			close(entered)
			<-releaseC
		})
	}
	return st, entered, func() { releaseOnce.Do(func() { close(releaseC) }) }
}

// waitClosed waits for ch to be closed, failing the test after 10 s.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// goroutineBaseline returns a check that fails the test unless the number
// of goroutines falls back to what it is now (polling, since goroutines
// take a moment to exit).
func goroutineBaseline(t *testing.T) func() {
	before := runtime.NumGoroutine()
	return func() {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			now := runtime.NumGoroutine()
			if now <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Fatalf("goroutines: %d before, %d after\n%s", before, now, buf[:n])
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// newTestConn starts a Conn on ours with a buffered Events channel.
func newTestConn(t *testing.T, ours net.Conn, o Options) (*Conn, chan Event) {
	events := make(chan Event, 256)
	o.Events = events
	if o.NumPieces == 0 {
		o.NumPieces = testNumPieces
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := New(ctx, ours, o)
	t.Cleanup(func() {
		cancel()
		<-c.Done()
	})
	return c, events
}
