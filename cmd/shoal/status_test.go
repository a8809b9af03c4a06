package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"shoal/engine"
	"shoal/tracker"
)

// TestJSONStatusStateChangeAtOnce: --json status lines come at most once
// a second, except that a change of state (a download completing) is
// printed at once, so a script learns of it when it happens.
func TestJSONStatusStateChangeAtOnce(t *testing.T) {
	var buf bytes.Buffer
	sp := &statusPrinter{w: &buf, asJSON: true}
	now := time.Now()
	sp.update(engine.Stats{State: engine.StateDownloading, Pieces: 4, PiecesHave: 1}, now)
	sp.update(engine.Stats{State: engine.StateDownloading, Pieces: 4, PiecesHave: 2}, now.Add(100*time.Millisecond))
	sp.update(engine.Stats{State: engine.StateSeeding, Pieces: 4, PiecesHave: 4}, now.Add(200*time.Millisecond))
	sp.update(engine.Stats{State: engine.StateSeeding, Pieces: 4, PiecesHave: 4}, now.Add(300*time.Millisecond))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"pieces_have":1`) || !strings.Contains(lines[1], `"state":"seeding"`) {
		t.Fatalf("got lines:\n%s\nwant the first downloading line and the seeding line", buf.String())
	}
}

// The status shows whether the trackers answer: in --json each tracker's
// state, on a line how many answered and, when none did, why.
func TestStatusShowsTrackers(t *testing.T) {
	trackers := []tracker.Status{
		{URL: "http://a/announce", Tier: 0, LastError: "connection refused", Seeders: -1, Leechers: -1},
		{URL: "udp://b:80", Tier: 1, LastAnnounce: time.Now(), Peers: 7, Seeders: 3, Leechers: 4},
	}
	var buf bytes.Buffer
	sp := &statusPrinter{w: &buf, asJSON: true}
	sp.update(engine.Stats{State: engine.StateDownloading, Trackers: trackers}, time.Now())
	for _, want := range []string{
		`"trackers":[{"url":"http://a/announce","tier":0,"peers":0,"seeders":-1,"leechers":-1,"error":"connection refused"}`,
		`{"url":"udp://b:80","tier":1,"peers":7,"seeders":3,"leechers":4}]`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("JSON line %s\nlacks %s", buf.String(), want)
		}
	}
	line := (&statusPrinter{name: "x"}).line(engine.Stats{State: engine.StateDownloading, Trackers: trackers})
	if !strings.HasSuffix(line, "trackers 1/2") {
		t.Errorf("line %q: want it to end with trackers 1/2", line)
	}
	trackers[1].LastError = "timeout"
	line = (&statusPrinter{name: "x"}).line(engine.Stats{State: engine.StateDownloading, Trackers: trackers})
	if !strings.HasSuffix(line, "trackers 0/2 (connection refused)") {
		t.Errorf("line %q: want the first error when no tracker answers", line)
	}
}
