// Package peerconn runs one established peer connection (the handshake is
// already done) for a torrent's event loop.
//
// A Conn has two goroutines that only do I/O. The reader decodes messages
// with peerwire.Reader and delivers them as Events to the torrent loop; it
// paces downloads by waiting on a rate limiter for every piece payload it
// has read before it reads more, so TCP flow control slows the peer down.
// The writer sends control messages queued with Send and blocks the loop
// queued with QueueUpload: it reads each block from storage just before it
// sends it (so cancelled or dropped requests cost no disk I/O), waits on the
// upload limiter, batches small messages into one write and sends a
// keep-alive when it has been idle (BEP 3 suggests every two minutes).
//
// Nothing a Conn does blocks the loop: Send and QueueUpload only append to
// bounded queues, and a peer that doesn't read what we send fills the
// control queue, which closes the connection instead of growing memory.
// Exactly one Closed event is delivered, after every Message event, unless
// the Conn's context ends first.
package peerconn
