package peerconn

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"shoal/peerwire"
)

// Defaults for the zero fields of Options.
const (
	// DefaultKeepAlive is how long the writer may be idle before it sends a
	// keep-alive. BEP 3: "Keepalives are generally sent once every two
	// minutes".
	DefaultKeepAlive = 2 * time.Minute
	// DefaultReadTimeout is how long the reader waits for any message. It is
	// longer than the keep-alive interval, so a live peer never hits it.
	DefaultReadTimeout = 3 * time.Minute
	// DefaultWriteTimeout bounds one write, so a peer that stops reading
	// can't hold the writer (and its queued blocks) forever.
	DefaultWriteTimeout = time.Minute
	// DefaultMaxSendQueue bounds the control messages waiting to be sent.
	DefaultMaxSendQueue = 1024
	// DefaultMaxUploadQueue bounds the requests waiting to be served; it
	// matches the request queue depth we advertise (BEP 10 "reqq").
	DefaultMaxUploadQueue = 256
)

// maxBatchBytes is how much the writer gathers before one Write: a few
// blocks, so a fast peer costs few system calls.
const maxBatchBytes = 4*peerwire.BlockSize + 4096

// ErrSendOverflow closes a connection whose control queue is full: the
// peer isn't reading what we send, and we won't buffer without bound.
var ErrSendOverflow = errors.New("peerconn: send queue overflow")

// ErrClosed is the cause reported when Close is called with a nil error.
var ErrClosed = errors.New("peerconn: connection closed")

// Options configures a Conn. Only Events is needed; the zero value of every
// other field has a default.
type Options struct {
	// Key identifies the peer to the torrent loop; see Conn.Key.
	Key int
	// NumPieces is the torrent's piece count, so a BITFIELD must have
	// exactly (NumPieces+7)/8 bytes; 0 if unknown yet (magnet links: the
	// bitfield is then only bounded, and the loop checks it once it knows
	// the piece count).
	NumPieces int
	// MaxExtendedLen bounds extended (BEP 10) message payloads;
	// 0 = peerwire's default.
	MaxExtendedLen int
	// Events receives the connection's messages and its Closed event.
	// nil discards them.
	Events chan<- Event
	// ReadBlock reads a block we upload from storage. nil: QueueUpload
	// refuses every request.
	ReadBlock func(piece int, begin int64, buf []byte) error
	// PieceSize returns a piece's length. With it, the writer reads
	// ahead up to readAheadSize of the piece on each storage read, for
	// the requests that usually follow; nil: each block is read alone.
	PieceSize func(piece int) int64
	// Alloc returns a buffer of n bytes for a received piece payload, which
	// then belongs to whoever receives the event. nil = make.
	Alloc func(n int) []byte
	// Free takes back a buffer from Alloc that was read but never delivered
	// (the connection closed first). nil = leave it to the garbage collector.
	Free func([]byte)
	// UploadLimiters and DownloadLimiters pace piece payload bytes: a
	// block passes when every limiter allows it (the session's limit and
	// the torrent's, say). Empty means unlimited. A limiter's burst should
	// be at least peerwire.BlockSize, or blocks are paced in burst-sized
	// steps.
	UploadLimiters, DownloadLimiters Limiters
	// KeepAlive is the idle time after which a keep-alive is sent
	// (default DefaultKeepAlive).
	KeepAlive time.Duration
	// ReadTimeout closes the connection when nothing arrives for this long
	// (default DefaultReadTimeout).
	ReadTimeout time.Duration
	// WriteTimeout closes the connection when one write takes this long
	// (default DefaultWriteTimeout).
	WriteTimeout time.Duration
	// MaxSendQueue bounds the control messages queued by Send
	// (default DefaultMaxSendQueue).
	MaxSendQueue int
	// MaxUploadQueue bounds the requests queued by QueueUpload
	// (default DefaultMaxUploadQueue).
	MaxUploadQueue int
}

func (o Options) withDefaults() Options {
	if o.KeepAlive <= 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.MaxSendQueue <= 0 {
		o.MaxSendQueue = DefaultMaxSendQueue
	}
	if o.MaxUploadQueue <= 0 {
		o.MaxUploadQueue = DefaultMaxUploadQueue
	}
	return o
}

// Event is what a Conn delivers to the torrent loop: a message from the
// peer, or (last of all, exactly once) the connection's end.
type Event struct {
	// Conn is the connection the event is about.
	Conn *Conn
	// Msg is the message received, when Closed is false. A piece payload
	// comes from Options.Alloc and belongs to the receiver; every other
	// payload is a fresh copy.
	Msg peerwire.Message
	// Closed reports that the connection has ended; no more events follow.
	Closed bool
	// Err is why the connection ended (set with Closed): the error given
	// to Close, a decode or I/O error, io.EOF when the peer hung up.
	Err error
}

// Stats are a connection's byte counters since it was created. Payload
// counts piece data only; the totals count everything on the wire.
type Stats struct {
	PayloadReceived, PayloadSent int64
	BytesReceived, BytesSent     int64
}

// Request is a block a peer asked us for.
type Request struct {
	Piece  int
	Begin  int64
	Length int
}

// Conn is one established peer connection with its reader and writer
// goroutines. Its methods are safe to call from any goroutine.
type Conn struct {
	nc   net.Conn
	opts Options

	ctx     context.Context // ends when the Conn closes or the parent ends
	cancel  context.CancelFunc
	parent  context.Context
	stopCtx func() bool // unregisters the parent-context watch

	closeOnce sync.Once
	closeErr  error // first cause given to Close; written once under closeOnce

	wakeC       chan struct{} // capacity 1: there is something for the writer
	writerDoneC chan struct{}
	doneC       chan struct{}

	mu sync.Mutex
	// control holds messages from Send, in order; sent before any block.
	control []peerwire.Message
	// uploads holds requests from QueueUpload, in order; queued holds the
	// same requests as a set, so that the duplicate check of every REQUEST
	// does not scan a queue of hundreds (a peer flooding requests made the
	// torrent loop spend its time there).
	uploads []Request
	queued  map[Request]struct{}
	// inFlight is the request the writer has taken from uploads and is
	// waiting on the limiter or storage for; inFlightDropped is set when it
	// is cancelled meanwhile, so it is not sent after all.
	inFlight        Request
	hasInFlight     bool
	inFlightDropped bool
	closed          bool

	payloadIn, payloadOut atomic.Int64
	bytesIn, bytesOut     atomic.Int64
}

// New starts the reader and writer goroutines on nc, whose handshake is
// already done. The Conn ends when ctx ends, when Close is called, or when
// the connection fails; it owns nc and closes it.
func New(ctx context.Context, nc net.Conn, o Options) *Conn {
	c := &Conn{
		nc:          nc,
		opts:        o.withDefaults(),
		parent:      ctx,
		wakeC:       make(chan struct{}, 1),
		writerDoneC: make(chan struct{}),
		doneC:       make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	// The reader may be blocked in a read, which only closing the socket
	// interrupts, so the parent's end closes the Conn.
	c.stopCtx = context.AfterFunc(ctx, func() { c.Close(context.Cause(ctx)) })
	go c.writeLoop()
	go c.readLoop()
	return c
}

// Key returns Options.Key.
func (c *Conn) Key() int { return c.opts.Key }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Done is closed when both goroutines have ended and the Closed event has
// been delivered (or the context ended first).
func (c *Conn) Done() <-chan struct{} { return c.doneC }

// Err returns why the connection closed, or nil while it is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		return nil
	}
	return c.closeErr
}

// Stats returns the byte counters; the loop samples them into rate meters.
func (c *Conn) Stats() Stats {
	return Stats{
		PayloadReceived: c.payloadIn.Load(),
		PayloadSent:     c.payloadOut.Load(),
		BytesReceived:   c.bytesIn.Load(),
		BytesSent:       c.bytesOut.Load(),
	}
}

// Close ends the connection with err as its cause (ErrClosed if nil). Only
// the first call counts; later calls do nothing. It doesn't wait: see Done.
func (c *Conn) Close(err error) {
	c.closeOnce.Do(func() {
		if err == nil {
			err = ErrClosed
		}
		c.mu.Lock()
		c.closeErr = err
		c.closed = true
		c.control = nil
		c.uploads = nil
		c.queued = nil
		c.mu.Unlock()
		c.cancel()
		// Closing the socket unblocks a reader or writer stuck in I/O.
		_ = c.nc.Close()
	})
}

// Send queues a control message (anything but a block we upload, which
// goes through QueueUpload). It never blocks: it returns false if the Conn
// is closed, and if the queue is full it closes the Conn with
// ErrSendOverflow and returns false. m.Payload is kept until the message is
// written, so the caller must not modify it afterwards.
func (c *Conn) Send(m peerwire.Message) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	if len(c.control) >= c.opts.MaxSendQueue {
		c.mu.Unlock()
		c.Close(ErrSendOverflow)
		return false
	}
	// A HAVE behind other queued messages needs no wake-up: the writer
	// was woken for the first of them and takes the queue as a whole.
	// Sparing the wake-ups matters in a swarm, where every piece we
	// complete is a HAVE to each peer.
	wake := len(c.control) == 0 || m.KeepAlive || m.ID != peerwire.Have
	c.control = append(c.control, m)
	c.mu.Unlock()
	if wake {
		c.wake()
	}
	return true
}

// QueueUpload queues a block the peer requested; the writer reads it with
// ReadBlock just before sending it. It returns false, queueing nothing, if
// the queue is full (MaxUploadQueue), the Conn is closed, there is no
// ReadBlock, or length is not in 1..peerwire.BlockSize; the loop then
// rejects the request (BEP 6) or drops it. The loop must check that the
// block lies inside the piece. A request already queued is not queued
// twice (and true is returned).
func (c *Conn) QueueUpload(piece int, begin int64, length int) bool {
	if c.opts.ReadBlock == nil || length <= 0 || length > peerwire.BlockSize || piece < 0 || begin < 0 {
		return false
	}
	r := Request{Piece: piece, Begin: begin, Length: length}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	if _, dup := c.queued[r]; dup {
		c.mu.Unlock()
		return true
	}
	if len(c.uploads) >= c.opts.MaxUploadQueue {
		c.mu.Unlock()
		return false
	}
	if c.queued == nil {
		c.queued = make(map[Request]struct{})
	}
	c.queued[r] = struct{}{}
	c.uploads = append(c.uploads, r)
	c.mu.Unlock()
	c.wake()
	return true
}

// CancelUpload removes a queued request (the peer sent CANCEL). It reports
// whether the block will not be sent because of it; false means it was
// not queued or is already being written.
func (c *Conn) CancelUpload(piece int, begin int64, length int) bool {
	r := Request{Piece: piece, Begin: begin, Length: length}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.queued[r]; ok {
		delete(c.queued, r)
		i := slices.Index(c.uploads, r)
		c.uploads = append(c.uploads[:i], c.uploads[i+1:]...)
		return true
	}
	if c.hasInFlight && !c.inFlightDropped && c.inFlight == r {
		c.inFlightDropped = true
		// A writer waiting on the limiter for it can stop now.
		c.wake()
		return true
	}
	return false
}

// ClearUploads drops every request not yet being written (we choked the
// peer) and returns them in the order they were queued, so the loop can
// REJECT each one when the peer supports the fast extension (BEP 6). Call
// it before Send(Choke) so no queued block follows the CHOKE.
func (c *Conn) ClearUploads() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	var dropped []Request
	if c.hasInFlight && !c.inFlightDropped {
		c.inFlightDropped = true
		dropped = append(dropped, c.inFlight)
		c.wake()
	}
	dropped = append(dropped, c.uploads...)
	c.uploads = c.uploads[:0]
	clear(c.queued)
	return dropped
}

// QueuedUploads returns the number of requests waiting to be served.
func (c *Conn) QueuedUploads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.uploads)
}

// fail closes the Conn after its reader or writer failed. When the parent
// context has ended, that is the cause, not the I/O error it provoked.
func (c *Conn) fail(err error) {
	if c.parent.Err() != nil {
		err = context.Cause(c.parent)
	}
	c.Close(err)
}

// wake tells the writer there is work, without blocking.
func (c *Conn) wake() {
	select {
	case c.wakeC <- struct{}{}:
	default:
	}
}

// finish runs on the reader goroutine once it has ended: it waits for the
// writer, delivers the one Closed event and closes Done.
func (c *Conn) finish() {
	// The reader may have stopped because the parent context ended before
	// the AfterFunc's Close ran; make sure the cause is recorded first.
	c.fail(ErrClosed)
	<-c.writerDoneC
	c.stopCtx()
	c.mu.Lock()
	err := c.closeErr
	c.mu.Unlock()
	if c.opts.Events != nil {
		select {
		case c.opts.Events <- Event{Conn: c, Closed: true, Err: err}:
		case <-c.parent.Done():
		}
	}
	close(c.doneC)
}
