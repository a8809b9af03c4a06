// Package metainfo reads, writes and builds BitTorrent v1 metainfo (.torrent)
// files (BEP 3, 12, 19, 27, 47), parses and formats magnet URIs (BEP 9, 53),
// and maps pieces to byte ranges of files (Layout) for storage.
//
// Everything a torrent file or magnet link says is untrusted: Parse checks
// sizes, piece counts and every file path, and rejects what could escape the
// download directory with an error that names the offending path.
package metainfo
