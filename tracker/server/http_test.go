package server

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"shoal/bencode"
	"shoal/metainfo"
)

func testHash(n byte) metainfo.InfoHash {
	var ih metainfo.InfoHash
	for i := range ih {
		ih[i] = n
	}
	return ih
}

func testPeerID(n byte) PeerID {
	var id PeerID
	copy(id[:], "-TT0001-")
	for i := 8; i < 20; i++ {
		id[i] = 'a' + n%26
	}
	return id
}

type announceParams struct {
	ih         metainfo.InfoHash
	id         PeerID
	port       int
	left       int
	event      string
	numwant    int
	compact    string
	remoteAddr string
	header     map[string]string
}

func announceQuery(p announceParams) string {
	v := url.Values{}
	v.Set("info_hash", string(p.ih[:]))
	v.Set("peer_id", string(p.id[:]))
	v.Set("port", itoa(p.port))
	v.Set("uploaded", "0")
	v.Set("downloaded", "0")
	v.Set("left", itoa(p.left))
	if p.event != "" {
		v.Set("event", p.event)
	}
	if p.numwant != 0 {
		v.Set("numwant", itoa(p.numwant))
	}
	if p.compact != "" {
		v.Set("compact", p.compact)
	}
	return v.Encode()
}

func itoa(n int) string { return strconv.Itoa(n) }

// get runs one request through the handler and decodes its bencoded body.
func get(t *testing.T, s *Server, path, query, remote string, header map[string]string) map[string]any {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path+"?"+query, nil)
	if remote != "" {
		r.RemoteAddr = remote
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	var out map[string]any
	if err := bencode.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("GET %s: body %q is not bencode: %v", path, w.Body.Bytes(), err)
	}
	return out
}

func doAnnounce(t *testing.T, s *Server, p announceParams) map[string]any {
	t.Helper()
	if p.remoteAddr == "" {
		p.remoteAddr = "10.0.0.1:5555"
	}
	return get(t, s, "/announce", announceQuery(p), p.remoteAddr, p.header)
}

func newTestServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHTTPAnnounceCompact(t *testing.T) {
	s := newTestServer(t, Config{Interval: 10 * time.Minute})
	ih := testHash(1)
	r := doAnnounce(t, s, announceParams{ih: ih, id: testPeerID(1), port: 6881, left: 0, event: "started", remoteAddr: "10.0.0.1:40000"})
	if r["interval"] != int64(600) || r["min interval"] != int64(300) || r["complete"] != int64(1) || r["incomplete"] != int64(0) {
		t.Fatalf("first announce: %v", r)
	}
	if r["peers"] != "" {
		t.Fatalf("first peer got peers %q", r["peers"])
	}
	doAnnounce(t, s, announceParams{ih: ih, id: testPeerID(2), port: 7000, left: 10, remoteAddr: "[2001:db8::7]:1234"})
	r = doAnnounce(t, s, announceParams{ih: ih, id: testPeerID(3), port: 7001, left: 10, remoteAddr: "10.0.0.3:1"})
	if got, want := r["peers"], string([]byte{10, 0, 0, 1, 0x1a, 0xe1}); got != want {
		t.Fatalf("peers %q, want %q", got, want)
	}
	v6 := netip.MustParseAddr("2001:db8::7").As16()
	if got, want := r["peers6"], string(append(v6[:], 0x1b, 0x58)); got != want {
		t.Fatalf("peers6 %q, want %q", got, want)
	}
	if r["complete"] != int64(1) || r["incomplete"] != int64(2) {
		t.Fatalf("counts %v", r)
	}
}

func TestHTTPAnnounceDictionary(t *testing.T) {
	s := newTestServer(t, Config{})
	ih := testHash(2)
	doAnnounce(t, s, announceParams{ih: ih, id: testPeerID(1), port: 6881, remoteAddr: "10.0.0.1:1"})
	r := doAnnounce(t, s, announceParams{ih: ih, id: testPeerID(2), port: 6882, compact: "0", left: 5})
	peers, ok := r["peers"].([]any)
	if !ok || len(peers) != 1 {
		t.Fatalf("peers %#v, want a list of one dictionary", r["peers"])
	}
	p := peers[0].(map[string]any)
	if p["ip"] != "10.0.0.1" || p["port"] != int64(6881) {
		t.Fatalf("peer %v", p)
	}
}

func TestHTTPFailures(t *testing.T) {
	s := newTestServer(t, Config{})
	good := announceQuery(announceParams{ih: testHash(1), id: testPeerID(1), port: 1, left: 1})
	tests := []struct {
		name, query string
		want        Reject
	}{
		{"no info_hash", "peer_id=" + strings.Repeat("a", 20) + "&port=1&left=0", RejectInfoHash},
		{"short info_hash", strings.Replace(good, "info_hash=", "info_hash=x", 1), RejectInfoHash},
		{"bad escape", good + "&key=%zz", RejectMalformed},
		{"truncated escape", good + "&key=%2", RejectMalformed},
		{"port zero", strings.Replace(good, "port=1", "port=0", 1), RejectPort},
		{"port too big", strings.Replace(good, "port=1", "port=65536", 1), RejectPort},
		{"negative left", strings.Replace(good, "left=1", "left=-1", 1), RejectNumber},
		{"no left", strings.Replace(good, "left=1", "lft=1", 1), RejectNumber},
		{"bad event", good + "&event=exploded", RejectEvent},
		{"bad numwant", good + "&numwant=lots", RejectNumber},
		{"huge query", good + "&x=" + strings.Repeat("y", maxQueryBytes), RejectMalformed},
		{"too many params", good + strings.Repeat("&a=b", maxQueryParams), RejectMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.counts.rejected[protoHTTP][tc.want].Load()
			r := get(t, s, "/announce", tc.query, "", nil)
			if r["failure reason"] != tc.want.String() {
				t.Fatalf("failure reason %q, want %q", r["failure reason"], tc.want)
			}
			if s.counts.rejected[protoHTTP][tc.want].Load() != before+1 {
				t.Fatalf("rejection %q not counted", rejectLabels[tc.want])
			}
		})
	}
	r := httptest.NewRequest(http.MethodPost, "/announce?"+good, nil)
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	if !strings.Contains(w.Body.String(), "failure reason") {
		t.Fatalf("POST answered %q", w.Body.String())
	}
}

func TestHTTPNumWantCap(t *testing.T) {
	s := newTestServer(t, Config{})
	ih := testHash(3)
	for i := range 250 {
		req := AnnounceRequest{InfoHash: ih, PeerID: PeerID([]byte(strings.Repeat("p", 16) + string(binary.BigEndian.AppendUint32(nil, uint32(i))))),
			Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 1000), Left: 0, NumWant: 0, Time: time.Now()}
		if _, err := s.cfg.Store.Announce(context.Background(), &req, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ numwant, want int }{{0, DefaultNumWant}, {10, 10}, {1000, MaxNumWant}, {-1, DefaultNumWant}} {
		r := doAnnounce(t, s, announceParams{ih: ih, id: testPeerID(1), port: 1, left: 1, numwant: tc.numwant})
		if got := len(r["peers"].(string)) / 6; got != tc.want {
			t.Fatalf("numwant %d: got %d peers, want %d", tc.numwant, got, tc.want)
		}
	}
}

func TestHTTPStoppedRemoves(t *testing.T) {
	s := newTestServer(t, Config{})
	ih := testHash(4)
	doAnnounce(t, s, announceParams{ih: ih, id: testPeerID(1), port: 1, left: 0})
	doAnnounce(t, s, announceParams{ih: ih, id: testPeerID(1), port: 1, left: 0, event: "stopped"})
	r := doAnnounce(t, s, announceParams{ih: ih, id: testPeerID(2), port: 2, left: 1})
	if r["peers"] != "" || r["complete"] != int64(0) {
		t.Fatalf("stopped peer still listed: %v", r)
	}
}

func TestExpireAfterTwoIntervals(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := newTestServer(t, Config{Interval: time.Minute, Now: func() time.Time { return now }})
	ih := testHash(5)
	doAnnounce(t, s, announceParams{ih: ih, id: testPeerID(1), port: 1, left: 0})
	now = now.Add(119 * time.Second)
	if n, _ := s.ExpireOnce(context.Background()); n != 0 {
		t.Fatalf("expired %d peers before two intervals", n)
	}
	now = now.Add(2 * time.Second)
	if n, _ := s.ExpireOnce(context.Background()); n != 1 {
		t.Fatalf("expired %d peers after two intervals, want 1", n)
	}
}

func TestProxyHeader(t *testing.T) {
	s := newTestServer(t, Config{ProxyHeader: "X-Forwarded-For", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	ih := testHash(6)
	hdr := map[string]string{"X-Forwarded-For": "1.2.3.4, 192.0.2.9"}
	// From the trusted proxy: the last forwarded address counts.
	doAnnounce(t, s, announceParams{ih: ih, id: testPeerID(1), port: 1, left: 0, remoteAddr: "127.0.0.1:999", header: hdr})
	// From elsewhere: the header is the client's word and is ignored.
	doAnnounce(t, s, announceParams{ih: ih, id: testPeerID(2), port: 2, left: 0, remoteAddr: "198.51.100.1:999", header: hdr})
	r := doAnnounce(t, s, announceParams{ih: ih, id: testPeerID(3), port: 3, left: 1, remoteAddr: "10.9.9.9:1"})
	peers := r["peers"].(string)
	if !strings.Contains(peers, string([]byte{192, 0, 2, 9, 0, 1})) || !strings.Contains(peers, string([]byte{198, 51, 100, 1, 0, 2})) {
		t.Fatalf("peers %x: want 192.0.2.9:1 and 198.51.100.1:2", peers)
	}
}

func TestAllowListAndScrape(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "allow")
	a, b := testHash(0xaa), testHash(0xbb)
	if err := os.WriteFile(path, []byte("# comment\n"+a.String()+"\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	al, err := LoadAllowList(path)
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, Config{AllowList: al})
	if r := doAnnounce(t, s, announceParams{ih: b, id: testPeerID(1), port: 1, left: 0}); r["failure reason"] != RejectNotAllowed.String() {
		t.Fatalf("announce of an unlisted hash: %v", r)
	}
	doAnnounce(t, s, announceParams{ih: a, id: testPeerID(1), port: 1, left: 0, event: "completed"})
	doAnnounce(t, s, announceParams{ih: a, id: testPeerID(2), port: 2, left: 9})

	os.WriteFile(path, []byte(a.String()+"\n"+b.String()+"\n"), 0o644)
	if err := s.ReloadAllowList(); err != nil {
		t.Fatal(err)
	}
	if r := doAnnounce(t, s, announceParams{ih: b, id: testPeerID(1), port: 1, left: 0}); r["failure reason"] != nil {
		t.Fatalf("announce after reload: %v", r)
	}
	os.WriteFile(path, []byte("not a hash\n"), 0o644)
	if err := s.ReloadAllowList(); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Fatalf("reload of a bad file: %v, want an error naming line 1", err)
	}
	if al.Len() != 2 {
		t.Fatalf("a failed reload changed the list to %d hashes", al.Len())
	}

	q := "info_hash=" + url.QueryEscape(string(b[:])) + "&info_hash=" + url.QueryEscape(string(a[:])) + "&info_hash=" + url.QueryEscape(string(a[:]))
	r := get(t, s, "/scrape", q, "", nil)
	files := r["files"].(map[string]any)
	fa := files[string(a[:])].(map[string]any)
	if fa["complete"] != int64(1) || fa["incomplete"] != int64(1) || fa["downloaded"] != int64(1) {
		t.Fatalf("scrape of a: %v", fa)
	}
	if len(files) != 2 {
		t.Fatalf("scrape answered %d files, want 2", len(files))
	}
	if r := get(t, s, "/scrape", "", "", nil); r["failure reason"] != RejectNoHash.String() {
		t.Fatalf("full scrape: %v", r)
	}
}

func TestStatsAndMetrics(t *testing.T) {
	s := newTestServer(t, Config{})
	doAnnounce(t, s, announceParams{ih: testHash(1), id: testPeerID(1), port: 1, left: 0})
	get(t, s, "/announce", "info_hash=x", "", nil)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"shoal_tracker_announces_total{proto=\"http\"} 1\n",
		"shoal_tracker_rejected_total{proto=\"http\",reason=\"info_hash\"} 1\n",
		"shoal_tracker_peers{state=\"seeder\"} 1\n",
		"# TYPE shoal_tracker_rejected_total counter\n",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	// Every line is a comment or "name{labels} value" (text format 0.0.4).
	sample := regexp.MustCompile(`^[a-z_]+(\{[a-z_]+="[a-z_]+"(,[a-z_]+="[a-z_]+")*\})? -?[0-9.e+-]+$`)
	for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		if !strings.HasPrefix(line, "# HELP ") && !strings.HasPrefix(line, "# TYPE ") && !sample.MatchString(line) {
			t.Errorf("/metrics line %q is not in the Prometheus text format", line)
		}
	}
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Swarms != 1 || st.Seeders != 1 || st.Announces["http"] != 1 || st.Rejected["http"]["info_hash"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestServeHTTPLimits runs the real HTTP server: an oversized header is
// refused, a normal announce works, and cancelling stops it.
func TestServeHTTPLimits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, nil) }()
	base := "http://" + ln.Addr().String()

	req, _ := http.NewRequest(http.MethodGet, base+"/announce?"+announceQuery(announceParams{ih: testHash(1), id: testPeerID(1), port: 1}), nil)
	req.Header.Set("X-Padding", strings.Repeat("x", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64 KiB header: status %d, want 431", resp.StatusCode)
	}
	resp, err = http.Get(base + "/announce?" + announceQuery(announceParams{ih: testHash(1), id: testPeerID(1), port: 1}))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "8:interval") {
		t.Fatalf("announce answered %q", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	if _, err := http.Get(base + "/stats"); err == nil {
		t.Fatal("server still answers after Serve returned")
	}
}
