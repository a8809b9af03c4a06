package engine

import "shoal/storage"

// directMinPiece is the smallest piece written with O_DIRECT. A direct
// write is a synchronous trip to the device with a fixed cost (about 70 µs
// per piece measured here), which outweighs the page-cache cost it saves
// for small pieces: a 40-peer swarm with 32 KiB pieces spent 17 % of its
// CPU in direct writes (docs/benchmarks.md, "swarm").
const directMinPiece = 256 << 10

// directWritesPossible says whether the torrent ever writes with O_DIRECT:
// not with Config.CachedWrites, nor with pieces too small for it. Without,
// its storage opens no second descriptor per file.
func (t *Torrent) directWritesPossible() bool {
	return !t.s.cfg.CachedWrites && t.info.PieceLength >= directMinPiece
}

// fileOptions are the options of the torrent's file storage, with wanted
// as the per-file wanted flags.
func (t *Torrent) fileOptions(wanted []bool) storage.FileOptions {
	return storage.FileOptions{
		MaxOpenFiles:     t.s.cfg.MaxOpenFiles,
		Wanted:           wanted,
		DirectWrites:     t.directWritesPossible(),
		DirectWritesGate: &t.directGate,
	}
}

// wantDirectWrites says whether the piece about to be written should go
// around the page cache. It should not when a connected peer is interested
// in us: in a swarm, what we write now is what others ask for next, and
// serving it from the cache is far cheaper than reading it back from the
// disk. A download that nobody is waiting on (the common case for a
// leecher among seeders) gains the most from direct writes. The choice is
// made per piece, on the loop, and read by the storage for that write.
func (t *Torrent) wantDirectWrites() bool {
	if !t.directWritesPossible() {
		return false
	}
	for _, p := range t.peers {
		if p.peerInterested {
			return false
		}
	}
	return true
}
