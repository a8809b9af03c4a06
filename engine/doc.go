// Package engine downloads and seeds torrents: the Session owns what
// torrents share (the listening socket, connection limits, rate limiters,
// the piece-memory budget and the resume store), and each Torrent is an
// actor — one goroutine that owns all of the torrent's state and runs a
// select loop. Peer connections (engine/peerconn) have a reader and a writer
// goroutine that only do I/O; hashing and disk writes run in bounded worker
// pools whose results come back to the loop as messages, so the loop never
// blocks on disk, network or a full channel.
//
// Data integrity: blocks are kept in memory until their piece is complete,
// a complete piece is hashed, and only a verified piece is written to disk.
// A piece is recorded as verified in the resume store only after its data
// has been written and synced, so a crash can lose recent work but never
// marks unverified data as done.
package engine
