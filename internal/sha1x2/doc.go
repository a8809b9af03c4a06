// Package sha1x2 computes the SHA-1 digests (FIPS 180-4) of two messages
// of equal length at once on one core.
//
// On amd64 CPUs with the SHA extensions the two messages are hashed in
// interleaved lanes: each SHA1RNDS4 instruction depends on the previous
// one of its own message, so a single message leaves the SHA unit idle
// while it waits for results, and a second, independent message can use
// those cycles. BitTorrent hashes many independent pieces of the same
// length, which gives the two lanes naturally. Elsewhere, and for
// messages of different lengths, it falls back to crypto/sha1.
package sha1x2
