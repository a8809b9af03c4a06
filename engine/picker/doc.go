// Package picker decides which block to request next from which peer.
//
// A torrent's piece space is cut into blocks of BlockSize bytes (the last
// block of the last piece may be shorter). The Picker keeps, per piece,
// whether we have it (verified), its priority, its availability among the
// connected peers, and, for pieces in progress, the state of every block:
// not requested, requested from which peers, or received from which peer.
//
// Order of choice (see Pick):
//
//  1. Pieces in progress that this peer is already downloading, or that
//     nobody is downloading any more, fewest blocks left to request first,
//     so pieces complete, are verified and can be shared early.
//  2. A new piece: higher priority first (High, Normal, Low; Skip never).
//     Until RandomFirst pieces are verified, a random piece, so a new
//     peer soon has something to trade; then rarest first (lowest
//     availability) with a random tie-break, as BEP 3's "rarest first"
//     recommends. In sequential mode, the lowest index first.
//  3. Blocks of pieces other peers are downloading: whole pieces go to one
//     peer when possible, so a piece that fails its hash check has few
//     suspects and fewer pieces sit half-done in memory.
//  4. Endgame: when every wanted block is requested, blocks already
//     requested from others (never twice from the same peer, at most
//     MaxRequesters peers per block); Received then names the peers to
//     send CANCEL to.
//
// The hot path avoids scanning all pieces: pieces not yet started are kept
// in buckets by (priority, availability), pieces in progress in a small
// set, and per-peer "interesting" counts are kept up to date incrementally.
//
// A Picker has no goroutines and no locks: the torrent's event loop owns
// it. Peers are identified by an int key the caller assigns. All random
// choices come from a seeded generator, so runs are reproducible.
package picker
