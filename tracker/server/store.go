package server

import (
	"context"
	"net/netip"
	"time"

	"shoal/metainfo"
)

// PeerID is the 20-byte id a peer announces (BEP 3 peer_id).
type PeerID [20]byte

// Event is an announce's event. The values are BEP 15's numbering, which the
// HTTP frontend maps its event names onto.
type Event uint8

// The announce events of BEP 3 / BEP 15.
const (
	EventNone      Event = 0 // a regular re-announce
	EventCompleted Event = 1 // the peer finished downloading
	EventStarted   Event = 2 // the peer joined the swarm
	EventStopped   Event = 3 // the peer left the swarm
)

// String returns the event's HTTP name ("" for EventNone).
func (e Event) String() string {
	switch e {
	case EventCompleted:
		return "completed"
	case EventStarted:
		return "started"
	case EventStopped:
		return "stopped"
	}
	return ""
}

// Family selects the address families of the peers an announce returns.
type Family uint8

// Address families; FamilyBoth is FamilyV4|FamilyV6.
const (
	FamilyV4   Family = 1
	FamilyV6   Family = 2
	FamilyBoth        = FamilyV4 | FamilyV6
)

// Has reports whether f includes the family of addr. IPv4-mapped IPv6
// addresses count as IPv4.
func (f Family) Has(addr netip.Addr) bool {
	if addr.Unmap().Is4() {
		return f&FamilyV4 != 0
	}
	return f&FamilyV6 != 0
}

// Peer is one member of a swarm as the store returns it. Stores need not
// keep peer ids (the in-memory one keeps a hash), so dictionary-model
// answers leave out "peer id", as opentracker's do; BEP 23 compact answers,
// which nearly every client asks for, have no peer ids anyway.
type Peer struct {
	Addr netip.AddrPort // IPv4 addresses are unmapped (Is4 is true)
}

// AnnounceRequest is one announce, already validated by a frontend.
type AnnounceRequest struct {
	InfoHash metainfo.InfoHash
	PeerID   PeerID
	Addr     netip.AddrPort // where other peers reach this one
	Left     int64          // bytes the peer still needs; 0 makes it a seeder
	Event    Event
	NumWant  int       // peers wanted; the frontend has already capped it
	Families Family    // which address families to return
	Time     time.Time // when the announce arrived; the peer's last-seen time
}

// AnnounceResult is a store's answer to an announce.
type AnnounceResult struct {
	// Peers are other members of the swarm: for a leecher, seeders first;
	// for a seeder, leechers only (a seeder has no use for other seeders).
	Peers []Peer
	// Counts are the swarm's counts after the announce was applied.
	Counts SwarmCounts
}

// SwarmCounts are the numbers a scrape reports for one torrent (BEP 48).
type SwarmCounts struct {
	Complete   int // seeders
	Incomplete int // leechers
	Downloaded int // "completed" events seen
}

// StoreStats summarises a whole store.
type StoreStats struct {
	Swarms   int
	Seeders  int
	Leechers int
}

// Store holds the swarms. Implementations must be safe for concurrent use;
// the storetest package checks the behaviour documented here.
type Store interface {
	// Announce applies req to its swarm and returns up to req.NumWant
	// other peers (never the announcing peer, matched by peer id) of the
	// families in req.Families, appended to dst[:0]. A peer is identified
	// by (info hash, peer id); announcing again updates its address, its
	// seeder/leecher state and its last-seen time. EventStopped removes it
	// and returns no peers. EventCompleted counts one download.
	Announce(ctx context.Context, req *AnnounceRequest, dst []Peer) (AnnounceResult, error)
	// Scrape returns the counts of one swarm; an unknown swarm is all zero.
	Scrape(ctx context.Context, ih metainfo.InfoHash) (SwarmCounts, error)
	// Expire removes every peer last seen before cutoff, drops swarms left
	// empty, and returns how many peers it removed.
	Expire(ctx context.Context, cutoff time.Time) (int, error)
	// Stats counts swarms and peers.
	Stats(ctx context.Context) (StoreStats, error)
}
