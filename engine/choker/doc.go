// Package choker decides which peers get upload slots: the choking
// algorithm of BEP 3 ("The currently deployed choking algorithm"), plus a
// seeding choker that favours fast peers while still giving every
// interested peer a turn.
//
// It is pure logic with no goroutines and no locks: the torrent loop owns a
// Choker and calls Rechoke every ten seconds (BEP 3 changes who is choked
// only that often, to avoid "fibrillation") with a snapshot of its peers.
// Rechoke returns the complete set of peers that should be unchoked; the
// loop diffs it against the current state and sends CHOKE/UNCHOKE only for
// peers whose state changes.
//
// Leeching (tit-for-tat, BEP 3): the Slots interested, non-snubbed peers
// with the best download rate to us are unchoked; ties go to the peer we
// upload to faster, then to a peer already unchoked (less churn), then at
// random. Following BEP 3, peers that are not interested but send to us
// faster than the slowest regular peer are unchoked too without taking a
// slot, so that if they become interested they can download at once;
// peers that send us nothing are left choked (see Rechoke).
//
// Seeding (no download rates to reciprocate): most slots go to the peers we
// upload to fastest, which uses our upload capacity best, but about one slot
// in five (at least one) rotates: it serves waiting peers first-come
// first-served for a turn of SeedTurn (60 s), so every interested peer is
// unchoked within a bounded time. A rotating peer that proves faster than
// the slowest fast-slot holder takes that fast slot. This combines
// libtorrent's "fastest upload" and "round robin" seeding chokers.
//
// Optimistic unchoke (BEP 3): one more interested, choked peer is unchoked
// regardless of its rates and rotated every OptimisticInterval (30 s, every
// third rechoke); peers connected for less than NewPeerAge (60 s) are three
// times as likely to be chosen, so a newcomer soon gets pieces to trade.
//
// All randomness comes from the rand source given to New, so a fixed seed
// gives reproducible decisions.
package choker
