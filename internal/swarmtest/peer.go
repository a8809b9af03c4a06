package swarmtest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"shoal/peerwire"
)

// writeTimeout bounds every write of a Peer, so a test whose far end stops
// reading fails instead of hanging.
const writeTimeout = 10 * time.Second

// Peer is a raw BitTorrent connection a test scripts byte by byte: nothing
// is sent or checked unless the test says so. Before Serve is called its
// methods are for the test's goroutine; afterwards a background goroutine
// owns reading, and only the write methods, WaitClosed, Count and Close
// may be used.
type Peer struct {
	nc net.Conn
	r  *peerwire.Reader // created on the first ReadMessage, after the handshake

	mu      sync.Mutex
	counts  map[peerwire.MessageID]int // messages read by Serve, by id
	readErr error                      // why Serve's reading ended
	closedC chan struct{}              // closed when Serve's reading ends
	serving bool
}

// Dial connects from the IP from (any port) to a Session listening on to.
// The connection is closed when the test ends.
func Dial(t testing.TB, from netip.Addr, to netip.AddrPort) *Peer {
	t.Helper()
	p, err := DialErr(from, to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// DialErr is Dial for callers outside the test goroutine: it returns the
// error, and the caller closes the Peer.
func DialErr(from netip.Addr, to netip.AddrPort) (*Peer, error) {
	return DialRecvBuffer(from, to, 0)
}

// DialRecvBuffer is DialErr with the socket's receive buffer set to size
// bytes (0: the system's default), so that a Peer that does not read
// stops the far end's writes after little data, as a peer on a slow link
// would.
func DialRecvBuffer(from netip.Addr, to netip.AddrPort, size int) (*Peer, error) {
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0))}
	nc, err := d.Dial("tcp", to.String())
	if err != nil {
		return nil, fmt.Errorf("swarmtest: dial %v from %v: %w", to, from, err)
	}
	if size > 0 {
		if err := nc.(*net.TCPConn).SetReadBuffer(size); err != nil {
			nc.Close()
			return nil, fmt.Errorf("swarmtest: receive buffer of %d bytes: %w", size, err)
		}
	}
	return newPeer(nc), nil
}

func newPeer(nc net.Conn) *Peer {
	return &Peer{nc: nc, counts: make(map[peerwire.MessageID]int), closedC: make(chan struct{})}
}

// Listener accepts connections from Sessions as Peers.
type Listener struct {
	ln net.Listener
}

// Listen listens on ip (a port the system picks) until the test ends.
func Listen(t testing.TB, ip netip.Addr) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &Listener{ln: ln}
}

// Addr is the address to give a Session (Torrent.AddPeers).
func (l *Listener) Addr() netip.AddrPort {
	return l.ln.Addr().(*net.TCPAddr).AddrPort()
}

// Accept waits up to timeout for a connection.
func (l *Listener) Accept(timeout time.Duration) (*Peer, error) {
	if tl, ok := l.ln.(*net.TCPListener); ok {
		tl.SetDeadline(time.Now().Add(timeout))
	}
	nc, err := l.ln.Accept()
	if err != nil {
		return nil, fmt.Errorf("swarmtest: accept on %v: %w", l.Addr(), err)
	}
	return newPeer(nc), nil
}

// LocalAddr is the Peer's own address, as the Session sees it.
func (p *Peer) LocalAddr() netip.AddrPort {
	return p.nc.LocalAddr().(*net.TCPAddr).AddrPort()
}

// Close closes the connection.
func (p *Peer) Close() { p.nc.Close() }

// Write sends raw bytes.
func (p *Peer) Write(b []byte) error {
	p.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := p.nc.Write(b)
	return err
}

// Send sends messages, encoded by peerwire.AppendMessage, in one write.
func (p *Peer) Send(ms ...peerwire.Message) error {
	var b []byte
	for _, m := range ms {
		b = peerwire.AppendMessage(b, m)
	}
	return p.Write(b)
}

// SendHandshake sends a handshake.
func (p *Peer) SendHandshake(h peerwire.Handshake) error {
	return p.Write(peerwire.AppendHandshake(nil, h))
}

// ReadHandshake reads the far end's handshake, waiting up to timeout.
func (p *Peer) ReadHandshake(timeout time.Duration) (peerwire.Handshake, error) {
	p.nc.SetReadDeadline(time.Now().Add(timeout))
	return peerwire.ReadHandshake(p.nc)
}

// Handshake sends h and reads the answer: what a peer that dialled does.
func (p *Peer) Handshake(h peerwire.Handshake, timeout time.Duration) (peerwire.Handshake, error) {
	if err := p.SendHandshake(h); err != nil {
		return peerwire.Handshake{}, err
	}
	return p.ReadHandshake(timeout)
}

func (p *Peer) reader() *peerwire.Reader {
	if p.r == nil {
		// Piece count unknown: bitfields are read whatever their length;
		// the test judges them.
		p.r = peerwire.NewReader(p.nc, peerwire.ReaderOptions{})
	}
	return p.r
}

// ReadMessage reads one message, waiting up to timeout.
func (p *Peer) ReadMessage(timeout time.Duration) (peerwire.Message, error) {
	p.nc.SetReadDeadline(time.Now().Add(timeout))
	return p.reader().ReadMessage()
}

// ReadUntil reads messages until one satisfies match, for up to timeout
// in all. Keep-alives are skipped.
func (p *Peer) ReadUntil(match func(peerwire.Message) bool, timeout time.Duration) (peerwire.Message, error) {
	deadline := time.Now().Add(timeout)
	for {
		p.nc.SetReadDeadline(deadline)
		m, err := p.reader().ReadMessage()
		if err != nil {
			return m, err
		}
		if !m.KeepAlive && match(m) {
			return m, nil
		}
	}
}

// Serve starts a goroutine that reads every message from now on, counts
// it by id, and passes it with the Peer (to answer on) to handle (nil:
// messages are only counted).
// Reading ends when the connection fails or handle returns an error; the
// Peer then closes and WaitClosed returns. Piece payloads handed to handle
// are the handler's to keep.
func (p *Peer) Serve(handle func(p *Peer, m peerwire.Message) error) {
	p.mu.Lock()
	if p.serving {
		p.mu.Unlock()
		panic("swarmtest: Serve called twice")
	}
	p.serving = true
	p.mu.Unlock()
	r := p.reader()
	go func() {
		defer close(p.closedC)
		p.nc.SetReadDeadline(time.Time{})
		for {
			m, err := r.ReadMessage()
			if err == nil && !m.KeepAlive {
				p.mu.Lock()
				p.counts[m.ID]++
				p.mu.Unlock()
				if handle != nil {
					err = handle(p, m)
				}
			}
			if err != nil {
				p.mu.Lock()
				p.readErr = err
				p.mu.Unlock()
				return
			}
		}
	}()
}

// Count is how many messages with this id Serve has read.
func (p *Peer) Count(id peerwire.MessageID) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[id]
}

// ServeErr is why Serve's reading ended, or nil while it goes on.
func (p *Peer) ServeErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readErr
}

// WaitClosed reports whether the far end closes the connection within
// timeout. Without Serve it reads and discards whatever arrives meanwhile.
// A connection the far end keeps open returns false after timeout.
func (p *Peer) WaitClosed(timeout time.Duration) bool {
	p.mu.Lock()
	serving := p.serving
	p.mu.Unlock()
	if serving {
		select {
		case <-p.closedC:
			return IsClosed(p.ServeErr())
		case <-time.After(timeout):
			return false
		}
	}
	p.nc.SetReadDeadline(time.Now().Add(timeout))
	_, err := io.Copy(io.Discard, p.nc)
	// io.Copy turns the EOF of a closed connection into nil.
	return err == nil || IsClosed(err)
}

// IsClosed reports whether err from reading or writing a Peer means the
// far end closed the connection (rather than a timeout or a malformed
// message).
func IsClosed(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed)
}
