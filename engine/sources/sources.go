// Package sources defines where a torrent's peers come from. A Source runs
// while its torrent is started and reports the addresses it finds; the
// torrent decides whom to connect to and when. Manual (addresses a user
// gave) is the source today; trackers, the DHT and peer exchange implement
// the same interface.
package sources

import (
	"context"
	"net/netip"

	"shoal/metainfo"
)

// Torrent is what a source may ask about the torrent it finds peers for. A
// tracker announce, for one, reports the counters.
type Torrent interface {
	InfoHash() metainfo.InfoHash
	// Port is the TCP port we accept peers on, 0 if none.
	Port() int
	// Counters returns payload bytes uploaded and downloaded in this
	// session, and the bytes still wanted.
	Counters() (uploaded, downloaded, left int64)
}

// Completer is implemented by a Torrent that can say when its download
// completes: a tracker announces "completed" then (BEP 3).
type Completer interface {
	// Complete returns a channel closed once every wanted piece is verified.
	Complete() <-chan struct{}
}

// Source finds peers for one torrent.
type Source interface {
	// Name identifies the source in stats and logs: "manual", a tracker URL.
	Name() string
	// Run reports peers through found until ctx ends, then returns
	// ctx.Err(); it returns another error when it cannot go on. found may
	// block until the torrent has taken the addresses.
	Run(ctx context.Context, t Torrent, found func([]netip.AddrPort)) error
}

// Manual reports a fixed list of addresses once per run: peers given with
// --peer or Torrent.AddPeers.
type Manual struct {
	Peers []netip.AddrPort
}

var _ Source = Manual{}

// Name returns "manual".
func (Manual) Name() string { return "manual" }

// Run reports the peers, then waits for ctx to end.
func (m Manual) Run(ctx context.Context, _ Torrent, found func([]netip.AddrPort)) error {
	if len(m.Peers) > 0 {
		found(append([]netip.AddrPort(nil), m.Peers...))
	}
	<-ctx.Done()
	return ctx.Err()
}
