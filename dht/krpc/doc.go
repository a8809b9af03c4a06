// Package krpc is the wire format of the BitTorrent DHT: the KRPC messages
// of BEP 5 (bencoded dictionaries over UDP: query "q", response "r" and
// error "e"), with the fields later BEPs add: the requester's address "ip"
// (BEP 42), the read-only flag "ro" (BEP 43), "want" and "nodes6" (BEP 32),
// "seed", "noseed", "scrape" and the bloom filters "BFsd"/"BFpe" (BEP 33)
// and the sampling fields of BEP 51.
//
// Decode is strict about sizes because every datagram comes from an
// untrusted sender: the whole message, transaction ids, tokens, node lists,
// peer lists and samples are bounded, and a message that breaks a bound is
// an error that says which field was wrong. Compact node and peer formats
// live in compact.go.
package krpc
