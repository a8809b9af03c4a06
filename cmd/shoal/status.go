package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"shoal/engine"
	"shoal/tracker"
)

// statusPrinter shows a torrent's progress: a live line redrawn in place
// on a terminal, a plain line every few seconds otherwise, or one JSON
// object per line with --json.
type statusPrinter struct {
	w        io.Writer
	terminal bool
	asJSON   bool
	name     string
	last     time.Time // when the last plain or JSON line was printed
	drawn    bool      // a live line is on screen
	// lastState is the state in the last JSON line: a change of state is
	// printed at once, so a script sees a download complete when it does.
	lastState engine.State
}

// plainEvery is how often a status line is printed when not on a terminal.
const plainEvery = 5 * time.Second

// statusJSON is one --json status line.
type statusJSON struct {
	State        string  `json:"state"`
	Progress     float64 `json:"progress"`
	Pieces       int     `json:"pieces"`
	PiecesHave   int     `json:"pieces_have"`
	DownloadRate float64 `json:"download_rate"`
	UploadRate   float64 `json:"upload_rate"`
	Downloaded   int64   `json:"downloaded"`
	Uploaded     int64   `json:"uploaded"`
	Peers        int     `json:"peers"`
	Error        string  `json:"error,omitempty"`
	// Trackers is each tracker's state, so a script can tell a dead
	// tracker from an empty swarm.
	Trackers []trackerJSON `json:"trackers,omitempty"`
}

// trackerJSON is one tracker in a --json status line; seeders and
// leechers are -1 until the tracker has said.
type trackerJSON struct {
	URL      string `json:"url"`
	Tier     int    `json:"tier"`
	Peers    int    `json:"peers"`
	Seeders  int    `json:"seeders"`
	Leechers int    `json:"leechers"`
	Error    string `json:"error,omitempty"`
	Warning  string `json:"warning,omitempty"`
}

func (sp *statusPrinter) update(st engine.Stats, now time.Time) {
	switch {
	case sp.asJSON:
		if now.Sub(sp.last) < time.Second && st.State == sp.lastState {
			return
		}
		sp.last, sp.lastState = now, st.State
		line := statusJSON{
			State: st.State.String(), Progress: st.Progress, Pieces: st.Pieces, PiecesHave: st.PiecesHave,
			DownloadRate: st.DownloadRate, UploadRate: st.UploadRate,
			Downloaded: st.Downloaded, Uploaded: st.Uploaded, Peers: st.Peers,
		}
		if st.Err != nil {
			line.Error = st.Err.Error()
		}
		for _, tr := range st.Trackers {
			line.Trackers = append(line.Trackers, trackerJSON{
				URL: tr.URL, Tier: tr.Tier, Peers: tr.Peers, Seeders: tr.Seeders, Leechers: tr.Leechers,
				Error: tr.LastError, Warning: tr.Warning,
			})
		}
		b, _ := json.Marshal(line)
		fmt.Fprintf(sp.w, "%s\n", b)
	case sp.terminal:
		fmt.Fprintf(sp.w, "\r\x1b[K%s", sp.line(st))
		sp.drawn = true
	default:
		if now.Sub(sp.last) < plainEvery {
			return
		}
		sp.last = now
		fmt.Fprintf(sp.w, "%s\n", sp.line(st))
	}
}

// done ends a live line so what follows starts on a fresh one.
func (sp *statusPrinter) done() {
	if sp.drawn {
		fmt.Fprintln(sp.w)
		sp.drawn = false
	}
}

// line renders one status line: name, bar, percent, rates, peers, ETA.
func (sp *statusPrinter) line(st engine.Stats) string {
	var b strings.Builder
	b.WriteString(printable(sp.name))
	b.WriteString("  ")
	if st.State == engine.StateChecking {
		fmt.Fprintf(&b, "checking %d/%d pieces", st.CheckedPieces, st.Pieces)
		return b.String()
	}
	const width = 24
	filled := int(st.Progress * width)
	b.WriteString("[" + strings.Repeat("=", filled) + strings.Repeat(" ", width-filled) + "]")
	fmt.Fprintf(&b, " %5.1f%%  down %s  up %s  peers %d", 100*st.Progress,
		formatRate(st.DownloadRate), formatRate(st.UploadRate), st.Peers)
	if st.State == engine.StateDownloading {
		fmt.Fprintf(&b, "  ETA %s", eta(st))
	} else {
		b.WriteString("  " + st.State.String())
	}
	if len(st.Trackers) > 0 {
		b.WriteString("  " + trackerSummary(st.Trackers))
	}
	return b.String()
}

// trackerSummary says how many trackers answered their last announce, and
// why one did not when none did: the first thing to check when a download
// finds no peers.
func trackerSummary(trackers []tracker.Status) string {
	ok := 0
	lastErr := ""
	for _, tr := range trackers {
		switch {
		case tr.LastError != "":
			if lastErr == "" {
				lastErr = tr.LastError
			}
		case !tr.LastAnnounce.IsZero():
			ok++
		}
	}
	s := fmt.Sprintf("trackers %d/%d", ok, len(trackers))
	if ok == 0 && lastErr != "" {
		s += " (" + printable(oneLine(lastErr)) + ")"
	}
	return s
}

func formatRate(r float64) string {
	return formatSize(int64(r)) + "/s"
}

// eta estimates the time left from the current download rate.
func eta(st engine.Stats) string {
	left := st.WantedSize - st.HaveWanted
	if st.DownloadRate < 1 {
		return "--"
	}
	d := time.Duration(float64(left)/st.DownloadRate) * time.Second
	if d > 99*time.Hour {
		return "--"
	}
	return d.Round(time.Second).String()
}
