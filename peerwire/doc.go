// Package peerwire encodes and decodes the BitTorrent peer wire protocol:
// the handshake and the messages of BEP 3, the DHT port message of BEP 5,
// the fast extension of BEP 6 (including the canonical allowed-fast set),
// the extension protocol handshake of BEP 10, and the payloads of two
// extension messages: ut_metadata (BEP 9) and ut_pex (BEP 11).
//
// Everything read from a peer is untrusted: every length prefix is bounded
// before any payload is read, fixed-size messages must have exactly their
// size, and errors say which message was wrong and how. The Reader decodes
// messages without allocating in steady state, so one reader goroutine per
// connection can run at line rate; AppendMessage encodes into a caller's
// buffer so a writer can batch several messages into one write.
//
// peerwire does no I/O scheduling of its own: connection goroutines,
// choking and request bookkeeping live in the engine.
package peerwire
