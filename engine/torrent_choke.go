package engine

import (
	"cmp"
	"slices"
	"time"

	"shoal/engine/choker"
	"shoal/peerwire"
)

// rechoke runs the choker and applies its decision.
func (t *Torrent) rechoke(now time.Time) {
	states := make([]choker.PeerState, 0, len(t.peers))
	for _, p := range t.peers {
		states = append(states, choker.PeerState{
			Key:          p.key,
			Interested:   p.peerInterested,
			Unchoked:     !p.amChoking,
			Optimistic:   p.optimistic,
			DownloadRate: p.downMeter.Rate(now),
			UploadRate:   p.upMeter.Rate(now),
			Snubbed:      p.snubbed,
			ConnectedAt:  p.connectedAt,
		})
	}
	t.choker.Slots = t.uploadSlots()
	unchoke, optimistic := t.choker.Rechoke(now, t.completed, states)
	set := make(map[int]bool, len(unchoke))
	for _, k := range unchoke {
		set[k] = true
	}
	for _, p := range t.peers {
		p.optimistic = p.key == optimistic
		switch {
		case set[p.key] && p.amChoking:
			t.unchoke(p)
		case !set[p.key] && !p.amChoking:
			t.choke(p)
		}
	}
}

// maybeUnchoke unchokes a newly interested peer at once when an upload
// slot is free, rather than making it wait for the next rechoke.
func (t *Torrent) maybeUnchoke(p *peer) {
	if p.amChoking && t.active() && t.freeSlots() > 0 {
		t.unchoke(p)
	}
}

// fillFreeSlots gives upload slots freed by a peer that left or lost
// interest to waiting peers, fastest senders first, without waiting for
// the next rechoke.
func (t *Torrent) fillFreeSlots() {
	if !t.active() {
		return
	}
	free := t.freeSlots()
	if free <= 0 {
		return
	}
	var waiting []*peer
	for _, p := range t.peers {
		if p.amChoking && p.peerInterested {
			waiting = append(waiting, p)
		}
	}
	now := time.Now()
	slices.SortFunc(waiting, func(a, b *peer) int {
		return cmp.Compare(b.downMeter.Rate(now), a.downMeter.Rate(now))
	})
	for _, p := range waiting[:min(free, len(waiting))] {
		t.unchoke(p)
	}
}

// uploadSlots is the number of regular upload slots, or a negative number
// for no limit. Under an upload cap every interested peer is unchoked: the
// rate limiter already shares the capped upload among them, so a slot
// limit could only leave capacity idle — a peer holding a slot may want
// little of what we have while choked ones wait for the next rechoke —
// and the pieces we have spread to more peers at once.
func (t *Torrent) uploadSlots() int {
	if t.uploadCapped() {
		return choker.Unlimited
	}
	return t.s.cfg.UploadSlots
}

// freeSlots is how many more interested peers may be unchoked now.
func (t *Torrent) freeSlots() int {
	slots := t.uploadSlots()
	if slots < 0 {
		return len(t.peers) // unlimited
	}
	for _, q := range t.peers {
		if !q.amChoking && q.peerInterested && !q.optimistic {
			slots--
		}
	}
	return slots
}

func (t *Torrent) unchoke(p *peer) {
	p.amChoking = false
	p.conn.Send(peerwire.Message{ID: peerwire.Unchoke})
	if t.superSeed != nil {
		// Enough offers to keep its requests flowing, not just the one
		// that made it interested.
		t.superSeedRefill(p)
	}
}

// choke stops uploading to a peer. Its queued requests are dropped; with
// the fast extension each one is rejected explicitly (BEP 6).
func (t *Torrent) choke(p *peer) {
	p.amChoking = true
	// Clear first, so no queued block follows the CHOKE out.
	dropped := p.conn.ClearUploads()
	p.conn.Send(peerwire.Message{ID: peerwire.Choke})
	for _, r := range dropped {
		if p.fast {
			p.conn.Send(peerwire.Message{ID: peerwire.Reject, Index: uint32(r.Piece), Begin: uint32(r.Begin), Length: uint32(r.Length)})
		}
	}
}

// sampleRates moves each connection's byte counters into the rate meters
// and the torrent's totals.
func (t *Torrent) sampleRates(now time.Time) {
	var down, up float64
	for _, p := range t.peers {
		t.sampleConn(p, now)
		down += p.downMeter.Rate(now)
		up += p.upMeter.Rate(now)
	}
	t.counters.downRate, t.counters.upRate = down, up
}

// sampleConn adds what a connection moved since the last sample.
func (t *Torrent) sampleConn(p *peer, now time.Time) {
	cs := p.conn.Stats()
	dd, du := cs.PayloadReceived-p.lastDown, cs.PayloadSent-p.lastUp
	p.lastDown, p.lastUp = cs.PayloadReceived, cs.PayloadSent
	p.downMeter.Add(dd, now)
	p.upMeter.Add(du, now)
	p.uploaded += du
	t.counters.downloaded += dd
	t.counters.uploaded += du
}
