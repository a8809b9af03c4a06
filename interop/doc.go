// Package interop holds tests that check Shoal against real BitTorrent tools
// it did not write: libtorrent (through python3-libtorrent), Transmission's
// transmission-show and mktorrent. Every test builds the shoal binary once
// and compares what the tools say about the same .torrent files: v1 info
// hashes, names, file lists, trackers, web seeds, the private flag and
// magnet links.
//
// A tool that is missing makes its tests skip, except when the environment
// variable CI is "true": there a missing tool is a failure naming the Debian
// package to install, so CI can never pass by skipping. See docs/interop.md.
package interop
