package server

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"shoal/bencode"
)

// maxFuzzRequest is the most request bytes a fuzz input may hold: the
// HTTP frontend reads at most 8 KiB of header (ServeHTTP's MaxHeaderBytes).
const maxFuzzRequest = 16 << 10

// FuzzHTTPRequest feeds arbitrary raw HTTP requests, from a trusted proxy
// or from a client, to the tracker's HTTP handler, whose swarm already has
// a few peers. Every /announce and /scrape answer must be status 200 with a
// canonical bencoded dictionary (BEP 3): a failure reason, or a
// well-formed answer within its bounds.
func FuzzHTTPRequest(f *testing.F) {
	for _, req := range []string{
		"GET /announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=-TR3000-abcdefghijkl&port=51413&uploaded=0&downloaded=0&left=1000&event=started&compact=1&numwant=80&key=1a2b HTTP/1.1\r\nHost: tracker.example:6969\r\nUser-Agent: Transmission/3.00\r\nAccept-Encoding: gzip;q=1.0, deflate, identity\r\n\r\n",
		"GET /announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=-qB4630-abcdefghijkl&port=1&left=0&compact=0&no_peer_id=1 HTTP/1.0\r\nX-Forwarded-For: 203.0.113.9, 198.51.100.4\r\n\r\n",
		"GET /scrape?info_hash=aaaaaaaaaaaaaaaaaaaa&info_hash=bbbbbbbbbbbbbbbbbbbb HTTP/1.1\r\nHost: t\r\n\r\n",
		"POST /announce HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
		"GET /stats HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /announce?info_hash=%zz&port=99999 HTTP/1.1\r\nHost: t\r\n\r\n",
	} {
		f.Add([]byte(req), true)
	}
	now := time.Unix(1_800_000_000, 0)
	var h http.Handler
	runs := 0
	f.Fuzz(func(t *testing.T, data []byte, viaProxy bool) {
		// A fresh server now and then keeps the swarms the fuzzer creates
		// from growing without end.
		if runs%4096 == 0 {
			h = newFuzzServer(t, now)
		}
		runs++
		if len(data) > maxFuzzRequest {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		req.RemoteAddr = "192.0.2.7:40000"
		if viaProxy {
			req.RemoteAddr = "10.0.0.1:40000"
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch req.URL.Path {
		case "/announce", "/scrape":
		default:
			return
		}
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d", req.URL.Path, rec.Code)
		}
		checkTrackerReply(t, req.URL.Path, rec.Body.Bytes())
	})
}

// newFuzzServer returns a tracker behind a trusted proxy at 10.0.0.0/8
// whose swarm "aaaa..." holds three peers, one of them IPv6.
func newFuzzServer(t *testing.T, now time.Time) http.Handler {
	s, err := New(Config{Now: func() time.Time { return now }, ProxyHeader: "X-Forwarded-For",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	for i, from := range []string{"192.0.2.1:1", "192.0.2.2:2", "[2001:db8::3]:3"} {
		req := httptest.NewRequest("GET", fmt.Sprintf("/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=-SH0100-%012d&port=%d&left=%d", i, 6881+i, i), nil)
		req.RemoteAddr = from
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if strings.Contains(rec.Body.String(), "failure") {
			t.Fatalf("seeding the swarm: %s", rec.Body)
		}
	}
	return h
}

// checkTrackerReply checks an /announce or /scrape body.
func checkTrackerReply(t *testing.T, path string, body []byte) {
	t.Helper()
	var reply map[string]any
	if err := bencode.Unmarshal(body, &reply); err != nil {
		t.Fatalf("%s answer %q is not canonical bencode: %v", path, body, err)
	}
	if reason, ok := reply["failure reason"]; ok {
		if r, ok := reason.(string); !ok || r == "" || len(reply) != 1 {
			t.Fatalf("bad failure answer %q", body)
		}
		return
	}
	if path == "/scrape" {
		files, ok := reply["files"].(map[string]any)
		if !ok || len(files) > maxScrapeHashes {
			t.Fatalf("bad scrape answer %q", body)
		}
		return
	}
	if iv, ok := reply["interval"].(int64); !ok || iv <= 0 {
		t.Fatalf("announce answer without a positive interval: %q", body)
	}
	n := 0
	switch p := reply["peers"].(type) {
	case string:
		if len(p)%6 != 0 {
			t.Fatalf("compact peers of %d bytes", len(p))
		}
		n = len(p) / 6
	case []any:
		n = len(p)
	default:
		t.Fatalf("announce answer without peers: %q", body)
	}
	if p6, ok := reply["peers6"].(string); ok {
		if len(p6)%18 != 0 {
			t.Fatalf("compact peers6 of %d bytes", len(p6))
		}
		n += len(p6) / 18
	}
	if n > MaxNumWant {
		t.Fatalf("%d peers, limit %d", n, MaxNumWant)
	}
}
