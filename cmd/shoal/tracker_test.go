package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var trackerAddrRE = regexp.MustCompile(`tracker: HTTP on (127\.0\.0\.1:[0-9]+), UDP on (127\.0\.0\.1:[0-9]+);`)

// waitFor polls stderr until re matches or the tracker exits.
func waitTrackerLine(t *testing.T, stderr *syncBuffer, re *regexp.Regexp, resultC chan result) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m
		}
		select {
		case r := <-resultC:
			resultC <- r
			t.Fatalf("shoal tracker exited with status %d:\n%s", r.code, r.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %q; stderr:\n%s", re, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func announceToTracker(t *testing.T, base, hash string) string {
	t.Helper()
	ih := make([]byte, 20)
	for i := range ih {
		var b byte
		for _, c := range hash[2*i : 2*i+2] {
			b = b<<4 | byte(strings.IndexRune("0123456789abcdef", c))
		}
		ih[i] = b
	}
	q := url.Values{"info_hash": {string(ih)}, "peer_id": {"-SH0100-000000000001"}, "port": {"6881"}, "left": {"0"}}
	resp, err := http.Get("http://" + base + "/announce?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func TestTrackerCommand(t *testing.T) {
	const a, b = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	allow := filepath.Join(t.TempDir(), "allow.txt")
	if err := os.WriteFile(allow, []byte(a+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	resultC := make(chan result, 1)
	go func() {
		var stdout syncBuffer
		code := execute(ctx, []string{"tracker", "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--interval", "1m", "--allow", allow}, &stdout, &stderr)
		resultC <- result{code, stdout.String(), stderr.String()}
	}()
	m := waitTrackerLine(t, &stderr, trackerAddrRE, resultC)
	httpAddr := m[1]

	if body := announceToTracker(t, httpAddr, a); !strings.Contains(body, "8:intervali60e") {
		t.Fatalf("announce of an allowed hash: %q", body)
	}
	if body := announceToTracker(t, httpAddr, b); !strings.Contains(body, "not allowed") {
		t.Fatalf("announce of an unlisted hash: %q", body)
	}
	os.WriteFile(allow, []byte(a+"\n"+b+"\n"), 0o644)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitTrackerLine(t, &stderr, regexp.MustCompile(`allow-list reloaded: 2 info hashes`), resultC)
	if body := announceToTracker(t, httpAddr, b); !strings.Contains(body, "8:completei1e") {
		t.Fatalf("announce after SIGHUP: %q", body)
	}
	resp, err := http.Get("http://" + httpAddr + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	stats, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(stats), `"swarms": 2`) || !strings.Contains(string(stats), `"not_allowed": 1`) {
		t.Fatalf("/stats: %s", stats)
	}

	cancel()
	r := <-resultC
	if r.code != exitOK || !strings.Contains(r.stderr, "tracker: stopped") {
		t.Fatalf("after cancel: status %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestTrackerCommandUsage(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"tracker", "--http", "", "--udp", ""}, exitUsage, "nothing to serve"},
		{[]string{"tracker", "--interval", "10ms"}, exitUsage, "at least 1s"},
		{[]string{"tracker", "--trusted-proxy", "nonsense", "--proxy-header", "X"}, exitUsage, "CIDR"},
		{[]string{"tracker", "--trusted-proxy", "10.0.0.0/8"}, exitUsage, "needs --proxy-header"},
		{[]string{"tracker", "--http", "127.0.0.1:0", "--udp", "", "--allow", missing}, exitFailure, "allow-list"},
		{[]string{"tracker", "extra"}, exitUsage, "exactly 0"},
	} {
		var stdout, stderr syncBuffer
		code := execute(context.Background(), tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%v: status %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), tc.code, tc.msg)
		}
	}
}
