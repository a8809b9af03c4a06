// Package interop holds tests that check Shoal against real BitTorrent
// clients it did not write: libtorrent (through python3-libtorrent),
// Transmission (transmission-show, transmission-create, transmission-daemon),
// aria2 and mktorrent. Every test builds the shoal binary once.
//
// The metadata tests compare what the tools say about the same .torrent
// files: v1 info hashes, names, file lists, trackers, web seeds, the private
// flag and magnet links. The transfer tests move real data: Shoal downloads
// from each client as the only seeder, each client downloads from Shoal,
// and three-client swarms complete; every file is compared byte for byte.
//
// A tool that is missing makes its tests skip, except when the environment
// variable CI is "true": there a missing tool is a failure naming the Debian
// package to install, so CI can never pass by skipping. See docs/interop.md.
package interop
