package server

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Defaults of the HTTP frontend's limits (Config.HTTP...): generous for a
// BEP 3 announce (one GET of ~300 bytes, answered at once), short enough
// that slow or oversized clients cannot hold connections for long.
const (
	DefaultHTTPReadHeaderTimeout = 5 * time.Second
	DefaultHTTPReadTimeout       = 10 * time.Second
	DefaultHTTPWriteTimeout      = 10 * time.Second
	DefaultHTTPIdleTimeout       = 60 * time.Second
	DefaultHTTPMaxHeaderBytes    = 8 << 10
	DefaultHTTPMaxConns          = 1024
)

// httpRefusal is why the HTTP frontend cut a client off before any
// handler answered it (or, for a body, instead of answering).
type httpRefusal uint8

const (
	refusedHeaderTooLarge httpRefusal = iota // request line and headers over HTTPMaxHeaderBytes (431)
	refusedTimeout                           // request not read within HTTPReadHeaderTimeout/HTTPReadTimeout
	refusedBody                              // a request with a body: announces and scrapes are GETs
	refusedBadRequest                        // not HTTP/1.x (400)
	refusedTooManyConns                      // over HTTPMaxConns open connections
	numHTTPRefusals
)

// httpRefusalLabels are the metric label values.
var httpRefusalLabels = [numHTTPRefusals]string{
	"header_too_large", "timeout", "body", "bad_request", "too_many_connections",
}

// httpLimits fills in the defaults of the HTTP limits.
func (c *Config) httpLimits() {
	setDuration := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setDuration(&c.HTTPReadHeaderTimeout, DefaultHTTPReadHeaderTimeout)
	setDuration(&c.HTTPReadTimeout, DefaultHTTPReadTimeout)
	setDuration(&c.HTTPWriteTimeout, DefaultHTTPWriteTimeout)
	setDuration(&c.HTTPIdleTimeout, DefaultHTTPIdleTimeout)
	if c.HTTPMaxHeaderBytes <= 0 {
		c.HTTPMaxHeaderBytes = DefaultHTTPMaxHeaderBytes
	}
	if c.HTTPMaxConns <= 0 {
		c.HTTPMaxConns = DefaultHTTPMaxConns
	}
}

// newHTTPServer is the net/http server of ServeHTTP, with cfg's limits.
func (s *Server) newHTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.HTTPReadHeaderTimeout,
		ReadTimeout:       s.cfg.HTTPReadTimeout,
		WriteTimeout:      s.cfg.HTTPWriteTimeout,
		IdleTimeout:       s.cfg.HTTPIdleTimeout,
		MaxHeaderBytes:    s.cfg.HTTPMaxHeaderBytes,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if lc, ok := c.(*limitedConn); ok {
				ctx = context.WithValue(ctx, limitedConnKey{}, lc)
			}
			return ctx
		},
	}
}

// limitedConnKey is the request-context key of the request's connection.
type limitedConnKey struct{}

// limitListener closes connections beyond HTTPMaxConns as they are
// accepted, so a flood of connections costs a bounded number of
// descriptors and goroutines, and wraps the others to count what net/http
// refuses on its own (which no handler sees).
type limitListener struct {
	net.Listener
	s *Server
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		s := l.s
		if s.counts.httpOpen.Add(1) > int64(s.cfg.HTTPMaxConns) {
			s.counts.httpOpen.Add(-1)
			s.counts.refuseHTTP(refusedTooManyConns)
			c.Close()
			continue
		}
		return &limitedConn{Conn: c, s: s}, nil
	}
}

// limitedConn is one HTTP connection, watched for what net/http does on
// its own: it answers an oversized request 431 and a garbled one 400, and
// closes a connection whose request did not arrive in time, all before
// (and without) calling a handler.
type limitedConn struct {
	net.Conn
	s        *Server
	requests atomic.Int64 // requests that reached a handler
	partial  atomic.Int64 // bytes read since the last request reached a handler
	timedOut atomic.Bool  // the last read ended at the read deadline
	closed   atomic.Bool
}

func (c *limitedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.partial.Add(int64(n))
	var ne net.Error
	c.timedOut.Store(errors.As(err, &ne) && ne.Timeout())
	return n, err
}

// Write spots the error answers net/http writes itself: our handlers
// answer 200 (failures are bencoded, BEP 3), 404 or 500, never 431 or 400.
// net/http also answers 400 to a request line cut off by the read
// deadline; that one is counted as a timeout, by Close.
func (c *limitedConn) Write(p []byte) (int, error) {
	switch {
	case bytes.HasPrefix(p, []byte("HTTP/1.1 431 ")):
		c.s.counts.refuseHTTP(refusedHeaderTooLarge)
	case bytes.HasPrefix(p, []byte("HTTP/1.1 400 ")) && !c.timedOut.Load():
		c.s.counts.refuseHTTP(refusedBadRequest)
	}
	return c.Conn.Write(p)
}

// Close counts a connection cut off by a read timeout in the middle of a
// request, or before its first request, as refused. A kept-alive
// connection that idles out between requests is not: that is normal.
func (c *limitedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.s.counts.httpOpen.Add(-1)
		if c.timedOut.Load() && (c.requests.Load() == 0 || c.partial.Load() > 0) {
			c.s.counts.refuseHTTP(refusedTimeout)
		}
	}
	return c.Conn.Close()
}

// requestStarted notes that a request of c reached a handler.
func (c *limitedConn) requestStarted() {
	c.requests.Add(1)
	c.partial.Store(0)
}

// guardHTTP notes each request on its connection and refuses requests
// with a body: BEP 3 announces and scrapes are GETs, and reading a body
// nobody asked for is work and memory an attacker would choose.
func (s *Server) guardHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lc, ok := r.Context().Value(limitedConnKey{}).(*limitedConn); ok {
			lc.requestStarted()
		}
		if r.ContentLength != 0 {
			s.counts.refuseHTTP(refusedBody)
			// A bencoded failure with status 200, as for any refused
			// announce (failHTTP); then the connection closes rather
			// than reading and discarding the body.
			w.Header().Set("Connection", "close")
			writeBencode(w, appendFailure(nil, "request body not allowed"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
