package tracker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"shoal/metainfo"
)

func TestParseHTTPAnnounce(t *testing.T) {
	v4 := "\x7f\x00\x00\x02\x1a\xe1"                                       // 127.0.0.2:6881
	v6 := "\x20\x01\x0d\xb8" + strings.Repeat("\x00", 11) + "\x01\xc8\xd5" // [2001:db8::1]:51413
	tests := []struct {
		name    string
		body    string
		want    AnnounceResponse
		wantErr string // substring; "" means success
	}{
		{name: "compact", body: "d8:completei3e10:incompletei4e8:intervali1800e5:peers6:" + v4 + "e",
			want: AnnounceResponse{Interval: 1800 * time.Second, Seeders: 3, Leechers: 4,
				Peers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.2:6881")}}},
		{name: "dictionary peers, hostname skipped, unsorted keys",
			body: "d8:intervali60e5:peersld2:ip9:127.0.0.37:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti80eed2:ip11:example.org4:porti81eed2:ip3:::14:porti82eeee",
			want: AnnounceResponse{Interval: time.Minute, Seeders: -1, Leechers: -1,
				Peers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.3:80"), netip.MustParseAddrPort("[::1]:82")}}},
		{name: "peers6, external ip, tracker id, warning, min interval",
			body: "d11:external ip4:\x0a\x00\x00\x018:intervali30e12:min intervali10e5:peers0:6:peers618:" + v6 + "10:tracker id3:xyz15:warning message4:slowe",
			want: AnnounceResponse{Interval: 30 * time.Second, MinInterval: 10 * time.Second, Seeders: -1, Leechers: -1,
				TrackerID: "xyz", Warning: "slow", ExternalIP: netip.MustParseAddr("10.0.0.1"),
				Peers: []netip.AddrPort{netip.MustParseAddrPort("[2001:db8::1]:51413")}}},
		{name: "port 0 and unspecified address skipped", body: "d8:intervali1e5:peers12:\x00\x00\x00\x00\x1a\xe1\x7f\x00\x00\x01\x00\x00e",
			want: AnnounceResponse{Interval: time.Second, Seeders: -1, Leechers: -1}},
		{name: "failure", body: "d14:failure reason10:not liked!e", wantErr: "tracker refused: not liked!"},
		{name: "no interval", body: "d5:peers0:e", wantErr: "no interval"},
		{name: "negative interval", body: "d8:intervali-1ee", wantErr: "interval -1 s out of range"},
		{name: "huge interval", body: "d8:intervali99999999999ee", wantErr: "interval 99999999999 s out of range"},
		{name: "negative complete", body: "d8:completei-5e8:intervali1ee", wantErr: "complete -5 out of range"},
		{name: "peers length", body: "d8:intervali1e5:peers7:1234567e", wantErr: "peers is 7 bytes, not a multiple of 6"},
		{name: "peers6 length", body: "d8:intervali1e6:peers66:123456e", wantErr: "peers6 is 6 bytes, not a multiple of 18"},
		{name: "peers integer", body: "d8:intervali1e5:peersi3ee", wantErr: "peers is neither"},
		{name: "peers6 list", body: "d8:intervali1e6:peers6lee", wantErr: "peers6 is neither"},
		{name: "peer port range", body: "d8:intervali1e5:peersld2:ip9:127.0.0.14:porti70000eeee", wantErr: "peers[0]: port 70000 out of range"},
		{name: "external ip length", body: "d11:external ip3:abc8:intervali1ee", wantErr: "external ip is 3 bytes"},
		{name: "not a dictionary", body: "le", wantErr: "malformed response"},
		{name: "trailing data", body: "d8:intervali1ee\n", wantErr: "malformed response"},
		{name: "truncated", body: "d8:intervali1e5:peers6:12", wantErr: "malformed response"},
		{name: "empty", body: "", wantErr: "malformed response"},
		{name: "interval wrong type", body: "d8:interval2:60e", wantErr: "malformed response"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseHTTPAnnounce([]byte(tc.body), DefaultMaxPeers)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			assertResponse(t, got, &tc.want)
		})
	}
}

func assertResponse(t *testing.T, got, want *AnnounceResponse) {
	t.Helper()
	if got.Interval != want.Interval || got.MinInterval != want.MinInterval || got.Seeders != want.Seeders ||
		got.Leechers != want.Leechers || got.TrackerID != want.TrackerID || got.Warning != want.Warning ||
		got.ExternalIP != want.ExternalIP || len(got.Peers) != len(want.Peers) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for i := range got.Peers {
		if got.Peers[i] != want.Peers[i] {
			t.Fatalf("peer %d: %v, want %v", i, got.Peers[i], want.Peers[i])
		}
	}
}

func TestParseHTTPAnnounceCapsPeers(t *testing.T) {
	body := "d8:intervali1e5:peers60:" + strings.Repeat("\x7f\x00\x00\x01\x1a\xe1", 10) + "e"
	got, err := parseHTTPAnnounce([]byte(body), 3)
	if err != nil || len(got.Peers) != 3 {
		t.Fatalf("got %v peers, err %v; want 3", got, err)
	}
}

var testHash = metainfo.InfoHash{0xde, 0xad, '&', '=', '%', ' ', 0xff, 19: 1}

func TestHTTPAnnounceSendsBEP3Query(t *testing.T) {
	var got url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/x/announce" {
			t.Errorf("path %q", r.URL.Path)
		}
		got = r.URL.Query()
		w.Write([]byte("d8:intervali900e5:peers6:\x7f\x00\x00\x05\x00\x50e"))
	}))
	defer srv.Close()
	c := &Client{}
	defer c.Close()
	req := AnnounceRequest{InfoHash: testHash, PeerID: [20]byte{'-', 'S', 'H'}, Port: 6881, Uploaded: 10, Downloaded: 20,
		Left: 30, Event: EventStarted, NumWant: 50, Key: 0xabc, TrackerID: "tid"}
	res, err := c.Announce(context.Background(), srv.URL+"/x/announce?passkey=p%26q", req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Peers) != 1 || res.Peers[0] != netip.MustParseAddrPort("127.0.0.5:80") || res.Interval != 900*time.Second {
		t.Fatalf("response %+v", res)
	}
	want := map[string]string{
		"info_hash": string(testHash[:]), "peer_id": string(req.PeerID[:]), "port": "6881", "uploaded": "10",
		"downloaded": "20", "left": "30", "event": "started", "numwant": "50", "compact": "1", "key": "abc",
		"trackerid": "tid", "passkey": "p&q",
	}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Get(k), v)
		}
	}
}

func TestHTTPAnnounceErrors(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/big/announce", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("d8:intervali1e5:peers" + "1048600:"))
		w.Write(make([]byte, 1048600))
		w.Write([]byte("e"))
	})
	mux.HandleFunc("/refused/announce", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte("d14:failure reason6:bannede"))
	})
	mux.HandleFunc("/missing/announce", http.NotFound)
	mux.HandleFunc("/garbage/announce", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := &Client{}
	defer c.Close()
	for _, tc := range []struct{ path, want string }{
		{"/big/announce", "response larger than 1048576 bytes"},
		{"/refused/announce", "tracker refused: banned"},
		{"/missing/announce", "HTTP status 404"},
		{"/garbage/announce", "malformed response"},
	} {
		_, err := c.Announce(context.Background(), srv.URL+tc.path, AnnounceRequest{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), srv.URL) {
			t.Errorf("%s: error %v, want one naming the tracker and containing %q", tc.path, err, tc.want)
		}
	}
	var fe *FailureError
	if _, err := c.Announce(context.Background(), srv.URL+"/refused/announce", AnnounceRequest{}); !errors.As(err, &fe) {
		t.Errorf("refusal is %T, want *FailureError", err)
	}
	for _, bad := range []string{"wss://x/announce", "udp://host/announce", "http:///announce", "::"} {
		if _, err := c.Announce(context.Background(), bad, AnnounceRequest{}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestHTTPAnnounceHonoursContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	before := runtime.NumGoroutine()
	c := &Client{}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Announce(ctx, srv.URL+"/announce", AnnounceRequest{})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %v, want the deadline", err, time.Since(start))
	}
	c.Close()
	waitGoroutines(t, before)
}

// waitGoroutines fails the test if more than before goroutines remain.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestScrapeURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://example.com/announce", "http://example.com/scrape"},
		{"http://example.com/x/announce", "http://example.com/x/scrape"},
		{"http://example.com/announce.php", "http://example.com/scrape.php"},
		{"http://example.com/announce?x2%0644", "http://example.com/scrape?x2%0644"},
		{"http://example.com/announce?passkey=a", "http://example.com/scrape?passkey=a"},
		{"http://example.com/a", ""},
		{"http://example.com/announce/x", ""},
		{"http://example.com/x%064announce", ""},
		{"http://example.com", ""},
	} {
		got, err := ScrapeURL(tc.in)
		if tc.want == "" {
			if !errors.Is(err, ErrNoScrape) {
				t.Errorf("%s: got %q, %v; want ErrNoScrape", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestHTTPScrape(t *testing.T) {
	other := metainfo.InfoHash{2}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/scrape" {
			http.NotFound(w, r)
			return
		}
		hashes := r.URL.Query()["info_hash"]
		if len(hashes) != 2 || hashes[0] != string(testHash[:]) || hashes[1] != string(other[:]) {
			t.Errorf("info_hash %q", hashes)
		}
		w.Write([]byte("d5:filesd20:" + string(testHash[:]) + "d8:completei5e10:downloadedi7e10:incompletei3eeee"))
	}))
	defer srv.Close()
	c := &Client{}
	defer c.Close()
	got, err := c.Scrape(context.Background(), srv.URL+"/announce", []metainfo.InfoHash{testHash, other})
	if err != nil {
		t.Fatal(err)
	}
	if got[testHash] != (ScrapeStats{Seeders: 5, Leechers: 3, Completed: 7}) || len(got) != 1 {
		t.Fatalf("got %+v", got)
	}
	if _, err := c.Scrape(context.Background(), srv.URL+"/tracker", []metainfo.InfoHash{testHash}); !errors.Is(err, ErrNoScrape) {
		t.Fatalf("scrape of a URL without announce: %v", err)
	}
}

func TestParseHTTPScrapeErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"d14:failure reason4:nopee", "tracker refused: nope"},
		{"de", "no files dictionary"},
		{"d5:filesd3:abcdeee", "files key of 3 bytes"},
		{"d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei-1eeee", "complete -1 out of range"},
		{"d5:filesi1ee", "malformed response"},
	} {
		err := parseHTTPScrape([]byte(tc.body), map[metainfo.InfoHash]ScrapeStats{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.body, err, tc.want)
		}
	}
}
