// Package server is Shoal's BitTorrent tracker: an HTTP frontend (BEP 3
// announce, BEP 48 scrape, BEP 23 compact and BEP 7 IPv6 peer lists) and a
// UDP frontend (BEP 15, with BEP 41 URL data tolerated) over one swarm
// store.
//
// The store is the Store interface; NewMemoryStore is the in-memory
// implementation (sharded by info hash, about 50 bytes of heap per peer), and the
// storetest package holds the conformance suite any other store must pass.
//
// The frontends are stateless apart from the store: UDP connection ids are
// HMACs of the client's address under a key that rotates every minute, so a
// connection id is valid for one to two minutes and the server keeps no
// table of them. UDP is read by a fixed set of goroutines (one per core),
// each moving up to 32 datagrams per recvmmsg/sendmmsg call on Linux; HTTP
// by net/http with bounded header size and timeouts. Every rejected
// request is counted by reason and visible at /stats (JSON) and /metrics
// (Prometheus text format).
//
// A peer's address is the socket's remote address; the `ip` query parameter
// is ignored, because honouring it would let anyone insert a third party into
// a swarm. Behind a reverse proxy, Config.ProxyHeader and
// Config.TrustedProxies name the header to read and the proxies whose header
// is believed.
package server
