package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// startServer runs s on loopback sockets (HTTP and UDP) until the test
// ends, and returns the HTTP address and the UDP socket's address.
func startServer(t *testing.T, s *Server) (httpAddr string, udpAddr *net.UDPAddr) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, uc) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), uc.LocalAddr().(*net.UDPAddr)
}

// noKeepAlive is a client whose connections close after each request, so
// they hold none of the server's connection slots afterwards.
var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// metricsBody fetches /metrics.
func metricsBody(t *testing.T, httpAddr string) string {
	t.Helper()
	resp, err := noKeepAlive.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantMetrics fails the test unless /metrics has every line of want.
func wantMetrics(t *testing.T, httpAddr string, want ...string) {
	t.Helper()
	body := metricsBody(t, httpAddr)
	for _, w := range want {
		if !strings.Contains(body, w+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", w, body)
		}
	}
}

// TestUDPBadConnectionIDsDropped sends announces and scrapes with forged
// connection ids from several source addresses to the real UDP socket:
// none gets any answer (BEP 15; a reflector would answer the spoofed
// victim), every one is counted in /metrics, and an honest client is
// still served.
func TestUDPBadConnectionIDsDropped(t *testing.T) {
	s := newTestServer(t, Config{UDPReaders: 2})
	httpAddr, udpAddr := startServer(t, s)

	// An honest client's connection id, which a forger (another address)
	// replays.
	honest, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}, udpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer honest.Close()
	honest.SetDeadline(time.Now().Add(10 * time.Second))
	honest.Write(connectPacket(1))
	buf := make([]byte, 2048)
	n, err := honest.Read(buf)
	if err != nil || n != 16 {
		t.Fatalf("connect: %d bytes, %v", n, err)
	}
	stolen := binary.BigEndian.Uint64(buf[8:])

	forged := [][]byte{
		announcePacket(0, 2, testHash(1), testPeerID(1), 0, 2, 50, 6881),
		announcePacket(0xdeadbeefcafef00d, 3, testHash(1), testPeerID(1), 0, 2, 50, 6881),
		announcePacket(udpProtocolID, 4, testHash(1), testPeerID(1), 0, 2, 50, 6881), // the connect magic is not an id
		announcePacket(stolen, 5, testHash(1), testPeerID(1), 0, 2, 50, 6881),        // issued to another address
		scrapePacket(stolen, 6, testHash(1), testHash(2)),
		scrapePacket(0x0102030405060708, 7, testHash(1)),
		append(binary.BigEndian.AppendUint64(nil, stolen), 0, 0, 0, 9, 0, 0, 0, 8), // unknown action, stolen id
	}
	const sources = 5
	for i := range sources {
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 1, byte(10+i))}, udpAddr)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range forged {
			if _, err := c.Write(p); err != nil {
				t.Fatal(err)
			}
		}
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, err := c.Read(buf); err == nil {
			t.Errorf("source %d: forged packet answered with %x", i, buf[:n])
		}
		c.Close()
	}
	want := uint64(sources * len(forged))
	deadline := time.Now().Add(10 * time.Second)
	for s.counts.rejected[protoUDP][RejectBadConnID].Load() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	wantMetrics(t, httpAddr,
		fmt.Sprintf(`shoal_tracker_rejected_total{proto="udp",reason="bad_connection_id"} %d`, want),
		`shoal_tracker_announces_total{proto="udp"} 0`,
		`shoal_tracker_scrapes_total{proto="udp"} 0`,
		`shoal_tracker_swarms 0`)

	// The honest client is answered with its own id.
	honest.Write(announcePacket(stolen, 9, testHash(1), testPeerID(1), 0, 2, 50, 6881))
	n, err = honest.Read(buf)
	if err != nil || binary.BigEndian.Uint32(buf) != udpActionAnnounce || binary.BigEndian.Uint32(buf[4:]) != 9 {
		t.Fatalf("honest announce: %x, %v", buf[:n], err)
	}
}

// rawHTTP sends req on a new connection and returns what comes back until
// the server closes it (or 10 s pass).
func rawHTTP(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

// TestHTTPOversizedRequests: a huge URL, huge or many headers, a body
// (announces are GETs) and a request that is not HTTP are refused without
// reaching the store, each counted in /metrics by reason; a long query
// under the header limit is refused by the parser and counted as
// malformed.
func TestHTTPOversizedRequests(t *testing.T) {
	s := newTestServer(t, Config{HTTPMaxHeaderBytes: 4 << 10})
	addr, _ := startServer(t, s)
	good := "/announce?" + announceQuery(announceParams{ih: testHash(1), id: testPeerID(1), port: 1})

	for _, tc := range []struct {
		name, req, want string
	}{
		{"huge URL", "GET " + good + "&pad=" + strings.Repeat("x", 64<<10) + " HTTP/1.1\r\nHost: t\r\n\r\n", "HTTP/1.1 431 "},
		{"huge header", "GET " + good + " HTTP/1.1\r\nHost: t\r\nX-Pad: " + strings.Repeat("x", 64<<10) + "\r\n\r\n", "HTTP/1.1 431 "},
		{"many headers", "GET " + good + " HTTP/1.1\r\nHost: t\r\n" + strings.Repeat("X-A: b\r\n", 2000) + "\r\n", "HTTP/1.1 431 "},
		{"not HTTP", "HELLO THERE\r\n\r\n", "HTTP/1.1 400 "},
		{"chunked body", "GET " + good + " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "request body not allowed"},
		{"long query", "GET " + good + "&pad=" + strings.Repeat("x", maxQueryBytes) + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", RejectMalformed.String()},
	} {
		if got := rawHTTP(t, addr, tc.req); !strings.Contains(got, tc.want) {
			t.Errorf("%s: answered %.200q, want %q", tc.name, got, tc.want)
		}
	}

	// A huge body: the announce is refused after its headers and the
	// connection closed long before the body's 256 MiB could be sent.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	const bodySize = 256 << 20
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", good, bodySize)
	var sent atomic.Int64
	go func() {
		chunk := make([]byte, 64<<10)
		for sent.Load() < bodySize {
			n, err := c.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	answer, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(answer, "HTTP/1.1 200 ") {
		t.Errorf("huge body: status line %q", answer)
	}
	if n := sent.Load(); n >= bodySize {
		t.Errorf("the server read the whole %d-byte body", n)
	}

	wantMetrics(t, addr,
		`shoal_tracker_http_refused_total{reason="header_too_large"} 3`,
		`shoal_tracker_http_refused_total{reason="bad_request"} 1`,
		`shoal_tracker_http_refused_total{reason="body"} 2`,
		`shoal_tracker_http_refused_total{reason="timeout"} 0`,
		`shoal_tracker_rejected_total{proto="http",reason="malformed"} 1`,
		`shoal_tracker_announces_total{proto="http"} 0`,
		`shoal_tracker_swarms 0`)
}

// TestHTTPSlowloris sends an announce's request line, then its headers one
// byte per second: the server cuts the connection off at its header timeout,
// long before the request is complete, without answering; a connection
// that sends nothing at all goes the same way. Both count as timeouts.
func TestHTTPSlowloris(t *testing.T) {
	const headerTimeout = 1500 * time.Millisecond
	s := newTestServer(t, Config{HTTPReadHeaderTimeout: headerTimeout, HTTPReadTimeout: 3 * time.Second})
	addr, _ := startServer(t, s)
	line := "GET /announce?" + announceQuery(announceParams{ih: testHash(1), id: testPeerID(1), port: 1}) + " HTTP/1.1\r\n"
	req := "Host: t\r\nUser-Agent: slowloris\r\nAccept: */*\r\n\r\n" // the headers, one byte a second

	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if _, err := io.WriteString(slow, line); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	closed := make(chan time.Duration, 2)
	for _, c := range []net.Conn{slow, silent} {
		go func() {
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			// Cut off with nothing, or with net/http's 400 for a request
			// line the deadline interrupted.
			b, _ := io.ReadAll(c)
			if len(b) > 0 && !strings.HasPrefix(string(b), "HTTP/1.1 400 ") {
				t.Errorf("slow client answered %q", b)
			}
			closed <- time.Since(start)
		}()
	}
	sentBytes := 0
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var cutAfter time.Duration
trickle:
	for sentBytes < len(req) {
		select {
		case cutAfter = <-closed:
			break trickle
		case <-tick.C:
			slow.Write([]byte{req[sentBytes]})
			sentBytes++
		}
	}
	if sentBytes >= len(req)-1 {
		t.Fatalf("the whole %d bytes of headers went through at one byte a second", len(req))
	}
	other := <-closed
	t.Logf("cut off after %v and %v, %d of %d header bytes sent", cutAfter, other, sentBytes, len(req))
	waitCounter(t, &s.counts.httpRefused[refusedTimeout], 2)
	wantMetrics(t, addr, `shoal_tracker_http_refused_total{reason="timeout"} 2`,
		`shoal_tracker_http_refused_total{reason="bad_request"} 0`,
		`shoal_tracker_announces_total{proto="http"} 0`)
}

func waitCounter(t *testing.T, c *atomic.Uint64, want uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.Load() != want {
		if time.Now().After(deadline) {
			t.Fatalf("counter at %d, want %d", c.Load(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHTTPSlowlorisFlood opens 200 slowloris connections against a
// tracker that takes 100 at once: the rest are closed as they arrive,
// open connections never exceed the limit, goroutines stay bounded while
// they hang on and fall back once the header timeout has cut them off,
// every connection is counted as refused, and an honest announce is
// served afterwards.
func TestHTTPSlowlorisFlood(t *testing.T) {
	const conns, maxConns = 200, 100
	s := newTestServer(t, Config{HTTPMaxConns: maxConns, HTTPReadHeaderTimeout: 2 * time.Second})
	addr, _ := startServer(t, s)
	metricsBody(t, addr) // the server's own goroutines are up
	base := runtime.NumGoroutine()

	var peakOpen, peakGoroutines atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if v := s.counts.httpOpen.Load(); v > peakOpen.Load() {
				peakOpen.Store(v)
			}
			if v := int64(runtime.NumGoroutine()); v > peakGoroutines.Load() {
				peakGoroutines.Store(v)
			}
		}
	}()

	var cs []net.Conn
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("G"))
		cs = append(cs, c)
	}
	// One more byte each, twice, a second apart: still no complete
	// request line.
	for _, b := range []string{"E", "T"} {
		time.Sleep(time.Second)
		for _, c := range cs {
			c.Write([]byte(b))
		}
	}
	refused := &s.counts.httpRefused
	deadline := time.Now().Add(30 * time.Second)
	for refused[refusedTimeout].Load()+refused[refusedTooManyConns].Load() < conns || s.counts.httpOpen.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %d timed out, %d refused, %d open", refused[refusedTimeout].Load(),
				refused[refusedTooManyConns].Load(), s.counts.httpOpen.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for runtime.NumGoroutine() > base+1 && time.Now().Before(deadline) { // +1: the sampler
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	<-sampled
	timedOut, tooMany := refused[refusedTimeout].Load(), refused[refusedTooManyConns].Load()
	t.Logf("%d timed out, %d refused at once; peak %d open, %d goroutines (base %d)", timedOut, tooMany, peakOpen.Load(), peakGoroutines.Load(), base)
	if timedOut+tooMany != conns || timedOut < maxConns {
		t.Errorf("%d timed out + %d refused at once, want %d in all and at least %d timed out", timedOut, tooMany, conns, maxConns)
	}
	if peakOpen.Load() > maxConns {
		t.Errorf("%d connections open at once, limit %d", peakOpen.Load(), maxConns)
	}
	// net/http runs one goroutine per connection; the sampler is one more.
	if bound := int64(base + maxConns + 1 + 4); peakGoroutines.Load() > bound {
		t.Errorf("peak %d goroutines, bound %d", peakGoroutines.Load(), bound)
	}
	if g := runtime.NumGoroutine(); g > base {
		t.Errorf("%d goroutines after the flood, %d before", g, base)
	}
	wantMetrics(t, addr,
		fmt.Sprintf(`shoal_tracker_http_refused_total{reason="timeout"} %d`, timedOut),
		fmt.Sprintf(`shoal_tracker_http_refused_total{reason="too_many_connections"} %d`, tooMany))
	// An honest client is served.
	resp, err := noKeepAlive.Get("http://" + addr + "/announce?" + announceQuery(announceParams{ih: testHash(1), id: testPeerID(1), port: 1}))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "8:interval") {
		t.Fatalf("announce after the flood: %q", b)
	}
}
