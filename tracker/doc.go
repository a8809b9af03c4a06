// Package tracker is the client side of the BitTorrent tracker protocols:
// it announces a torrent to HTTP(S) trackers (BEP 3, with the compact and
// dictionary peer lists of BEP 23, "peers6" of BEP 7 and the external IP of
// BEP 24) and to UDP trackers (BEP 15, with the URL data of BEP 41), and
// scrapes both (BEP 48).
//
// Client does single exchanges: Announce and Scrape take a tracker URL and
// pick the protocol from its scheme. Every response is bounded in size and
// peer count, and a malformed one is an error that says what was wrong. A
// UDP connection id is reused for the minute BEP 15 allows, and a lost
// packet is sent again after 15·2^n seconds (the base is configurable so
// tests need not wait).
//
// Source is a torrent's trackers as a peer source (engine/sources): the
// tiers of BEP 12, shuffled within a tier, the tracker that answered moved
// to the front of its tier and the next tier tried when a whole tier fails.
// It announces "started", re-announces at the interval the tracker asks for
// (never sooner than its "min interval", backing off after failures),
// "completed" when the download completes, and "stopped" within a short
// deadline when the torrent stops. Status reports each tracker's state for
// the engine's stats.
package tracker
