package server

import (
	"context"
	"hash/maphash"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"shoal/metainfo"
)

// memShards is the number of independently locked parts of a MemoryStore.
// Announces for different torrents rarely wait for each other with 256
// shards on a machine with a few dozen cores.
const memShards = 256

// indexThreshold is the swarm size from which a swarm keeps a hash index of
// its peers. Below it a linear scan over 32-byte records is as fast as a map
// lookup and costs no memory.
const indexThreshold = 32

// maxScan bounds how many records one announce looks at when it skips
// peers of the wrong address family, so a request for IPv6 peers in a large
// IPv4 swarm cannot cost a scan of the whole swarm.
const maxScan = 4096

// memPeer is one peer as a MemoryStore keeps it: 32 bytes. The peer id
// itself is not kept, only a keyed 64-bit hash of it: two peers of one
// swarm collide with odds of about n²/2⁶⁵, and the random key keeps anyone
// from making them collide on purpose.
type memPeer struct {
	key  uint64   // keyed hash of the BEP 3 peer id: the peer's identity
	ip   [16]byte // IPv6 or IPv4-mapped address
	port uint16
	seen uint32 // Unix seconds of the last announce
}

func (p *memPeer) addrPort() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16(p.ip).Unmap(), p.port)
}

// memSwarm is one torrent's peers. Seeders and leechers are kept apart so a
// leecher can be sent seeders first without sorting.
type memSwarm struct {
	seeders  []memPeer
	leechers []memPeer
	// index maps the low 32 bits of a peer's key to its position: i in
	// seeders, or ^i in leechers (8 bytes per peer). It exists only for
	// swarms that reached indexThreshold peers. A peer whose low bits are
	// already taken is kept in overflow instead, by its full key.
	index      map[uint32]int32
	overflow   map[uint64]int32
	downloaded uint32 // "completed" events
}

// memShard is one lock's worth of swarms, with running counts so Stats
// need not walk the swarms.
type memShard struct {
	mu       sync.Mutex
	swarms   map[metainfo.InfoHash]*memSwarm
	seeders  int
	leechers int
}

// MemoryStore is the in-memory Store: swarms spread over independently
// locked shards by info hash, each peer a 32-byte record in a slice
// (about 50 bytes of heap per peer with slack and index).
type MemoryStore struct {
	seed   maphash.Seed
	shards [memShards]memShard
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	s := &MemoryStore{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].swarms = make(map[metainfo.InfoHash]*memSwarm)
	}
	return s
}

func (s *MemoryStore) shard(ih metainfo.InfoHash) *memShard {
	return &s.shards[(int(ih[0])<<8|int(ih[1]))%memShards]
}

func (s *MemoryStore) peerKey(id PeerID) uint64 { return maphash.Comparable(s.seed, id) }

// unixSeconds converts t to the stored last-seen form, clamped to uint32.
func unixSeconds(t time.Time) uint32 {
	u := t.Unix()
	switch {
	case u < 0:
		return 0
	case u > 1<<32-1:
		return 1<<32 - 1
	}
	return uint32(u)
}

// find returns where the peer with id is: seeder reports which list, and i
// its position, or i == -1 if the swarm does not hold it.
func (s *MemoryStore) find(sw *memSwarm, key uint64) (seeder bool, i int) {
	if sw.index != nil {
		if v, ok := sw.index[uint32(key)]; ok {
			seeder, i = decodePos(v)
			if sw.list(seeder)[i].key == key {
				return seeder, i
			}
		}
		if v, ok := sw.overflow[key]; ok {
			seeder, i = decodePos(v)
			return seeder, i
		}
		return false, -1
	}
	for i := range sw.seeders {
		if sw.seeders[i].key == key {
			return true, i
		}
	}
	for i := range sw.leechers {
		if sw.leechers[i].key == key {
			return false, i
		}
	}
	return false, -1
}

func encodePos(seeder bool, i int) int32 {
	if seeder {
		return int32(i)
	}
	return ^int32(i)
}

func decodePos(v int32) (seeder bool, i int) {
	if v >= 0 {
		return true, int(v)
	}
	return false, int(^v)
}

func (sw *memSwarm) list(seeder bool) []memPeer {
	if seeder {
		return sw.seeders
	}
	return sw.leechers
}

func (sw *memSwarm) size() int { return len(sw.seeders) + len(sw.leechers) }

// grow appends p, growing the list by a quarter rather than append's
// doubling: a tracker's memory is mostly these lists, and a quarter of
// slack instead of up to a half is worth the extra copies.
func grow(list []memPeer, p memPeer) []memPeer {
	if len(list) == cap(list) {
		bigger := make([]memPeer, len(list), len(list)+len(list)/4+2)
		copy(bigger, list)
		list = bigger
	}
	return append(list, p)
}

// add appends p to the seeder or leecher list and indexes it.
func (s *MemoryStore) add(sw *memSwarm, seeder bool, p memPeer) {
	var i int
	if seeder {
		sw.seeders = grow(sw.seeders, p)
		i = len(sw.seeders) - 1
	} else {
		sw.leechers = grow(sw.leechers, p)
		i = len(sw.leechers) - 1
	}
	if sw.index == nil {
		if sw.size() >= indexThreshold {
			s.buildIndex(sw)
		}
		return
	}
	s.indexPeer(sw, p.key, encodePos(seeder, i))
}

// indexPeer records a new peer's position: in index, or in overflow when
// another peer already holds its hash.
func (s *MemoryStore) indexPeer(sw *memSwarm, key uint64, pos int32) {
	h := uint32(key)
	if _, taken := sw.index[h]; !taken {
		sw.index[h] = pos
		return
	}
	if sw.overflow == nil {
		sw.overflow = make(map[uint64]int32)
	}
	sw.overflow[key] = pos
}

// remove deletes the peer at position i of one list by moving the list's
// last record into its place.
func (s *MemoryStore) remove(sw *memSwarm, seeder bool, i int) {
	list := sw.list(seeder)
	last := len(list) - 1
	if sw.index != nil {
		s.unindex(sw, list[i].key, encodePos(seeder, i))
		if i != last {
			s.unindex(sw, list[last].key, encodePos(seeder, last))
			s.indexPeer(sw, list[last].key, encodePos(seeder, i))
		}
	}
	list[i] = list[last]
	list = shrink(list[:last])
	if seeder {
		sw.seeders = list
	} else {
		sw.leechers = list
	}
}

// unindex forgets the peer id at pos.
func (s *MemoryStore) unindex(sw *memSwarm, key uint64, pos int32) {
	h := uint32(key)
	if v, ok := sw.index[h]; ok && v == pos {
		delete(sw.index, h)
		return
	}
	delete(sw.overflow, key)
	if len(sw.overflow) == 0 {
		sw.overflow = nil
	}
}

// shrink gives back memory of a list that fell to a quarter of its capacity.
func shrink(list []memPeer) []memPeer {
	if cap(list) > 16 && len(list) < cap(list)/4 {
		return append(make([]memPeer, 0, 2*len(list)), list...)
	}
	return list
}

// buildIndex (re)builds sw's index from scratch.
func (s *MemoryStore) buildIndex(sw *memSwarm) {
	sw.index = make(map[uint32]int32, sw.size())
	sw.overflow = nil
	for _, seeder := range []bool{true, false} {
		for i, p := range sw.list(seeder) {
			s.indexPeer(sw, p.key, encodePos(seeder, i))
		}
	}
}

// Announce implements Store.
func (s *MemoryStore) Announce(_ context.Context, req *AnnounceRequest, dst []Peer) (AnnounceResult, error) {
	dst = dst[:0]
	sh := s.shard(req.InfoHash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sw := sh.swarms[req.InfoHash]
	if sw == nil {
		if req.Event == EventStopped {
			return AnnounceResult{Peers: dst}, nil
		}
		sw = &memSwarm{}
		sh.swarms[req.InfoHash] = sw
	}
	key := s.peerKey(req.PeerID)
	wasSeeder, i := s.find(sw, key)
	if i >= 0 {
		s.remove(sw, wasSeeder, i)
		sh.count(wasSeeder, -1)
	}
	if req.Event == EventCompleted {
		sw.downloaded++
	}
	seeder := req.Left == 0
	if req.Event != EventStopped {
		rec := memPeer{key: key, ip: req.Addr.Addr().As16(), port: req.Addr.Port(), seen: unixSeconds(req.Time)}
		// Choosing peers before adding this one keeps it out of its own answer.
		dst = sw.pick(dst, req.NumWant, seeder, req.Families)
		s.add(sw, seeder, rec)
		sh.count(seeder, +1)
	}
	counts := SwarmCounts{Complete: len(sw.seeders), Incomplete: len(sw.leechers), Downloaded: int(sw.downloaded)}
	if sw.size() == 0 {
		delete(sh.swarms, req.InfoHash)
	}
	return AnnounceResult{Peers: dst, Counts: counts}, nil
}

func (sh *memShard) count(seeder bool, d int) {
	if seeder {
		sh.seeders += d
	} else {
		sh.leechers += d
	}
}

// pick appends up to want peers: seeders first for a leecher, leechers only
// for a seeder. Each list is read from a random starting point so that
// repeated announces see different parts of a large swarm.
func (sw *memSwarm) pick(dst []Peer, want int, forSeeder bool, fam Family) []Peer {
	if !forSeeder {
		dst = pickFrom(dst, sw.seeders, want, fam)
	}
	return pickFrom(dst, sw.leechers, want, fam)
}

func pickFrom(dst []Peer, list []memPeer, want int, fam Family) []Peer {
	n := len(list)
	if n == 0 || len(dst) >= want {
		return dst
	}
	start := 0
	if n > want-len(dst) {
		start = rand.IntN(n)
	}
	scan := min(n, max(maxScan, 8*want))
	for k := 0; k < scan && len(dst) < want; k++ {
		p := &list[(start+k)%n]
		ap := p.addrPort()
		if fam.Has(ap.Addr()) {
			dst = append(dst, Peer{Addr: ap})
		}
	}
	return dst
}

// Scrape implements Store.
func (s *MemoryStore) Scrape(_ context.Context, ih metainfo.InfoHash) (SwarmCounts, error) {
	sh := s.shard(ih)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sw := sh.swarms[ih]
	if sw == nil {
		return SwarmCounts{}, nil
	}
	return SwarmCounts{Complete: len(sw.seeders), Incomplete: len(sw.leechers), Downloaded: int(sw.downloaded)}, nil
}

// Expire implements Store. The last-seen time has one-second resolution:
// a peer is removed if the second it was last seen in is before cutoff's.
func (s *MemoryStore) Expire(ctx context.Context, cutoff time.Time) (int, error) {
	limit := unixSeconds(cutoff)
	removed := 0
	for i := range s.shards {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		sh := &s.shards[i]
		sh.mu.Lock()
		for ih, sw := range sh.swarms {
			ns, nl := len(sw.seeders), len(sw.leechers)
			sw.seeders = dropStale(sw.seeders, limit)
			sw.leechers = dropStale(sw.leechers, limit)
			gone := ns - len(sw.seeders) + nl - len(sw.leechers)
			if gone == 0 {
				continue
			}
			removed += gone
			sh.seeders -= ns - len(sw.seeders)
			sh.leechers -= nl - len(sw.leechers)
			switch {
			case sw.size() == 0:
				delete(sh.swarms, ih)
			case sw.index != nil:
				s.buildIndex(sw)
			}
		}
		sh.mu.Unlock()
	}
	return removed, nil
}

// dropStale keeps the peers seen at or after limit, in place.
func dropStale(list []memPeer, limit uint32) []memPeer {
	kept := list[:0]
	for _, p := range list {
		if p.seen >= limit {
			kept = append(kept, p)
		}
	}
	clear(list[len(kept):])
	return shrink(kept)
}

// Stats implements Store.
func (s *MemoryStore) Stats(context.Context) (StoreStats, error) {
	var st StoreStats
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		st.Swarms += len(sh.swarms)
		st.Seeders += sh.seeders
		st.Leechers += sh.leechers
		sh.mu.Unlock()
	}
	return st, nil
}
