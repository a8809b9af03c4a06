// Package swarmtest provides loopback swarms and hostile peers for tests.
//
// A Swarm is a small honest swarm in one process: a seeder Session and a
// leecher Session, each listening on its own 127.0.0.x address with real
// sockets, sharing a torrent of pseudo-random content. A Peer is a raw,
// scriptable BitTorrent peer: it dials a Session (from an address of its
// choosing, so a ban of its IP touches nobody else) or accepts a Session's
// connection, performs the handshake with whatever reserved bits, info
// hash and peer id a test chooses (or sends garbage instead), writes
// arbitrary bytes or peerwire messages, reads what comes back and tells
// when the Session hung up. A Watch samples the goroutine count and the
// heap while a test runs, so a test can assert they stay bounded.
//
// Every address is on the loopback network: Linux routes all of
// 127.0.0.0/8 to the loopback interface, so a test can give every peer an
// IP of its own without any setup.
package swarmtest
