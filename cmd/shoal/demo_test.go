package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"shoal/engine"
)

// demoTempDir points the demo's temporary directory into the test's, so
// the test can check it is removed.
func demoTempDir(t *testing.T) string {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	return tmp
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("the demo left %v in %s", names, dir)
	}
}

func TestDemoCompletes(t *testing.T) {
	tmp := demoTempDir(t)
	r := shoalTimeout(t, 60*time.Second, "demo", "--peers", "3", "--size", "2M", "--max-up", "100M")
	if r.code != exitOK {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	out := lines(r.stdout)
	if len(out) != 5 {
		t.Fatalf("summary should be 5 lines, got:\n%s", r.stdout)
	}
	for i, want := range []string{
		"3 leechers each downloaded 2 MiB in ",
		"The seeder uploaded ",
		"A single server uploading 100 MiB/s would have needed 60ms (N×F/U = 3 × 2 MiB / 100 MiB/s).",
		"The lower bound for any swarm is 20ms (max(F/U, N·F/((N+1)·U))).",
	} {
		if !strings.HasPrefix(out[i], want) {
			t.Errorf("summary line %d = %q, want it to start with %q", i+1, out[i], want)
		}
	}
	if !strings.Contains(out[0], "every copy checked byte for byte") {
		t.Errorf("summary does not say the copies were checked: %q", out[0])
	}
	if !strings.Contains(r.stderr, "1 seeder and 3 leechers on 127.0.0.1") {
		t.Errorf("stderr does not describe the swarm:\n%s", r.stderr)
	}
	// Not a terminal: no control sequences.
	if strings.ContainsAny(r.stderr, "\r\x1b") {
		t.Errorf("stderr has terminal control characters: %q", r.stderr)
	}
	assertEmptyDir(t, tmp)
}

func TestDemoNoLimit(t *testing.T) {
	demoTempDir(t)
	r := shoalTimeout(t, 60*time.Second, "demo", "--peers", "2", "--size", "100K", "--max-up", "0")
	if r.code != exitOK {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "No upload limit, so no comparison") || strings.Contains(r.stdout, "single server uploading") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}

func TestDemoInterrupted(t *testing.T) {
	tmp := demoTempDir(t)
	// Slow enough (64 KiB/s for 1 MiB) that only the interruption ends it.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(700*time.Millisecond, cancel)
	start := time.Now()
	r := shoalContext(t, ctx, "demo", "--peers", "2", "--size", "1M", "--max-up", "64K")
	if took := time.Since(start); took > 6*time.Second {
		t.Errorf("the demo took %v to stop", took)
	}
	if r.code != exitFailure {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	if lastLine(r.stderr) != "shoal: demo interrupted" {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("an interrupted demo printed a summary: %q", r.stdout)
	}
	assertEmptyDir(t, tmp)
}

func TestDemoUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--peers", "0"}, "--peers 0"},
		{[]string{"demo", "--peers", "33"}, "want 1 to 32"},
		{[]string{"demo", "--size", "0"}, "--size 0"},
		{[]string{"demo", "--size", "2G"}, "1 GiB"},
		{[]string{"demo", "--size", "lots"}, "invalid size"},
		{[]string{"demo", "--max-up", "fast"}, "max-up"},
		{[]string{"demo", "extra"}, "takes exactly 0"},
	}
	for _, tc := range tests {
		r := shoal(t, tc.args...)
		assertUsage(t, r, "shoal demo", tc.want)
	}
}

func TestDemoSummaryBounds(t *testing.T) {
	tests := []struct {
		n            int
		size, rate   int64
		took         time.Duration
		server, more string
	}{
		// 8 × 32 MiB at 4 MiB/s: 64 s alone; max(8 s, 256/36 s) = 8 s.
		{8, 32 << 20, 4 << 20, 16 * time.Second, "would have needed 1m4s", "lower bound for any swarm is 8s"},
		// One leecher: the bound is F/U; nothing to share.
		{1, 10 << 20, 1 << 20, 12 * time.Second, "would have needed 10s", "lower bound for any swarm is 10s"},
		// With every peer at the same rate N/(N+1) < 1, so F/U always wins.
		{30, 30 << 20, 1 << 20, 40 * time.Second, "would have needed 15m0s", "lower bound for any swarm is 30s"},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		writeDemoSummary(&b, tc.n, tc.size, tc.rate, tc.took, 1, 2)
		out := b.String()
		if !strings.Contains(out, tc.server) || !strings.Contains(out, tc.more) {
			t.Errorf("n=%d: summary lacks %q or %q:\n%s", tc.n, tc.server, tc.more, out)
		}
	}
	var b bytes.Buffer
	writeDemoSummary(&b, 8, 32<<20, 4<<20, 16*time.Second, 1, 2)
	if !strings.Contains(b.String(), "Sharing was 4.0× faster") {
		t.Errorf("speed-up missing:\n%s", b.String())
	}
}

func TestDemoPieceLength(t *testing.T) {
	for _, tc := range []struct{ size, want int64 }{
		{1, 16 << 10}, {4 << 20, 16 << 10}, {32 << 20, 128 << 10}, {1 << 30, 1 << 20},
	} {
		if got := demoPieceLength(tc.size); got != tc.want {
			t.Errorf("demoPieceLength(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}

func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 20_000) // more than one buffer
	orig := write("orig", big)
	changed := append([]byte(nil), big...)
	changed[250_000] ^= 1
	tests := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"same", big, true},
		{"one byte changed", changed, false},
		{"shorter", big[:len(big)-1], false},
		{"longer", append(append([]byte(nil), big...), 0), false},
		{"empty", nil, false},
	}
	for _, tc := range tests {
		err := sameFile(orig, write(tc.name, tc.data))
		if (err == nil) != tc.ok {
			t.Errorf("%s: sameFile = %v", tc.name, err)
		}
	}
	if err := sameFile(orig, filepath.Join(dir, "missing")); err == nil {
		t.Error("missing copy: no error")
	}
}

func TestDemoDisplayRedrawsInPlace(t *testing.T) {
	var b bytes.Buffer
	d := newDemoDisplay(&b, true)
	peers := []*demoPeer{{name: "seeder"}, {name: "peer 1"}, {name: "peer 2", doneIn: 1500 * time.Millisecond}}
	stats := []engine.Stats{{Progress: 1, Peers: 2}, {Progress: 0.5, DownloadRate: 1 << 20}, {Progress: 1}}
	d.show(peers, stats, time.Second, false)
	first := b.String()
	if strings.Contains(first, "\x1b[4A") || strings.Count(first, "\n") != 4 {
		t.Errorf("first draw: %q", first)
	}
	for _, want := range []string{"seeding", " 50.0%", "down     1 MiB/s", "done in   1.5s"} {
		if !strings.Contains(first, want) {
			t.Errorf("first draw lacks %q: %q", want, first)
		}
	}
	b.Reset()
	d.show(peers, stats, 2*time.Second, false)
	if !strings.HasPrefix(b.String(), "\x1b[4A") {
		t.Errorf("second draw does not move back up 4 lines: %q", b.String())
	}
}
