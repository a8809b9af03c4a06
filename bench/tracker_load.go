package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// loadSpec describes the swarms the load generator announces into: peer i
// belongs to swarm i % hashes. Peers are told apart by peer id (Shoal) and
// by announced port (opentracker keys peers by address), so a peer's port
// is its rank within its swarm.
type loadSpec struct {
	hashes int
	peers  int
	seed   uint64
}

func (s loadSpec) infoHash(h int) [20]byte {
	var ih [20]byte
	binary.BigEndian.PutUint64(ih[:8], s.seed)
	binary.BigEndian.PutUint64(ih[8:16], uint64(h)*0x9e3779b97f4a7c15)
	binary.BigEndian.PutUint32(ih[16:], uint32(h))
	return ih
}

func (s loadSpec) peerID(i int) [20]byte {
	var id [20]byte
	copy(id[:], "-LG0001-")
	binary.BigEndian.PutUint64(id[12:], uint64(i))
	return id
}

func (s loadSpec) port(i int) uint16 { return uint16(1024 + i/s.hashes) }

// leecher makes every other peer a leecher.
func (s loadSpec) left(i int) uint64 { return uint64(i % 2) }

// loadStats is what one load phase measured.
type loadStats struct {
	Requests      int64   `json:"requests"`
	Errors        int64   `json:"errors"` // timeouts and bad answers
	Seconds       float64 `json:"seconds"`
	PerSecond     float64 `json:"announces_per_s"`
	P50Millis     float64 `json:"p50_ms"`
	P99Millis     float64 `json:"p99_ms"`
	AnswersPeers  int64   `json:"peers_returned"` // summed over answers: proof the tracker returned peers
	FirstErrorMsg string  `json:"first_error,omitempty"`
}

// latencies collects per-request latencies from many goroutines.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(ds []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, ds...)
	l.mu.Unlock()
}

func (l *latencies) quantile(q float64) float64 {
	if len(l.all) == 0 {
		return 0
	}
	slices.Sort(l.all)
	return float64(l.all[min(len(l.all)-1, int(q*float64(len(l.all))))]) / 1e6
}

// udpClient is one load-generator socket with its BEP 15 connection id.
type udpClient struct {
	conn    *net.UDPConn
	connID  uint64
	connAt  time.Time
	buf     []byte
	timeout time.Duration
}

func newUDPClient(addr string) (*udpClient, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		return nil, err
	}
	conn.SetReadBuffer(1 << 20)
	return &udpClient{conn: conn, buf: make([]byte, 2048), timeout: 2 * time.Second}, nil
}

// connect obtains a connection id, retrying a few times on loss.
func (c *udpClient) connect() error {
	for try := range 4 {
		p := binary.BigEndian.AppendUint64(nil, 0x41727101980)
		p = binary.BigEndian.AppendUint32(p, 0)
		p = binary.BigEndian.AppendUint32(p, uint32(try)+0x7000)
		if _, err := c.conn.Write(p); err != nil {
			return err
		}
		c.conn.SetReadDeadline(time.Now().Add(c.timeout))
		n, err := c.conn.Read(c.buf)
		if err != nil {
			continue
		}
		if n >= 16 && binary.BigEndian.Uint32(c.buf) == 0 && binary.BigEndian.Uint32(c.buf[4:]) == uint32(try)+0x7000 {
			c.connID = binary.BigEndian.Uint64(c.buf[8:])
			c.connAt = time.Now()
			return nil
		}
	}
	return errors.New("UDP connect: no answer after 4 tries")
}

func (c *udpClient) announcePacket(spec loadSpec, i int, tid uint32, numWant int32) []byte {
	ih, id := spec.infoHash(i%spec.hashes), spec.peerID(i)
	p := binary.BigEndian.AppendUint64(make([]byte, 0, 98), c.connID)
	p = binary.BigEndian.AppendUint32(p, 1)
	p = binary.BigEndian.AppendUint32(p, tid)
	p = append(p, ih[:]...)
	p = append(p, id[:]...)
	p = binary.BigEndian.AppendUint64(p, 0)
	p = binary.BigEndian.AppendUint64(p, spec.left(i))
	p = binary.BigEndian.AppendUint64(p, 0)
	p = binary.BigEndian.AppendUint32(p, 0) // event none
	p = binary.BigEndian.AppendUint32(p, 0)
	p = binary.BigEndian.AppendUint32(p, uint32(i))
	p = binary.BigEndian.AppendUint32(p, uint32(numWant))
	return binary.BigEndian.AppendUint16(p, spec.port(i))
}

// udpWindow sends a window of announces for the peers next() yields and
// collects their answers, matched by transaction id. It keeps depth
// requests in flight per socket so the generator is not limited by one
// round trip at a time.
func udpLoad(addr string, spec loadSpec, workers, depth int, next func() (int, bool), numWant int32) (loadStats, error) {
	var st loadStats
	var reqs, errs, peers atomic.Int64
	var lat latencies
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		c, err := newUDPClient(addr)
		if err != nil {
			return st, err
		}
		if err := c.connect(); err != nil {
			c.conn.Close()
			return st, fmt.Errorf("%s: %w", addr, err)
		}
		wg.Go(func() {
			defer c.conn.Close()
			sent := make(map[uint32]time.Time, depth)
			var ds []time.Duration
			tid := uint32(w) << 20
			for {
				if time.Since(c.connAt) > 50*time.Second {
					if c.connect() != nil {
						errs.Add(1)
						return
					}
				}
				clear(sent)
				for range depth {
					i, ok := next()
					if !ok {
						break
					}
					tid++
					sent[tid] = time.Now()
					c.conn.Write(c.announcePacket(spec, i, tid, numWant))
				}
				if len(sent) == 0 {
					break
				}
				c.conn.SetReadDeadline(time.Now().Add(c.timeout))
				for len(sent) > 0 {
					n, err := c.conn.Read(c.buf)
					if err != nil {
						errs.Add(int64(len(sent)))
						firstErr.CompareAndSwap(nil, fmt.Sprintf("%d announces unanswered: %v", len(sent), err))
						break
					}
					if n < 8 {
						continue
					}
					t, ok := sent[binary.BigEndian.Uint32(c.buf[4:])]
					if !ok {
						continue
					}
					delete(sent, binary.BigEndian.Uint32(c.buf[4:]))
					if binary.BigEndian.Uint32(c.buf) != 1 || n < 20 {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("answer %q", c.buf[:min(n, 80)]))
						continue
					}
					reqs.Add(1)
					peers.Add(int64((n - 20) / 6))
					ds = append(ds, time.Since(t))
				}
			}
			lat.add(ds)
		})
	}
	wg.Wait()
	st.Seconds = time.Since(start).Seconds()
	st.Requests, st.Errors, st.AnswersPeers = reqs.Load(), errs.Load(), peers.Load()
	st.PerSecond = float64(st.Requests) / st.Seconds
	st.P50Millis, st.P99Millis = lat.quantile(0.50), lat.quantile(0.99)
	if v := firstErr.Load(); v != nil {
		st.FirstErrorMsg = v.(string)
	}
	return st, nil
}

// httpLoad runs HTTP announces from workers goroutines, each waiting for
// its answer before the next request.
func httpLoad(base string, spec loadSpec, workers int, next func() (int, bool)) (loadStats, error) {
	var st loadStats
	var reqs, errs, peers atomic.Int64
	var lat latencies
	var firstErr atomic.Value
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers},
	}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			var ds []time.Duration
			for {
				i, ok := next()
				if !ok {
					break
				}
				ih, id := spec.infoHash(i%spec.hashes), spec.peerID(i)
				q := "info_hash=" + escapeBytes(ih[:]) + "&peer_id=" + escapeBytes(id[:]) +
					fmt.Sprintf("&port=%d&uploaded=0&downloaded=0&left=%d&compact=1&numwant=50", spec.port(i), spec.left(i))
				t := time.Now()
				resp, err := client.Get(base + "/announce?" + q)
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || !bytesContains(body, "8:interval") {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d, body %q", resp.StatusCode, body[:min(len(body), 80)]))
					continue
				}
				ds = append(ds, time.Since(t))
				reqs.Add(1)
				peers.Add(1)
			}
			lat.add(ds)
		})
	}
	wg.Wait()
	st.Seconds = time.Since(start).Seconds()
	st.Requests, st.Errors, st.AnswersPeers = reqs.Load(), errs.Load(), peers.Load()
	st.PerSecond = float64(st.Requests) / st.Seconds
	st.P50Millis, st.P99Millis = lat.quantile(0.50), lat.quantile(0.99)
	if v := firstErr.Load(); v != nil {
		st.FirstErrorMsg = v.(string)
	}
	return st, nil
}

// escapeBytes percent-encodes everything but RFC 3986 unreserved
// characters, as BitTorrent clients do: url.QueryEscape's '+' for a space
// byte is not understood by every tracker (opentracker takes it literally).
func escapeBytes(b []byte) string {
	const hexDigits = "0123456789ABCDEF"
	out := make([]byte, 0, 3*len(b))
	for _, c := range b {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			out = append(out, c)
		} else {
			out = append(out, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(out)
}

func bytesContains(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return true
		}
	}
	return false
}

// sequence yields 0..n-1 once, to any number of goroutines.
func sequence(n int) func() (int, bool) {
	var c atomic.Int64
	return func() (int, bool) {
		i := c.Add(1) - 1
		return int(i), i < int64(n)
	}
}

// forDuration yields random existing peers until d has passed.
func forDuration(n int, d time.Duration) func() (int, bool) {
	end := time.Now().Add(d)
	var c atomic.Int64
	var over atomic.Bool
	return func() (int, bool) {
		// Checking the clock every 64 requests keeps it off the profile.
		if over.Load() || c.Add(1)%64 == 0 && time.Now().After(end) {
			over.Store(true)
			return 0, false
		}
		return rand.IntN(n), true
	}
}

// udpScrape returns seeders, completed and leechers of one swarm.
func udpScrape(addr string, ih [20]byte) (seeders, leechers int, err error) {
	c, err := newUDPClient(addr)
	if err != nil {
		return 0, 0, err
	}
	defer c.conn.Close()
	if err := c.connect(); err != nil {
		return 0, 0, err
	}
	p := binary.BigEndian.AppendUint64(nil, c.connID)
	p = binary.BigEndian.AppendUint32(p, 2)
	p = binary.BigEndian.AppendUint32(p, 99)
	p = append(p, ih[:]...)
	for range 3 {
		c.conn.Write(p)
		c.conn.SetReadDeadline(time.Now().Add(c.timeout))
		n, err := c.conn.Read(c.buf)
		if err != nil {
			continue
		}
		if n < 20 || binary.BigEndian.Uint32(c.buf) != 2 {
			return 0, 0, fmt.Errorf("scrape answer %q", c.buf[:n])
		}
		return int(binary.BigEndian.Uint32(c.buf[8:])), int(binary.BigEndian.Uint32(c.buf[16:])), nil
	}
	return 0, 0, errors.New("scrape: no answer")
}
