package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"time"
)

// DefaultInterval is the announce interval when Config.Interval is zero.
const DefaultInterval = 30 * time.Minute

// Config configures a Server. The zero value is usable.
type Config struct {
	// Interval is the announce interval sent to clients. Peers silent for
	// twice this long are dropped. Default DefaultInterval.
	Interval time.Duration
	// MinInterval is the "min interval" sent to HTTP clients. Default
	// Interval/2.
	MinInterval time.Duration
	// Store holds the swarms. Default a new MemoryStore.
	Store Store
	// AllowList, if not nil, limits the tracker to the info hashes on it.
	AllowList *AllowList
	// ProxyHeader names an HTTP header carrying the client's address, set
	// by a reverse proxy in front of the tracker (e.g. "X-Forwarded-For";
	// its last address is used). It is believed only from TrustedProxies.
	ProxyHeader    string
	TrustedProxies []netip.Prefix
	// UDPReaders is the number of goroutines reading the UDP socket.
	// Default runtime.NumCPU().
	UDPReaders int
	// HTTP frontend limits (ServeHTTP), so slow or oversized clients
	// cannot hold connections, goroutines or memory; zero means the
	// Default... constant. A request must arrive (line and headers)
	// within HTTPReadHeaderTimeout and whole within HTTPReadTimeout; the
	// answer must be written within HTTPWriteTimeout; a kept-alive
	// connection may idle HTTPIdleTimeout between requests. The request
	// line and headers together may be HTTPMaxHeaderBytes. Connections
	// beyond HTTPMaxConns open at once are closed as they arrive.
	HTTPReadHeaderTimeout time.Duration
	HTTPReadTimeout       time.Duration
	HTTPWriteTimeout      time.Duration
	HTTPIdleTimeout       time.Duration
	HTTPMaxHeaderBytes    int
	HTTPMaxConns          int
	// Logger receives errors that concern the operator. Default discards.
	Logger *slog.Logger
	// Now is the clock; tests replace it. Default time.Now.
	Now func() time.Time
}

// Server is a tracker: HTTP and UDP frontends over one Store.
type Server struct {
	cfg     Config
	now     func() time.Time
	started time.Time
	keys    *connIDKeys
	counts  counters
	peerBuf sync.Pool // *[]Peer for store answers
}

// New returns a Server with cfg's defaults filled in.
func New(cfg Config) (*Server, error) {
	if cfg.Interval < 0 || cfg.MinInterval < 0 {
		return nil, errors.New("tracker: negative announce interval")
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Interval < time.Second {
		return nil, fmt.Errorf("tracker: announce interval %v is under one second", cfg.Interval)
	}
	if cfg.MinInterval == 0 {
		cfg.MinInterval = cfg.Interval / 2
	}
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	if cfg.UDPReaders <= 0 {
		cfg.UDPReaders = runtime.NumCPU()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.httpLimits()
	s := &Server{cfg: cfg, now: cfg.Now}
	s.started = s.now()
	s.keys = newConnIDKeys(s.started)
	s.peerBuf.New = func() any {
		b := make([]Peer, 0, MaxNumWant)
		return &b
	}
	return s, nil
}

// ReloadAllowList re-reads the allow-list file. The CLI calls it on SIGHUP.
func (s *Server) ReloadAllowList() error {
	if s.cfg.AllowList == nil {
		return errors.New("tracker: no allow-list configured")
	}
	return s.cfg.AllowList.Reload()
}

// allowed applies the allow-list.
func (s *Server) allowed(req *AnnounceRequest) bool {
	return s.cfg.AllowList.Allowed(req.InfoHash)
}

// ExpireOnce drops peers silent for more than two intervals.
func (s *Server) ExpireOnce(ctx context.Context) (int, error) {
	n, err := s.cfg.Store.Expire(ctx, s.now().Add(-2*s.cfg.Interval))
	s.counts.expired.Add(uint64(n))
	return n, err
}

// Serve runs the HTTP frontend on httpLn and the UDP frontend on udpConn
// (either may be nil) and expires silent peers, until ctx ends. It then
// stops both frontends, waits for them, and returns nil; an error means a
// frontend failed.
func (s *Server) Serve(ctx context.Context, httpLn net.Listener, udpConn *net.UDPConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errC := make(chan error, 2)
	if httpLn != nil {
		wg.Go(func() {
			if err := s.ServeHTTP(ctx, httpLn); err != nil {
				errC <- err
				cancel()
			}
		})
	}
	if udpConn != nil {
		wg.Go(func() {
			if err := s.ServeUDP(ctx, udpConn); err != nil {
				errC <- err
				cancel()
			}
		})
	}
	wg.Go(func() { s.expireLoop(ctx) })
	wg.Wait()
	select {
	case err := <-errC:
		return err
	default:
		return nil
	}
}

// expireLoop sweeps the store a few times per interval, so a peer is gone
// soon after its two intervals of silence.
func (s *Server) expireLoop(ctx context.Context) {
	every := min(s.cfg.Interval/4, time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.ExpireOnce(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Error("tracker: expiring peers", "err", err)
			}
		}
	}
}

// ServeHTTP serves /announce, /scrape, /stats and /metrics on ln until ctx
// ends, with the limits that keep slow or oversized clients from holding
// resources (Config.HTTP...): header size, header/read/write timeouts,
// idle timeout, open connections; each refusal is counted in /metrics.
func (s *Server) ServeHTTP(ctx context.Context, ln net.Listener) error {
	hs := s.newHTTPServer()
	hs.ErrorLog = slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug)
	ln = &limitListener{Listener: ln, s: s}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if hs.Shutdown(sctx) != nil {
			hs.Close()
		}
	}()
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("tracker: HTTP: %w", err)
	}
	<-done
	return err
}

// Handler returns the HTTP frontend as a handler, for embedding in another
// server.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/announce", s.serveAnnounce)
	mux.HandleFunc("/scrape", s.serveScrape)
	mux.HandleFunc("/stats", s.serveStats)
	mux.HandleFunc("/metrics", s.serveMetrics)
	return s.guardHTTP(mux)
}
