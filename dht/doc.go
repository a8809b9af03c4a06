// Package dht is a node of the BitTorrent Mainline DHT (BEP 5): a Kademlia
// routing table over UDP that stores and finds the peers of torrents.
//
// A Node owns one UDP socket of one address family (BEP 32: the IPv4 and
// IPv6 DHTs are separate, so a dual-stack host runs two Nodes). It has one
// reader goroutine, which answers queries and hands replies to the queries
// waiting for them, and one maintenance goroutine, which times out
// unanswered queries, pings questionable nodes, refreshes stale buckets,
// rotates the token secret, expires stored peers and saves the state file.
// Iterative lookups (Bootstrap, GetPeers, Announce, Scrape) run the
// algorithm of package traversal in the caller's goroutine.
//
// The serving side answers ping, find_node, get_peers, announce_peer and
// sample_infohashes (BEP 51), with BEP 33 scrapes, the BEP 42 "ip" field
// and "want" of BEP 32. It never amplifies: a reply to a query that proves
// nothing about its source address is trimmed to at most AmplificationFactor
// times the query's size, and every source address is rate-limited. Node ids
// follow BEP 42 when our address is public, and a read-only node (BEP 43)
// asks but never answers.
package dht
