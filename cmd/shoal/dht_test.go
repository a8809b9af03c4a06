package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startDHTCommand runs "shoal dht ARGS... --json" in-process and returns its
// stdout and the channel its result arrives on.
func startDHTCommand(ctx context.Context, args ...string) (*syncBuffer, chan result) {
	stdout := new(syncBuffer)
	resultC := make(chan result, 1)
	go func() {
		var stderr syncBuffer
		code := execute(ctx, append([]string{"dht", "--json"}, args...), stdout, &stderr)
		resultC <- result{code, stdout.String(), stderr.String()}
	}()
	return stdout, resultC
}

// lastDHTReport waits until the command's latest JSON line satisfies ok.
func lastDHTReport(t *testing.T, stdout *syncBuffer, resultC chan result, ok func(dhtReport) bool) dhtReport {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		var r dhtReport
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err == nil && ok(r) {
			return r
		}
		select {
		case res := <-resultC:
			t.Fatalf("shoal dht exited with status %d:\n%s", res.code, res.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out; output:\n%s", stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDHTCommand runs two standalone nodes: the second joins through the
// first, both report each other in their routing tables, and the first
// keeps its id and table across a restart through its state file.
func TestDHTCommand(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "first.state")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	firstOut, firstC := startDHTCommand(ctx, "--listen", "127.0.0.1:0", "--no-bootstrap", "--interval", "100ms", "--state", state)
	first := lastDHTReport(t, firstOut, firstC, func(r dhtReport) bool { return r.Event == "listening" })

	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	secondOut, secondC := startDHTCommand(ctx2, "--listen", "127.0.0.1:0", "--bootstrap", first.Addr, "--interval", "100ms",
		"--state", filepath.Join(dir, "second.state"))
	lastDHTReport(t, secondOut, secondC, func(r dhtReport) bool { return r.Nodes >= 1 })
	lastDHTReport(t, firstOut, firstC, func(r dhtReport) bool { return r.Nodes >= 1 && r.QueriesInPS >= 0 })

	cancel()
	if r := <-firstC; r.code != exitOK || !strings.Contains(r.stdout, `"event":"stopped"`) {
		t.Fatalf("first node: status %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("state file: %v", err)
	}
	// Restarted from its state file (on another port, with no bootstrap
	// node), the first node has its old id and finds the second node again.
	ctx3, cancel3 := context.WithCancel(context.Background())
	defer cancel3()
	againOut, againC := startDHTCommand(ctx3, "--listen", "127.0.0.1:0", "--no-bootstrap", "--interval", "100ms", "--state", state)
	again := lastDHTReport(t, againOut, againC, func(r dhtReport) bool { return r.Event == "listening" })
	if again.ID != first.ID {
		t.Fatalf("after restart: id %s, was %s", again.ID, first.ID)
	}
	lastDHTReport(t, againOut, againC, func(r dhtReport) bool { return r.Nodes >= 1 })
	cancel3()
	<-againC
	cancel2()
	<-secondC
}

func TestDHTCommandUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"dht", "--interval", "1ms"}, exitUsage, "at least 100ms"},
		{[]string{"dht", "--no-bootstrap", "--bootstrap", "127.0.0.1:1"}, exitUsage, "contradict"},
		{[]string{"dht", "extra"}, exitUsage, "no arguments"},
		{[]string{"dht", "--listen", "nonsense", "--no-bootstrap", "--state", filepath.Join(t.TempDir(), "s")}, exitFailure, "nonsense"},
	} {
		var stdout, stderr syncBuffer
		code := execute(context.Background(), tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%v: status %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), tc.code, tc.msg)
		}
	}
}
