package engine

import (
	"time"

	"shoal/peerwire"
)

// Request pipelining. Enough requests must wait at a peer to keep its
// upload to us busy, but no more: a request queued at a peer commits the
// block to that peer, and a deep queue at a peer whose upload is capped
// and shared holds blocks back that another peer could send now, and
// delays the pieces it covers from being completed and passed on.
const (
	// requestQueueTime is how much of a peer's measured rate we keep
	// requested from it.
	requestQueueTime = 500 * time.Millisecond
	// slowStartTime: a connection this young has no measured rate yet, so
	// its depth grows by one for every block it delivers (like TCP's slow
	// start), and a fast peer fills its pipe within the first second.
	slowStartTime = 3 * time.Second
	// minQueueDepth requests are always allowed: they cover the round trip,
	// and the moments a busy machine takes to answer (a swarm of 40
	// processes on two cores kept the seeder at 75 % of its cap with 4).
	minQueueDepth = 8
)

// queueDepth is how many requests to keep outstanding with a peer: about
// requestQueueTime of its measured rate, at most what it told us it
// accepts (reqq).
// maxSendQueue bounds the control messages queued on one connection
// (peerconn.Options.MaxSendQueue). One top-up can queue maxReqq requests
// at once, a choke or the endgame as many cancels, and HAVEs wait up to
// 100 ms to share a write while a fast download completes hundreds of
// pieces a second. The bound must hold all of that together, or a busy
// moment closes a healthy connection with peerconn.ErrSendOverflow (seen
// with a peer announcing reqq 2000: peerconn's default of 1024 was hit and
// the download stalled until the next dial). It still stops a peer that
// never reads.
const maxSendQueue = 2*maxReqq + 4096

func (t *Torrent) queueDepth(p *peer) int {
	if p.snubbed {
		// A peer that stopped sending, or rejects everything, gets one
		// request at a time until it delivers again.
		return 1
	}
	now := time.Now()
	depth := int(requestQueueTime.Seconds() * p.downMeter.Rate(now) / peerwire.BlockSize)
	if now.Sub(p.connectedAt) < slowStartTime {
		depth = max(depth, p.slowStart)
	}
	return max(min(depth, p.reqq), minQueueDepth)
}

// needsHave reports whether a peer must be told that we now have piece i.
// A leecher that has the piece itself and is interested in us learns
// nothing from the HAVE (BEP 3 does not require redundant ones; libtorrent
// calls them optional, "send_redundant_have"), and in a swarm of N peers
// that skips about half of the N HAVEs each piece costs. Everyone else is
// told: a super-seeder (BEP 16) that offered us the piece waits for our
// HAVE before offering more, and it is never interested in us.
func (t *Torrent) needsHave(p *peer, i int) bool {
	return !p.peerInterested || p.has == nil || !p.has.Has(i)
}
