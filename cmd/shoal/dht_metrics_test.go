package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"shoal/dht/krpc"
)

// TestDHTCommandMetrics runs "shoal dht --metrics": the listening report
// names the metrics address, and /metrics counts an announce_peer refused
// for its bad token and a datagram that is not KRPC.
func TestDHTCommandMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, resC := startDHTCommand(ctx, "--listen", "127.0.0.1:0", "--no-bootstrap", "--interval", "100ms",
		"--state", filepath.Join(t.TempDir(), "state"), "--metrics", "127.0.0.1:0")
	r := lastDHTReport(t, out, resC, func(r dhtReport) bool { return r.Event == "listening" })
	if r.MetricsAddr == "" {
		t.Fatalf("listening report without metrics_addr: %+v", r)
	}
	node := netip.MustParseAddrPort(r.Addr)

	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ih := [20]byte{9}
	bad, err := (&krpc.Msg{T: "aa", Y: krpc.KindQuery, Q: krpc.MethodAnnouncePeer,
		A: &krpc.Args{ID: [20]byte{1}, InfoHash: &ih, Port: 1, Token: "forged!!"}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	c.WriteToUDPAddrPort(bad, node)
	c.WriteToUDPAddrPort([]byte("not krpc"), node)

	deadline := time.Now().Add(20 * time.Second)
	var body string
	for {
		body = getMetrics(t, "http://"+r.MetricsAddr+"/metrics")
		if strings.Contains(body, "shoal_dht_bad_tokens_total 1\n") && strings.Contains(body, "shoal_dht_malformed_total 1\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never counted the bad token and the malformed datagram:\n%s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		"shoal_dht_queries_in_total 1\n",
		"shoal_dht_errors_out_total 1\n",
		"shoal_dht_stored_peers 0\n",
		"shoal_dht_dropped_total 0\n",
		"# TYPE shoal_dht_trimmed_replies_total counter\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	cancel()
	if res := <-resC; res.code != exitOK {
		t.Fatalf("shoal dht: status %d\n%s", res.code, res.stderr)
	}
	// Stopping the node stops its metrics server.
	if _, err := http.Get("http://" + r.MetricsAddr + "/metrics"); err == nil {
		t.Fatal("metrics still served after shoal dht stopped")
	}
}

func getMetrics(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
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
