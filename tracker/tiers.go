package tracker

import (
	"math/rand/v2"
	"strings"
	"time"
)

// Status is one tracker's state as a Source sees it, for stats.
type Status struct {
	URL  string
	Tier int // BEP 12 tier, from 0
	// LastAnnounce is when the tracker last answered an announce (zero:
	// never); LastAttempt when we last tried it.
	LastAnnounce, LastAttempt time.Time
	// Peers is how many addresses its last answer held; Seeders and
	// Leechers what it said of the swarm (-1: not said, or no answer yet).
	Peers, Seeders, Leechers int
	// LastError is why the last attempt failed; "" after a success.
	LastError string
	// Warning is the tracker's last "warning message".
	Warning string
	// NextAnnounce is when the torrent announces next (to the first
	// tracker of the first tier that answers).
	NextAnnounce time.Time
}

// trackerEntry is one tracker in a tier list.
type trackerEntry struct {
	status    Status
	trackerID string // BEP 3 "tracker id" to send back
}

// newTiers builds BEP 12 tiers from an announce-list (or a lone announce
// URL as the only tier): empty tiers and repeated URLs are dropped, and
// each tier is shuffled, as BEP 12 asks, so load spreads over its trackers.
func newTiers(lists [][]string) [][]*trackerEntry {
	seen := map[string]bool{}
	var tiers [][]*trackerEntry
	for _, list := range lists {
		var tier []*trackerEntry
		for _, u := range list {
			u = strings.TrimSpace(u)
			if u == "" || seen[u] {
				continue
			}
			seen[u] = true
			tier = append(tier, &trackerEntry{status: Status{URL: u, Tier: len(tiers), Seeders: -1, Leechers: -1}})
		}
		if len(tier) == 0 {
			continue
		}
		rand.Shuffle(len(tier), func(i, j int) { tier[i], tier[j] = tier[j], tier[i] })
		tiers = append(tiers, tier)
	}
	return tiers
}

// moveToFront puts tier[i] first, keeping the others' order (BEP 12: a
// tracker that answered is tried first next time).
func moveToFront(tier []*trackerEntry, i int) {
	e := tier[i]
	copy(tier[1:i+1], tier[:i])
	tier[0] = e
}

// Tiers returns a torrent's tracker tiers: its announce-list, or its
// announce URL as the only tier when there is no list (BEP 12), then the
// extra URLs, each its own tier after the torrent's.
func Tiers(announce string, announceList [][]string, extra ...string) [][]string {
	var tiers [][]string
	for _, tier := range announceList {
		if len(tier) > 0 {
			tiers = append(tiers, tier)
		}
	}
	if len(tiers) == 0 && announce != "" {
		tiers = append(tiers, []string{announce})
	}
	for _, u := range extra {
		tiers = append(tiers, []string{u})
	}
	return tiers
}
