package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"shoal/engine"
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
