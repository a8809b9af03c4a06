package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"shoal/dht"
	"shoal/lsd"
	"shoal/metainfo"
	"shoal/peerwire"
	"shoal/storage"
)

// ErrClosed is returned by operations on a closed Session or a removed Torrent.
var ErrClosed = errors.New("engine: closed")

// Session is one BitTorrent client: it owns the listening socket, the
// connection limits, rate limiters, the piece-memory budget and the resume
// store, and runs the torrents added to it.
type Session struct {
	cfg    Config
	log    *slog.Logger
	peerID peerwire.PeerID

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the session and its torrents start

	listener  net.Listener
	resume    *storage.ResumeStore // nil when Config.DataDir is empty
	budget    *storage.Budget      // memory for pieces in flight
	pieceBufs piecePools           // recycled piece buffers

	hashSem  chan struct{} // bounds concurrent piece hashing
	hasher   pieceHasher   // checks downloaded pieces, in pairs when it can
	diskSem  chan struct{} // bounds concurrent piece writes
	halfOpen chan struct{} // bounds outgoing connection attempts

	downLimit, upLimit *rate.Limiter // session-wide; nil when unlimited

	conns       atomic.Int64 // established peer connections over all torrents
	handshaking atomic.Int64 // incoming connections still in their handshake
	incoming    atomic.Int64 // accepted connections not yet closed: in handshake or established

	work sessionWork // check and resume-writing queues

	dht *dht.Node    // the DHT node (BEP 5); nil when Config.DHT is off
	lsd *lsd.Service // local service discovery (BEP 14); nil when off

	mu       sync.RWMutex
	torrents map[metainfo.InfoHash]*Torrent
	banned   map[netip.Addr]string          // IP -> why, for this session
	fetches  map[metainfo.InfoHash]*fetcher // metadata fetches taking incoming connections
	// fetched holds the peers of metadata fetches that succeeded, for the
	// torrent added next with that info hash.
	fetched map[metainfo.InfoHash]fetchedPeers
	closed  bool
}

// NewSession starts a session: it opens the resume store in cfg.DataDir (if
// set) and starts listening for peers (unless cfg.NoListen). The torrents
// an earlier session kept in cfg.DataDir come back with RestoreTorrents.
func NewSession(cfg Config) (*Session, error) {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{
		cfg:      cfg,
		log:      cfg.Logger,
		peerID:   peerwire.NewPeerID(peerIDPrefix),
		ctx:      ctx,
		cancel:   cancel,
		budget:   storage.NewBudget(cfg.PieceMemory),
		hashSem:  make(chan struct{}, cfg.HashWorkers),
		diskSem:  make(chan struct{}, cfg.DiskWorkers),
		halfOpen: make(chan struct{}, cfg.MaxHalfOpen),
		torrents: make(map[metainfo.InfoHash]*Torrent),
		banned:   make(map[netip.Addr]string),
	}
	s.hasher = pieceHasher{sem: s.hashSem, stop: ctx.Done(), wg: &s.wg,
		arrived: make(chan struct{}, 1), pairWait: defaultPairWait}
	s.downLimit = newLimiter(cfg.DownloadRate)
	s.upLimit = newLimiter(cfg.UploadRate)
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			cancel()
			return nil, fmt.Errorf("engine: data directory: %w", err)
		}
		rs, err := storage.OpenResumeStore(filepath.Join(cfg.DataDir, "resume.db"))
		if err != nil {
			cancel()
			return nil, err
		}
		s.resume = rs
	}
	if !cfg.NoListen {
		ln, err := net.Listen("tcp", cfg.ListenAddr)
		if err != nil {
			cancel()
			if s.resume != nil {
				s.resume.Close()
			}
			return nil, fmt.Errorf("engine: listen: %w", err)
		}
		s.listener = ln
	}
	if err := s.startDHT(); err != nil {
		s.closeEarly()
		return nil, err
	}
	if err := s.startLSD(); err != nil {
		s.log.Warn("local service discovery not started", "err", err)
	}
	if s.listener != nil {
		s.wg.Add(1)
		go s.acceptLoop()
	}
	return s, nil
}

// newLimiter returns a token bucket for bytesPerSec, or nil for unlimited.
func newLimiter(bytesPerSec int64) *rate.Limiter {
	if bytesPerSec <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(bytesPerSec), limiterBurst(bytesPerSec))
}

// limiterBurst lets a quarter second of traffic through at once, and at
// least two blocks, so a block-sized wait always succeeds.
func limiterBurst(bytesPerSec int64) int {
	return max(int(bytesPerSec/4), 2*peerwire.BlockSize)
}

// Addr returns the address the session accepts peers on, or nil.
func (s *Session) Addr() net.Addr {
	if s.listener == nil {
		return nil
	}
	return s.listener.Addr()
}

// PeerID returns the session's peer id.
func (s *Session) PeerID() peerwire.PeerID { return s.peerID }

// Torrents returns the session's torrents.
func (s *Session) Torrents() []*Torrent {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Torrent, 0, len(s.torrents))
	for _, t := range s.torrents {
		out = append(out, t)
	}
	return out
}

// Torrent returns the torrent with this info hash, if the session has it.
func (s *Session) Torrent(ih metainfo.InfoHash) (*Torrent, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.torrents[ih]
	return t, ok
}

// Close stops every torrent, saves their resume data, closes the listener
// and waits for every goroutine to end.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	// Cancel first: the accept loop then takes the listener's error as
	// the end it is, not as a failure to log and retry.
	s.cancel()
	if s.listener != nil {
		s.listener.Close()
	}
	// Torrents' contexts are not children of the session's; parked ones
	// have no goroutine to notice either: end and wake each.
	for _, t := range s.Torrents() {
		t.cancel()
		t.enter()()
	}
	s.wg.Wait()
	// After the torrents: their DHT and LSD sources have ended.
	if s.lsd != nil {
		s.lsd.Close()
	}
	if s.dht != nil {
		s.dht.Close()
	}
	if s.resume != nil {
		return s.resume.Close()
	}
	return nil
}

// reserveConn takes one of the Config.MaxConns connection slots shared by
// all torrents, or reports that none is free. Torrent loops run in
// parallel: checking the count and adding to it in two steps would let two
// of them take the last slot.
func (s *Session) reserveConn() bool {
	for {
		n := s.conns.Load()
		if n >= int64(s.cfg.MaxConns) {
			return false
		}
		if s.conns.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// closeEarly undoes what NewSession opened before it failed.
func (s *Session) closeEarly() {
	s.cancel()
	if s.listener != nil {
		s.listener.Close()
	}
	if s.resume != nil {
		s.resume.Close()
	}
}

// ban refuses connections from ip for the rest of the session.
func (s *Session) ban(ip netip.Addr, why string) {
	s.mu.Lock()
	s.banned[ip.Unmap()] = why
	s.mu.Unlock()
	s.log.Info("banned peer", "ip", ip, "why", why)
}

func (s *Session) isBanned(ip netip.Addr) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.banned[ip.Unmap()]
	return ok
}

// acceptLoop accepts incoming connections and hands each to a handshake
// goroutine.
func (s *Session) acceptLoop() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := s.listener.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			// Out of file descriptors (EMFILE, ENFILE) or another passing
			// failure: the connection waits in the kernel's backlog. Back
			// off, 5 ms doubling to 1 s, so a process at its descriptor
			// limit neither spins nor floods the log, and resume as soon
			// as descriptors are free again.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		// Bound accepted connections alive (handshaking or established)
		// by MaxConns, and established ones over all torrents too: a flood
		// of connections, silent or not, costs at most MaxConns
		// descriptors and handshake goroutines (each for HandshakeTimeout
		// at most), and the torrents' connections never exceed MaxConns.
		if s.incoming.Load() >= int64(s.cfg.MaxConns) || s.conns.Load() >= int64(s.cfg.MaxConns) ||
			s.handshaking.Load() >= int64(s.cfg.MaxConns) {
			nc.Close()
			continue
		}
		s.incoming.Add(1)
		s.handshaking.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.handshaking.Add(-1)
			s.handleIncoming(&incomingConn{Conn: nc, s: s})
		}()
	}
}

// incomingConn is an accepted connection that gives its slot back to the
// accept loop's bound (Session.incoming) when it is closed, whoever closes
// it: the handshake, a torrent refusing it, or the peer's connection
// ending.
type incomingConn struct {
	net.Conn
	s        *Session
	released atomic.Bool
}

func (c *incomingConn) Close() error {
	err := c.Conn.Close()
	if c.released.CompareAndSwap(false, true) {
		c.s.incoming.Add(-1)
	}
	return err
}

// Banned returns the addresses banned in this session, with the reason.
func (s *Session) Banned() map[netip.Addr]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[netip.Addr]string, len(s.banned))
	for ip, why := range s.banned {
		out[ip] = why
	}
	return out
}
